// The fault matrix: the real keyrack binary against the emulator's fault API, one test per row. Each row asserts
// the exit code, the reason (--format json puts it on stdout) and the state left on disk. The rule under test:
// a transient failure never touches a token and exits 4; only a definite answer that the session is dead exits 3.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, describe, it } from 'node:test';
import { tokenCacheKey } from '../../src/aws/cache-keys.js';
import { readTokenSteady } from '../../src/aws/session-token.js';
import { createLogger } from '../../src/core/log.js';
import { createRuntime } from '../../src/core/runtime.js';
import type { RobotContext } from '../../src/core/plugin.js';
import type { KeyrackFile } from '../../src/core/keyrack-file.js';
import type { FaultSpec } from '../helpers/emulator.js';
import { createSandbox, lastSeq, tokenFile, type RunResult, type Sandbox } from '../helpers/keyrack.js';

const KEY = tokenCacheKey({ session: 'acme' });
const roleDir = (sb: Sandbox) => join(sb.home, '.aws', 'cli', 'cache');
const configPath = (sb: Sandbox) => join(sb.home, '.aws', 'config');

/** The files a grant could touch. Contents are compared by digest, so a failing assertion prints no secret. */
interface Disk {
  token: string | null;
  tokenMode: number | null;
  roles: Record<string, string>;
  config: string | null;
}

const digest = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
/** The real contents, kept aside for restoring. */
const saved = new Map<string, string>();

async function disk(sb: Sandbox): Promise<Disk> {
  const read = async (p: string) => {
    const text = await readFile(p, 'utf8').catch(() => null);
    if (text === null) return null;
    saved.set(digest(text), text);
    return digest(text);
  };
  const roles: Record<string, string> = {};
  for (const n of await readdir(roleDir(sb)).catch(() => [] as string[])) roles[n] = (await read(join(roleDir(sb), n))) ?? '';
  const mode = await stat(tokenFile(sb)).then((s) => s.mode & 0o777, () => null);
  return { token: await read(tokenFile(sb)), tokenMode: mode, roles, config: await read(configPath(sb)) };
}

interface Outcome extends RunResult {
  reason?: string;
  errorCode?: string;
  message?: string;
  cached?: boolean;
}

/** `keyrack grant --format json` with the validation cache off (each row must reach AWS). */
async function grant(sb: Sandbox, env: Record<string, string | undefined> = {}, timeoutMs = 30_000): Promise<Outcome> {
  const r = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--format', 'json'], { env: { KEYRACK_VALIDATION_TTL: '0', ...env }, timeoutMs });
  const j = r.stdout ? (JSON.parse(r.stdout) as { error?: { reason: string; code: string; message: string }; cached?: boolean }) : {};
  return { ...r, ...(j.error ? { reason: j.error.reason, errorCode: j.error.code, message: j.error.message } : {}), ...(j.cached !== undefined ? { cached: j.cached } : {}) };
}
const callsSince = async (sb: Sandbox, since: number) => (await sb.emu.control.calls(since)).map((c) => `${c.operation}${c.grantType ? `:${c.grantType}` : ''} ${c.status}`);

/** Moves the cached access token's expiry (local file only; the refresh token stays good). */
async function setTokenExpiry(sb: Sandbox, msFromNow: number): Promise<void> {
  const t = JSON.parse(await readFile(tokenFile(sb), 'utf8')) as Record<string, string>;
  t.expiresAt = new Date(Date.now() + msFromNow).toISOString().replace(/\.\d{3}Z$/, 'Z');
  await writeFile(tokenFile(sb), JSON.stringify(t), { mode: 0o600 });
}

