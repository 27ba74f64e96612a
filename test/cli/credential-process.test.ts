// `keyrack credential-process` as the AWS CLI and the SDKs run it, with a real (private) gnome-keyring: the
// Version 1 JSON from any directory; a warm call asks AWS nothing; 30 callers at access-token expiry make one
// refresh; refusals are one stderr line with the robot contract's exit code; an unusable keychain (no bus, a
// locked keyring even with a display set) is a clear misconfigured error at once, never a hang.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tokenAccount } from '../../src/aws/token-store-keychain.js';
import { readAudit } from '../../src/store/audit.js';
import { KEYRACK_AWS_KEYCHAIN_SERVICE } from '../../src/store/keychain.js';
import type { RunResult } from '../helpers/keyrack.js';
import { startTestKeyring } from '../helpers/keyring.js';
import { hardenedSandbox, KEYCHAIN_CONFIG, keychainToken, lastSeq, refreshCalls, TOKEN_KEY, writeKeychainToken, writeUserConfig, type HardenedBox } from '../helpers/hardened.js';

const N = 30;
const args = ['credential-process', '--profile', 'acme.prep'];
const FAST_OFF = { KEYRACK_FAST_PATH: '0' };
const lastAudit = async (sb: HardenedBox['sb']) => (await readAudit(join(sb.home, '.local', 'state', 'keyrack'))).filter((e) => e.command === 'credential-process').at(-1);
/** A refresh holder on a loaded 2-core machine must not be cut short by the default 10 s budget. */
const loadEnv = { KEYRACK_TOTAL_TIMEOUT_MS: '60000' };
/** The issue asks for "within a second"; node start-up on a busy CI machine gets the rest of this bound. */

interface ProcessJson {
  Version: number;
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken: string;
  Expiration: string;
}

function served(r: RunResult): ProcessJson {
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as ProcessJson;
  assert.equal(j.Version, 1);
  assert.ok(j.AccessKeyId && j.SecretAccessKey && j.SessionToken);
  assert.ok(Date.parse(j.Expiration) > Date.now() + 5 * 60_000, 'more than 5 minutes left');
  return j;
}

function oneLineRefusal(r: RunResult, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `one line on stderr: ${r.stderr}`);
  assert.match(lines[0] ?? '', pattern);
}

