// The refresh (OIDC CreateToken, grant type refresh_token) is a hand-built request; KEYRACK_AWS_SDK=1 (and FIPS /
// dual-stack endpoints) send it through the SDK's SSO OIDC client instead. Both transports must give the same
// answers and the same failure classification, and no token may ever reach an error.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_NETWORK } from '../../src/aws/network.js';
import { refreshAccessToken, type OidcTarget } from '../../src/aws/oidc-token.js';
import { KeyrackError } from '../../src/core/errors.js';
import { createRuntime } from '../../src/core/runtime.js';
import { deviceLogin, startTestEmulator, type TestEmulator } from '../helpers/emulator.js';

const CTX = { subject: 'acme', unlockCommand: 'keyrack unlock --env prep' };

describe('OIDC CreateToken (refresh): hand-built request and the SDK agree', () => {
  let emu: TestEmulator;
  before(async () => {
    emu = await startTestEmulator();
  });
  after(async () => emu.close());

  const transports = { hand: {}, sdk: { KEYRACK_AWS_SDK: '1' } } as const;
  const target = (extra: Record<string, string>): OidcTarget => {
    const env = { AWS_ENDPOINT_URL_SSO_OIDC: emu.url, ...extra };
    return { region: 'us-east-1', endpoints: createRuntime({ env }).endpoints, net: { ...DEFAULT_NETWORK, maxAttempts: 1 }, env };
  };
  const since = async () => Math.max(0, ...(await emu.control.calls()).map((c) => c.seq));

  for (const [name, extra] of Object.entries(transports)) {
    it(`${name}: a refresh returns a new access token and rotates the refresh token`, async () => {
      const l = await deviceLogin(emu);
      assert.ok(l.refreshToken);
      const seq = await since();
      const g = await refreshAccessToken(target(extra), l, l.refreshToken, CTX);
      assert.ok(g.accessToken && g.accessToken !== l.accessToken);
      assert.ok(g.refreshToken && g.refreshToken !== l.refreshToken);
      assert.ok(g.expiresIn > 0);
      // The new refresh token works in turn; the call really went over the transport under test.
      const g2 = await refreshAccessToken(target(extra), l, g.refreshToken, CTX);
      assert.ok(g2.accessToken);
      const calls = (await emu.control.calls(seq)).filter((c) => c.operation === 'CreateToken');
      assert.equal(calls.length, 2);
      const agents = new Set(calls.map((c) => c.agent?.split('/')[0]));
      assert.deepEqual([...agents], [name === 'hand' ? 'keyrack-aws' : 'aws-sdk-js']);
    });

    it(`${name}: a used refresh token is "expired" (the session has ended), without the token in the error`, async () => {
      const l = await deviceLogin(emu);
      assert.ok(l.refreshToken);
      await refreshAccessToken(target(extra), l, l.refreshToken, CTX);
      const e = await refreshAccessToken(target(extra), l, l.refreshToken, CTX).then(() => undefined, (x: unknown) => x);
      assert.ok(e instanceof KeyrackError);
      assert.equal(e.reason, 'expired');
      assert.equal(e.code, 'sso.expired.CreateToken');
      const text = `${e.message} ${e.fix ?? ''} ${JSON.stringify(e)}`;
      for (const secret of [l.refreshToken, l.clientSecret, l.accessToken]) assert.ok(!text.includes(secret), 'no secret in the error');
    });

    it(`${name}: an outage is "unavailable"`, async () => {
      const l = await deviceLogin(emu);
      assert.ok(l.refreshToken);
      await emu.control.fault({ operation: 'CreateToken', count: 5, status: 503, errorType: 'ServiceUnavailableException' });
      try {
        const e = await refreshAccessToken(target(extra), l, l.refreshToken, CTX).then(() => undefined, (x: unknown) => x);
        assert.ok(e instanceof KeyrackError);
        assert.equal(e.reason, 'unavailable');
        assert.equal(e.code, 'aws.unavailable.CreateToken');
      } finally {
        await emu.control.clearFaults();
      }
    });
  }

  it('a wrong client secret is "expired" either way (the registration is no longer accepted)', async () => {
    const l = await deviceLogin(emu);
    assert.ok(l.refreshToken);
    for (const extra of Object.values(transports)) {
      const e: unknown = await refreshAccessToken(target(extra), { clientId: l.clientId, clientSecret: 'wrong' }, l.refreshToken, CTX).then(() => undefined, (x: unknown) => x);
      assert.ok(e instanceof KeyrackError);
      assert.equal(e.reason, 'expired');
    }
  });
});
