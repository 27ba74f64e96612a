// The control API and the /device verification page: what tests and demos use to steer the emulator. Every
// answer goes through ControlClient, which asserts that no secret marker ever appears in it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SECRET_MARKER } from '../../src/emulator/index.js';
import { DEVICE_GRANT, START_URL, deviceLogin, oidcPost, sandboxHome, startTestEmulator, type TestEmulator } from '../helpers/emulator.js';

describe('control API and device page', () => {
  let emu: TestEmulator;
  let restore: () => Promise<void>;

  before(async () => {
    restore = (await sandboxHome()).restore;
    emu = await startTestEmulator();
  });
  after(async () => {
    assert.ok(!emu.logs.join('\n').includes(SECRET_MARKER), 'request log is secret-free');
    assert.ok(emu.logs.length > 0, 'log lines were written');
    await emu.close();
    await restore();
  });

  async function startDevice(clientName = 'botocore-client-acme') {
    const reg = await oidcPost(emu.url, '/client/register', { clientName, clientType: 'public', scopes: ['sso:account:access'] });
    const { clientId, clientSecret } = reg.body as { clientId: string; clientSecret: string };
    const da = await oidcPost(emu.url, '/device_authorization', { clientId, clientSecret, startUrl: START_URL });
    const poll = () => oidcPost(emu.url, '/token', { clientId, clientSecret, grantType: DEVICE_GRANT, deviceCode: da.body.deviceCode });
    return { userCode: String(da.body.userCode), uri: String(da.body.verificationUriComplete), poll };
  }

  test('fixture view: users with named assignments', async () => {
    const f = await emu.control.fixture();
    assert.equal(f.startUrl, START_URL);
    assert.equal(f.region, 'us-east-1');
    assert.deepEqual(f.users.map((u) => u.name), ['alice', 'bob']);
    assert.deepEqual(f.users[1]?.assignments, [{ accountId: '111122223333', accountName: 'acme-prep', roleName: 'ReadOnly' }]);
    assert.equal(f.users[0]?.assignments.length, 4);
    assert.deepEqual(f.roles, [{ arn: 'arn:aws:iam::111122223333:role/keyrack-robot', maxSessionDuration: 3600 }]);
  });

  test('device page: enter code, confirm, pick a user, approve → the poll gets tokens', async () => {
    const d = await startDevice();
    const pending = await emu.control.pending();
    const mine = pending.deviceCodes.find((p) => p.userCode === d.userCode);
    assert.equal(mine?.clientName, 'botocore-client-acme');
    assert.ok(Date.parse(mine?.expiresAt ?? '') > Date.now() + 500_000, 'expiresAt about 10 minutes out');

    const entry = await fetch(`${emu.url}/device`);
    assert.equal(entry.status, 200);
    assert.match(await entry.text(), /name="user_code"/);
    const wrong = await fetch(`${emu.url}/device?user_code=ZZZZ-ZZZZ`);
    assert.equal(wrong.status, 400);
    const confirm = await fetch(d.uri);
    assert.equal(confirm.status, 200);
    const page = await confirm.text();
    assert.match(page, new RegExp(d.userCode));
    assert.match(page, /value="alice"/);
    assert.match(page, /value="bob"/);
    const approve = await fetch(`${emu.url}/device`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ user_code: d.userCode.toLowerCase(), user: 'bob', decision: 'approve' }).toString(),
    });
    assert.equal(approve.status, 200);
    assert.match(await approve.text(), /approved/i);
    const tok = await d.poll();
    assert.equal(tok.status, 200);
    const calls = await emu.control.calls();
    assert.ok(calls.some((c) => c.operation === 'DeviceDecision' && c.user === 'bob'), 'page decision logged');
    assert.ok(calls.some((c) => c.operation === 'DeviceVerification' && c.status === 200), 'page hit logged');
    assert.ok(calls.some((c) => c.operation === 'CreateToken' && c.user === 'bob' && c.status === 200), 'token for bob');
  });

  test('device page deny → AccessDeniedException; decided codes leave /pending', async () => {
    const d = await startDevice();
    const deny = await fetch(`${emu.url}/device`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `user_code=${d.userCode}&decision=deny` });
    assert.equal(deny.status, 200);
    assert.match((await d.poll()).errorType ?? '', /^AccessDeniedException:/);
    assert.ok(!(await emu.control.pending()).deviceCodes.some((p) => p.userCode === d.userCode), 'no longer pending');
    const again = await emu.control.call('POST', 'approve', { userCode: d.userCode, user: 'alice' });
    assert.equal(again.status, 404);
  });

  test('clock: advance, set, read; calls: since and clear; bad requests are 400/404 JSON', async () => {
    const c0 = await emu.control.clock();
    assert.equal(c0.offsetSeconds, 0);
    const c1 = await emu.control.advanceClock(90);
    assert.equal(c1.offsetSeconds, 90);
    assert.ok(Math.abs(c1.nowMs - Date.now() - 90_000) < 2000, 'now = real + offset');
    assert.equal((await emu.control.setClockOffset(0)).offsetSeconds, 0);

    const last = (await emu.control.calls()).at(-1)?.seq ?? 0;
    await fetch(`${emu.url}/assignment/accounts`);
    const since = await emu.control.calls(last);
    assert.deepEqual(since.map((c) => [c.operation, c.status]), [['ListAccounts', 401]]);
    assert.match(since[0]?.time ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    await emu.control.clearCalls();
    assert.deepEqual(await emu.control.calls(), []);
    await fetch(`${emu.url}/assignment/accounts`);
    assert.ok(((await emu.control.calls())[0]?.seq ?? 0) > last, 'sequence numbers keep growing');

    const bad: [string, string, unknown, number][] = [
      ['POST', 'clock', {}, 400],
      ['POST', 'expire', { what: 'everything' }, 400],
      ['POST', 'approve', { userCode: 'NOPE-NOPE', user: 'alice' }, 404],
      ['POST', 'approve', { userCode: 'NOPE-NOPE', user: 'mallory' }, 400],
      ['POST', 'approve', { user: 'alice' }, 400],
      ['POST', 'revoke', { user: 'mallory' }, 400],
      ['POST', 'faults', { operation: 'CreateToken', status: 500 }, 400],
      ['POST', 'faults', { operation: 'CreateToken', delayMs: 5, reset: true }, 400],
      ['GET', 'calls?since=abc', undefined, 400],
      ['GET', 'nothing-here', undefined, 404],
    ];
    for (const [method, path, body, status] of bad) {
      const r = await emu.control.call<{ error: string }>(method, path, body);
      assert.equal(r.status, status, `${method} ${path}`);
      assert.equal(typeof r.body.error, 'string');
    }
    const notJson = await fetch(`${emu.url}/_emulator/approve`, { method: 'POST', body: '{oops' });
    assert.equal(notJson.status, 400);
  });

  test('expire and revoke report counts; sts-sessions lists sessions without secrets', async () => {
    const login = await deviceLogin(emu, 'alice');
    const creds = await fetch(`${emu.url}/federation/credentials?account_id=111122223333&role_name=Developer`, { headers: { 'x-amz-sso_bearer_token': login.accessToken } });
    assert.equal(creds.status, 200);
    const sessions = await emu.control.stsSessions();
    const s = sessions.at(-1);
    assert.equal(s?.kind, 'sso');
    assert.equal(s?.user, 'alice');
    assert.match(s?.arn ?? '', /AWSReservedSSO_Developer_/);
    assert.equal(s?.durationSeconds, 3600);
    assert.ok(((await emu.control.expire('role-credentials')).count ?? 0) >= 1, 'expired at least one credential set');
    assert.equal((await emu.control.stsSessions()).at(-1)?.expired, true);
    assert.ok((await emu.control.revoke('alice')).sessionsEnded >= 1, 'revoked a live session');
    assert.equal((await emu.control.revoke('alice')).sessionsEnded, 0);
  });

  test('auto-approve: device codes are approved as the given user after a short delay', async () => {
    const auto = await startTestEmulator({ autoApprove: 'bob', autoApproveDelayMs: 100 });
    try {
      const reg = await oidcPost(auto.url, '/client/register', { clientName: 'c', clientType: 'public' });
      const { clientId, clientSecret } = reg.body as { clientId: string; clientSecret: string };
      const da = await oidcPost(auto.url, '/device_authorization', { clientId, clientSecret, startUrl: START_URL });
      const poll = () => oidcPost(auto.url, '/token', { clientId, clientSecret, grantType: DEVICE_GRANT, deviceCode: da.body.deviceCode });
      assert.match((await poll()).errorType ?? '', /^AuthorizationPendingException:/);
      await new Promise((r) => setTimeout(r, 250));
      const tok = await poll();
      assert.equal(tok.status, 200);
      assert.ok((await auto.control.calls()).some((c) => c.operation === 'CreateToken' && c.user === 'bob'), 'approved as bob');
    } finally {
      await auto.close();
    }
    await assert.rejects(startTestEmulator({ autoApprove: 'mallory' }), /not a fixture user/);
  });
});
