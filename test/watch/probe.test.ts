// The watcher's pass, in process against the emulator: when it probes, how it classifies failures, what it tells
// the human and when, how it learns login times, and what it does with robots' login-required signals.
import assert from 'node:assert/strict';
import { roleCacheKey } from '../../src/aws/cache-keys.js';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readTokenFile } from '../../src/aws/token-cache.js';
import { openTokenStore } from '../../src/aws/token-store.js';
import { describeRequester, listLoginSignals, recordLoginRequired } from '../../src/store/signal.js';
import { removeUnlockRecord } from '../../src/store/state.js';
import { loadUserConfig, ssoSettings } from '../../src/store/user-config.js';
import { backoffMs, PassCache, watchOnce, type WatchDeps } from '../../src/watch/probe.js';
import { dueWarning, recordSessionLogin } from '../../src/watch/session-end.js';
import { readSessionWatch } from '../../src/watch/state.js';
import { startTestKeyring, type TestKeyring } from '../helpers/keyring.js';
import { AWS_CONFIG, createHarness, TOKEN_KEY, type Harness } from './harness.js';

const MIN = 60_000;
const H = 60 * MIN;

const deps = (h: Harness, over: Partial<WatchDeps> = {}): WatchDeps => ({ runtime: h.runtime, log: h.log, config: h.config, notifier: h.notifier, cache: new PassCache(), ...over });
const types = (h: Harness) => h.recorded.map((r) => r.event.event);
const requester = describeRequester({ pid: 4242, cwd: '/srv/agent', argv: ['keyrack', 'grant', 'AWS_PROFILE', '--env', 'prep'] });

describe('session-end arithmetic', () => {
  it('dueWarning: the most urgent crossed threshold, once; several crossed at once send only the smallest', () => {
    const end = 100 * H;
    assert.equal(dueWarning(end, end - 25 * H, [24 * H, H], []), undefined);
    assert.deepEqual(dueWarning(end, end - 24 * H, [24 * H, H], []), { threshold: 24 * H, covers: [24 * H] });
    assert.equal(dueWarning(end, end - 23 * H, [24 * H, H], [24 * H]), undefined);
    assert.deepEqual(dueWarning(end, end - 30 * MIN, [24 * H, H], []), { threshold: H, covers: [24 * H, H] });
    assert.equal(dueWarning(end, end + 1, [24 * H, H], []), undefined, 'nothing once it has ended');
  });

  it('backoff doubles from one interval up to an hour (or the interval, when longer)', () => {
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffMs(10 * MIN, n) / MIN), [10, 20, 40, 60, 60]);
    assert.equal(backoffMs(2 * H, 3), 2 * H);
  });
});

