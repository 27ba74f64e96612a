// keyrack watch and keyrack notify as the real binary runs them (sandboxed HOME, in-process emulator): the unit
// files it installs, one pass, every notification channel against a real receiver, and the robot → human signal
// protocol across processes (two watchers at once → one device-code flow; cooldown; kept on failure).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { tokenCacheKey } from '../../src/aws/cache-keys.js';
import { createRuntime } from '../../src/core/runtime.js';
import { describeRequester, readLoginSignal, recordLoginRequired, signalPath } from '../../src/store/signal.js';
import { assertNoLeak, createSandbox, KEYRACK_BIN, lastSeq, tokenFile, type RunResult, type Sandbox } from '../helpers/keyrack.js';
import { startTestKeyring, type TestKeyring } from '../helpers/keyring.js';
import { fakeProgram, startReceiver, type Receiver } from '../notify/receivers.js';
import { parsePlist, type PlistValue } from '../watch/plist.js';

const run = promisify(execFile);
const configFile = (sb: Sandbox) => join(sb.env.XDG_CONFIG_HOME ?? '', 'keyrack', 'config.yml');

async function writeConfig(sb: Sandbox, text: string): Promise<void> {
  await mkdir(join(sb.env.XDG_CONFIG_HOME ?? '', 'keyrack'), { recursive: true });
  await writeFile(configFile(sb), text);
}

async function hasTool(name: string): Promise<boolean> {
  return run('sh', ['-c', `command -v ${name}`]).then(() => true, () => false);
}

