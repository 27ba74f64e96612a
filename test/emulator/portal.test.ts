// The SSO portal through the real JS v3 client: pagination, assignments, role credentials (epoch ms), the
// UnauthorizedException cases and Logout.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  GetRoleCredentialsCommand, ListAccountRolesCommand, ListAccountsCommand, LogoutCommand, SSOClient, paginateListAccounts,
} from '@aws-sdk/client-sso';
import { SECRET_MARKER } from '../../src/emulator/index.js';
import { deviceLogin, oidcPost, sandboxHome, startTestEmulator, type TestEmulator } from '../helpers/emulator.js';

async function errorOf(p: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('SSO portal', () => {
  let emu: TestEmulator;
  let sso: SSOClient;
  let restore: () => Promise<void>;

  before(async () => {
    restore = (await sandboxHome()).restore;
    emu = await startTestEmulator();
    sso = new SSOClient({ region: 'us-east-1', endpoint: emu.url });
  });
  after(async () => {
    sso.destroy();
    await emu.close();
    await restore();
  });

  test('ListAccounts: one page by default, two with max_result=1; ListAccountRoles per account', async () => {
    const { accessToken } = await deviceLogin(emu);
    const all = await sso.send(new ListAccountsCommand({ accessToken }));
    assert.equal(all.nextToken, undefined);
    assert.deepEqual(all.accountList, [
      { accountId: '111122223333', accountName: 'acme-prep', emailAddress: 'aws-prep@example.com' },
      { accountId: '444455556666', accountName: 'acme-prod', emailAddress: 'aws-prod@example.com' },
    ]);
    const pages = [];
    for await (const page of paginateListAccounts({ client: sso, pageSize: 1 }, { accessToken })) pages.push(page.accountList?.map((a) => a.accountId));
    assert.deepEqual(pages, [['111122223333'], ['444455556666']]);
    const roles = await sso.send(new ListAccountRolesCommand({ accessToken, accountId: '111122223333' }));
    assert.deepEqual(roles.roleList, [
      { roleName: 'Developer', accountId: '111122223333' },
      { roleName: 'ReadOnly', accountId: '111122223333' },
    ]);
    const bob = await deviceLogin(emu, 'bob');
    assert.deepEqual((await sso.send(new ListAccountsCommand({ accessToken: bob.accessToken }))).accountList?.map((a) => a.accountName), ['acme-prep']);
    const notHis = await errorOf(sso.send(new ListAccountRolesCommand({ accessToken: bob.accessToken, accountId: '444455556666' })));
    assert.equal(notHis.name, 'ResourceNotFoundException');
  });

  test('out-of-range max_result and forged next_token → InvalidRequestException', async () => {
    const { accessToken } = await deviceLogin(emu);
    for (const q of ['max_result=0', 'max_result=101', 'max_result=abc', 'next_token=Zm9yZ2Vk']) {
      const res = await fetch(`${emu.url}/assignment/accounts?${q}`, { headers: { 'x-amz-sso_bearer_token': accessToken } });
      assert.equal(res.status, 400, q);
      assert.match(res.headers.get('x-amzn-errortype') ?? '', /^InvalidRequestException:http:\/\/internal\.amazon\.com\/coral\//);
    }
  });

  test('GetRoleCredentials: ASIA key, marked secrets, epoch-ms expiration; unassigned role → 404', async () => {
    const { accessToken } = await deviceLogin(emu);
    const r = await sso.send(new GetRoleCredentialsCommand({ accessToken, accountId: '444455556666', roleName: 'ReadOnly' }));
    const c = r.roleCredentials ?? {};
    assert.match(c.accessKeyId ?? '', /^ASIA[A-Z0-9]{16}$/);
    assert.ok(c.secretAccessKey?.includes(SECRET_MARKER) && c.secretAccessKey.length === 40, 'c.secretAccessKey?.includes(SECRET_MARKER) && c.secretAccess');
    assert.ok(c.sessionToken?.includes(SECRET_MARKER), 'c.sessionToken?.includes(SECRET_MARKER)');
    assert.ok(Math.abs((c.expiration ?? 0) - (Date.now() + 3600_000)) < 10_000, 'epoch milliseconds, 1 h');
    const missing = await errorOf(sso.send(new GetRoleCredentialsCommand({ accessToken, accountId: '444455556666', roleName: 'Admin' })));
    assert.equal(missing.name, 'ResourceNotFoundException');
    assert.equal(missing.$metadata?.httpStatusCode, 404);
    const noParams = await fetch(`${emu.url}/federation/credentials`, { headers: { 'x-amz-sso_bearer_token': accessToken } });
    assert.equal(noParams.status, 400);
  });

  test('missing, forged, expired and logged-out tokens → 401 UnauthorizedException', async () => {
    const res = await fetch(`${emu.url}/assignment/accounts`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('x-amzn-errortype'), 'UnauthorizedException:http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/');
    assert.deepEqual(await res.json(), { message: 'Session token not found or invalid' });
    assert.equal((await errorOf(sso.send(new ListAccountsCommand({ accessToken: 'forged' })))).name, 'UnauthorizedException');

    const a = await deviceLogin(emu);
    await emu.control.advanceClock(3601);
    assert.equal((await errorOf(sso.send(new ListAccountsCommand({ accessToken: a.accessToken })))).name, 'UnauthorizedException');
    await emu.control.setClockOffset(0);

    const b = await deviceLogin(emu);
    await emu.control.expire('access-tokens');
    assert.equal((await errorOf(sso.send(new ListAccountsCommand({ accessToken: b.accessToken })))).name, 'UnauthorizedException');

    const c = await deviceLogin(emu);
    await sso.send(new LogoutCommand({ accessToken: c.accessToken }));
    const after = await errorOf(sso.send(new GetRoleCredentialsCommand({ accessToken: c.accessToken, accountId: '111122223333', roleName: 'Developer' })));
    assert.equal(after.name, 'UnauthorizedException');
    assert.equal(after.$metadata?.httpStatusCode, 401);
    const refresh = await oidcPost(emu.url, '/token', { clientId: c.clientId, clientSecret: c.clientSecret, grantType: 'refresh_token', refreshToken: c.refreshToken });
    assert.match(refresh.errorType ?? '', /^InvalidGrantException:/);

    const d = await deviceLogin(emu);
    await emu.control.revoke('alice');
    assert.equal((await errorOf(sso.send(new ListAccountsCommand({ accessToken: d.accessToken })))).name, 'UnauthorizedException');
  });

  test('TooManyRequestsException fault is retried by the SDK', async () => {
    const { accessToken } = await deviceLogin(emu);
    await emu.control.fault({ operation: 'ListAccounts', count: 1, status: 429, errorType: 'TooManyRequestsException' });
    const r = await sso.send(new ListAccountsCommand({ accessToken }));
    assert.equal(r.$metadata.attempts, 2);
  });
});
