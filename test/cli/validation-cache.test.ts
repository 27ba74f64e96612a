// The validation cache: a tight loop of grants does not hammer AWS, yet lock, unlock, a failed validation, a
// logout or a config change are never papered over. Role credentials are reused until 5 minutes before expiry.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { SECRET_MARKER } from '../../src/emulator/index.js';
import { createSandbox, lastSeq, tokenFile, type Sandbox } from '../helpers/keyrack.js';

const roleDir = (sb: Sandbox) => join(sb.home, '.aws', 'cli', 'cache');
const validatedDir = (sb: Sandbox) => join(sb.home, '.local', 'state', 'keyrack', 'validated');
const userConfig = (sb: Sandbox) => join(sb.home, '.config', 'keyrack', 'config.yml');
const opsSince = async (sb: Sandbox, since: number) => (await sb.emu.control.calls(since)).map((c) => c.operation);

interface G {
  code: number | null;
  cached?: boolean;
  reason?: string;
  errorCode?: string;
  accessKeyId?: string;
  stderr: string;
}

async function grant(sb: Sandbox, opts: { env?: Record<string, string | undefined>; credentials?: boolean } = {}): Promise<G> {
  const r = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--format', 'json', ...(opts.credentials ? ['--credentials'] : [])], {
    env: opts.env ?? {},
    secretsOnStdout: opts.credentials === true,
  });
  const j = JSON.parse(r.stdout || '{}') as { cached?: boolean; error?: { reason: string; code: string }; credentials?: { AccessKeyId: string } };
  return {
    code: r.code,
    stderr: r.stderr,
    ...(j.cached !== undefined ? { cached: j.cached } : {}),
    ...(j.error ? { reason: j.error.reason, errorCode: j.error.code } : {}),
    ...(j.credentials ? { accessKeyId: j.credentials.AccessKeyId } : {}),
  };
}

