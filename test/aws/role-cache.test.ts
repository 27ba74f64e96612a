import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolvePaths, type Paths } from '../../src/core/runtime.js';
import { roleCacheKey, tokenCacheKey } from '../../src/aws/cache-keys.js';
import { readRoleCredentials, writeRoleCredentials, deleteRoleCredentials, serialiseRoleCredentials, type RoleCredentials } from '../../src/aws/role-cache.js';
import { formatAwsTimestamp, writeTokenFile } from '../../src/aws/token-cache.js';
import { hasAwsCli, makeHome, oidcError, runAws, startRecorder, writeAwsConfigFile, writeRuleSets } from './fixtures/aws-cli.js';

const START_URL = 'https://d-1234567890.awsapps.com/start';
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);

async function sandboxPaths(): Promise<{ home: string; paths: Paths }> {
  const home = await makeHome('keyrack-role-');
  return { home, paths: resolvePaths({ HOME: home }) };
}

function creds(expiresAt: number, extra: Partial<RoleCredentials> = {}): RoleCredentials {
  return { accessKeyId: 'ASIAKEYRACK', secretAccessKey: 'secret-key', sessionToken: 'session-token', expiresAt, accountId: '111122223333', ...extra };
}

test('role cache key vectors (CPython json.dumps(sort_keys=True, separators=(",", ":")) + sha1)', () => {
  assert.equal(roleCacheKey({ accountId: '111122223333', roleName: 'Admin', session: 'my-sso' }), '360f093cdc0bddf23eecc38b9cb6222fca5a195a');
  assert.equal(roleCacheKey({ accountId: '111122223333', roleName: 'Admin', startUrl: 'https://x' }), 'd4e92059bc3f6b6891d8564975db7f0e7b773d06');
});

test('write then read: CLI format, 0600 in 0700 dirs, expiry margin', async () => {
  const { home, paths } = await sandboxPaths();
  const key = roleCacheKey({ accountId: '111122223333', roleName: 'Admin', session: 'my-sso' });
  const path = await writeRoleCredentials(paths, key, creds(NOW + 3_600_000 + 750));
  assert.equal(path, join(home, '.aws', 'cli', 'cache', `${key}.json`));
  assert.equal(
    await readFile(path, 'utf8'),
    '{"ProviderType": "sso", "Credentials": {"AccessKeyId": "ASIAKEYRACK", "SecretAccessKey": "secret-key", "SessionToken": "session-token", "Expiration": "2030-01-01T13:00:00Z", "AccountId": "111122223333"}}',
  );
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  for (const d of [join(home, '.aws', 'cli'), paths.cliCache]) assert.equal((await stat(d)).mode & 0o777, 0o700);

  assert.deepEqual((await readRoleCredentials(paths, key, NOW))?.credentials, creds(NOW + 3_600_000));
  // Default margin 5 minutes.
  assert.ok(await readRoleCredentials(paths, key, NOW + 3_600_000 - 5 * 60_000 - 1));
  assert.equal(await readRoleCredentials(paths, key, NOW + 3_600_000 - 5 * 60_000), undefined);
  assert.ok(await readRoleCredentials(paths, key, NOW + 3_600_000 - 2 * 60_000, { marginMs: 60_000 }));
  assert.equal(await readRoleCredentials(paths, key, NOW + 3_600_000 + 1, { marginMs: 0 }), undefined);

  assert.equal(await deleteRoleCredentials(paths, key), true);
  assert.equal(await deleteRoleCredentials(paths, key), false);
  assert.equal(await readRoleCredentials(paths, key, NOW), undefined);
});

test('other providers, malformed and exposed files read as absent', async () => {
  const { paths } = await sandboxPaths();
  const key = roleCacheKey({ accountId: '111122223333', roleName: 'Admin', startUrl: START_URL });
  const path = await writeRoleCredentials(paths, key, creds(NOW + 3_600_000));
  await chmod(path, 0o644);
  assert.equal(await readRoleCredentials(paths, key, NOW), undefined);
  const valid = serialiseRoleCredentials(creds(NOW + 3_600_000));
  for (const body of [valid.replace('"sso"', '"assume-role"'), '{', 'null', '{"ProviderType": "sso"}', valid.replace('2030-01-01T13:00:00Z', 'later')]) {
    await writeFile(path, body, { mode: 0o600 });
    await chmod(path, 0o600);
    assert.equal(await readRoleCredentials(paths, key, NOW), undefined, body);
  }
  await writeFile(path, valid.replace(', "AccountId": "111122223333"', ''));
  const { accountId: _omitted, ...withoutAccount } = creds(NOW + 3_600_000);
  assert.deepEqual((await readRoleCredentials(paths, key, NOW))?.credentials, withoutAccount);
});

