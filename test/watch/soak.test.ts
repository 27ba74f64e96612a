// 90 simulated days against the emulator: 1-hour access tokens, a 90-day SSO session, the watcher probing every
// 10 simulated minutes, a robot grant every simulated hour, three AWS outages of several hours. In process: the
// watcher's pass (watchOnce) and the robot's grant (src/aws/grant.ts) run with a clock = real time + the
// emulator's clock offset, which POST /_emulator/clock moves for both (SigV4 dates stay real, so signing works).
//
// Claims: every grant inside the session and outside the outages succeeds; during outages robots are told
// "unavailable", never "locked"/"expired"; no token is lost (the file stays, the same session carries on after
// each outage, no new login ever happens); the expiry warnings (24 h, 1 h) arrive on time; exactly one
// session-expired notification, at the end; one refresh-failing per outage, none outside; nothing else.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { grant } from '../../src/aws/grant.js';
import { tokenFilePath } from '../../src/aws/token-cache.js';
import { KeyrackError } from '../../src/core/errors.js';
import { describeRequester, recordLoginRequired } from '../../src/store/signal.js';
import { ProbeMemo } from '../../src/watch/aws-probe.js';
import { PassCache, watchOnce } from '../../src/watch/probe.js';
import { recordSessionLogin } from '../../src/watch/session-end.js';
import { createHarness, TOKEN_KEY, type Harness } from './harness.js';

const MIN = 60_000;
const H = 60 * MIN;
const DAY = 24 * H;
const TICK = 10 * MIN;
const SESSION = 90 * DAY;
/** [start after login, length] */
const OUTAGES: [number, number][] = [
  [10 * DAY + 3 * H, 5 * H],
  [41 * DAY + 20 * H, 7 * H],
  [77 * DAY + 1 * H, 4 * H],
];
const LOGIN_OPS = new Set(['RegisterClient', 'StartDeviceAuthorization']);

interface GrantOutcome {
  at: number;
  ok: boolean;
  reason?: string;
}

