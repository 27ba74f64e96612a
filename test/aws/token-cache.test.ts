import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyrackError } from '../../src/core/errors.js';
import { resolvePaths, type Paths } from '../../src/core/runtime.js';
import { tokenCacheKey } from '../../src/aws/cache-keys.js';
import {
  readTokenFile,
  writeTokenFile,
  deleteTokenFile,
  tokenExpiresAt,
  isRefreshable,
  parseAwsTimestamp,
  formatAwsTimestamp,
  serialiseTokenFile,
  type SsoTokenFile,
} from '../../src/aws/token-cache.js';
import { hasAwsCli, makeHome, oidcError, runAws, runNodeScript, startRecorder, writeAwsConfigFile, writeRuleSets } from './fixtures/aws-cli.js';

const START_URL = 'https://d-1234567890.awsapps.com/start';
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

async function sandboxPaths(): Promise<{ home: string; paths: Paths }> {
  const home = await makeHome('keyrack-token-');
  return { home, paths: resolvePaths({ HOME: home }) };
}

function token(extra: Partial<SsoTokenFile> = {}): SsoTokenFile {
  return {
    startUrl: START_URL,
    region: 'us-east-1',
    accessToken: 'access-token-value',
    expiresAt: '2030-01-01T13:00:00Z',
    clientId: 'client-id',
    clientSecret: 'client-secret',
    registrationExpiresAt: '2030-03-01T00:00:00Z',
    refreshToken: 'refresh-token-value',
    ...extra,
  };
}

function isCode(code: string, reason = 'misconfigured') {
  return (e: unknown) => {
    assert.ok(e instanceof KeyrackError, String(e));
    assert.equal(e.code, code);
    assert.equal(e.reason, reason);
    return true;
  };
}

test('cache key vectors from the protocol reference', () => {
  assert.equal(tokenCacheKey({ session: 'my-sso' }), '0ad374308c5a4e22f723adf10145eafad7c4031c');
  assert.equal(tokenCacheKey({ startUrl: START_URL }), '7487b5b67d5fa1132cf33fa93ae51ef38cc37752');
  assert.notEqual(tokenCacheKey({ startUrl: `${START_URL}/` }), tokenCacheKey({ startUrl: START_URL }));
});

test('timestamps: CLI, JS SDK and offset forms parse; writing gives the CLI form', () => {
  assert.equal(parseAwsTimestamp('2030-01-01T12:00:00Z'), T0);
  assert.equal(parseAwsTimestamp('2030-01-01T12:00:00.000Z'), T0);
  assert.equal(parseAwsTimestamp('2030-01-01T12:00:00.5Z'), T0 + 500);
  assert.equal(parseAwsTimestamp('2030-01-01T12:00:00+00:00'), T0);
  assert.equal(parseAwsTimestamp('2030-01-01T14:00:00+02:00'), T0);
  assert.equal(parseAwsTimestamp('2030-01-01T07:00:00-0500'), T0);
  assert.equal(parseAwsTimestamp('2030-01-01T12:00:00'), undefined, 'no zone: the CLI cannot compare it');
  assert.equal(parseAwsTimestamp('2030-13-01T12:00:00Z'), undefined);
  assert.equal(parseAwsTimestamp('tomorrow'), undefined);
  assert.equal(formatAwsTimestamp(T0 + 999), '2030-01-01T12:00:00Z');
});

test('write then read: one-line CLI-style JSON, CLI field order, unknown fields kept, 0600 in 0700 dirs', async () => {
  const { home, paths } = await sandboxPaths();
  const key = tokenCacheKey({ session: 'my-sso' });
  const path = await writeTokenFile(paths, key, { ...token({ expiresAt: '2030-01-01T13:00:00.000Z' }), toolExtra: { keep: true } });
  assert.equal(path, join(home, '.aws', 'sso', 'cache', `${key}.json`));
  const text = await readFile(path, 'utf8');
  assert.equal(
    text,
    '{"startUrl": "https://d-1234567890.awsapps.com/start", "region": "us-east-1", "accessToken": "access-token-value", "expiresAt": "2030-01-01T13:00:00Z", "clientId": "client-id", "clientSecret": "client-secret", "registrationExpiresAt": "2030-03-01T00:00:00Z", "refreshToken": "refresh-token-value", "toolExtra": {"keep": true}}',
  );
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  for (const d of [join(home, '.aws'), join(home, '.aws', 'sso'), paths.ssoCache]) assert.equal((await stat(d)).mode & 0o777, 0o700, d);

  const read = await readTokenFile(paths, key);
  assert.equal(read?.path, path);
  assert.deepEqual(read?.token, { ...token(), toolExtra: { keep: true } });
  assert.equal(tokenExpiresAt(read!.token), T0 + 3_600_000);

  assert.equal(await deleteTokenFile(paths, key), true);
  assert.equal(await deleteTokenFile(paths, key), false);
  assert.equal(await readTokenFile(paths, key), undefined);
});

