// Robots at scale: 50 real `keyrack grant` processes at once, through the sandbox helper (leak scan, no-login
// and no-browser checks on every one). Exit codes, the emulator's call log and the files on disk are asserted;
// wall time is not (2 CPU cores, 50 node processes), only bounded by generous per-spawn timeouts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { tokenCacheKey } from '../../src/aws/cache-keys.js';
import { readAudit } from '../../src/store/audit.js';
import { validationFileName, validationLeasePath } from '../../src/store/state.js';
import { createSandbox, lastSeq, tokenFile, type RunResult, type Sandbox } from '../helpers/keyrack.js';

const N = 50;
const KEY = tokenCacheKey({ session: 'acme' });
const lockPath = (sb: Sandbox) => join(sb.home, '.local', 'state', 'keyrack', 'locks', `sso-${KEY}.lock`);
const failurePath = (sb: Sandbox) => join(sb.home, '.local', 'state', 'keyrack', 'locks', `sso-${KEY}.last-failure.json`);
const roleDir = (sb: Sandbox) => join(sb.home, '.aws', 'cli', 'cache');
const stateDir = (sb: Sandbox) => join(sb.home, '.local', 'state', 'keyrack');
const leasePath = (sb: Sandbox) => validationLeasePath(stateDir(sb), validationFileName('prep', 'AWS_PROFILE', 'acme.prep'));
const digest = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const refreshCalls = async (sb: Sandbox, since: number) => (await sb.emu.control.calls(since)).filter((c) => c.operation === 'CreateToken' && c.grantType === 'refresh_token');