describe('watch pass: probing, failures and notifications', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness({ fixture: { sessionDuration: '8h', lifetimes: { accessToken: '1h' } }, env: { KEYRACK_MAX_ATTEMPTS: '1' } });
    h.config.notify.cooldownMs = 6 * H;
  });
  after(() => h.close());

  it('nothing unlocked: nothing to watch, no AWS call', async () => {
    const before = (await h.emu.control.calls()).length;
    const r = await watchOnce(deps(h));
    assert.deepEqual(r.sessions, []);
    assert.equal((await h.emu.control.calls()).length, before);
  });

  it('an unlocked session is probed, then not again until its interval has passed', async () => {
    const at = await h.login();
    await h.unlock(at);
    const d = deps(h);
    const r1 = await watchOnce(d);
    assert.equal(r1.sessions.length, 1);
    assert.equal(r1.sessions[0]?.status, 'alive');
    assert.equal(r1.sessions[0]?.probed, true);
    assert.deepEqual(r1.sessions[0]?.envs, ['prep']);
    const r2 = await watchOnce(d);
    assert.equal(r2.sessions[0]?.probed, false);
    await h.advance(9 * 60);
    assert.equal((await watchOnce(d)).sessions[0]?.probed, true, 'due within the 20 % slack');
    assert.deepEqual(types(h), ['unlocked'], 'the unlock after the first pass is news; a healthy session makes no other noise');
    h.recorded.length = 0;
  });

  it('AWS not answering: backoff, no alert until alert_after_failures probes failed, then exactly one', async () => {
    const d = deps(h);
    await h.emu.control.fault({ operation: '*', count: 100_000, status: 503, errorType: 'ServiceUnavailableException' });
    try {
      const seen: { failures: number; next: number }[] = [];
      for (let i = 0; i < 6; i++) {
        await h.advance(10 * 60);
        const s = (await watchOnce(d)).sessions[0];
        if (s?.probed) seen.push({ failures: s.failures, next: Math.round(((s.nextProbeAt ?? 0) - h.runtime.clock.now()) / MIN) });
        assert.equal(s?.status, 'failing');
      }
      assert.deepEqual(seen.map((x) => x.failures), [1, 2, 3]);
      assert.deepEqual(seen.map((x) => x.next), [10, 20, 40]);
      assert.deepEqual(types(h), ['refresh-failing']);
      assert.match(h.recorded[0]?.event.message ?? '', /3 probes in a row .* Nothing to do if AWS is having an outage/);
    } finally {
      await h.emu.control.clearFaults();
    }
    await h.advance(40 * 60);
    const back = (await watchOnce(d)).sessions[0];
    assert.equal(back?.status, 'alive');
    assert.equal(back?.failures, 0);
    assert.deepEqual(types(h), ['refresh-failing']);
  });

  it('a revoked session: one session-expired, however many probes follow', async () => {
    h.recorded.length = 0;
    const d = deps(h);
    await h.emu.control.revoke('alice');
    for (let i = 0; i < 3; i++) {
      await h.advance(61 * 60); // past the hour after which the session is proven again
      assert.equal((await watchOnce(d)).sessions[0]?.status, 'expired');
    }
    assert.deepEqual(types(h), ['session-expired']);
    assert.equal(h.recorded[0]?.event.command, 'keyrack unlock aws --env prep');
    // …and the watcher's event is in the audit trail.
    const { readAudit } = await import('../../src/store/audit.js');
    const watchEvents = (await readAudit(h.runtime.paths.state)).filter((e) => e.command === 'watch' && e.detail?.event === 'session-expired');
    assert.equal(watchEvents.length, 1);
    assert.equal(watchEvents[0]?.result, 'refused');
  });

  it('a robot refused meanwhile: robot-blocked once per cooldown, with who asked', async () => {
    h.recorded.length = 0;
    const d = deps(h);
    await recordLoginRequired(h.runtime, { env: 'prep', key: 'AWS_PROFILE', profile: 'acme.prep', reason: 'expired', code: 'sso.expired.CreateToken', requester });
    await watchOnce(d);
    await h.advance(10 * 60);
    await recordLoginRequired(h.runtime, { env: 'prep', key: 'AWS_PROFILE', profile: 'acme.prep', reason: 'expired', requester });
    await watchOnce(d);
    assert.deepEqual(types(h), ['robot-blocked']);
    const e = h.recorded[0]?.event;
    assert.equal(e?.requester?.pid, 4242);
    assert.match(e?.message ?? '', /refused prep\/AWS_PROFILE: the SSO session acme has expired/);
    assert.equal((await listLoginSignals(h.runtime.paths.state)).length, 1, 'kept until the key works again');
  });

  it('signed in again outside keyrack (no login recorded): the login time is learnt from the unlock that followed, the signal cleared', async () => {
    h.recorded.length = 0;
    await h.advance(60);
    await h.login();
    const unlockedAt = h.runtime.clock.now();
    await h.unlock(unlockedAt);
    const r = await watchOnce(deps(h));
    assert.equal(r.sessions[0]?.status, 'alive');
    const w = await readSessionWatch(h.runtime.paths.state, TOKEN_KEY);
    assert.equal(w?.loginAt, unlockedAt);
    assert.equal(w?.loginSource, 'observed');
    assert.deepEqual(r.signals, { pending: 0, cleared: 1 });
    assert.deepEqual(await listLoginSignals(h.runtime.paths.state), []);
    assert.deepEqual(types(h), ['unlocked'], 'the new unlock is news');
  });

  it('locking is news too', async () => {
    h.recorded.length = 0;
    await removeUnlockRecord(h.runtime.paths.state, 'prep');
    const r = await watchOnce(deps(h));
    assert.deepEqual(r.sessions, []);
    assert.deepEqual(types(h), ['locked']);
  });

  it('a key whose profile is missing from ~/.aws/config is reported, not probed', async () => {
    h.recorded.length = 0;
    await h.unlock();
    await writeFile(join(h.home, '.aws', 'config'), AWS_CONFIG.replace('[profile acme.prep]', '[profile other]'));
    try {
      const r = await watchOnce(deps(h));
      assert.deepEqual(r.sessions, []);
      assert.match(r.problems[0] ?? '', /prep\/AWS_PROFILE: .*acme\.prep/);
      assert.ok(types(h).includes('refresh-failing'));
    } finally {
      await writeFile(join(h.home, '.aws', 'config'), AWS_CONFIG);
    }
  });
});

