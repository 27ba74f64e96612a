// The opt-in device-code push, in process against the emulator: off by default; only for an expired session
// whose key is still unlocked and a robot signalled; one flow at a time; signal kept (and the cooldown honoured)
// on failure, cleared on success. A person approves through the emulator's control API, as in a browser.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readTokenFile } from '../../src/aws/token-cache.js';
import { describeRequester, listLoginSignals, readLoginSignal, recordLoginRequired } from '../../src/store/signal.js';
import { removeUnlockRecord } from '../../src/store/state.js';
import { pushDeviceCode } from '../../src/watch/device-push.js';
import { PassCache, watchOnce, type PushOutcome, type WatchDeps } from '../../src/watch/probe.js';
import { recordSessionLogin } from '../../src/watch/session-end.js';
import { readLoginRecord } from '../../src/watch/state.js';
import { createHarness, TOKEN_KEY, type Harness } from './harness.js';

const H = 3_600_000;
const requester = describeRequester({ pid: 99, cwd: '/srv/agent', argv: ['keyrack', 'grant', 'AWS_PROFILE'] });
const deps = (h: Harness): WatchDeps => ({ runtime: h.runtime, log: h.log, config: h.config, notifier: h.notifier, cache: new PassCache(), force: true });
const starts = async (h: Harness, since: number) => (await h.emu.control.calls(since)).filter((c) => c.operation === 'StartDeviceAuthorization').length;
const lastSeq = async (h: Harness) => Math.max(0, ...(await h.emu.control.calls()).map((c) => c.seq));

async function expiredAndSignalled(h: Harness, reason: 'expired' | 'locked' = 'expired'): Promise<void> {
  await h.emu.control.revoke('alice');
  await h.advance(2 * 3600);
  const r = await watchOnce({ ...deps(h), force: true });
  assert.equal(r.sessions[0]?.status, 'expired');
  assert.deepEqual(r.pushes, [], 'no push without a robot asking');
  await recordLoginRequired(h.runtime, { env: 'prep', key: 'AWS_PROFILE', profile: 'acme.prep', reason, requester });
}

/** Waits for the login-approval event and answers it as the human would. */
async function answer(h: Harness, how: 'approve' | 'deny'): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const e = h.recorded.find((r) => r.event.event === 'login-approval' && !r.event.message.includes('[answered]'));
    if (e?.event.approval) {
      e.event.message += ' [answered]';
      const code = e.event.approval.userCode;
      if (how === 'approve') await h.emu.control.approve({ userCode: code }, 'alice');
      else await h.emu.control.deny({ userCode: code });
      return code;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('no login-approval event');
}

describe('device-code push (opt-in per sso session)', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness();
    h.config.notify.cooldownMs = H;
    const at = await h.login();
    await h.unlock(at);
    await recordSessionLogin(h.runtime, { tokenKey: TOKEN_KEY, at });
  });
  after(() => h.close());

  it('off by default: an expired session and a waiting robot start nothing', async () => {
    await expiredAndSignalled(h);
    const seq = await lastSeq(h);
    const r = await watchOnce(deps(h));
    assert.deepEqual(r.pushes, []);
    assert.equal(await starts(h, seq), 0);
    assert.equal(r.signals.pending, 1);
  });

  it('on: one device authorization, the URL and code go to the notifiers, approval writes the token and clears the signal', async () => {
    h.config.sso.acme = { deviceCodePush: true, tokenStore: 'aws-cli' };
    const seq = await lastSeq(h);
    const before = (await readTokenFile(h.runtime.paths, TOKEN_KEY))?.token.accessToken;
    const r = await watchOnce(deps(h));
    assert.equal(r.pushes.length, 1);
    const code = await answer(h, 'approve');
    const [outcome] = (await Promise.all(r.pushes)) as PushOutcome[];
    assert.equal(outcome?.outcome, 'approved');
    assert.equal(await starts(h, seq), 1);
    const approval = h.recorded.find((e) => e.event.event === 'login-approval')?.event;
    assert.equal(approval?.approval?.userCode, code);
    assert.match(approval?.approval?.verificationUriComplete ?? '', /user_code=/);
    assert.match(approval?.message ?? '', /device_code_push is on for acme/);
    const after = (await readTokenFile(h.runtime.paths, TOKEN_KEY))?.token;
    assert.ok(after?.accessToken && after.accessToken !== before && after.refreshToken);
    assert.deepEqual(await listLoginSignals(h.runtime.paths.state), []);
    assert.equal((await readLoginRecord(h.runtime.paths.state, TOKEN_KEY))?.source, 'device-code-push');
    const next = await watchOnce(deps(h));
    assert.equal(next.sessions[0]?.status, 'alive');
    assert.equal(next.sessions[0]?.endsAtSource, undefined, 'no session_duration configured');
  });

  it('denied: the signal stays, with the outcome and no new push before the cooldown', async () => {
    await h.advance(2 * 3600);
    await expiredAndSignalled(h);
    const seq = await lastSeq(h);
    const r = await watchOnce(deps(h));
    await answer(h, 'deny');
    const [outcome] = (await Promise.all(r.pushes)) as PushOutcome[];
    assert.equal(outcome?.outcome, 'denied');
    const s = await readLoginSignal(h.runtime.paths.state, 'prep', 'AWS_PROFILE');
    assert.equal(s?.lastAttempt?.outcome, 'denied');
    assert.ok((s?.nextAttemptAfter ?? 0) >= h.runtime.clock.now() + H - 60_000);
    await h.advance(30 * 60);
    const again = await watchOnce(deps(h));
    assert.deepEqual(again.pushes, [], 'cooldown honoured');
    assert.equal(await starts(h, seq), 1);
    await h.advance(31 * 60);
    const later = await watchOnce(deps(h));
    assert.equal(later.pushes.length, 1, 'tried again after the cooldown');
    await answer(h, 'approve');
    assert.equal(((await Promise.all(later.pushes)) as PushOutcome[])[0]?.outcome, 'approved');
    assert.equal(await starts(h, seq), 2);
  });

  it('two watchers at once make one device-code flow; the other leaves it to the first', async () => {
    await h.advance(2 * 3600);
    await expiredAndSignalled(h);
    const seq = await lastSeq(h);
    const signals = await listLoginSignals(h.runtime.paths.state);
    const req = { sso: { label: 'acme', session: 'acme', startUrl: 'https://d-1234567890.awsapps.com/start', region: 'us-east-1', scopes: ['sso:account:access'], tokenKey: TOKEN_KEY }, ssoName: 'acme', signals };
    const both = Promise.all([pushDeviceCode(deps(h), req), pushDeviceCode(deps(h), req)]);
    await answer(h, 'approve');
    const outcomes = (await both).map((o) => o.outcome).sort();
    assert.deepEqual(outcomes, ['approved', 'skipped']);
    assert.equal(await starts(h, seq), 1);
    // and a third one afterwards finds nothing to do
    assert.equal((await pushDeviceCode(deps(h), req)).outcome, 'skipped');
  });

  it("a locked key (its unlock record removed) is never pushed: the human's lock stands", async () => {
    await h.advance(2 * 3600);
    await expiredAndSignalled(h, 'locked');
    await removeUnlockRecord(h.runtime.paths.state, 'prep');
    const seq = await lastSeq(h);
    const r = await watchOnce(deps(h));
    assert.deepEqual(r.pushes, []);
    assert.equal(await starts(h, seq), 0);
  });
});