test('reads the JS SDK form (pretty-printed, milliseconds) and the +00:00 form', async () => {
  const { paths } = await sandboxPaths();
  const key = tokenCacheKey({ session: 's' });
  await mkdir(paths.ssoCache, { recursive: true, mode: 0o700 });
  const file = join(paths.ssoCache, `${key}.json`);
  await writeFile(file, JSON.stringify({ accessToken: 'a', expiresAt: '2030-01-01T12:00:00.000Z', refreshToken: 'r' }, null, 2), { mode: 0o600 });
  assert.equal(tokenExpiresAt((await readTokenFile(paths, key))!.token), T0);
  await writeFile(file, '{"accessToken": "a", "expiresAt": "2030-01-01T12:00:00+00:00"}', { mode: 0o600 });
  assert.equal(tokenExpiresAt((await readTokenFile(paths, key))!.token), T0);
});

test('corrupt files are refused as token-cache.corrupt without echoing their content', async () => {
  const { paths } = await sandboxPaths();
  const key = tokenCacheKey({ session: 's' });
  await mkdir(paths.ssoCache, { recursive: true, mode: 0o700 });
  const file = join(paths.ssoCache, `${key}.json`);
  const secret = 'SUPER-SECRET-ACCESS-TOKEN';
  const bodies = [
    `{"accessToken": "${secret}", "expiresAt": "2030-01-01T1`, // truncated
    '',
    `["${secret}"]`,
    'null',
    `{"expiresAt": "2030-01-01T12:00:00Z", "refreshToken": "${secret}"}`,
    `{"accessToken": "${secret}"}`,
    `{"accessToken": "${secret}", "expiresAt": "soon"}`,
    `{"accessToken": "${secret}", "expiresAt": "2030-01-01T12:00:00Z", "refreshToken": 42}`,
  ];
  for (const body of bodies) {
    await writeFile(file, body, { mode: 0o600 });
    await assert.rejects(readTokenFile(paths, key), (e) => {
      isCode('token-cache.corrupt')(e);
      const k = e as KeyrackError;
      assert.equal(k.location, file);
      assert.match(k.fix ?? '', /keyrack unlock/);
      assert.ok(!`${k.message} ${k.fix} ${k.location}`.includes(secret), 'content echoed');
      return true;
    }, body);
  }
});

test('a file others can read is refused with a chmod 600 fix (the token may have been exposed)', async () => {
  const { paths } = await sandboxPaths();
  const key = tokenCacheKey({ session: 's' });
  const path = await writeTokenFile(paths, key, token());
  for (const mode of [0o644, 0o640, 0o604]) {
    await chmod(path, mode);
    await assert.rejects(readTokenFile(paths, key), (e) => {
      isCode('token-cache.permissions')(e);
      assert.match((e as KeyrackError).fix ?? '', new RegExp(`chmod 600 '${path}'`));
      return true;
    });
  }
  await chmod(path, 0o600);
  assert.ok(await readTokenFile(paths, key));
  await chmod(path, 0o400);
  assert.ok(await readTokenFile(paths, key), 'read-only for the owner is fine');
});

test('isRefreshable needs a refresh token and an unexpired registration', () => {
  const now = T0;
  assert.equal(isRefreshable(token(), now), true);
  assert.equal(isRefreshable(token({ refreshToken: undefined }), now), false);
  assert.equal(isRefreshable(token({ clientSecret: undefined }), now), false);
  assert.equal(isRefreshable(token({ registrationExpiresAt: '2029-12-31T00:00:00Z' }), now), false);
  assert.equal(isRefreshable(token({ registrationExpiresAt: undefined }), now), true);
  assert.equal(isRefreshable(token({ expiresAt: '2000-01-01T00:00:00Z' }), now), true, 'an expired access token can still be refreshed');
});

test('refuses to write a token without a valid expiry, and bad keys', async () => {
  const { paths } = await sandboxPaths();
  assert.throws(() => serialiseTokenFile(token({ expiresAt: 'never' })), isCode('token-cache.invalid', 'internal'));
  await assert.rejects(writeTokenFile(paths, '../../etc/passwd', token()), isCode('internal.cache-key', 'internal'));
});