/** The access token runs out now: AWS ends it, and the cached file says so too. The refresh token stays good. */
async function expireAccessToken(sb: Sandbox): Promise<void> {
  await sb.emu.control.expire('access-tokens');
  const t = JSON.parse(await readFile(tokenFile(sb), 'utf8')) as Record<string, string>;
  t.expiresAt = new Date(Date.now() - 1_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  await writeFile(tokenFile(sb), JSON.stringify(t), { mode: 0o600 });
}

async function filesDigest(sb: Sandbox): Promise<Record<string, string>> {
  const out: Record<string, string> = { token: digest(await readFile(tokenFile(sb))) };
  for (const n of await readdir(roleDir(sb)).catch(() => [] as string[])) out[`role:${n}`] = digest(await readFile(join(roleDir(sb), n)));
  return out;
}

const grantArgs = ['grant', 'AWS_PROFILE', '--env', 'prep', '--format', 'json'];
/** Generous: a refresh holder on a loaded 2-core machine must not be cut short by the default 10 s budget. */
const loadEnv = { KEYRACK_TOTAL_TIMEOUT_MS: '60000' };

function countBy(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

function tally(rs: RunResult[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const r of rs) t[String(r.code)] = (t[String(r.code)] ?? 0) + 1;
  return t;
}

describe(`${N} parallel robots`, { timeout: 180_000 }, () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox();
    const u = await sb.unlock();
    assert.equal(u.code, 0, u.stdout);
  });
  after(async () => sb.close());

  it(`${N} grants at the moment the access token expires → exactly 1 refresh, ${N} successes, a valid cache file`, async (t) => {
    const before = JSON.parse(await readFile(tokenFile(sb), 'utf8')) as Record<string, string>;
    await expireAccessToken(sb);
    const since = await lastSeq(sb);
    const t0 = Date.now();
    const rs = await Promise.all(Array.from({ length: N }, () => sb.run(grantArgs, { env: loadEnv, timeoutMs: 120_000 })));
    const calls = await sb.emu.control.calls(since);
    t.diagnostic(`wall ${Date.now() - t0} ms; AWS calls: ${JSON.stringify(countBy(calls.map((c) => c.operation)))}`);
    assert.deepEqual(tally(rs), { 0: N }, rs.filter((r) => r.code !== 0).map((r) => r.stderr).join('\n'));
    for (const r of rs) assert.equal((JSON.parse(r.stdout) as { value: string }).value, 'acme.prep');

    const refreshes = await refreshCalls(sb, since);
    assert.equal(refreshes.length, 1, `refresh calls: ${refreshes.map((c) => c.status).join(',')}`);
    assert.equal(refreshes[0]?.status, 200);

    // The cache file afterwards: AWS-CLI shaped, private, fresh, with the rotated refresh token.
    const text = await readFile(tokenFile(sb), 'utf8');
    const after = JSON.parse(text) as Record<string, string>;
    assert.equal((await stat(tokenFile(sb))).mode & 0o777, 0o600);
    assert.ok(Date.parse(after.expiresAt ?? '') > Date.now() + 30 * 60_000, 'expires well in the future');
    assert.notEqual(after.accessToken, before.accessToken);
    assert.notEqual(after.refreshToken, before.refreshToken, 'rotated refresh token kept');
    for (const k of ['startUrl', 'region', 'clientId', 'clientSecret', 'registrationExpiresAt']) assert.equal(after[k], before[k], k);
    const leftovers = (await readdir(join(sb.home, '.aws', 'sso', 'cache'))).filter((n) => n.endsWith('.tmp'));
    assert.deepEqual(leftovers, [], 'no temp files left behind');
    await assert.rejects(stat(lockPath(sb)), 'the lock was released');

    // And the next robot just uses it.
    const since2 = await lastSeq(sb);
    const next = await sb.run(grantArgs, { env: { KEYRACK_VALIDATION_TTL: '0' } });
    assert.equal(next.code, 0, next.stderr);
    assert.equal((await refreshCalls(sb, since2)).length, 0);
  });

  it(`${N} grants at expiry with the fast path's record → one validation for all: 1 refresh, 1 GetCallerIdentity, ${N - 1} answered by waiting for it`, async (t) => {
    // Robots that have been running: their full path left the fast path's record (src/cli/fast/grant.ts).
    const primed = await sb.run(grantArgs, { env: loadEnv });
    assert.equal(primed.code, 0, primed.stderr);
    await expireAccessToken(sb);
    await rm(roleDir(sb), { recursive: true, force: true });
    const since = await lastSeq(sb);
    const audited = (await readAudit(stateDir(sb))).length;
    const rs = await Promise.all(Array.from({ length: N }, () => sb.run(grantArgs, { env: loadEnv, timeoutMs: 120_000 })));
    const calls = await sb.emu.control.calls(since);
    t.diagnostic(`AWS calls: ${JSON.stringify(countBy(calls.map((c) => c.operation)))}`);
    assert.deepEqual(tally(rs), { 0: N }, rs.filter((r) => r.code !== 0).map((r) => r.stderr).join('\n'));
    for (const r of rs) assert.equal((JSON.parse(r.stdout) as { value: string }).value, 'acme.prep');
    // Without the validation lease each process would prove the session itself: N × GetCallerIdentity.
    assert.deepEqual(countBy(calls.map((c) => c.operation)), { CreateToken: 1, GetRoleCredentials: 1, GetCallerIdentity: 1 });
    const grants = (await readAudit(stateDir(sb))).slice(audited).filter((e) => e.command === 'grant' && e.result === 'ok');
    assert.equal(grants.length, N);
    assert.equal(grants.filter((e) => e.detail?.fast !== true).length, 1, 'one leader took the full path');
    await assert.rejects(stat(leasePath(sb)), 'the lease went with its holder');
  });

  it(`${N} grants during an outage (expired access token, every AWS call 503) → ${N} × exit 4, files byte-identical`, async (t) => {
    await expireAccessToken(sb);
    const before = await filesDigest(sb);
    await sb.emu.control.fault({ operation: '*', status: 503, errorType: 'ServiceUnavailable', count: 1_000_000 });
    const since = await lastSeq(sb);
    try {
      const t0 = Date.now();
      const rs = await Promise.all(Array.from({ length: N }, () => sb.run(grantArgs, { env: loadEnv, timeoutMs: 120_000 })));
      const calls = await sb.emu.control.calls(since);
      t.diagnostic(`wall ${Date.now() - t0} ms; AWS calls: ${JSON.stringify(countBy(calls.map((c) => c.operation)))}`);
      assert.deepEqual(tally(rs), { 4: N }, rs.filter((r) => r.code !== 4).map((r) => r.stderr).join('\n'));
      for (const r of rs) {
        const e = (JSON.parse(r.stdout) as { error: { reason: string; code: string } }).error;
        assert.equal(e.reason, 'unavailable');
        assert.equal(e.code, 'aws.unavailable.CreateToken');
        assert.doesNotMatch(r.stderr, /\b(expired|locked)\b|keyrack unlock/, 'an outage never sends anyone to unlock');
      }
      assert.deepEqual(await filesDigest(sb), before, 'token and role credentials byte-identical');
      // Single flight for failures: queued callers share the holder's answer, and for 2 s after an unanswered
      // refresh nobody asks again. Without it every process would make its own 3 attempts (150 calls).
      const attempts = (await refreshCalls(sb, since)).length;
      assert.ok(attempts >= 1 && attempts < N, `CreateToken attempts during the outage: ${attempts}`);
    } finally {
      await sb.emu.control.clearFaults();
    }
    // AWS is back: the same files still work.
    await sleep(2_100); // past the shared-failure window
    const ok = await sb.run(grantArgs, { env: { KEYRACK_VALIDATION_TTL: '0' } });
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('a refresh holder killed with SIGKILL mid-refresh → the next grant takes the lock over at once and succeeds', async () => {
    await rm(failurePath(sb), { force: true }); // stand alone, whatever an earlier test left
    await expireAccessToken(sb);
    const before = await filesDigest(sb);
    // The holder's CreateToken hangs (long per-attempt and overall limits for it), so it is surely inside the
    // lock, mid-refresh, when it dies. The delayed request is never answered before the test ends.
    await sb.emu.control.fault({ operation: 'CreateToken', delayMs: 120_000, count: 1 });
    const since = await lastSeq(sb);
    const holder = sb.run(grantArgs, { env: { KEYRACK_DEBUG: '1', KEYRACK_TOTAL_TIMEOUT_MS: '100000', KEYRACK_REQUEST_TIMEOUT_MS: '100000' }, timeoutMs: 60_000 });
    let pid: number | undefined;
    for (let i = 0; i < 400 && pid === undefined; i++) {
      const text = await readFile(lockPath(sb), 'utf8').catch(() => '');
      if (text) pid = (JSON.parse(text) as { pid: number }).pid;
      else await sleep(25);
    }
    assert.ok(pid, 'the holder took the refresh lock');
    // Wait until its CreateToken is in flight: the emulator has taken the delay fault.
    for (let i = 0; i < 400 && (await sb.emu.control.call<{ faults: unknown[] }>('GET', 'faults')).body.faults.length > 0; i++) await sleep(25);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      const h = await holder;
      assert.fail(`the holder ended on its own (exit ${h.code}) before it could be killed:\n${h.stderr}`);
    }
    const killed = await holder;
    assert.equal(killed.code, null, 'killed, not exited');
    assert.deepEqual(await filesDigest(sb), before, 'the dead holder wrote nothing');
    const lockLeft = JSON.parse(await readFile(lockPath(sb), 'utf8')) as { pid: number };
    assert.equal(lockLeft.pid, pid, 'its lock file is still there');

    // Default budget (10 s) and staleMs (30 s): only the dead-pid check can make this succeed.
    const next = await sb.run([...grantArgs, '--credentials'], { secretsOnStdout: true });
    assert.equal(next.code, 0, next.stderr);
    const refreshes = await refreshCalls(sb, since);
    assert.deepEqual(refreshes.map((c) => c.status), [200], 'one completed refresh (the holder’s never reached AWS)');
    assert.ok(Date.parse((JSON.parse(await readFile(tokenFile(sb), 'utf8')) as { expiresAt: string }).expiresAt) > Date.now() + 30 * 60_000);
    await assert.rejects(stat(lockPath(sb)), 'released');
  });
});
