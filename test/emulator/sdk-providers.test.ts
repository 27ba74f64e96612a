// The SDK's own credential machinery against the emulator, routed with AWS_ENDPOINT_URL_SSO / _SSO_OIDC / _STS:
// fromSSO reading the CLI token cache and refreshing it (rotated refresh token, file rewritten), and fromIni
// chaining an AssumeRole on top of SSO credentials.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromIni, fromSSO } from '@aws-sdk/credential-providers';
import { SECRET_MARKER } from '../../src/emulator/index.js';
import { START_URL, deviceLogin, oidcPost, sandboxHome, startTestEmulator, type TestEmulator } from '../helpers/emulator.js';

const ENV_KEYS = ['AWS_ENDPOINT_URL_SSO', 'AWS_ENDPOINT_URL_SSO_OIDC', 'AWS_ENDPOINT_URL_STS', 'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_REGION', 'AWS_PROFILE', 'AWS_EC2_METADATA_DISABLED'];

describe('SDK credential providers (fromSSO, fromIni)', () => {
  let emu: TestEmulator;
  let home: string;
  let restore: () => Promise<void>;
  const saved = new Map<string, string | undefined>();

  before(async () => {
    const box = await sandboxHome();
    home = box.home;
    restore = box.restore;
    emu = await startTestEmulator();
    for (const k of ENV_KEYS) saved.set(k, process.env[k]);
    delete process.env.AWS_PROFILE;
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SSO: emu.url,
      AWS_ENDPOINT_URL_SSO_OIDC: emu.url,
      AWS_ENDPOINT_URL_STS: emu.url,
      AWS_CONFIG_FILE: join(home, '.aws', 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, '.aws', 'credentials'),
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    await mkdir(join(home, '.aws', 'sso', 'cache'), { recursive: true });
    await writeFile(
      join(home, '.aws', 'config'),
      ['refresh', 'chain', 'ended']
        .map(
          (s) => `[profile ${s}]
sso_session = ${s}
sso_account_id = 111122223333
sso_role_name = Developer
region = us-east-1

[sso-session ${s}]
sso_start_url = ${START_URL}
sso_region = us-east-1
sso_registration_scopes = sso:account:access
`,
        )
        .join('\n') +
        `
[profile robot]
role_arn = arn:aws:iam::111122223333:role/keyrack-robot
source_profile = chain
role_session_name = robot-session
region = us-east-1
`,
    );
  });
  after(async () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await emu.close();
    await restore();
  });

  const cachePath = (session: string) => join(home, '.aws', 'sso', 'cache', `${createHash('sha1').update(session).digest('hex')}.json`);

  /** A CLI-style token cache entry for a fresh login, expiring `inMs` from now. */
  async function seedCache(session: string, inMs: number) {
    const login = await deviceLogin(emu);
    const entry = {
      startUrl: START_URL,
      region: 'us-east-1',
      accessToken: login.accessToken,
      expiresAt: new Date(Date.now() + inMs).toISOString().replace(/\.\d+Z$/, 'Z'),
      clientId: login.clientId,
      clientSecret: login.clientSecret,
      registrationExpiresAt: new Date(Date.now() + 80 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z'),
      refreshToken: login.refreshToken,
    };
    await writeFile(cachePath(session), JSON.stringify(entry), { mode: 0o600 });
    return login;
  }

  test('fromSSO refreshes a token that expires in 2 minutes and rewrites the cache', async () => {
    const login = await seedCache('refresh', 2 * 60_000);
    const since = (await emu.control.calls()).at(-1)?.seq ?? 0;
    const creds = await fromSSO({ profile: 'refresh' })();
    assert.match(creds.accessKeyId, /^ASIA[A-Z0-9]{16}$/);
    assert.ok(creds.secretAccessKey.includes(SECRET_MARKER), 'secret from the emulator');
    assert.ok((creds.expiration?.getTime() ?? 0) > Date.now() + 50 * 60_000, 'role credentials last 1 h');

    const text = await readFile(cachePath('refresh'), 'utf8');
    assert.match(text, /^\{\n {2}"/, 'rewritten by the SDK (pretty-printed)');
    const cache = JSON.parse(text) as Record<string, string>;
    assert.notEqual(cache.accessToken, login.accessToken);
    assert.notEqual(cache.refreshToken, login.refreshToken);
    assert.ok(cache.refreshToken?.includes(SECRET_MARKER), 'rotated refresh token stored');
    assert.ok(Date.parse(cache.expiresAt ?? '') > Date.now() + 50 * 60_000, 'new expiry about 1 h out');

    const calls = await emu.control.calls(since);
    assert.deepEqual(calls.map((c) => [c.operation, c.grantType ?? null, c.status]), [
      ['CreateToken', 'refresh_token', 200],
      ['GetRoleCredentials', null, 200],
    ]);
    const reuse = await oidcPost(emu.url, '/token', { clientId: login.clientId, clientSecret: login.clientSecret, grantType: 'refresh_token', refreshToken: login.refreshToken });
    assert.match(reuse.errorType ?? '', /^InvalidGrantException:/);

    const sts = new STSClient({ credentials: creds });
    try {
      assert.match((await sts.send(new GetCallerIdentityCommand({}))).Arn ?? '', /assumed-role\/AWSReservedSSO_Developer_[0-9a-f]{16}\/alice$/);
    } finally {
      sts.destroy();
    }
  });

  test('fromIni: AssumeRole chained on SSO credentials (role_arn + source_profile)', async () => {
    await seedCache('chain', 60 * 60_000);
    const creds = await fromIni({ profile: 'robot' })();
    const sts = new STSClient({ credentials: creds });
    try {
      const id = await sts.send(new GetCallerIdentityCommand({}));
      assert.equal(id.Arn, 'arn:aws:sts::111122223333:assumed-role/keyrack-robot/robot-session');
    } finally {
      sts.destroy();
    }
    const session = (await emu.control.stsSessions()).find((s) => s.sessionName === 'robot-session');
    assert.equal(session?.durationSeconds, 3600);
    assert.equal(session?.user, 'alice');
  });

  test('fromSSO with an expired token and an ended session fails like AWS (refresh refused)', async () => {
    await seedCache('ended', -60_000);
    await emu.control.revoke('alice');
    await assert.rejects(fromSSO({ profile: 'ended' })(), (e: Error) => {
      assert.match(e.message, /expired|refresh/i);
      return true;
    });
    const calls = await emu.control.calls();
    assert.ok(calls.some((c) => c.grantType === 'refresh_token' && c.status === 400), 'refresh attempted and refused');
  });
});
