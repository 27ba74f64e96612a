import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolvePaths, type Paths } from '../../src/core/runtime.js';
import { pythonJsonDumps, registrationCacheKey } from '../../src/aws/cache-keys.js';
import { isUsable, readRegistration, writeRegistration, deleteRegistration, serialiseRegistration, type ClientRegistration } from '../../src/aws/registration-cache.js';
import { formatAwsTimestamp } from '../../src/aws/token-cache.js';
import { hasAwsCli, makeHome, oidcError, runAws, startRecorder, writeAwsConfigFile, writeRuleSets, type Recorded } from './fixtures/aws-cli.js';

const START_URL = 'https://d-1234567890.awsapps.com/start';
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);

async function sandboxPaths(): Promise<{ home: string; paths: Paths }> {
  const home = await makeHome('keyrack-reg-');
  return { home, paths: resolvePaths({ HOME: home }) };
}

test('registration key: the exact Python json.dumps text from the reference, and its SHA-1', () => {
  const text = '{"region": "us-east-1", "scopes": null, "session_name": "my-sso", "startUrl": "https://d-1234567890.awsapps.com/start", "tool": "botocore"}';
  assert.equal(pythonJsonDumps({ tool: 'botocore', startUrl: START_URL, region: 'us-east-1', scopes: null, session_name: 'my-sso' }, { sortKeys: true }), text);
  const sha = createHash('sha1').update(text).digest('hex');
  assert.equal(registrationCacheKey({ startUrl: START_URL, region: 'us-east-1', session: 'my-sso', scopes: null }), sha);
  // Vectors computed with CPython's json.dumps(sort_keys=True) + hashlib.sha1.
  assert.equal(sha, '8b2cedd020fb181ad4cf906d1d27b232fd31557e');
  assert.equal(registrationCacheKey({ startUrl: 'https://x', region: 'us-east-1', session: 's', scopes: ['sso:account:access', 'a'] }), 'ce5f9493e081b7bd2ad644280ad9a8f88fd911d8');
  // An empty scope list is not "no scopes".
  assert.notEqual(registrationCacheKey({ startUrl: START_URL, region: 'us-east-1', session: 'my-sso', scopes: [] }), sha);
});

test('isUsable: at least 15 minutes left, and registered for the flow that is about to run', () => {
  const reg = (minutes: number, grantTypes?: string[]): ClientRegistration => ({
    clientId: 'c',
    clientSecret: 's',
    expiresAt: formatAwsTimestamp(NOW + minutes * 60_000),
    ...(grantTypes ? { grantTypes } : {}),
  });
  assert.equal(isUsable(reg(16), NOW, 'device'), true);
  assert.equal(isUsable(reg(15), NOW, 'device'), true);
  assert.equal(isUsable(reg(14), NOW, 'device'), false);
  assert.equal(isUsable(reg(-1), NOW, 'device'), false);
  assert.equal(isUsable(reg(60), NOW, 'pkce'), false, 'a registration without grant types is a device-code one');
  assert.equal(isUsable(reg(60, ['authorization_code', 'refresh_token']), NOW, 'pkce'), true);
  assert.equal(isUsable(reg(60, ['authorization_code', 'refresh_token']), NOW, 'device'), false);
  assert.equal(isUsable(reg(60, ['refresh_token']), NOW, 'device'), true);
  assert.equal(isUsable({ clientId: 'c', clientSecret: 's', expiresAt: 'garbage' }, NOW, 'device'), false);
});

test('write then read: CLI format, 0600 in 0700 dirs; malformed or exposed files read as absent', async () => {
  const { paths } = await sandboxPaths();
  const key = registrationCacheKey({ startUrl: START_URL, region: 'us-east-1', session: 'my-sso', scopes: ['sso:account:access'] });
  const reg: ClientRegistration = { clientId: 'id', clientSecret: 'secret', expiresAt: '2030-04-01T00:00:00.000Z', scopes: ['sso:account:access'], grantTypes: ['authorization_code', 'refresh_token'] };
  const path = await writeRegistration(paths, key, reg);
  assert.equal(
    await readFile(path, 'utf8'),
    '{"clientId": "id", "clientSecret": "secret", "expiresAt": "2030-04-01T00:00:00Z", "scopes": ["sso:account:access"], "grantTypes": ["authorization_code", "refresh_token"]}',
  );
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.equal((await stat(paths.ssoCache)).mode & 0o777, 0o700);
  assert.deepEqual((await readRegistration(paths, key))?.registration, { ...reg, expiresAt: '2030-04-01T00:00:00Z' });

  await chmod(path, 0o644);
  assert.equal(await readRegistration(paths, key), undefined, 'exposed: re-register rather than use it');
  await chmod(path, 0o600);
  for (const body of ['{', '[]', '{"clientId": "x"}', '{"clientId": "x", "clientSecret": "y", "expiresAt": "later"}', '{"clientId": "x", "clientSecret": "y", "expiresAt": "2030-01-01T00:00:00Z", "scopes": "a"}']) {
    await writeFile(path, body, { mode: 0o600 });
    assert.equal(await readRegistration(paths, key), undefined, body);
  }
  assert.equal(await deleteRegistration(paths, key), true);
  assert.equal(await deleteRegistration(paths, key), false);
});