describe('watch pass: expiry warnings from the recorded login and session_duration', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness({ fixture: { sessionDuration: '4h', lifetimes: { accessToken: '1h' } } });
    h.config.watch.warnBeforeMs = [2 * H, 30 * MIN];
  });
  after(() => h.close());

  it('no session_duration configured: no estimate, no warning', async () => {
    const at = await h.login();
    await h.unlock(at);
    await recordSessionLogin(h.runtime, { tokenKey: TOKEN_KEY, at });
    await h.advance(3 * 3600);
    const r = await watchOnce(deps(h, { force: true }));
    assert.equal(r.sessions[0]?.endsAt, undefined);
    assert.deepEqual(types(h), []);
  });

  it('with it: each warning once, on time; only the most urgent when both are crossed at once', async () => {
    h.config.sso.acme = { sessionDurationMs: 4 * H, deviceCodePush: false, tokenStore: 'aws-cli' };
    const r = await watchOnce(deps(h, { force: true }));
    const login = (await readSessionWatch(h.runtime.paths.state, TOKEN_KEY))?.loginAt ?? 0;
    assert.equal(r.sessions[0]?.endsAt, login + 4 * H);
    assert.equal(r.sessions[0]?.endsAtSource, 'recorded');
    // 3 h in: 1 h left, past the 2 h threshold only
    assert.deepEqual(types(h), ['session-expiring']);
    assert.match(h.recorded[0]?.event.title ?? '', /^acme ends in 1h\d*m?$/);
    await watchOnce(deps(h, { force: true }));
    assert.equal(types(h).length, 1, 'not twice');
    await h.advance(35 * 60);
    await watchOnce(deps(h, { force: true }));
    assert.deepEqual(types(h), ['session-expiring', 'session-expiring']);
    assert.match(h.recorded[1]?.event.title ?? '', /ends in 2[0-9]m$/);
  });

  it('a new login recorded later starts the warnings over', async () => {
    await h.advance(60);
    const at = await h.login();
    await recordSessionLogin(h.runtime, { tokenKey: TOKEN_KEY, at });
    await watchOnce(deps(h, { force: true }));
    const w = await readSessionWatch(h.runtime.paths.state, TOKEN_KEY);
    assert.equal(w?.loginAt, at);
    assert.deepEqual(w?.warned, []);
    assert.equal(types(h).length, 2);
    await rm(join(h.runtime.paths.state, 'watch'), { recursive: true, force: true });
  });
});

describe('watch pass: a session kept in the OS keychain (token_store: keychain)', () => {
  let h: Harness;
  let kr: TestKeyring;
  const savedBus = process.env.DBUS_SESSION_BUS_ADDRESS;
  before(async () => {
    kr = await startTestKeyring();
    process.env.DBUS_SESSION_BUS_ADDRESS = kr.env.DBUS_SESSION_BUS_ADDRESS;
    h = await createHarness();
  });
  after(async () => {
    await h.close();
    if (savedBus === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
    else process.env.DBUS_SESSION_BUS_ADDRESS = savedBus;
    await kr.close();
  });

  it('is probed through its store: the token and role credentials never touch ~/.aws', async () => {
    await mkdir(h.runtime.paths.config, { recursive: true });
    await writeFile(join(h.runtime.paths.config, 'config.yml'), 'sso:\n  acme:\n    token_store: keychain\n');
    const at = await h.login(); // written as the AWS CLI would …
    const file = await readTokenFile(h.runtime.paths, TOKEN_KEY);
    assert.ok(file);
    const store = await openTokenStore(h.runtime, 'keychain');
    await store.writeToken({ tokenKey: TOKEN_KEY }, file.token); // … then moved into the keychain, as keyrack migrate does
    await rm(file.path);
    await h.unlock(at);
    // A pass takes the store from the user config it was given (keyrack watch loads it from the file every pass).
    const config = await loadUserConfig(h.runtime.paths);
    assert.equal(ssoSettings(config, 'acme').tokenStore, 'keychain');
    const r = await watchOnce(deps(h, { config }));
    assert.equal(r.sessions[0]?.status, 'alive', JSON.stringify(r));
    // Stored once STS accepted them, with the identity it named (credential-process's pins and audit use it).
    const role = await store.readRoleCredentials(roleCacheKey({ accountId: '111122223333', roleName: 'Developer', session: 'acme' }), Date.now());
    assert.match(role?.identity?.arn ?? '', /^arn:aws:sts::111122223333:assumed-role\/AWSReservedSSO_Developer_/);
    assert.deepEqual((await readdir(h.runtime.paths.cliCache).catch(() => [])).filter((n) => n.endsWith('.json')), [], 'no role credentials in ~/.aws/cli/cache');
    assert.equal(await readTokenFile(h.runtime.paths, TOKEN_KEY), undefined, 'no token file');
    const again = await watchOnce(deps(h, { config, force: true }));
    assert.equal(again.sessions[0]?.status, 'alive');
  });
});
