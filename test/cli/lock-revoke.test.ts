// The kill switch, `keyrack lock --revoke [--all]`, with the real binary: it stops the watcher (installed service
// and running process), locks, logs the SSO sessions out (AWS confirms the old token is dead), deletes token and
// role caches, signals and validation caches, proves a grant now exits 3, prints the console steps — and a second
// run finds nothing left.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { tokenCacheKey } from '../../src/aws/cache-keys.js';
import { formatAwsTimestamp, writeTokenFile } from '../../src/aws/token-cache.js';
import { createRuntime } from '../../src/core/runtime.js';
import { describeRequester, listLoginSignals, recordLoginRequired } from '../../src/store/signal.js';
import { listUnlockRecords } from '../../src/store/state.js';
import { pidAlive } from '../../src/store/pid.js';
import { deviceLogin, START_URL } from '../helpers/emulator.js';
import { createSandbox, KEYRACK_BIN, lastSeq, tokenFile, type Sandbox } from '../helpers/keyrack.js';
import { fakeProgram } from '../notify/receivers.js';

const cliCache = (sb: Sandbox) => join(sb.home, '.aws', 'cli', 'cache');


describe('keyrack lock --revoke (kill switch)', () => {
  let sb: Sandbox;
  let watcher: ChildProcess;
  let fakeBin: string;
  const env = () => ({ PATH: `${fakeBin}:${sb.env.PATH}` });
  before(async () => {
    sb = await createSandbox();
    fakeBin = join(sb.root, 'svc-bin');
    await fakeProgram(fakeBin, 'systemctl', join(sb.root, 'systemctl.log'));
    assert.equal((await sb.unlock()).code, 0);
    assert.equal((await sb.unlock(['--env', 'prod'])).code, 0);
    assert.equal((await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--credentials'], { secretsOnStdout: true })).code, 0);
    // An installed watcher service …
    const units = join(sb.env.XDG_CONFIG_HOME ?? '', 'systemd', 'user');
    await mkdir(units, { recursive: true });
    await writeFile(join(units, 'keyrack-watch.timer'), '[Timer]\nOnUnitActiveSec=600s\n');
    // … and one running in the foreground.
    watcher = spawn(process.execPath, [KEYRACK_BIN, 'watch'], { cwd: sb.root, env: { ...sb.env, ...env() }, stdio: 'ignore' });
    const pidFile = join(sb.env.XDG_STATE_HOME ?? '', 'keyrack', 'watch', 'pids', `${watcher.pid}.json`);
    for (let i = 0; i < 200 && !existsSync(pidFile); i++) await sleep(50);
    assert.ok(existsSync(pidFile), 'the foreground watcher registered itself');
    // A robot's pending signal. Dated a minute ahead: the watcher's first pass may prove the key working at any
    // moment now, and would clear a signal older than that proof (the kill switch must find one to delete).
    await recordLoginRequired(createRuntime({ env: sb.env, cwd: sb.repo, clock: { now: () => Date.now() + 60_000 } }), { env: 'prep', key: 'AWS_PROFILE', profile: 'acme.prep', reason: 'expired', requester: describeRequester({ pid: 1, cwd: sb.repo, argv: ['keyrack', 'grant'] }) });
  });
  after(async () => {
    if (watcher.exitCode === null && watcher.signalCode === null) watcher.kill('SIGKILL');
    await sb.close();
  });

  it('stops the watcher, ends the SSO session with AWS, deletes every copy, and proves robots are refused', async () => {
    const seq = await lastSeq(sb);
    const exited = new Promise<void>((resolve) => watcher.once('exit', () => resolve()));
    const r = await sb.run(['lock', '--revoke'], { env: env() });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await exited;
    assert.ok(!pidAlive(watcher.pid ?? 0));
    const out = r.stdout;
    assert.match(out, new RegExp(`^watcher service stopped \\(still installed: keyrack watch --uninstall removes it\\); stopped watcher process\\(es\\) ${watcher.pid}$`, 'm'));
    assert.match(out, /^locked: (prep, prod|prod, prep)$/m);
    assert.match(out, /^acme: SSO Logout done; AWS refuses the old token now; token deleted$/m);
    assert.match(out, /^deleted 1 SSO token file\(s\), [1-9]\d* role-credential file\(s\), 1 robot signal\(s\), the validation cache$/m);
    assert.match(out, /^verified: grant prep\/AWS_PROFILE → exit 3 \(locked\)$/m);
    assert.match(out, /^verified: grant prod\/AWS_PROFILE → exit 3 \(locked\)$/m);
    assert.match(out, /IAM Identity Center → Users → <the user> → Active sessions/);
    const systemctl = (await readFile(join(sb.root, 'systemctl.log'), 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as string[]).join(' '));
    assert.deepEqual(systemctl, ['--user stop keyrack-watch.timer keyrack-watch.path keyrack-watch.service']);
    const calls = await sb.emu.control.calls(seq);
    assert.deepEqual(calls.filter((c) => c.operation === 'Logout').map((c) => c.status), [200]);
    assert.ok(calls.some((c) => c.operation === 'ListAccounts' && c.status === 401), 'the old token was tried and refused');
    assert.ok(!existsSync(tokenFile(sb)));
    assert.deepEqual((await readdir(cliCache(sb)).catch(() => [])).filter((n) => n.endsWith('.json')), []);
    assert.deepEqual(await listUnlockRecords(join(sb.env.XDG_STATE_HOME ?? '', 'keyrack')), []);
    assert.deepEqual(await listLoginSignals(join(sb.env.XDG_STATE_HOME ?? '', 'keyrack')), []);
    // The grant in before() left a validation and the fast path's record; the watcher its pid entry and what it
    // knows of the session; the unlocks their login records.
    const state = join(sb.env.XDG_STATE_HOME ?? '', 'keyrack');
    for (const dir of ['validated', 'fast', join('watch', 'pids'), join('watch', 'sessions'), join('watch', 'logins'), join('watch', 'push')]) assert.deepEqual(await readdir(join(state, dir)).catch(() => []), [], `${dir} is empty`);
  });

  it('is idempotent: a second run finds nothing left and says so', async () => {
    const r = await sb.run(['lock', '--revoke', '--json'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { locked: string[]; sessions: { sso: string; logout: string }[]; deleted: { tokens: number; roleCredentials: number; signals: number }; verified: { exitCode: number }[]; watcher: { stoppedPids: number[] } };
    assert.deepEqual(j.locked, []);
    assert.deepEqual(j.sessions, [{ sso: 'acme', logout: 'no-token', ended: 'no-token' }]);
    assert.deepEqual(j.deleted, { tokens: 0, roleCredentials: 0, signals: 0 });
    assert.deepEqual(j.watcher.stoppedPids, []);
    assert.deepEqual([...new Set(j.verified.map((v) => v.exitCode))], [3]);
    const g = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep']);
    assert.equal(g.code, 3, 'and a robot outside keyrack finds the key locked');
  });

  it('--all works from anywhere (no keyrack.yml) and takes every SSO session cached on the machine', async () => {
    assert.equal((await sb.unlock()).code, 0);
    // a second session, from another tool (a legacy profile's token, keyed by start URL)
    const other = await deviceLogin(sb.emu);
    const paths = createRuntime({ env: sb.env }).paths;
    await writeTokenFile(paths, tokenCacheKey({ startUrl: START_URL }), { startUrl: START_URL, region: 'us-east-1', accessToken: other.accessToken, expiresAt: formatAwsTimestamp(Date.now() + 3_600_000) });
    await mkdir(cliCache(sb), { recursive: true });
    const assumeRole = join(cliCache(sb), `${'a'.repeat(40)}.json`);
    await writeFile(assumeRole, JSON.stringify({ ProviderType: 'assume-role', Credentials: {} }), { mode: 0o600 });
    const seq = await lastSeq(sb);
    const r = await sb.run(['lock', '--revoke', '--all'], { cwd: sb.root, env: env() });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^locked: prep$/m);
    assert.match(r.stdout, /^acme: SSO Logout done; AWS refuses the old token now; token deleted$/m);
    assert.match(r.stdout, new RegExp(`^${START_URL.replace(/[/.]/g, '\\$&')}: SSO Logout done; AWS refuses the old token now; token deleted$`, 'm'));
    assert.equal((await sb.emu.control.calls(seq)).filter((c) => c.operation === 'Logout' && c.status === 200).length, 2);
    assert.ok(!existsSync(tokenFile(sb)) && !existsSync(join(sb.home, '.aws', 'sso', 'cache', `${tokenCacheKey({ startUrl: START_URL })}.json`)));
    assert.ok(existsSync(assumeRole), 'a non-SSO cache entry is not ours to delete');
  });

  it('--all also deletes a token and role credentials others could read, and says AWS was not told', async () => {
    assert.equal((await sb.unlock()).code, 0);
    assert.equal((await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--credentials'], { secretsOnStdout: true })).code, 0);
    const roleFiles = (await readdir(cliCache(sb))).filter((n) => n.endsWith('.json') && n !== `${'a'.repeat(40)}.json`); // not the assume-role entry above
    assert.ok(roleFiles.length > 0);
    // A robot's read refuses these (they may have leaked): exactly the ones a kill switch must not miss.
    await chmod(tokenFile(sb), 0o644);
    for (const n of roleFiles) await chmod(join(cliCache(sb), n), 0o644);
    const r = await sb.run(['lock', '--revoke', '--all', '--json'], { cwd: sb.root, env: env() });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const j = JSON.parse(r.stdout) as { sessions: { sso: string; logout: string; ended: string }[]; deleted: { tokens: number; roleCredentials: number } };
    assert.deepEqual(j.sessions, [{ sso: 'acme', logout: 'unreadable', ended: 'unconfirmed' }]);
    assert.equal(j.deleted.tokens, 1);
    assert.equal(j.deleted.roleCredentials, roleFiles.length);
    assert.ok(!existsSync(tokenFile(sb)));
    assert.deepEqual((await readdir(cliCache(sb))).filter((n) => roleFiles.includes(n)), []);
    const text = await sb.run(['lock', '--revoke', '--all'], { cwd: sb.root, env: env() });
    assert.equal(text.code, 0);
  });

  it('--all without --revoke is a usage error', async () => {
    const r = await sb.run(['lock', '--all']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--all only works with --revoke/);
  });
});