describe('fault matrix: exit code, reason and the state left on disk', () => {
  let sb: Sandbox;
  let good: Disk;

  before(async () => {
    sb = await createSandbox();
    const u = await sb.unlock();
    assert.equal(u.code, 0, u.stdout);
  });
  after(async () => sb.close());
  afterEach(async () => {
    await sb.emu.control.clearFaults();
    // Each row stands alone: no row inherits the recorded outcome of another row's failed refresh.
    await rm(join(sb.home, '.local', 'state', 'keyrack', 'locks', `sso-${KEY}.last-failure.json`), { force: true });
  });

  /** Snapshot before a row; the row restores what it broke. */
  const snap = async () => {
    good = await disk(sb);
    return good;
  };
  const restore = async (d: Disk = good) => {
    if (d.token !== null) await writeFile(tokenFile(sb), saved.get(d.token) ?? '', { mode: 0o600 });
    await chmod(tokenFile(sb), 0o600).catch(() => undefined);
    if (d.config !== null) await writeFile(configPath(sb), saved.get(d.config) ?? '');
  };
  const fault = (f: FaultSpec) => sb.emu.control.fault(f);
  const dropRoleCache = () => rm(roleDir(sb), { recursive: true, force: true });

  it('baseline: a healthy session grants (exit 0)', async () => {
    const r = await grant(sb);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.cached, false);
  });

  it('500 from CreateToken while the access token is already expired → exit 4, token file byte-identical', async () => {
    await snap();
    await setTokenExpiry(sb, -60_000);
    const before = await disk(sb);
    await fault({ operation: 'CreateToken', status: 500, errorType: 'InternalServerException', count: 10 });
    const r = await grant(sb);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.reason, 'unavailable');
    assert.equal(r.errorCode, 'aws.unavailable.CreateToken');
    assert.deepEqual(await disk(sb), before, 'nothing on disk changed');
    await restore();
  });

  it('503 from STS, persistent → exit 4; once → retried with backoff, exit 0', async () => {
    const before = await snap();
    await fault({ operation: 'GetCallerIdentity', status: 503, errorType: 'ServiceUnavailable', count: 10 });
    const r = await grant(sb);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.reason, 'unavailable');
    assert.match(r.message ?? '', /GetCallerIdentity .*HTTP 503/);
    assert.deepEqual(await disk(sb), before);
    await sb.emu.control.clearFaults();
    await fault({ operation: 'GetCallerIdentity', status: 503, errorType: 'ServiceUnavailable', count: 1 });
    const since = await lastSeq(sb);
    const ok = await grant(sb);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual((await callsSince(sb, since)).filter((c) => c.startsWith('GetCallerIdentity')), ['GetCallerIdentity 503', 'GetCallerIdentity 200']);
  });

  it('429 TooManyRequests from the portal, persistent → exit 4, no role credentials written', async () => {
    await dropRoleCache();
    const before = await snap();
    await fault({ operation: 'GetRoleCredentials', status: 429, errorType: 'TooManyRequestsException', count: 10 });
    const r = await grant(sb);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.reason, 'unavailable');
    assert.equal(r.errorCode, 'aws.unavailable.GetRoleCredentials');
    assert.deepEqual(await disk(sb), before);
    assert.deepEqual(before.roles, {});
  });

  it('Throttling from STS: once → retried, exit 0; persistent → exit 4', async () => {
    await fault({ operation: 'GetCallerIdentity', status: 400, errorType: 'Throttling', count: 1 });
    const ok = await grant(sb);
    assert.equal(ok.code, 0, ok.stderr);
    const before = await snap();
    await fault({ operation: 'GetCallerIdentity', status: 400, errorType: 'Throttling', count: 10 });
    const r = await grant(sb);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.message ?? '', /Throttling/);
    assert.deepEqual(await disk(sb), before);
  });

  it('an answer delayed beyond the timeout → exit 4 within the budget (the spawn would be killed otherwise)', async () => {
    const before = await snap();
    // 60 s of delay, 300 ms per attempt, 3 s overall: a keyrack that waited would be SIGKILLed at 20 s (code null).
    await fault({ operation: 'GetCallerIdentity', delayMs: 60_000, count: 10 });
    const r = await grant(sb, { KEYRACK_REQUEST_TIMEOUT_MS: '300', KEYRACK_TOTAL_TIMEOUT_MS: '3000' }, 20_000);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.reason, 'unavailable');
    assert.match(r.message ?? '', /timed out/);
    assert.deepEqual(await disk(sb), before);
  });

  it('connection reset: persistent → exit 4 (ECONNRESET); once → retried, exit 0', async () => {
    await dropRoleCache();
    const before = await snap();
    await fault({ operation: 'GetRoleCredentials', reset: true, count: 10 });
    const r = await grant(sb);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.message ?? '', /ECONNRESET/);
    assert.deepEqual(await disk(sb), before);
    await sb.emu.control.clearFaults();
    await fault({ operation: 'GetRoleCredentials', reset: true, count: 1 });
    const ok = await grant(sb);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(Object.keys((await disk(sb)).roles).length, 1, 'the retried fetch wrote the role credentials');
  });

  it('malformed JSON from a refresh → exit 4, the token file is not rewritten with the garbage', async () => {
    await snap();
    await setTokenExpiry(sb, -60_000);
    const before = await disk(sb);
    await fault({ operation: 'CreateToken', malformed: true, count: 10 });
    const r = await grant(sb);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.errorCode, 'aws.unavailable.CreateToken');
    assert.match(r.message ?? '', /unreadable answer/);
    assert.deepEqual(await disk(sb), before);
    await restore();
  });

  it('malformed XML from STS → exit 4', async () => {
    const before = await snap();
    await fault({ operation: 'GetCallerIdentity', malformed: true, count: 10 });
    const r = await grant(sb);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.errorCode, 'aws.unavailable.GetCallerIdentity');
    assert.deepEqual(await disk(sb), before);
  });

  it('clock skew: keyrack’s clock 20 min ahead or behind AWS → the SDK corrects from the server date and retries, exit 0', async () => {
    const preload = join(sb.root, 'skew.mjs');
    await writeFile(
      preload,
      `const off = Number(process.env.TEST_CLOCK_SKEW_MS || 0); const R = Date;
class D extends R { constructor(...a) { if (a.length === 0) super(R.now() + off); else super(...a); } static now() { return R.now() + off; } }
globalThis.Date = D;\n`,
    );
    for (const skew of [20 * 60_000, -20 * 60_000]) {
      const before = await snap();
      const since = await lastSeq(sb);
      const r = await grant(sb, { NODE_OPTIONS: `--import=${preload}`, TEST_CLOCK_SKEW_MS: String(skew) });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((await callsSince(sb, since)).filter((c) => c.startsWith('GetCallerIdentity')), ['GetCallerIdentity 400', 'GetCallerIdentity 200'], 'RequestExpired, then the corrected retry');
      assert.deepEqual(await disk(sb), before);
    }
  });

  it('refresh refused with invalid_grant → exit 3 (expired), token file byte-identical', async () => {
    await snap();
    await setTokenExpiry(sb, -60_000);
    const before = await disk(sb);
    await fault({ operation: 'CreateToken', status: 400, errorType: 'InvalidGrantException', count: 1 });
    const r = await grant(sb);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.reason, 'expired');
    assert.equal(r.errorCode, 'sso.expired.CreateToken');
    assert.match(r.stderr, /^fix: a human runs: keyrack unlock aws --env prep$/m);
    assert.deepEqual(await disk(sb), before);
    await restore();
  });

  it('portal 401 UnauthorizedException → exit 3 (expired), token file byte-identical', async () => {
    await dropRoleCache();
    const before = await snap();
    await fault({ operation: 'GetRoleCredentials', status: 401, errorType: 'UnauthorizedException', count: 1 });
    const r = await grant(sb);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.reason, 'expired');
    assert.equal(r.errorCode, 'sso.expired.GetRoleCredentials');
    assert.deepEqual(await disk(sb), before);
  });

  it('STS ExpiredToken for a stale cached credential → dropped, fetched once more, exit 0', async () => {
    assert.equal((await grant(sb)).code, 0); // role credentials cached again
    const before = await snap();
    assert.equal(Object.keys(before.roles).length, 1);
    await sb.emu.control.expire('role-credentials'); // AWS ends them; the cache file still says 1 h
    const since = await lastSeq(sb);
    const r = await grant(sb);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await callsSince(sb, since), ['ListAccounts 200', 'GetCallerIdentity 403', 'GetRoleCredentials 200', 'GetCallerIdentity 200']);
    const afterDisk = await disk(sb);
    assert.equal(afterDisk.token, before.token, 'token untouched');
    assert.notDeepEqual(afterDisk.roles, before.roles, 'the cached credential was replaced');
  });

  it('STS ExpiredToken for a fresh credential too → exit 3 (expired), the refused credential is not left cached', async () => {
    const before = await snap();
    await fault({ operation: 'GetCallerIdentity', status: 403, errorType: 'ExpiredToken', count: 2 });
    const r = await grant(sb);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.reason, 'expired');
    assert.equal(r.errorCode, 'sso.expired.GetCallerIdentity');
    const afterDisk = await disk(sb);
    assert.equal(afterDisk.token, before.token);
    assert.deepEqual(afterDisk.roles, {});
  });

  it('corrupt token cache file → exit 6 (misconfigured), file left as it is', async () => {
    await snap();
    await writeFile(tokenFile(sb), '{this is not json', { mode: 0o600 });
    const broken = await disk(sb);
    const r = await grant(sb);
    assert.equal(r.code, 6, r.stderr);
    assert.equal(r.reason, 'misconfigured');
    assert.equal(r.errorCode, 'token-cache.corrupt');
    assert.deepEqual(await disk(sb), broken);
    await restore();
  });

  it('truncated token cache file → exit 6, file left as it is', async () => {
    const before = await snap();
    const text = saved.get(before.token ?? '') ?? '';
    await writeFile(tokenFile(sb), text.slice(0, Math.floor(text.length / 2)), { mode: 0o600 });
    const broken = await disk(sb);
    const r = await grant(sb);
    assert.equal(r.code, 6, r.stderr);
    assert.equal(r.errorCode, 'token-cache.corrupt');
    assert.deepEqual(await disk(sb), broken);
    await restore();
  });

  it('a token file caught half-written (the AWS CLI writes in place) is read again before it counts as corrupt', async () => {
    const before = await snap();
    const full = saved.get(before.token ?? '') ?? '';
    await writeFile(tokenFile(sb), full.slice(0, 40), { mode: 0o600 });
    const lines: string[] = [];
    const ctx: RobotContext = {
      runtime: createRuntime({ env: { HOME: sb.home, XDG_STATE_HOME: join(sb.home, '.local', 'state'), XDG_CONFIG_HOME: join(sb.home, '.config') } }),
      file: { path: join(sb.repo, 'keyrack.yml') } as KeyrackFile,
      log: createLogger({ enabled: true, write: (l) => lines.push(l) }),
    };
    // The "writer" finishes 20 ms later; the first re-read comes after 50 ms.
    const finish = sleep(20).then(() => writeFile(tokenFile(sb), full, { mode: 0o600 }));
    const token = await readTokenSteady(ctx, { label: 'acme', session: 'acme', startUrl: 'x', region: 'us-east-1', tokenKey: KEY });
    await finish;
    assert.ok(token?.accessToken);
    assert.ok(lines.some((l) => l.includes('reading it again')), 'the first read saw the half-written file');
    assert.ok(lines.every((l) => !l.includes('EMUSECRET')));
  });

  it('wrong permissions on the token cache file (0644) → exit 6, file not rewritten', async () => {
    await snap();
    await chmod(tokenFile(sb), 0o644);
    const exposed = await disk(sb);
    const r = await grant(sb);
    assert.equal(r.code, 6, r.stderr);
    assert.equal(r.errorCode, 'token-cache.permissions');
    assert.deepEqual(await disk(sb), exposed);
    assert.equal(exposed.tokenMode, 0o644);
    await restore();
  });

  it('~/.aws/config syntax error → exit 6, pointing at the line; config untouched', async () => {
    const before = await snap();
    await writeFile(configPath(sb), `${saved.get(before.config ?? '') ?? ''}\n[profile broken\n`);
    const broken = await disk(sb);
    const r = await grant(sb);
    assert.equal(r.code, 6, r.stderr);
    assert.equal(r.errorCode, 'aws-config.syntax');
    assert.match(r.stderr, /config:\d+/);
    assert.deepEqual(await disk(sb), broken);
    await restore();
  });

  it('the profile’s sso-session is missing from ~/.aws/config → exit 6', async () => {
    const before = await snap();
    const config = saved.get(before.config ?? '') ?? '';
    const without = config.replace(/\[sso-session acme\][^[]*/, '');
    assert.notEqual(without, config);
    await writeFile(configPath(sb), without);
    const r = await grant(sb);
    assert.equal(r.code, 6, r.stderr);
    assert.equal(r.reason, 'misconfigured');
    assert.match(r.errorCode ?? '', /^aws-config\./);
    assert.equal(await readFile(configPath(sb), 'utf8'), without, 'robots never rewrite ~/.aws/config');
    await restore();
  });

  it('unreadable state dir → exit 6 (state.unreadable), before any AWS call', async () => {
    const notADir = join(sb.root, 'state-is-a-file');
    await writeFile(notADir, 'x');
    const since = await lastSeq(sb);
    const r = await grant(sb, { XDG_STATE_HOME: notADir });
    assert.equal(r.code, 6, r.stderr);
    assert.equal(r.errorCode, 'state.unreadable');
    assert.deepEqual(await callsSince(sb, since), []);
  });

  it('validation-cache TTL: reused within it (no AWS call), validated again once it has run out', async () => {
    const ttl = { KEYRACK_VALIDATION_TTL: '1s' };
    const first = await grant(sb, ttl);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.cached, false);
    const since = await lastSeq(sb);
    const second = await grant(sb, ttl);
    assert.equal(second.cached, true);
    assert.deepEqual(await callsSince(sb, since), [], 'served from the cache');
    await sleep(1_100);
    const since2 = await lastSeq(sb);
    const third = await grant(sb, ttl);
    assert.equal(third.code, 0, third.stderr);
    assert.equal(third.cached, false);
    assert.deepEqual(await callsSince(sb, since2), ['ListAccounts 200', 'GetCallerIdentity 200']);
  });

  it('revoked SSO session with role credentials still cached → exit 3 (expired), not a stale success', async () => {
    assert.equal((await grant(sb)).code, 0);
    const before = await snap();
    assert.equal(Object.keys(before.roles).length, 1, 'role credentials are cached and still valid at STS');
    await sb.emu.control.revoke('alice');
    const r = await grant(sb);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.reason, 'expired');
    assert.equal(r.errorCode, 'sso.expired.ListAccounts');
    assert.deepEqual(await disk(sb), before, 'nothing deleted or rewritten');
  });
});
