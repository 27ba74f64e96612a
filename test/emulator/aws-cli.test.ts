// The real AWS CLI v2 against the emulator: device-flow login, role credentials, STS, refresh, portal
// listings, logout, and the failures an ended session produces, with the CLI's own exit codes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readdir } from 'node:fs/promises';
import { SECRET_MARKER } from '../../src/emulator/index.js';
import { awsCliSandbox, ssoSessionConfig, type AwsCliSandbox } from '../helpers/aws-cli.js';
import { START_URL, startTestEmulator, type TestEmulator } from '../helpers/emulator.js';

const SESSION = 'acme';
const PROFILE = 'dev';

describe('real AWS CLI v2 against the emulator', () => {
  let emu: TestEmulator;
  let box: AwsCliSandbox;

  before(async () => {
    emu = await startTestEmulator();
    box = await awsCliSandbox(emu.url);
    await box.writeConfig(ssoSessionConfig({ session: SESSION, profile: PROFILE, accountId: '111122223333', roleName: 'Developer', startUrl: START_URL }));
  });
  after(async () => {
    assert.ok(!emu.logs.join('\n').includes(SECRET_MARKER), 'emulator log is secret-free');
    await box.cleanup();
    await emu.close();
  });

  /** `aws sso login --no-browser`, approving the device code through the control API once it is pending. */
  async function login(user = 'alice'): Promise<void> {
    const run = box.aws(['sso', 'login', '--profile', PROFILE, '--no-browser']);
    const userCode = await emu.control.waitForPending('device');
    await emu.control.approve({ userCode }, user);
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${emu.url}/device`));
    assert.match(r.stdout, new RegExp(userCode));
    assert.match(r.stdout, /Successfully logged into Start URL/);
  }

  test('sso login (device flow) writes a refreshable token cache', async () => {
    await login();
    const cache = await box.readTokenCache(SESSION);
    assert.equal(cache.startUrl, START_URL);
    assert.equal(cache.region, 'us-east-1');
    for (const k of ['accessToken', 'refreshToken', 'clientSecret']) assert.ok(String(cache[k]).includes(SECRET_MARKER), k);
    assert.ok(Date.parse(String(cache.expiresAt)) > Date.now() + 50 * 60_000, 'Date.parse(String(cache.expiresAt)) > Date.now() + 50 * 60_0');
    assert.ok(Date.parse(String(cache.registrationExpiresAt)) > Date.now() + 80 * 86_400_000, 'Date.parse(String(cache.registrationExpiresAt)) > Date.now()');
    const calls = await emu.control.calls();
    assert.deepEqual(
      calls.map((c) => c.operation).filter((o, i, a) => a.indexOf(o) === i),
      ['RegisterClient', 'StartDeviceAuthorization', 'CreateToken'],
    );
    assert.ok(calls.some((c) => c.operation === 'CreateToken' && c.status === 400), 'first poll is pending');
    assert.ok(calls.some((c) => c.operation === 'CreateToken' && c.status === 200 && c.user === 'alice'), 'calls.some((c) => c.operation === \'CreateToken\' && c.status ');
    assert.ok(!calls.some((c) => c.status === 400 && c.operation === 'CreateToken' && c.grantType !== 'urn:ietf:params:oauth:grant-type:device_code'), '!calls.some((c) => c.status === 400 && c.operation === \'Crea');
  });

  test('sts get-caller-identity uses the role credentials', async () => {
    const r = await box.aws(['sts', 'get-caller-identity', '--profile', PROFILE]);
    assert.equal(r.code, 0, r.stderr);
    const id = JSON.parse(r.stdout) as { Account: string; Arn: string; UserId: string };
    assert.equal(id.Account, '111122223333');
    assert.match(id.Arn, /^arn:aws:sts::111122223333:assumed-role\/AWSReservedSSO_Developer_[0-9a-f]{16}\/alice$/);
    assert.match(id.UserId, /^AROA[A-Z0-9]{17}:alice$/);
  });

  test('configure export-credentials prints the process-credential shape', async () => {
    const r = await box.aws(['configure', 'export-credentials', '--profile', PROFILE, '--format', 'process']);
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(c.Version, 1);
    assert.match(String(c.AccessKeyId), /^ASIA[A-Z0-9]{16}$/);
    assert.ok(String(c.SecretAccessKey).includes(SECRET_MARKER), 'String(c.SecretAccessKey).includes(SECRET_MARKER)');
    assert.ok(String(c.SessionToken).includes(SECRET_MARKER), 'String(c.SessionToken).includes(SECRET_MARKER)');
    assert.ok(Date.parse(String(c.Expiration)) > Date.now(), 'Date.parse(String(c.Expiration)) > Date.now()');
  });

  test('sso list-accounts paginates and list-account-roles lists the permission sets', async () => {
    const token = String((await box.readTokenCache(SESSION)).accessToken);
    const since = (await emu.control.calls()).at(-1)?.seq ?? 0;
    const r = await box.aws(['sso', 'list-accounts', '--access-token', token, '--region', 'us-east-1', '--page-size', '1']);
    assert.equal(r.code, 0, r.stderr);
    const accounts = (JSON.parse(r.stdout) as { accountList: { accountId: string; accountName: string }[] }).accountList;
    assert.deepEqual(accounts.map((a) => a.accountName), ['acme-prep', 'acme-prod']);
    assert.equal((await emu.control.calls(since)).filter((c) => c.operation === 'ListAccounts').length, 2, 'two pages');
    const roles = await box.aws(['sso', 'list-account-roles', '--access-token', token, '--account-id', '444455556666', '--region', 'us-east-1']);
    assert.equal(roles.code, 0, roles.stderr);
    assert.deepEqual((JSON.parse(roles.stdout) as { roleList: { roleName: string }[] }).roleList.map((x) => x.roleName).sort(), ['Developer', 'ReadOnly']);
  });

  test('an access token near expiry is refreshed with a rotated refresh token', async () => {
    const before = await box.readTokenCache(SESSION);
    await box.writeTokenCache(SESSION, { ...before, expiresAt: new Date(Date.now() + 5 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z') });
    await box.clearCliCache(); // otherwise the CLI answers from cached role credentials and never reads the token
    const r = await box.aws(['sts', 'get-caller-identity', '--profile', PROFILE]);
    assert.equal(r.code, 0, r.stderr);
    const afterRefresh = await box.readTokenCache(SESSION);
    assert.notEqual(afterRefresh.accessToken, before.accessToken);
    assert.notEqual(afterRefresh.refreshToken, before.refreshToken);
    assert.ok(Date.parse(String(afterRefresh.expiresAt)) > Date.now() + 50 * 60_000, 'Date.parse(String(afterRefresh.expiresAt)) > Date.now() + 50');
    const refreshes = (await emu.control.calls()).filter((c) => c.grantType === 'refresh_token');
    assert.deepEqual(refreshes.map((c) => c.status), [200]);
  });

  test('an already expired access token is refreshed too', async () => {
    const cache = await box.readTokenCache(SESSION);
    await box.writeTokenCache(SESSION, { ...cache, expiresAt: '2020-01-01T00:00:00Z' });
    await box.clearCliCache();
    const r = await box.aws(['configure', 'export-credentials', '--profile', PROFILE]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.parse(String((await box.readTokenCache(SESSION)).expiresAt)) > Date.now(), 'Date.parse(String((await box.readTokenCache(SESSION)).expire');
  });

  test('expired role credentials: STS answers ExpiredToken (exit 254)', async () => {
    await emu.control.expire('role-credentials');
    const r = await box.aws(['sts', 'get-caller-identity', '--profile', PROFILE]);
    assert.equal(r.code, 254, r.stderr);
    assert.match(r.stderr, /ExpiredToken/);
    await box.clearCliCache();
  });

  test('an ended SSO session: portal 401 and failed refresh exit 255', async () => {
    await emu.control.revoke('alice');
    await box.clearCliCache();
    const portal = await box.aws(['sts', 'get-caller-identity', '--profile', PROFILE]);
    assert.equal(portal.code, 255, portal.stderr);
    assert.match(portal.stderr, /expired or is otherwise invalid|UnauthorizedException|Session token not found/i);

    const cache = await box.readTokenCache(SESSION);
    await box.writeTokenCache(SESSION, { ...cache, expiresAt: '2020-01-01T00:00:00Z' });
    const refresh = await box.aws(['sts', 'get-caller-identity', '--profile', PROFILE]);
    assert.equal(refresh.code, 255, refresh.stderr);
    assert.match(refresh.stderr, /Token has expired and refresh failed/);
    const failed = (await emu.control.calls()).filter((c) => c.grantType === 'refresh_token' && c.status === 400);
    assert.ok(failed.length >= 1, 'refresh was attempted and refused');
  });

  test('sso logout ends the session server-side and removes the cache', async () => {
    await login('bob');
    const token = String((await box.readTokenCache(SESSION)).accessToken);
    const r = await box.aws(['sso', 'logout', '--profile', PROFILE]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await emu.control.calls()).some((c) => c.operation === 'Logout' && c.status === 200 && c.user === 'bob'), '(await emu.control.calls()).some((c) => c.operation === \'Log');
    const left = await readdir(box.ssoCacheDir);
    assert.ok(!left.includes(box.tokenCachePath(SESSION).split('/').at(-1) ?? ''), 'token file deleted');
    const list = await box.aws(['sso', 'list-accounts', '--access-token', token, '--region', 'us-east-1']);
    assert.equal(list.code, 254, list.stderr);
    assert.match(list.stderr, /UnauthorizedException/);
    const missing = await box.aws(['sts', 'get-caller-identity', '--profile', PROFILE]);
    assert.equal(missing.code, 255);
    assert.match(missing.stderr, /Token for acme does not exist|sso login/i);
  });

  test('bob is refused a role he is not assigned (ResourceNotFound)', async () => {
    await login('bob');
    await box.clearCliCache();
    const r = await box.aws(['sts', 'get-caller-identity', '--profile', PROFILE]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /ResourceNotFound|No access/);
  });
});