/** Split `--install --print` output (`# <path>` headers) into files. */
function splitPrinted(out: string): { path: string; text: string }[] {
  const parts = out.split(/^# (\/.+)$/m);
  const files: { path: string; text: string }[] = [];
  for (let i = 1; i < parts.length; i += 2) files.push({ path: parts[i] ?? '', text: (parts[i + 1] ?? '').replace(/^\n/, '') });
  return files;
}

/** Start the binary without waiting (for concurrent runs); resolves like Sandbox.run, scanning output for secrets. */
function start(sb: Sandbox, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KEYRACK_BIN, ...args], { cwd: sb.repo, env: { ...sb.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(t);
      assertNoLeak(`keyrack ${args.join(' ')}`, stdout + stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('keyrack watch --install / --uninstall', () => {
  let sb: Sandbox;
  let bin: string;
  before(async () => {
    sb = await createSandbox();
    bin = join(sb.root, 'svc-bin');
    await fakeProgram(bin, 'systemctl', join(sb.root, 'systemctl.log'));
  });
  after(() => sb.close());

  it('--print: systemd service + timer + path units that systemd-analyze accepts (when it is installed)', async () => {
    const r = await sb.run(['watch', '--install', '--print'], { env: { AWS_SECRET_ACCESS_KEY: 'not-copied', KEYRACK_TOTAL_TIMEOUT_MS: '9000' } });
    assert.equal(r.code, 0, r.stderr);
    const files = splitPrinted(r.stdout);
    const dir = join(sb.env.XDG_CONFIG_HOME ?? '', 'systemd', 'user');
    assert.deepEqual(files.map((f) => f.path), ['keyrack-watch.service', 'keyrack-watch.timer', 'keyrack-watch.path'].map((n) => join(dir, n)));
    const [service, timer, path] = files.map((f) => f.text);
    assert.match(service ?? '', /^Type=oneshot$/m);
    assert.match(service ?? '', new RegExp(`^ExecStart="${process.execPath.replace(/[/.]/g, '\\$&')}" ".*bin/keyrack\\.cjs" watch --once --due$`, 'm'));
    assert.match(service ?? '', new RegExp(`^Environment="XDG_STATE_HOME=${(sb.env.XDG_STATE_HOME ?? '').replace(/[/.]/g, '\\$&')}"$`, 'm'));
    assert.match(service ?? '', /^Environment="KEYRACK_TOTAL_TIMEOUT_MS=9000"$/m);
    assert.doesNotMatch(r.stdout, /SECRET|not-copied/);
    assert.match(timer ?? '', /^OnUnitActiveSec=600s$/m);
    assert.match(path ?? '', new RegExp(`^PathChanged=${join(sb.env.XDG_STATE_HOME ?? '', 'keyrack', 'signals').replace(/[/.]/g, '\\$&')}$`, 'm'));
    assert.ok(!existsSync(dir), '--print installs nothing');
    if (await hasTool('systemd-analyze')) {
      const tmp = await mkdtemp(join(tmpdir(), 'keyrack-units-'));
      try {
        await mkdir(join(tmp, 'run'), { mode: 0o700 });
        for (const f of files) await writeFile(join(tmp, f.path.split('/').pop() ?? ''), f.text);
        const v = await run('systemd-analyze', ['--user', 'verify', ...files.map((f) => join(tmp, f.path.split('/').pop() ?? ''))], { env: { ...process.env, XDG_RUNTIME_DIR: join(tmp, 'run'), SYSTEMD_LOG_LEVEL: 'warning' } });
        assert.equal(v.stderr.split('\n').filter((l) => /keyrack-watch/.test(l)).join('\n'), '', 'systemd-analyze found problems in the units');
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    }
  });

  it('--print --platform darwin: a launchd agent plist that parses as a property list', async () => {
    const r = await sb.run(['watch', '--install', '--print', '--platform', 'darwin']);
    assert.equal(r.code, 0, r.stderr);
    const [file] = splitPrinted(r.stdout);
    assert.equal(file?.path, join(sb.home, 'Library', 'LaunchAgents', 'com.keyrack.watch.plist'));
    const plist = parsePlist(file?.text ?? '') as Record<string, PlistValue>;
    assert.equal(plist.Label, 'com.keyrack.watch');
    assert.deepEqual((plist.ProgramArguments as string[]).slice(2), ['watch', '--once', '--due']);
    assert.equal(plist.StartInterval, 600);
    assert.deepEqual(plist.WatchPaths, [join(sb.env.XDG_STATE_HOME ?? '', 'keyrack', 'signals')]);
    assert.equal(plist.RunAtLoad, true);
    assert.equal((plist.EnvironmentVariables as Record<string, string>).XDG_STATE_HOME, sb.env.XDG_STATE_HOME);
    if (await hasTool('python3')) {
      const tmp = join(sb.root, 'agent.plist');
      await writeFile(tmp, file?.text ?? '');
      const py = await run('python3', ['-c', 'import plistlib,sys,json; print(json.dumps(plistlib.load(open(sys.argv[1],"rb"))))', tmp]);
      assert.deepEqual(JSON.parse(py.stdout), plist, 'Python’s plistlib reads the same values');
    }
  });

  it('--install writes the units and enables timer + path through systemctl --user; --uninstall undoes it', async () => {
    const env = { PATH: `${bin}:${sb.env.PATH}` };
    const r = await sb.run(['watch', '--install'], { env });
    assert.equal(r.code, 0, r.stderr);
    const dir = join(sb.env.XDG_CONFIG_HOME ?? '', 'systemd', 'user');
    for (const n of ['keyrack-watch.service', 'keyrack-watch.timer', 'keyrack-watch.path']) assert.ok(existsSync(join(dir, n)), n);
    assert.ok(existsSync(join(sb.env.XDG_STATE_HOME ?? '', 'keyrack', 'signals')), 'the watched directory exists');
    const calls = () => readFile(join(sb.root, 'systemctl.log'), 'utf8').then((t) => t.trim().split('\n').map((l) => (JSON.parse(l) as string[]).join(' ')));
    assert.deepEqual(await calls(), ['--user daemon-reload', '--user enable --now keyrack-watch.timer keyrack-watch.path']);
    const u = await sb.run(['watch', '--uninstall'], { env });
    assert.equal(u.code, 0, u.stderr);
    for (const n of ['keyrack-watch.service', 'keyrack-watch.timer', 'keyrack-watch.path']) assert.ok(!existsSync(join(dir, n)), n);
    assert.deepEqual((await calls()).slice(2), ['--user disable --now keyrack-watch.timer keyrack-watch.path', '--user stop keyrack-watch.service', '--user daemon-reload']);
  });

  it('--install without a systemd user manager: exit 6 and how to get one', async () => {
    const broken = join(sb.root, 'broken-bin');
    await mkdir(broken, { recursive: true });
    await writeFile(join(broken, 'systemctl'), '#!/bin/sh\necho "Failed to connect to bus: No medium found" >&2\nexit 1\n');
    await chmod(join(broken, 'systemctl'), 0o755);
    const r = await sb.run(['watch', '--install'], { env: { PATH: `${broken}:${sb.env.PATH}` } });
    assert.equal(r.code, 6);
    assert.match(r.stderr, /systemctl --user daemon-reload failed \(Failed to connect to bus: No medium found\)/);
    assert.match(r.stderr, /^fix: .*loginctl enable-linger/m);
  });
});

describe('keyrack watch --once, keyrack notify test, keyrack status', () => {
  let sb: Sandbox;
  let rx: Receiver;
  before(async () => {
    sb = await createSandbox();
    rx = await startReceiver();
    const u = await sb.unlock();
    assert.equal(u.code, 0, u.stdout + u.stderr);
  });
  after(async () => {
    await rx.close();
    await sb.close();
  });

  it('one pass: the unlocked session is proven alive, and no login is started', async () => {
    const r = await sb.run(['watch', '--once']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^acme \[prep\]: alive, token until \S+Z, session end unknown$/m);
    const j = await sb.run(['watch', '--once', '--json']);
    const report = JSON.parse(j.stdout) as { sessions: { sso: string; status: string; probed: boolean }[] };
    assert.deepEqual(report.sessions.map((s) => [s.sso, s.status, s.probed]), [['acme', 'alive', true]]);
    const due = JSON.parse((await sb.run(['watch', '--once', '--due', '--json'])).stdout) as typeof report;
    assert.equal(due.sessions[0]?.probed, false, '--due leaves a session probed moments ago alone');
  });

  it('notify test: every configured channel gets the test event (webhook, command, desktop)', async () => {
    const bin = join(sb.root, 'notify-bin');
    const sendLog = join(sb.root, 'notify-send.log');
    await fakeProgram(bin, 'notify-send', sendLog);
    const cmdLog = join(sb.root, 'events.jsonl');
    await writeConfig(sb, `notify:\n  desktop: true\n  webhook:\n    - url: ${rx.url}/hook\n    - url: ${rx.url}/slack\n      slack: true\n  command:\n    - run: cat >> '${cmdLog}'\n`);
    rx.received.length = 0;
    const r = await sb.run(['notify', 'test'], { env: { PATH: `${bin}:${sb.env.PATH}` } });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['ok     desktop', `ok     webhook ${rx.url}`, `ok     webhook ${rx.url} (slack)`, 'ok     command #1']);
    assert.equal((JSON.parse(rx.received.find((x) => x.path === '/hook')?.body ?? '{}') as { event?: string }).event, 'test');
    assert.match((JSON.parse(rx.received.find((x) => x.path === '/slack')?.body ?? '{}') as { text?: string }).text ?? '', /^\*keyrack: test notification\*/);
    assert.equal((JSON.parse((await readFile(cmdLog, 'utf8')).trim()) as { event: string }).event, 'test');
    assert.match(await readFile(sendLog, 'utf8'), /"keyrack: test notification"/);
  });

  it('notify test: a channel that fails is named (origin only), exit 4', async () => {
    await writeConfig(sb, `notify:\n  webhook:\n    - url: ${rx.url}/ok\n    - url: http://127.0.0.1:1/SECRET-PATH\n`);
    const r = await sb.run(['notify', 'test']);
    assert.equal(r.code, 4);
    assert.match(r.stdout, /^FAILED webhook http:\/\/127\.0\.0\.1:1: webhook http:\/\/127\.0\.0\.1:1 could not be reached/m);
    assert.doesNotMatch(r.stdout + r.stderr, /SECRET-PATH/);
    await writeConfig(sb, '');
    const none = await sb.run(['notify', 'test']);
    assert.equal(none.code, 6);
    assert.match(none.stderr, /no notification channel is configured/);
  });

  it('a broken config.yml stops the watcher with file:line and the fix (exit 6)', async () => {
    await writeConfig(sb, 'watch:\n  intervall: 5m\n');
    const r = await sb.run(['watch', '--once']);
    assert.equal(r.code, 6);
    assert.match(r.stderr, /config\.yml:2:3: unknown setting watch\.intervall\nfix: did you mean watch\.interval\?/);
    await writeConfig(sb, '');
  });

  it('status says when device-code push is on for a session', async () => {
    assert.doesNotMatch((await sb.run(['status'])).stdout, /device-code push/);
    await writeConfig(sb, 'sso:\n  acme:\n    device_code_push: true\n');
    const r = await sb.run(['status']);
    assert.match(r.stdout, /device-code push ON for acme/);
    const j = JSON.parse((await sb.run(['status', '--json'])).stdout) as { keys: { deviceCodePush?: boolean }[] };
    assert.equal(j.keys[0]?.deviceCodePush, true);
    await writeConfig(sb, '');
  });
});

describe('keyrack notify telegram-token: the bot token lives in the OS keychain', () => {
  let sb: Sandbox;
  let rx: Receiver;
  let kr: TestKeyring;
  const TOKEN = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1';
  before(async () => {
    sb = await createSandbox();
    rx = await startReceiver();
    kr = await startTestKeyring();
    Object.assign(sb.env, kr.env, { KEYRACK_TELEGRAM_API_URL: rx.url });
    await writeConfig(sb, 'notify:\n  telegram:\n    chat_id: "-1001"\n');
  });
  after(async () => {
    await rx.close();
    await kr.close();
    await sb.close();
  });

  it('stored from stdin, used by the Telegram channel, never printed; --delete removes it', async () => {
    const bad = await sb.run(['notify', 'telegram-token'], { stdin: 'not a token\n' });
    assert.equal(bad.code, 2);
    const set = await sb.run(['notify', 'telegram-token'], { stdin: `${TOKEN}\n` });
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /stored the Telegram bot token in the OS keychain/);
    const t = await sb.run(['notify', 'test']);
    assert.equal(t.code, 0, t.stdout + t.stderr);
    assert.equal(t.stdout, 'ok     telegram\n');
    assert.equal(rx.received.at(-1)?.path, `/bot${TOKEN}/sendMessage`);
    assert.equal((JSON.parse(rx.received.at(-1)?.body ?? '{}') as { chat_id?: string }).chat_id, '-1001');
    for (const r of [bad, set, t]) assert.ok(!(r.stdout + r.stderr).includes(TOKEN.split(':')[1] ?? TOKEN));
    assert.ok(!(await readFile(configFile(sb), 'utf8')).includes(TOKEN));
    const del = await sb.run(['notify', 'telegram-token', '--delete']);
    assert.match(del.stdout, /deleted the Telegram bot token/);
    const none = await sb.run(['notify', 'test']);
    assert.equal(none.code, 4);
    assert.match(none.stdout, /FAILED telegram: telegram: no bot token in the OS keychain/);
  });
});

describe('robot → human signal across processes (device_code_push on)', () => {
  const runtimeOf = (sb: Sandbox) => createRuntime({ env: sb.env, cwd: sb.repo });
  const signal = (sb: Sandbox) =>
    recordLoginRequired(runtimeOf(sb), { env: 'prep', key: 'AWS_PROFILE', profile: 'acme.prep', reason: 'expired', code: 'sso.expired.CreateToken', requester: describeRequester({ pid: 1234, cwd: sb.repo, argv: ['keyrack', 'grant', 'AWS_PROFILE'] }) });
  const startsSince = async (sb: Sandbox, seq: number) => (await sb.emu.control.calls(seq)).filter((c) => c.operation === 'StartDeviceAuthorization').length;

  it('two watchers started at once: one device-code flow, one session-expired notice; approval clears the signal', async () => {
    const sb = await createSandbox(); // the emulator approves device codes as alice, like a quick human
    try {
      assert.equal((await sb.unlock()).code, 0);
      const events = join(sb.root, 'events.jsonl');
      await writeConfig(sb, `notify:\n  command:\n    - run: cat >> '${events}'\nsso:\n  acme:\n    device_code_push: true\n`);
      await sb.emu.control.revoke('alice');
      await signal(sb);
      const before = JSON.parse(await readFile(tokenFile(sb), 'utf8')) as { accessToken: string };
      const seq = await lastSeq(sb);
      const [a, b] = await Promise.all([start(sb, ['watch', '--once']), start(sb, ['watch', '--once'])]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      assert.equal(await startsSince(sb, seq), 1, `${a.stdout}\n---\n${b.stdout}\n${a.stderr}${b.stderr}`);
      const outcomes: string[] = (a.stdout + b.stdout).match(/device-code push for acme: \w+/g) ?? [];
      assert.ok(outcomes.includes('device-code push for acme: approved'), outcomes.join('; '));
      const got = (await readFile(events, 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as { event: string }).event);
      assert.equal(got.filter((e) => e === 'login-approval').length, 1);
      assert.equal(got.filter((e) => e === 'session-expired').length, 1, 'deduplicated across the two watchers');
      assert.equal(await readLoginSignal(runtimeOf(sb).paths.state, 'prep', 'AWS_PROFILE'), undefined, 'cleared on success');
      const after = JSON.parse(await readFile(tokenFile(sb), 'utf8')) as { accessToken: string };
      assert.notEqual(after.accessToken, before.accessToken);
      assert.equal((await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep'])).code, 0, 'the robot can go on');
    } finally {
      await sb.close();
    }
  });

  it('denied: the signal is kept, the cooldown is honoured, a later push can succeed', async () => {
    const sb = await createSandbox({ autoApprove: null });
    try {
      const login = sb.unlock();
      await sb.emu.control.approve({ userCode: await sb.emu.control.waitForPending('device') }, 'alice');
      assert.equal((await login).code, 0);
      await writeConfig(sb, 'notify:\n  cooldown: 1h\nsso:\n  acme:\n    device_code_push: true\n');
      await sb.emu.control.revoke('alice');
      await signal(sb);
      const seq = await lastSeq(sb);
      const first = start(sb, ['watch', '--once']);
      await sb.emu.control.deny({ userCode: await sb.emu.control.waitForPending('device') });
      const r1 = await first;
      assert.equal(r1.code, 0, r1.stderr);
      assert.match(r1.stdout, /device-code push for acme: denied/);
      const kept = await readLoginSignal(runtimeOf(sb).paths.state, 'prep', 'AWS_PROFILE');
      assert.equal(kept?.lastAttempt?.outcome, 'denied', 'kept on failure');
      const r2 = await start(sb, ['watch', '--once']);
      assert.equal(r2.code, 0, r2.stderr);
      assert.equal(await startsSince(sb, seq), 1, 'no second flow within the cooldown');
      // The cooldown passes: both clocks it is kept by (the signal's and the session's push record) move back.
      const state = runtimeOf(sb).paths.state;
      const past = Date.now() - 2 * 3600_000;
      const signalFile = signalPath(state, 'prep', 'AWS_PROFILE');
      await writeFile(signalFile, JSON.stringify({ ...JSON.parse(await readFile(signalFile, 'utf8')), nextAttemptAfter: past }), { mode: 0o600 });
      const pushFile = join(state, 'watch', 'push', `${tokenCacheKey({ session: 'acme' })}.json`);
      await writeFile(pushFile, JSON.stringify({ ...JSON.parse(await readFile(pushFile, 'utf8')), lastAttemptAt: past }), { mode: 0o600 });
      const third = start(sb, ['watch', '--once']);
      await sb.emu.control.approve({ userCode: await sb.emu.control.waitForPending('device') }, 'alice');
      const r3 = await third;
      assert.match(r3.stdout, /device-code push for acme: approved/);
      assert.equal(await startsSince(sb, seq), 2);
      assert.equal(await readLoginSignal(runtimeOf(sb).paths.state, 'prep', 'AWS_PROFILE'), undefined);
    } finally {
      await sb.close();
    }
  });
});