describe('soak: 90 simulated days of one human login keeping robots working', () => {
  let h: Harness;
  let loginAt: number;
  let end: number;
  const grants: GrantOutcome[] = [];
  const outageTicks: { at: number; tokenFile: boolean }[] = [];
  const afterOutage: string[] = [];
  let loginCallsDuringSoak = -1;
  let ticks = 0;

  before(async () => {
    h = await createHarness({
      fixture: { sessionDuration: '90d', lifetimes: { accessToken: '1h', roleCredentials: '1h', registration: '120d' } },
      // An outage should cost a robot one attempt, not three with backoff.
      env: { KEYRACK_MAX_ATTEMPTS: '1' },
      memoryDisk: true,
    });
    h.config.sso.acme = { sessionDurationMs: SESSION, deviceCodePush: false, tokenStore: 'aws-cli' };
    loginAt = await h.login();
    end = loginAt + SESSION;
    await h.unlock(loginAt);
    // What `keyrack unlock` reports after a fresh login (the lead wires this call into unlock).
    await recordSessionLogin(h.runtime, { tokenKey: TOKEN_KEY, at: loginAt });
    const setupSeq = Math.max(0, ...(await h.emu.control.calls()).map((c) => c.seq));

    const robot = await h.robot();
    const deps = { runtime: h.runtime, log: h.log, config: h.config, notifier: h.notifier, memo: new ProbeMemo(), cache: new PassCache() };
    const tokenPath = tokenFilePath(h.runtime.paths, TOKEN_KEY);
    const outageAt = (t: number) => OUTAGES.findIndex(([s, len]) => t >= loginAt + s && t < loginAt + s + len);
    let inOutage = -1;
    const started = performance.now();
    const lastTick = Math.ceil((SESSION + DAY) / TICK);
    for (let i = 1; i <= lastTick; i++) {
      await h.advance(TICK / 1000);
      ticks = i;
      const now = h.runtime.clock.now();
      const o = outageAt(now);
      if (o !== inOutage) {
        if (o >= 0) await h.emu.control.fault({ operation: '*', count: 1_000_000, status: 503, errorType: 'ServiceUnavailableException', message: 'simulated outage' });
        else await h.emu.control.clearFaults();
        if (o < 0 && inOutage >= 0) afterOutage.push('pending');
        inOutage = o;
      }
      const report = await watchOnce(deps);
      const s = report.sessions[0];
      if (inOutage >= 0) outageTicks.push({ at: now, tokenFile: await stat(tokenPath).then(() => true, () => false) });
      if (afterOutage.at(-1) === 'pending' && s?.probed) afterOutage[afterOutage.length - 1] = s.status;
      if (i % 6 === 0) {
        const at = h.runtime.clock.now();
        try {
          await grant(robot, { env: 'prep', key: 'AWS_PROFILE' });
          grants.push({ at, ok: true });
        } catch (e) {
          if (!(e instanceof KeyrackError)) throw e;
          grants.push({ at, ok: false, reason: e.reason });
          if (e.reason === 'locked' || e.reason === 'expired') {
            // What the grant command does on such a refusal (the lead wires this call into it).
            await recordLoginRequired(h.runtime, { env: 'prep', key: 'AWS_PROFILE', profile: 'acme.prep', reason: e.reason, code: e.code, requester: describeRequester({ pid: process.pid, cwd: h.repo, argv: ['keyrack', 'grant', 'AWS_PROFILE', '--env', 'prep'] }) });
          }
        }
      }
    }
    const calls = await h.emu.control.calls(setupSeq);
    loginCallsDuringSoak = calls.filter((c) => LOGIN_OPS.has(c.operation)).length;
    process.stdout.write(`# soak: ${ticks} probes and ${grants.length} grants over ${Math.round((h.runtime.clock.now() - loginAt) / DAY)} simulated days in ${Math.round(performance.now() - started)} ms real time\n`);
  });
  after(() => h?.close());

  const events = (type: string) => h.recorded.filter((r) => r.event.event === type);
  const inOutage = (t: number) => OUTAGES.some(([s, len]) => t >= loginAt + s && t < loginAt + s + len);

  it('ran every probe and every grant (90 days + 1, every 10 minutes / every hour)', () => {
    assert.equal(ticks, Math.ceil((SESSION + DAY) / TICK));
    assert.equal(grants.length, Math.floor(ticks / 6));
  });

  it('every grant inside the session and outside the outages succeeds', () => {
    const inside = grants.filter((g) => g.at < end - TICK && !inOutage(g.at));
    assert.ok(inside.length > 2000, `${inside.length} grants inside the session`);
    assert.deepEqual(inside.filter((g) => !g.ok), []);
  });

  it('during an outage robots are told "unavailable", never to log in', () => {
    const during = grants.filter((g) => inOutage(g.at));
    assert.ok(during.length >= 14, `${during.length} grants during outages`);
    assert.deepEqual([...new Set(during.map((g) => g.reason ?? 'granted'))], ['unavailable']);
  });

  it('after the session ends robots are refused as expired (exit 3)', () => {
    const late = grants.filter((g) => g.at > end + TICK);
    assert.ok(late.length >= 20);
    assert.deepEqual([...new Set(late.map((g) => g.reason))], ['expired']);
  });

  it('no token is lost during outages: the file stays and the same session carries on, without a new login', () => {
    assert.ok(outageTicks.length >= (16 * H) / TICK - 3);
    assert.deepEqual(outageTicks.filter((t) => !t.tokenFile), []);
    assert.deepEqual(afterOutage, ['alive', 'alive', 'alive']);
    assert.equal(loginCallsDuringSoak, 0, 'no login was started during the soak');
  });

  it('the 24 h and 1 h warnings arrive on time (within one probe interval), once each', () => {
    const warn = events('session-expiring');
    assert.equal(warn.length, 2, JSON.stringify(warn.map((w) => w.event.title)));
    const [first, second] = warn;
    assert.ok(first && first.at >= end - 24 * H && first.at <= end - 24 * H + TICK + MIN, `24 h warning ${(end - (first?.at ?? 0)) / H} h before the end`);
    assert.ok(second && second.at >= end - H && second.at <= end - H + TICK + MIN, `1 h warning ${(end - (second?.at ?? 0)) / MIN} min before the end`);
    assert.equal(first?.event.endsAt, new Date(end).toISOString());
  });

  it('exactly one session-expired notification, at the end', () => {
    const expired = events('session-expired');
    assert.equal(expired.length, 1);
    const at = expired[0]?.at ?? 0;
    assert.ok(at >= end && at <= end + TICK + MIN, `${(at - end) / MIN} min after the end`);
  });

  it('no false alerts: one refresh-failing per outage (only once it persisted), robot-blocked only after the end, nothing else', () => {
    const failing = events('refresh-failing');
    assert.equal(failing.length, OUTAGES.length);
    OUTAGES.forEach(([s, len], i) => {
      const at = failing[i]?.at ?? 0;
      assert.ok(at >= loginAt + s + 20 * MIN && at < loginAt + s + len, `outage ${i + 1}: alert ${(at - loginAt - s) / MIN} min in`);
    });
    const blocked = events('robot-blocked');
    assert.ok(blocked.length >= 1 && blocked.length <= 5, `${blocked.length} robot-blocked`);
    assert.ok(blocked.every((b) => b.at >= end));
    const types = new Set(h.recorded.map((r) => r.event.event));
    assert.deepEqual([...types].sort(), ['refresh-failing', 'robot-blocked', 'session-expired', 'session-expiring']);
  });
});
