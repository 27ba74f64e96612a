// The real AWS CLI v2 as the compatibility referee: a session started by either tool serves the other.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSandbox, lastSeq, tokenFile, type Sandbox } from '../helpers/keyrack.js';

const readToken = async (sb: Sandbox) => JSON.parse(await readFile(tokenFile(sb), 'utf8')) as Record<string, string>;
/** Moves the access token's expiry close, so the next user must refresh it. */
async function nearExpiry(sb: Sandbox, minutes: number): Promise<void> {
  const t = await readToken(sb);
  t.expiresAt = new Date(Date.now() + minutes * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  await writeFile(tokenFile(sb), JSON.stringify(t), { mode: 0o600 });
}
const countRefreshes = async (sb: Sandbox, since: number) =>
  (await sb.emu.control.calls(since)).filter((c) => c.operation === 'CreateToken' && c.grantType === 'refresh_token' && c.status === 200).length;

describe('interop with the real AWS CLI v2 (/usr/bin/aws)', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox();
  });
  after(async () => sb.close());

  it('keyrack unlock → aws sts get-caller-identity --profile works on the session keyrack wrote', async () => {
    assert.equal((await sb.unlock()).code, 0);
    await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep']);
    const r = await sb.aws(['sts', 'get-caller-identity', '--profile', 'acme.prep', '--output', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /AWSReservedSSO_Developer_[0-9a-f]{16}\/alice/);
  });

  it('a refresh done by keyrack is used by the AWS CLI', async () => {
    await nearExpiry(sb, 3);
    const since = await lastSeq(sb);
    await rmRoleCache(sb);
    const g = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--credentials'], { secretsOnStdout: true });
    assert.equal(g.code, 0, g.stderr);
    assert.equal(await countRefreshes(sb, since), 1);
    const afterRefresh = await readToken(sb);
    assert.ok(Date.parse(afterRefresh.expiresAt ?? '') > Date.now() + 30 * 60_000);
    await rmRoleCache(sb);
    const since2 = await lastSeq(sb);
    const r = await sb.aws(['sso', 'list-accounts', '--profile', 'acme.prep', '--access-token', afterRefresh.accessToken ?? '', '--region', 'us-east-1', '--output', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const c = await sb.aws(['sts', 'get-caller-identity', '--profile', 'acme.prep']);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(await countRefreshes(sb, since2), 0, 'the CLI found a fresh token and did not refresh again');
  });

  it('a refresh done by the AWS CLI is used by keyrack', async () => {
    await nearExpiry(sb, 10); // inside the CLI's 15-minute window
    await rmRoleCache(sb);
    const before = (await readToken(sb)).refreshToken;
    const since = await lastSeq(sb);
    const c = await sb.aws(['sts', 'get-caller-identity', '--profile', 'acme.prep']);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(await countRefreshes(sb, since), 1);
    assert.notEqual((await readToken(sb)).refreshToken, before, 'rotated');
    const since2 = await lastSeq(sb);
    await rmRoleCache(sb);
    const g = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--credentials'], { secretsOnStdout: true });
    assert.equal(g.code, 0, g.stderr);
    assert.equal(await countRefreshes(sb, since2), 0);
  });

  it('aws sso logout → keyrack grant exits 3 (expired), pointing at unlock', async () => {
    const r = await sb.aws(['sso', 'logout']);
    assert.equal(r.code, 0, r.stderr);
    const g = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep']);
    assert.equal(g.code, 3, g.stderr);
    assert.match(g.stderr, /keyrack unlock aws --env prep/);
  });

  it('aws sso login → keyrack unlock needs no login and keyrack grant succeeds', async () => {
    const before = await lastSeq(sb);
    // The emulator's auto-approve plays the human approving the device code the CLI prints.
    const l = await sb.aws(['sso', 'login', '--profile', 'acme.prep', '--no-browser'], { timeoutMs: 60_000 });
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, /[A-Z]{4}-[A-Z]{4}/);
    assert.ok((await sb.emu.control.calls(before)).some((c) => c.operation === 'StartDeviceAuthorization'));
    const since = await lastSeq(sb);
    const u = await sb.unlock();
    assert.equal(u.code, 0, u.stdout);
    assert.match(u.stdout, /session reused/);
    const logins = (await sb.emu.control.calls(since)).filter((c) => ['RegisterClient', 'StartDeviceAuthorization', 'Authorize'].includes(c.operation));
    assert.deepEqual(logins, []);
    const g = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep']);
    assert.equal(g.code, 0, g.stderr);
  });
});

async function rmRoleCache(sb: Sandbox): Promise<void> {
  const { rm } = await import('node:fs/promises');
  await rm(join(sb.home, '.aws', 'cli', 'cache'), { recursive: true, force: true });
}