// --- Interop with the real AWS CLI v2 and the JS SDK -------------------------------------------------------------

const SESSION_CONFIG = `[profile p]
sso_session = my-sso
sso_account_id = 111122223333
sso_role_name = Admin
region = us-east-1

[sso-session my-sso]
sso_start_url = ${START_URL}
sso_region = us-east-1
`;

function roleCredentialsReply(expiresMs: number) {
  return { status: 200, body: { roleCredentials: { accessKeyId: 'ASIAFROMRECORDER', secretAccessKey: 'secret-from-recorder', sessionToken: 'session-from-recorder', expiration: expiresMs } } };
}

test('the AWS CLI finds the token file keyrack names (sso-session profile)', { skip: !hasAwsCli && 'no /usr/bin/aws' }, async () => {
  const { home, paths } = await sandboxPaths();
  await writeAwsConfigFile(home, SESSION_CONFIG);
  const rec = await startRecorder((r) => (r.path.startsWith('/federation/credentials') ? roleCredentialsReply(Date.now() + 7_200_000) : oidcError('InvalidRequestException')));
  try {
    const dataPath = join(home, 'aws-data');
    await writeRuleSets(dataPath, rec.port);
    const env = { AWS_DATA_PATH: dataPath };

    const before = await runAws(home, ['configure', 'export-credentials', '--profile', 'p', '--format', 'process'], env);
    assert.notEqual(before.code, 0);
    assert.match(before.stderr, /Token for my-sso does not exist/);
    assert.equal(rec.requests.length, 0);

    await writeTokenFile(paths, tokenCacheKey({ session: 'my-sso' }), token({ accessToken: 'token-written-by-keyrack', expiresAt: formatAwsTimestamp(Date.now() + 3_600_000) }));
    const after = await runAws(home, ['configure', 'export-credentials', '--profile', 'p', '--format', 'process'], env);
    assert.equal(after.code, 0, after.stderr);
    assert.equal(rec.requests.length, 1);
    assert.match(rec.requests[0]?.path ?? '', /^\/federation\/credentials\?/);
    assert.equal(rec.requests[0]?.headers['x-amz-sso_bearer_token'], 'token-written-by-keyrack');
    assert.equal(JSON.parse(after.stdout).AccessKeyId, 'ASIAFROMRECORDER');
  } finally {
    await rec.close();
  }
});

test('the AWS CLI finds the token file keyrack names (legacy profile, start URL exactly as configured)', { skip: !hasAwsCli && 'no /usr/bin/aws' }, async () => {
  const { home, paths } = await sandboxPaths();
  const url = `${START_URL}/`; // the trailing slash is part of the key
  await writeAwsConfigFile(home, `[profile legacy]\nsso_start_url = ${url}\nsso_region = us-east-1\nsso_account_id = 111122223333\nsso_role_name = Admin\n`);
  const rec = await startRecorder((r) => (r.path.startsWith('/federation/credentials') ? roleCredentialsReply(Date.now() + 7_200_000) : oidcError('InvalidRequestException')));
  try {
    const dataPath = join(home, 'aws-data');
    await writeRuleSets(dataPath, rec.port);
    const exp = formatAwsTimestamp(Date.now() + 3_600_000);
    await writeTokenFile(paths, tokenCacheKey({ startUrl: START_URL }), token({ accessToken: 'wrong-key', expiresAt: exp }));
    const miss = await runAws(home, ['configure', 'export-credentials', '--profile', 'legacy'], { AWS_DATA_PATH: dataPath });
    assert.notEqual(miss.code, 0);
    assert.match(miss.stderr, /Token for https:\/\/d-1234567890\.awsapps\.com\/start\/ does not exist/);

    await writeTokenFile(paths, tokenCacheKey({ startUrl: url }), { accessToken: 'legacy-token', expiresAt: exp });
    const hit = await runAws(home, ['configure', 'export-credentials', '--profile', 'legacy'], { AWS_DATA_PATH: dataPath });
    assert.equal(hit.code, 0, hit.stderr);
    assert.equal(rec.requests.at(-1)?.headers['x-amz-sso_bearer_token'], 'legacy-token');
  } finally {
    await rec.close();
  }
});

