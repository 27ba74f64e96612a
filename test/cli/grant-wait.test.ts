// `grant --wait`: robots queue behind one human action. Each prints once what the human must run, polls only
// local files while waiting (no AWS calls), and grants as soon as the unlock lands; the wait is bounded.
import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, describe, it } from 'node:test';
import { listWaiters } from '../../src/core/waiters.js';
import { createSandbox, lastSeq, tokenFile, type RunResult, type Sandbox } from '../helpers/keyrack.js';

const stateDir = (sb: Sandbox) => join(sb.home, '.local', 'state', 'keyrack');
const HINT = /^keyrack: .*; waiting up to 1m for a human to run: keyrack unlock aws --env prep$/;

/** Until `n` robots have registered as waiting (the record is written right after the hint is printed). */
async function waitersAppear(sb: Sandbox, n: number): Promise<void> {
  for (let i = 0; i < 1_200; i++) {
    if ((await listWaiters(stateDir(sb), 'prep')).length >= n) return;
    await sleep(50);
  }
  assert.fail(`${n} robots never started waiting`);
}

function hints(r: RunResult): string[] {
  return r.stderr.split('\n').filter((l) => l.includes('waiting up to'));
}

describe('grant --wait', { timeout: 120_000 }, () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox();
    assert.equal((await sb.unlock()).code, 0);
  });
  after(async () => sb.close());
  afterEach(async () => sb.emu.control.clearFaults());

  it('locked: 5 robots wait without calling AWS, each says once what to run, and all grant after one unlock', async () => {
    assert.equal((await sb.run(['lock', 'aws'])).code, 0);
    const robots = Array.from({ length: 5 }, () => sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--wait', '1m'], { timeoutMs: 90_000 }));
    await waitersAppear(sb, 5);
    const since = await lastSeq(sb);
    await sleep(1_000); // several polling rounds
    assert.deepEqual(await sb.emu.control.calls(since), [], 'waiting robots poll local files only');
    const u = await sb.unlock(); // the session is alive: no login, just the unlock
    assert.equal(u.code, 0, u.stdout);
    const rs = await Promise.all(robots);
    for (const r of rs) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'acme.prep\n');
      assert.equal(hints(r).length, 1, r.stderr);
      assert.match(hints(r)[0] ?? '', HINT);
      assert.match(r.stderr, /is locked/);
    }
    assert.deepEqual(await listWaiters(stateDir(sb)), [], 'waiter records are gone');
  });

  it('expired: a robot whose refresh is refused waits; the human’s unlock renews the session and the robot grants', async () => {
    // The access token has run out and AWS refuses its refresh once: the robot sees `expired` (exit 3 without --wait).
    const t = JSON.parse(await readFile(tokenFile(sb), 'utf8')) as Record<string, string>;
    t.expiresAt = new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    await writeFile(tokenFile(sb), JSON.stringify(t), { mode: 0o600 });
    await sb.emu.control.fault({ operation: 'CreateToken', status: 400, errorType: 'InvalidGrantException', count: 1 });
    const robot = sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--wait', '1m', '--format', 'json'], { timeoutMs: 90_000 });
    await waitersAppear(sb, 1);
    assert.equal((await listWaiters(stateDir(sb), 'prep'))[0]?.reason, 'expired');
    await sb.emu.control.clearFaults();
    // The human's unlock refreshes silently (the refusal was a one-off): the token file changes, the robot goes on.
    const u = await sb.unlock();
    assert.equal(u.code, 0, u.stdout);
    const r = await robot;
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { value: string }).value, 'acme.prep');
    assert.equal(hints(r).length, 1);
    assert.match(hints(r)[0] ?? '', /the SSO session has ended .*; waiting up to 1m for a human to run: keyrack unlock aws --env prep$/);
  });

  it('the wait is bounded: nobody unlocks → exit 3 after the duration, with the fix', async () => {
    assert.equal((await sb.run(['lock', 'aws'])).code, 0);
    const r = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--wait', '1s', '--format', 'json'], { timeoutMs: 30_000 });
    assert.equal(r.code, 3);
    const e = (JSON.parse(r.stdout) as { error: { reason: string; message: string; fix: string } }).error;
    assert.equal(e.reason, 'locked');
    assert.match(e.message, /\(waited 1s for a human\)$/);
    assert.equal(e.fix, 'a human runs: keyrack unlock aws --env prep');
    assert.equal(hints(r).length, 1);
    assert.deepEqual(await readdir(join(stateDir(sb), 'waiting')).catch(() => []), []);
    assert.equal((await sb.unlock()).code, 0);
  });

  it('only locked/expired are waited for: an outage exits 4 at once, no hint', async () => {
    await rm(join(sb.home, '.aws', 'cli', 'cache'), { recursive: true, force: true });
    await sb.emu.control.fault({ operation: 'GetRoleCredentials', status: 503, errorType: 'ServiceUnavailable', count: 100 });
    const r = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--wait', '1m'], { env: { KEYRACK_VALIDATION_TTL: '0' }, timeoutMs: 30_000 });
    assert.equal(r.code, 4, r.stderr);
    assert.deepEqual(hints(r), []);
  });

  it('already unlocked: --wait changes nothing (no hint, no delay)', async () => {
    const r = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--wait', '1m']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
  });

  it('a malformed --wait is refused (exit 2), never guessed', async () => {
    for (const bad of ['soon', '10', '-1s']) {
      const r = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--wait', bad]);
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      assert.match(r.stderr, /--wait is not a duration/);
    }
  });
});
