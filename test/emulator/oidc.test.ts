// SSO OIDC through the real JS v3 client and raw HTTP: device flow, refresh rotation, the modelled errors,
// pacing (slow_down), expiry through the emulated clock, and fault injection.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateTokenCommand, RegisterClientCommand, SSOOIDCClient, StartDeviceAuthorizationCommand } from '@aws-sdk/client-sso-oidc';
import { normalizeFixture } from '../../src/emulator/index.js';
import { DEVICE_GRANT, START_URL, deviceLogin, oidcPost, sandboxHome, startTestEmulator, type TestEmulator } from '../helpers/emulator.js';

async function rejects(p: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number; attempts?: number; requestId?: string }; error?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('SSO OIDC', () => {
  let emu: TestEmulator;
  let oidc: SSOOIDCClient;
  let restore: () => Promise<void>;

  before(async () => {
    restore = (await sandboxHome()).restore;
    emu = await startTestEmulator();
    oidc = new SSOOIDCClient({ region: 'us-east-1', endpoint: emu.url });
  });
  after(async () => {
    oidc.destroy();
    await emu.close();
    await restore();
  });

  async function register(scopes?: string[]) {
    const r = await oidc.send(new RegisterClientCommand({ clientName: 'sdk-test', clientType: 'public', ...(scopes ? { scopes } : {}) }));
    return { clientId: r.clientId ?? '', clientSecret: r.clientSecret ?? '', r };
  }

  test('device flow with the v3 client: pending, then approved, epoch-second registration times', async () => {
    const { clientId, clientSecret, r } = await register(['sso:account:access']);
    const nowSec = Date.now() / 1000;
    assert.ok(Math.abs((r.clientIdIssuedAt ?? 0) - nowSec) < 5, 'Math.abs((r.clientIdIssuedAt ?? 0) - nowSec) < 5');
    assert.ok(Math.abs((r.clientSecretExpiresAt ?? 0) - (nowSec + 90 * 86400)) < 5, 'Math.abs((r.clientSecretExpiresAt ?? 0) - (nowSec + 90 * 864');
    assert.ok(r.$metadata.requestId, 'r.$metadata.requestId');
    const da = await oidc.send(new StartDeviceAuthorizationCommand({ clientId, clientSecret, startUrl: START_URL }));
    assert.match(da.userCode ?? '', /^[A-Z]{4}-[A-Z]{4}$/);
    assert.equal(da.verificationUri, `${emu.url}/device`);
    assert.equal(da.verificationUriComplete, `${emu.url}/device?user_code=${da.userCode}`);
    assert.equal(da.expiresIn, 600);
    assert.equal(da.interval, 1);
    const pending = await rejects(oidc.send(new CreateTokenCommand({ clientId, clientSecret, grantType: DEVICE_GRANT, deviceCode: da.deviceCode })));
    assert.equal(pending.name, 'AuthorizationPendingException');
    assert.equal(pending.error, 'authorization_pending');
    await emu.control.approve({ userCode: da.userCode ?? '' }, 'alice');
    const tok = await oidc.send(new CreateTokenCommand({ clientId, clientSecret, grantType: DEVICE_GRANT, deviceCode: da.deviceCode }));
    assert.equal(tok.tokenType, 'Bearer');
    assert.equal(tok.expiresIn, 3600);
    assert.ok(tok.refreshToken, 'tok.refreshToken');
    const reused = await rejects(oidc.send(new CreateTokenCommand({ clientId, clientSecret, grantType: DEVICE_GRANT, deviceCode: da.deviceCode })));
    assert.equal(reused.name, 'InvalidGrantException');
  });

  test('refresh rotates: each refresh token works once', async () => {
    const login = await deviceLogin(emu);
    const first = await oidc.send(new CreateTokenCommand({ clientId: login.clientId, clientSecret: login.clientSecret, grantType: 'refresh_token', refreshToken: login.refreshToken }));
    assert.ok(first.accessToken && first.refreshToken, 'first.accessToken && first.refreshToken');
    assert.notEqual(first.refreshToken, login.refreshToken);
    assert.notEqual(first.accessToken, login.accessToken);
    const old = await rejects(oidc.send(new CreateTokenCommand({ clientId: login.clientId, clientSecret: login.clientSecret, grantType: 'refresh_token', refreshToken: login.refreshToken })));
    assert.equal(old.name, 'InvalidGrantException');
    assert.equal(old.$metadata?.httpStatusCode, 400);
    // After the admin-set session length, refresh is refused.
    await emu.control.advanceClock(8 * 3600);
    const late = await rejects(oidc.send(new CreateTokenCommand({ clientId: login.clientId, clientSecret: login.clientSecret, grantType: 'refresh_token', refreshToken: first.refreshToken })));
    assert.equal(late.name, 'InvalidGrantException');
    await emu.control.setClockOffset(0);
  });

  test('no refresh token without the portal scope; access tokens never outlive the session', async () => {
    const login = await deviceLogin(emu, 'bob', null);
    assert.equal(login.refreshToken, undefined);
    assert.equal(login.expiresIn, 3600);
    const short = await startTestEmulator({ fixture: normalizeFixture({ sessionDuration: '30m' }) });
    try {
      assert.equal((await deviceLogin(short)).expiresIn, 1800);
    } finally {
      await short.close();
    }
  });

  test('modelled errors: status, x-amzn-ErrorType header, OAuth error body', async () => {
    const { clientId, clientSecret } = await register();
    const cases: [string, unknown, number, string][] = [
      ['/client/register', { clientName: 'x', clientType: 'confidential' }, 400, 'InvalidClientMetadataException'],
      ['/client/register', { clientType: 'public' }, 400, 'InvalidRequestException'],
      ['/client/register', { clientName: 'x', clientType: 'public', redirectUris: ['https://evil.example/cb'] }, 400, 'InvalidRedirectUriException'],
      ['/client/register', { clientName: 'x', clientType: 'public', grantTypes: ['password'] }, 400, 'UnsupportedGrantTypeException'],
      ['/client/register', { clientName: 'x', clientType: 'public', scopes: ['bad scope!'] }, 400, 'InvalidScopeException'],
      ['/client/register', '{"clientName":', 400, 'InvalidRequestException'],
      ['/client/register', '[1,2]', 400, 'InvalidRequestException'],
      ['/device_authorization', { clientId, clientSecret: 'wrong', startUrl: START_URL }, 401, 'InvalidClientException'],
      ['/device_authorization', { clientId: 'nope', clientSecret, startUrl: START_URL }, 401, 'InvalidClientException'],
      ['/device_authorization', { clientId, clientSecret }, 400, 'InvalidRequestException'],
      ['/device_authorization', { clientId, clientSecret, startUrl: 'https://d-9999999999.awsapps.com/start' }, 400, 'InvalidRequestException'],
      ['/token', { clientId, clientSecret }, 400, 'InvalidRequestException'],
      ['/token', { clientId, clientSecret, grantType: 'password' }, 400, 'UnsupportedGrantTypeException'],
      ['/token', { clientId, clientSecret, grantType: 'authorization_code', code: 'x', redirectUri: 'http://127.0.0.1/cb', codeVerifier: 'x' }, 400, 'UnauthorizedClientException'],
      ['/token', { clientId, clientSecret, grantType: DEVICE_GRANT }, 400, 'InvalidRequestException'],
      ['/token', { clientId, clientSecret, grantType: DEVICE_GRANT, deviceCode: 'forged' }, 400, 'InvalidGrantException'],
      ['/token', { clientId, clientSecret, grantType: 'refresh_token', refreshToken: 'forged' }, 400, 'InvalidGrantException'],
      ['/token', { clientId, clientSecret: 'wrong', grantType: 'refresh_token', refreshToken: 'x' }, 401, 'InvalidClientException'],
    ];
    for (const [path, body, status, type] of cases) {
      const r = await oidcPost(emu.url, path, body);
      assert.equal(r.status, status, `${path} ${JSON.stringify(body)}`);
      assert.equal(r.errorType, `${type}:http://internal.amazon.com/coral/com.amazonaws.sso.oidc/`);
      assert.equal(typeof r.body.error, 'string');
      assert.equal(typeof r.body.error_description, 'string');
    }
  });

  test('/token needs no Content-Type; unknown paths and methods get an AWS error, never a crash', async () => {
    const login = await deviceLogin(emu);
    const res = await fetch(`${emu.url}/token`, {
      method: 'POST',
      body: new TextEncoder().encode(JSON.stringify({ clientId: login.clientId, clientSecret: login.clientSecret, grantType: 'refresh_token', refreshToken: login.refreshToken })),
    });
    assert.equal(res.status, 200);
    for (const [method, path] of [['GET', '/nope'], ['DELETE', '/token'], ['PUT', '/client/register'], ['GET', '/%E0%A4%A']]) {
      const r = await fetch(`${emu.url}${path}`, { method });
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.match(r.headers.get('x-amzn-errortype') ?? '', /^UnknownOperationException:http:\/\/internal\.amazon\.com\/coral\//);
      assert.ok(r.headers.get('x-amzn-requestid'), 'r.headers.get(\'x-amzn-requestid\')');
    }
    const big = await fetch(`${emu.url}/token`, { method: 'POST', body: 'x'.repeat(2 * 1024 * 1024) });
    assert.equal(big.status, 413);
  });

  test('slow_down when polled faster than the interval; pending again after waiting', async () => {
    const { clientId, clientSecret } = await register();
    const da = await oidc.send(new StartDeviceAuthorizationCommand({ clientId, clientSecret, startUrl: START_URL }));
    const poll = () => oidcPost(emu.url, '/token', { clientId, clientSecret, grantType: DEVICE_GRANT, deviceCode: da.deviceCode });
    assert.match((await poll()).errorType ?? '', /^AuthorizationPendingException:/); // pre-check
    assert.match((await poll()).errorType ?? '', /^AuthorizationPendingException:/); // first real poll
    const fast = await poll();
    assert.equal(fast.status, 400);
    assert.match(fast.errorType ?? '', /^SlowDownException:/);
    assert.equal(fast.body.error, 'slow_down');
    const sdk = await rejects(oidc.send(new CreateTokenCommand({ clientId, clientSecret, grantType: DEVICE_GRANT, deviceCode: da.deviceCode })));
    assert.equal(sdk.name, 'SlowDownException');
    assert.equal(sdk.$metadata?.attempts, 1, 'SlowDown is not retried by the SDK');
    await new Promise((r) => setTimeout(r, 1000));
    assert.match((await poll()).errorType ?? '', /^AuthorizationPendingException:/);
  });

  test('device code expiry (emulated clock), denial, expired registration', async () => {
    const { clientId, clientSecret } = await register();
    const da = await oidc.send(new StartDeviceAuthorizationCommand({ clientId, clientSecret, startUrl: START_URL }));
    await emu.control.advanceClock(601);
    assert.deepEqual((await emu.control.pending()).deviceCodes.filter((d) => d.userCode === da.userCode), []);
    const expired = await rejects(oidc.send(new CreateTokenCommand({ clientId, clientSecret, grantType: DEVICE_GRANT, deviceCode: da.deviceCode })));
    assert.equal(expired.name, 'ExpiredTokenException');
    await emu.control.setClockOffset(0);

    const da2 = await oidc.send(new StartDeviceAuthorizationCommand({ clientId, clientSecret, startUrl: START_URL }));
    await emu.control.deny({ userCode: da2.userCode ?? '' });
    const denied = await rejects(oidc.send(new CreateTokenCommand({ clientId, clientSecret, grantType: DEVICE_GRANT, deviceCode: da2.deviceCode })));
    assert.equal(denied.name, 'AccessDeniedException');

    await emu.control.expire('registrations');
    const gone = await rejects(oidc.send(new StartDeviceAuthorizationCommand({ clientId, clientSecret, startUrl: START_URL })));
    assert.equal(gone.name, 'InvalidClientException');
    assert.equal(gone.$metadata?.httpStatusCode, 401);
  });

  test('faults: injected 500 is retried by the SDK, throttling, delay, reset and malformed bodies', async () => {
    await emu.control.fault({ operation: 'RegisterClient', count: 1, status: 500, errorType: 'InternalServerException' });
    const retried = await register();
    assert.equal(retried.r.$metadata.attempts, 2);

    const noRetry = new SSOOIDCClient({ region: 'us-east-1', endpoint: emu.url, maxAttempts: 1 });
    try {
      await emu.control.fault({ operation: '*', count: 1, status: 400, errorType: 'InvalidRequestException', message: 'injected' });
      assert.equal((await rejects(register().then(() => noRetry.send(new RegisterClientCommand({ clientName: 'x', clientType: 'public' }))))).name, 'InvalidRequestException');
      await emu.control.clearFaults();

      await emu.control.fault({ operation: 'RegisterClient', malformed: true });
      const bad = await rejects(noRetry.send(new RegisterClientCommand({ clientName: 'x', clientType: 'public' })));
      assert.notEqual(bad.name, 'Error');

      await emu.control.fault({ operation: 'RegisterClient', reset: true });
      await rejects(noRetry.send(new RegisterClientCommand({ clientName: 'x', clientType: 'public' })));

      await emu.control.fault({ operation: 'RegisterClient', delayMs: 300 });
      const t0 = Date.now();
      await noRetry.send(new RegisterClientCommand({ clientName: 'x', clientType: 'public' }));
      assert.ok(Date.now() - t0 >= 280, 'Date.now() - t0 >= 280');
    } finally {
      noRetry.destroy();
    }
    const bad = await emu.control.call<{ error: string }>('POST', 'faults', { operation: 'Nope', status: 500, errorType: 'X' });
    assert.equal(bad.status, 400);
    const calls = await emu.control.calls();
    assert.ok(calls.some((c) => c.operation === 'RegisterClient' && c.status === 0), 'reset is logged with status 0');
  });
});