describe('validation cache', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox();
    assert.equal((await sb.unlock()).code, 0);
  });
  after(async () => sb.close());
  beforeEach(async () => {
    await sb.emu.control.clearFaults();
    await rm(validatedDir(sb), { recursive: true, force: true });
    await rm(userConfig(sb), { force: true });
  });

  it('default TTL (30 s): the second grant is served from the cache without any AWS call', async () => {
    const first = await grant(sb);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.cached, false);
    const since = await lastSeq(sb);
    for (let i = 0; i < 3; i++) assert.equal((await grant(sb)).cached, true);
    assert.deepEqual(await opsSince(sb, since), []);
  });

  it('the cache holds no secret: identity and expiry only', async () => {
    assert.equal((await grant(sb)).code, 0);
    const names = await readdir(validatedDir(sb));
    assert.equal(names.length, 1);
    const text = await readFile(join(validatedDir(sb), names[0] as string), 'utf8');
    assert.ok(!text.includes(SECRET_MARKER));
    assert.deepEqual(Object.keys(JSON.parse(text) as object).sort(), ['credentialsExpireAt', 'env', 'identity', 'key', 'profile', 'tokenExpiresAt', 'tokenKey', 'validatedAt', 'version']);
  });

  it('--credentials: a hit hands out the very role credentials that were validated, still without AWS calls', async () => {
    const first = await grant(sb, { credentials: true });
    assert.equal(first.code, 0, first.stderr);
    const since = await lastSeq(sb);
    const second = await grant(sb, { credentials: true });
    assert.equal(second.cached, true);
    assert.equal(second.accessKeyId, first.accessKeyId);
    assert.deepEqual(await opsSince(sb, since), []);
  });

  it('KEYRACK_VALIDATION_TTL=0 disables it: every grant asks AWS and nothing is written', async () => {
    const since = await lastSeq(sb);
    for (let i = 0; i < 2; i++) assert.equal((await grant(sb, { env: { KEYRACK_VALIDATION_TTL: '0' } })).cached, false);
    assert.deepEqual(await opsSince(sb, since), ['ListAccounts', 'GetCallerIdentity', 'ListAccounts', 'GetCallerIdentity']);
    await assert.rejects(readdir(validatedDir(sb)));
  });

  it('grant.validation_ttl in the user config ($XDG_CONFIG_HOME/keyrack/config.yml); the environment wins over it', async () => {
    await mkdir(join(sb.home, '.config', 'keyrack'), { recursive: true });
    await writeFile(userConfig(sb), '# my keyrack settings\ngrant:\n  validation_ttl: 0s\n');
    assert.equal((await grant(sb)).cached, false);
    assert.equal((await grant(sb)).cached, false, 'disabled by the config');
    assert.equal((await grant(sb, { env: { KEYRACK_VALIDATION_TTL: '30s' } })).cached, false);
    assert.equal((await grant(sb, { env: { KEYRACK_VALIDATION_TTL: '30s' } })).cached, true, 'the environment overrides the file');
    await writeFile(userConfig(sb), 'validation_ttl: 2m\n'); // the top-level spelling is accepted too
    assert.equal((await grant(sb)).cached, true);
  });

  it('a bad TTL is refused, never guessed: env → exit 2, config → exit 6 naming the file; at most 5m', async () => {
    const bad = await grant(sb, { env: { KEYRACK_VALIDATION_TTL: 'soon' } });
    assert.equal(bad.code, 2);
    assert.equal(bad.errorCode, 'duration.invalid');
    const long = await grant(sb, { env: { KEYRACK_VALIDATION_TTL: '1h' } });
    assert.equal(long.code, 2);
    assert.equal(long.errorCode, 'duration.too-long');
    await mkdir(join(sb.home, '.config', 'keyrack'), { recursive: true });
    await writeFile(userConfig(sb), 'grant:\n  validation_ttl: [30s\n');
    const yaml = await grant(sb);
    assert.equal(yaml.code, 6);
    assert.match(yaml.errorCode ?? '', /^user-config\./);
    assert.match(yaml.stderr, /config\.yml:\d+:\d+/);
    await writeFile(userConfig(sb), 'grant:\n  validation_ttl: 1h\n');
    const tooLong = await grant(sb);
    assert.equal(tooLong.code, 6);
    assert.match(tooLong.errorCode ?? '', /^user-config\./);
  });

  it('lock drops it (and refuses at once); unlock starts from a clean slate', async () => {
    assert.equal((await grant(sb)).code, 0);
    assert.equal((await grant(sb)).cached, true);
    assert.equal((await sb.run(['lock', 'aws'])).code, 0);
    assert.deepEqual(await readdir(validatedDir(sb)).catch(() => []), []);
    const locked = await grant(sb);
    assert.equal(locked.code, 3);
    assert.equal(locked.reason, 'locked');
    assert.equal((await sb.unlock()).code, 0);
    assert.equal((await grant(sb)).cached, false, 'validated again after the unlock');
  });

  it('a failed validation drops it: the next grant asks AWS again', async () => {
    assert.equal((await grant(sb, { credentials: true })).code, 0);
    assert.equal((await grant(sb)).cached, true);
    // Force a miss that validates (the validated role credentials are gone), and make that validation fail.
    await rm(roleDir(sb), { recursive: true, force: true });
    await sb.emu.control.fault({ operation: 'GetRoleCredentials', status: 503, errorType: 'ServiceUnavailable', count: 10 });
    const failed = await grant(sb, { credentials: true });
    assert.equal(failed.code, 4);
    await sb.emu.control.clearFaults();
    const since = await lastSeq(sb);
    const next = await grant(sb);
    assert.equal(next.cached, false);
    assert.ok((await opsSince(sb, since)).includes('GetCallerIdentity'));
  });

  it('a logout elsewhere (token file deleted) is seen at once, inside the TTL', async () => {
    assert.equal((await grant(sb)).code, 0);
    assert.equal((await grant(sb)).cached, true);
    const token = await readFile(tokenFile(sb), 'utf8');
    await rm(tokenFile(sb));
    const r = await grant(sb);
    assert.equal(r.code, 3);
    assert.equal(r.errorCode, 'sso.no-token');
    await writeFile(tokenFile(sb), token, { mode: 0o600 });
  });

  it('~/.aws/config re-pointing the profile is seen at once: the pin check runs again (exit 5)', async () => {
    assert.equal((await grant(sb)).code, 0);
    assert.equal((await grant(sb)).cached, true);
    const configPath = join(sb.home, '.aws', 'config');
    const config = await readFile(configPath, 'utf8');
    await writeFile(configPath, config.replace('sso_account_id = 111122223333', 'sso_account_id = 444455556666').replace('sso_role_name = Developer', 'sso_role_name = ReadOnly'));
    const r = await grant(sb);
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.reason, 'mismatch');
    await writeFile(configPath, config);
  });

  it('role credentials are reused from the AWS CLI cache until 5 minutes before they expire', async () => {
    const noCache = { KEYRACK_VALIDATION_TTL: '0' };
    const a = await grant(sb, { env: noCache, credentials: true });
    const since = await lastSeq(sb);
    const b = await grant(sb, { env: noCache, credentials: true });
    assert.equal(b.accessKeyId, a.accessKeyId, 'the same credentials again');
    assert.ok(!(await opsSince(sb, since)).includes('GetRoleCredentials'));
    // Now they have 4 minutes left: too little to hand to a robot.
    const [name] = await readdir(roleDir(sb));
    const file = join(roleDir(sb), name as string);
    const entry = JSON.parse(await readFile(file, 'utf8')) as { Credentials: { Expiration: string } };
    entry.Credentials.Expiration = new Date(Date.now() + 4 * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    await writeFile(file, JSON.stringify(entry), { mode: 0o600 });
    const since2 = await lastSeq(sb);
    const c = await grant(sb, { env: noCache, credentials: true });
    assert.equal(c.code, 0, c.stderr);
    assert.notEqual(c.accessKeyId, a.accessKeyId);
    assert.deepEqual(await opsSince(sb, since2), ['GetRoleCredentials', 'GetCallerIdentity']);
  });
});