describe('keyrack credential-process', { timeout: 150_000 }, () => {
  let box: HardenedBox;
  before(async () => {
    box = await hardenedSandbox();
    const u = await box.sb.unlock();
    assert.equal(u.code, 0, u.stdout);
  });
  after(async () => box.close());

  it('prints Version 1 JSON from any directory, without keyrack.yml; a warm call asks AWS nothing', async () => {
    const { sb } = box;
    const since = await lastSeq(sb);
    const a = served(await sb.run(args, { cwd: sb.root, secretsOnStdout: true }));
    const b = served(await sb.run(args, { cwd: '/', secretsOnStdout: true }));
    assert.equal(a.AccessKeyId, b.AccessKeyId, 'the cached role credentials');
    assert.deepEqual(await sb.emu.control.calls(since), [], 'no AWS call');
    // The full path leaves the record in place when it vouches for the same inputs again: no rewrite per call.
    const record = join(sb.home, '.local', 'state', 'keyrack', 'fast', 'process-acme.prep.json');
    const before = await stat(record, { bigint: true });
    served(await sb.run(args, { env: FAST_OFF, secretsOnStdout: true }));
    // (mtime, not the inode: a deleted file's inode number may be given straight to the next one)
    assert.equal((await stat(record, { bigint: true })).mtimeNs, before.mtimeNs, 'the same record, not written again');
  });

  it('a warm call is answered by the fast path: the full path\'s JSON and audit event (marked fast), no AWS call', async () => {
    const { sb } = box;
    const full = await sb.run(args, { env: FAST_OFF, secretsOnStdout: true });
    served(full);
    const fullEvent = await lastAudit(sb);
    assert.equal(fullEvent?.detail?.fast, undefined, 'KEYRACK_FAST_PATH=0 takes the full path');
    const since = await lastSeq(sb);
    const fast = await sb.run(args, { cwd: '/', secretsOnStdout: true });
    assert.equal(fast.stdout, full.stdout, 'byte for byte the same answer');
    assert.equal(fast.stderr, '');
    const event = await lastAudit(sb);
    const facts = (e: typeof event) => ({ command: e?.command, result: e?.result, env: e?.env, key: e?.key, profile: e?.profile, arn: e?.arn, detail: e?.detail });
    assert.deepEqual(facts(event), { ...facts(fullEvent), detail: { cached: true, store: 'keychain', fast: true } }, 'the full path\'s event, marked fast');
    assert.deepEqual(facts(fullEvent), { command: 'credential-process', result: 'ok', env: 'prep', key: 'AWS_PROFILE', profile: 'acme.prep', arn: fullEvent?.arn, detail: { cached: true, store: 'keychain' } });
    assert.deepEqual(await sb.emu.control.calls(since), [], 'no AWS call');
  });

  it('the fast path steps aside when what it vouches for changed: a lock is refused by the full path, a new user config is read by it', async () => {
    const { sb } = box;
    served(await sb.run(args, { secretsOnStdout: true }));
    assert.equal((await lastAudit(sb))?.detail?.fast, true);
    // The user config now says more (same token store): the full path reads it and vouches again.
    await writeUserConfig(sb, `${KEYCHAIN_CONFIG}grant:\n  validation_ttl: 20s\n`);
    served(await sb.run(args, { secretsOnStdout: true }));
    assert.equal((await lastAudit(sb))?.detail?.fast, undefined, 'a changed user config takes the full path');
    served(await sb.run(args, { secretsOnStdout: true }));
    assert.equal((await lastAudit(sb))?.detail?.fast, true, 'and the next call is fast again');
    // Locked: the unlock record is gone, so the fast path cannot answer; the refusal is the full path's.
    const lock = await sb.run(['lock', '--env', 'prep']);
    assert.equal(lock.code, 0, lock.stderr);
    oneLineRefusal(await sb.run(args), 3, /\[locked\]/);
    const u = await sb.unlock();
    assert.equal(u.code, 0, u.stdout);
    await writeUserConfig(sb, KEYCHAIN_CONFIG);
  });

  it(`${N} parallel calls at the moment the access token expires → exactly 1 refresh, ${N} successes`, async (t) => {
    const { sb } = box;
    const before = await keychainToken();
    assert.ok(before?.refreshToken);
    await sb.emu.control.expire('access-tokens');
    await writeKeychainToken({ ...before, expiresAt: new Date(Date.now() - 1_000).toISOString().replace(/\.\d{3}Z$/, 'Z') });
    const since = await lastSeq(sb);
    const t0 = Date.now();
    const rs = await Promise.all(Array.from({ length: N }, () => sb.run(args, { env: loadEnv, secretsOnStdout: true, timeoutMs: 120_000 })));
    t.diagnostic(`wall ${Date.now() - t0} ms`);
    const failed = rs.filter((r) => r.code !== 0);
    assert.deepEqual(failed.map((r) => r.stderr), []);
    for (const r of rs) served(r);
    const refreshes = await refreshCalls(sb, since);
    assert.equal(refreshes.length, 1, `refresh calls: ${refreshes.map((c) => c.status).join(',')}`);
    assert.equal(refreshes[0]?.status, 200);

    const after = await keychainToken();
    assert.ok(after && Date.parse(after.expiresAt) > Date.now() + 30 * 60_000, 'a fresh token in the keychain');
    assert.notEqual(after.accessToken, before.accessToken);
    assert.notEqual(after.refreshToken, before.refreshToken, 'the rotated refresh token is kept');
    for (const k of ['clientId', 'clientSecret', 'startUrl', 'region']) assert.equal(after[k], before[k], k);
  });

  it('refusals are one line on stderr with the exit code: unknown profile (6), bad profile name (2)', async () => {
    const { sb } = box;
    oneLineRefusal(await sb.run(['credential-process', '--profile', 'acme.nope']), 6, /profile acme\.nope is not a keyrack keychain-mode profile.*\[misconfigured\]; fix: /);
    oneLineRefusal(await sb.run(['credential-process', '--profile', '../x y']), 2, /\[invalid-input\]/);
  });

  // "No hang" is judged by the kill timer (code null), never by wall time.
  it('no D-Bus session bus → exit 6, one clear misconfigured line, no hang', async () => {
    const r = await box.sb.run(args, { env: { DBUS_SESSION_BUS_ADDRESS: undefined }, timeoutMs: 30_000 });
    assert.notEqual(r.code, null, 'killed: it hung');
    oneLineRefusal(r, 6, /the OS keychain could not be read \(no D-Bus session bus\) \[misconfigured\]; fix: .*unlocked keyring/);
  });

  it('a locked keyring, even with DISPLAY set → exit 6, no unlock dialog, no hang', async () => {
    const kr2 = await startTestKeyring();
    try {
      const t = await keychainToken();
      assert.ok(t);
      await kr2.set(KEYRACK_AWS_KEYCHAIN_SERVICE, tokenAccount(TOKEN_KEY), JSON.stringify(t));
      await kr2.lock();
      const r = await box.sb.run(args, { env: { ...kr2.env, DISPLAY: ':97', WAYLAND_DISPLAY: 'wayland-97' }, timeoutMs: 30_000 });
      assert.notEqual(r.code, null, 'killed: it hung');
      oneLineRefusal(r, 6, /the OS keychain could not be read \(the keyring is locked\) \[misconfigured\]/);
    } finally {
      await kr2.close();
    }
  });

  it('a session AWS ended → exit 3 expired with the unlock command, even with role credentials cached', async () => {
    const { sb } = box;
    const t = await keychainToken();
    assert.ok(t);
    await sb.emu.control.revoke('alice');
    await writeKeychainToken({ ...t, expiresAt: new Date(Date.now() - 1_000).toISOString().replace(/\.\d{3}Z$/, 'Z') });
    oneLineRefusal(await sb.run(args), 3, /\[expired\]; fix: a human runs: keyrack unlock aws --env prep$/);
  });
});