// --- Interop with the real AWS CLI v2 -------------------------------------------------------------------------

const PROFILES = [
  {
    name: 'sso-session profile',
    profile: 'p',
    config: `[profile p]\nsso_session = my-sso\nsso_account_id = 111122223333\nsso_role_name = Admin\n\n[sso-session my-sso]\nsso_start_url = ${START_URL}\nsso_region = us-east-1\n`,
    key: roleCacheKey({ accountId: '111122223333', roleName: 'Admin', session: 'my-sso' }),
    tokenKey: tokenCacheKey({ session: 'my-sso' }),
  },
  {
    name: 'legacy profile',
    profile: 'legacy',
    config: `[profile legacy]\nsso_start_url = ${START_URL}\nsso_region = us-east-1\nsso_account_id = 111122223333\nsso_role_name = Admin\n`,
    key: roleCacheKey({ accountId: '111122223333', roleName: 'Admin', startUrl: START_URL }),
    tokenKey: tokenCacheKey({ startUrl: START_URL }),
  },
];

for (const p of PROFILES) {
  test(`the AWS CLI uses role credentials keyrack cached, without any network, and caches its own at the same key (${p.name})`, { skip: !hasAwsCli && 'no /usr/bin/aws' }, async () => {
    const { home, paths } = await sandboxPaths();
    await writeAwsConfigFile(home, p.config);
    const cliExpiry = Date.now() + 2 * 3_600_000;
    const rec = await startRecorder((r) =>
      r.path.startsWith('/federation/credentials')
        ? { status: 200, body: { roleCredentials: { accessKeyId: 'ASIAFROMCLI', secretAccessKey: 'cli-secret', sessionToken: 'cli-session', expiration: cliExpiry } } }
        : oidcError('InvalidRequestException'),
    );
    try {
      const dataPath = join(home, 'aws-data');
      await writeRuleSets(dataPath, rec.port);
      const env = { AWS_DATA_PATH: dataPath };
      const args = ['configure', 'export-credentials', '--profile', p.profile, '--format', 'process'];

      // 1. keyrack's cached credentials: printed as they are; no token file exists, and nothing is asked of the network.
      const expiresAt = Date.now() + 3_600_000;
      await writeRoleCredentials(paths, p.key, creds(expiresAt));
      const ours = await runAws(home, args, env);
      assert.equal(ours.code, 0, ours.stderr);
      assert.deepEqual(JSON.parse(ours.stdout), {
        Version: 1,
        AccessKeyId: 'ASIAKEYRACK',
        SecretAccessKey: 'secret-key',
        SessionToken: 'session-token',
        Expiration: new Date(Math.floor(expiresAt / 1000) * 1000).toISOString().replace('.000Z', '+00:00'),
      });
      assert.equal(rec.requests.length, 0);

      // 2. Without our file the CLI fetches (with a token) and writes its cache file at the same key; we read it.
      await deleteRoleCredentials(paths, p.key);
      await writeTokenFile(paths, p.tokenKey, { accessToken: 'tok', expiresAt: formatAwsTimestamp(Date.now() + 3_600_000) });
      const fetched = await runAws(home, args, env);
      assert.equal(fetched.code, 0, fetched.stderr);
      assert.equal(rec.requests.length, 1);
      const cached = await readRoleCredentials(paths, p.key, Date.now());
      assert.ok(cached, 'the CLI did not cache at keyrack\'s key');
      assert.equal(cached.credentials.accessKeyId, 'ASIAFROMCLI');
      assert.equal(cached.credentials.expiresAt, Math.floor(cliExpiry / 1000) * 1000);
    } finally {
      await rec.close();
    }
  });
}