// --- Interop with the real AWS CLI v2 -------------------------------------------------------------------------

function oidcRecorderHandler(r: Recorded) {
  if (r.path === '/client/register') {
    return { status: 200, body: { clientId: 'cli-registered', clientSecret: 'cli-secret', clientIdIssuedAt: Math.floor(Date.now() / 1000), clientSecretExpiresAt: Math.floor(Date.now() / 1000) + 90 * 86_400 } };
  }
  // Stop the login right after the registration step: what we want to see is whether it registered.
  return oidcError('InvalidClientException');
}

const CONFIGS: Array<{ name: string; config: string; profile: string; key: Parameters<typeof registrationCacheKey>[0] }> = [
  {
    name: 'sso-session with registration scopes',
    profile: 'p',
    config: `[profile p]\nsso_session = my-sso\nsso_account_id = 111122223333\nsso_role_name = Admin\n\n[sso-session my-sso]\nsso_start_url = ${START_URL}\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access , other:scope\n`,
    key: { startUrl: START_URL, region: 'eu-west-1', session: 'my-sso', scopes: ['sso:account:access', 'other:scope'] },
  },
  {
    name: 'sso-session without scopes',
    profile: 'p',
    config: `[profile p]\nsso_session = plain\nsso_account_id = 111122223333\nsso_role_name = Admin\n\n[sso-session plain]\nsso_start_url = ${START_URL}\nsso_region = us-east-1\n`,
    key: { startUrl: START_URL, region: 'us-east-1', session: 'plain', scopes: null },
  },
  {
    name: 'legacy profile',
    profile: 'legacy',
    config: `[profile legacy]\nsso_start_url = ${START_URL}\nsso_region = us-east-1\nsso_account_id = 111122223333\nsso_role_name = Admin\n`,
    key: { startUrl: START_URL, region: 'us-east-1', session: null, scopes: null },
  },
];

for (const c of CONFIGS) {
  test(`the AWS CLI writes and reuses the registration at keyrack's key (${c.name})`, { skip: !hasAwsCli && 'no /usr/bin/aws' }, async () => {
    const { home, paths } = await sandboxPaths();
    await writeAwsConfigFile(home, c.config);
    const rec = await startRecorder(oidcRecorderHandler);
    try {
      const dataPath = join(home, 'aws-data');
      await writeRuleSets(dataPath, rec.port);
      const key = registrationCacheKey(c.key);

      // 1. Nothing cached: the CLI registers and caches the registration under our key.
      const first = await runAws(home, ['sso', 'login', '--profile', c.profile, '--no-browser'], { AWS_DATA_PATH: dataPath });
      assert.notEqual(first.code, 0);
      assert.deepEqual(rec.requests.map((r) => r.path), ['/client/register', '/device_authorization']);
      const written = await readRegistration(paths, key);
      assert.ok(written, 'the CLI did not write the registration where keyrack looks');
      assert.equal(written.registration.clientId, 'cli-registered');
      assert.deepEqual(written.registration.scopes, c.key.scopes && c.key.scopes.length > 0 ? c.key.scopes : undefined);
      assert.equal(serialiseRegistration(written.registration), await readFile(written.path, 'utf8'));

      // 2. A registration keyrack wrote: the CLI skips RegisterClient and uses our client id.
      await writeRegistration(paths, key, { clientId: 'keyrack-client', clientSecret: 'keyrack-secret', expiresAt: formatAwsTimestamp(Date.now() + 30 * 86_400_000) });
      rec.requests.length = 0;
      const second = await runAws(home, ['sso', 'login', '--profile', c.profile, '--no-browser'], { AWS_DATA_PATH: dataPath });
      assert.notEqual(second.code, 0);
      assert.deepEqual(rec.requests.map((r) => r.path), ['/device_authorization']);
      assert.equal(JSON.parse(rec.requests[0]?.body ?? '{}').clientId, 'keyrack-client');
    } finally {
      await rec.close();
    }
  });
}