test('the token file `aws sso login` writes is where keyrack looks, and keyrack reads it', { skip: !hasAwsCli && 'no /usr/bin/aws' }, async () => {
  const { home, paths } = await sandboxPaths();
  await writeAwsConfigFile(home, SESSION_CONFIG);
  const regExpires = Math.floor(Date.now() / 1000) + 90 * 86_400;
  const rec = await startRecorder((r) => {
    if (r.path === '/client/register') return { status: 200, body: { clientId: 'cli-client', clientSecret: 'cli-secret', clientIdIssuedAt: Math.floor(Date.now() / 1000), clientSecretExpiresAt: regExpires } };
    if (r.path === '/device_authorization') {
      return { status: 200, body: { deviceCode: 'dc', userCode: 'ABCD-EFGH', verificationUri: 'http://127.0.0.1/device', verificationUriComplete: 'http://127.0.0.1/device?user_code=ABCD-EFGH', expiresIn: 600, interval: 1 } };
    }
    if (r.path === '/token') return { status: 200, body: { accessToken: 'cli-access', tokenType: 'Bearer', expiresIn: 3600, refreshToken: 'cli-refresh' } };
    return oidcError('InvalidRequestException');
  });
  try {
    const dataPath = join(home, 'aws-data');
    await writeRuleSets(dataPath, rec.port);
    const login = await runAws(home, ['sso', 'login', '--profile', 'p', '--no-browser'], { AWS_DATA_PATH: dataPath });
    assert.equal(login.code, 0, login.stderr);
    const read = await readTokenFile(paths, tokenCacheKey({ session: 'my-sso' }));
    assert.ok(read, 'no token file at our key');
    assert.equal(read.token.accessToken, 'cli-access');
    assert.equal(read.token.refreshToken, 'cli-refresh');
    assert.equal(read.token.clientId, 'cli-client');
    assert.equal(read.token.startUrl, START_URL);
    assert.match(read.token.expiresAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(Math.abs(tokenExpiresAt(read.token) - (Date.now() + 3_600_000)) < 120_000);
    assert.equal(isRefreshable(read.token, Date.now()), true);
    // Our writer reproduces the CLI's own bytes for the same content.
    assert.equal(serialiseTokenFile(read.token), await readFile(read.path, 'utf8'));
  } finally {
    await rec.close();
  }
});

test('the JS SDK reads the token keyrack writes, and keyrack reads the file the SDK rewrites on refresh', async () => {
  const { home, paths } = await sandboxPaths();
  await writeAwsConfigFile(home, SESSION_CONFIG);
  const rec = await startRecorder((r) =>
    r.path === '/token' ? { status: 200, body: { accessToken: 'sdk-refreshed', tokenType: 'Bearer', expiresIn: 3600, refreshToken: 'rotated-refresh' } } : oidcError('InvalidRequestException'),
  );
  try {
    const key = tokenCacheKey({ session: 'my-sso' });
    const script = `import { fromSso } from '@aws-sdk/token-providers'; const t = await fromSso({ profile: 'p' })(); console.log(JSON.stringify({ token: t.token }));`;
    const env = { AWS_ENDPOINT_URL_SSO_OIDC: `http://127.0.0.1:${rec.port}`, AWS_REGION: 'us-east-1' };

    await writeTokenFile(paths, key, { ...token({ accessToken: 'fresh-from-keyrack', expiresAt: formatAwsTimestamp(Date.now() + 3_600_000) }), extra: 'kept' });
    const fresh = await runNodeScript(home, script, env);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.equal(JSON.parse(fresh.stdout).token, 'fresh-from-keyrack');
    assert.equal(rec.requests.length, 0);

    // Two minutes left: the SDK refreshes and rewrites the file in its own format.
    await writeTokenFile(paths, key, { ...token({ accessToken: 'about-to-expire', expiresAt: formatAwsTimestamp(Date.now() + 120_000) }), extra: 'kept' });
    const refreshed = await runNodeScript(home, script, env);
    assert.equal(refreshed.code, 0, refreshed.stderr);
    assert.equal(JSON.parse(refreshed.stdout).token, 'sdk-refreshed');
    const read = await readTokenFile(paths, key);
    assert.ok(read);
    assert.match(await readFile(read.path, 'utf8'), /\n {2}"accessToken": "sdk-refreshed"/);
    assert.equal(read.token.accessToken, 'sdk-refreshed');
    assert.equal(read.token.refreshToken, 'rotated-refresh');
    assert.equal(read.token.extra, 'kept');
    assert.match(read.token.expiresAt, /\.\d{3}Z$/);
    assert.equal((await stat(read.path)).mode & 0o777, 0o600);
  } finally {
    await rec.close();
  }
});
