// STS through the real JS v3 client: SigV4 verification (and its failures), AssumeRole validation, trust and
// role chaining, AssumeRoleWithWebIdentity with JWTs signed by keys generated here, and the XML error envelope.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { GetRoleCredentialsCommand, SSOClient } from '@aws-sdk/client-sso';
import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient, type Credentials } from '@aws-sdk/client-sts';
import { defaultFixture, normalizeFixture, SECRET_MARKER } from '../../src/emulator/index.js';
import { deviceLogin, sandboxHome, startTestEmulator, type TestEmulator } from '../helpers/emulator.js';

const ISSUER = 'https://token.ci.example.com';
const AUDIENCE = 'sts.amazonaws.com';
const ROBOT = 'arn:aws:iam::111122223333:role/keyrack-robot';
const DEPLOYER = 'arn:aws:iam::111122223333:role/ci/deployer';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });

function jwt(claims: Record<string, unknown>, opts: { key?: KeyObject; alg?: 'RS256' | 'ES256' | 'none'; kid?: string } = {}): string {
  const alg = opts.alg ?? 'RS256';
  const now = Math.floor(Date.now() / 1000);
  const header = { alg, typ: 'JWT', kid: opts.kid ?? (alg === 'ES256' ? 'ec-1' : 'rsa-1') };
  const payload = { iss: ISSUER, aud: AUDIENCE, sub: 'repo:acme/app:ref:refs/heads/main', iat: now, exp: now + 300, ...claims };
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  if (alg === 'none') return `${input}.`;
  const sig = alg === 'ES256' ? sign('sha256', Buffer.from(input), { key: opts.key ?? ec.privateKey, dsaEncoding: 'ieee-p1363' }) : sign('sha256', Buffer.from(input), opts.key ?? rsa.privateKey);
  return `${input}.${sig.toString('base64url')}`;
}

type StsError = Error & { $metadata?: { httpStatusCode?: number }; Code?: string; Type?: string };
async function errorOf(p: Promise<unknown>): Promise<StsError> {
  try {
    await p;
  } catch (e) {
    return e as StsError;
  }
  throw new Error('expected a rejection');
}

describe('STS', () => {
  let emu: TestEmulator;
  let restore: () => Promise<void>;
  let prep: Credentials; // alice, 111122223333 / Developer
  let prod: Credentials; // alice, 444455556666 / Developer
  const clients: STSClient[] = [];
  const sts = (c: Partial<Credentials> | undefined, extra: Record<string, unknown> = {}) => {
    const client = new STSClient({
      region: 'us-east-1',
      endpoint: emu.url,
      ...(c ? { credentials: { accessKeyId: c.AccessKeyId ?? '', secretAccessKey: c.SecretAccessKey ?? '', sessionToken: c.SessionToken } } : {}),
      ...extra,
    });
    clients.push(client);
    return client;
  };

  before(async () => {
    restore = (await sandboxHome()).restore;
    const fixture = normalizeFixture({
      ...defaultFixture,
      webIdentityProviders: [
        {
          issuer: ISSUER,
          audiences: [AUDIENCE],
          jwks: { keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-1', use: 'sig', alg: 'RS256' }, { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-1' }] },
        },
      ],
      roles: [
        ...defaultFixture.roles,
        { arn: DEPLOYER, maxSessionDuration: '2h', trust: { principals: [ROBOT], webIdentity: [{ issuer: ISSUER, audiences: [AUDIENCE] }] } },
      ],
    });
    emu = await startTestEmulator({ fixture });
    const { accessToken } = await deviceLogin(emu);
    const sso = new SSOClient({ region: 'us-east-1', endpoint: emu.url });
    const get = async (accountId: string) => {
      const c = (await sso.send(new GetRoleCredentialsCommand({ accessToken, accountId, roleName: 'Developer' }))).roleCredentials ?? {};
      return { AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, SessionToken: c.sessionToken, Expiration: new Date(c.expiration ?? 0) };
    };
    prep = await get('111122223333');
    prod = await get('444455556666');
    sso.destroy();
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await emu.close();
    await restore();
  });

  test('GetCallerIdentity with SSO credentials: the AWSReservedSSO role, stable per account+role', async () => {
    const id = await sts(prep).send(new GetCallerIdentityCommand({}));
    assert.equal(id.Account, '111122223333');
    assert.match(id.Arn ?? '', /^arn:aws:sts::111122223333:assumed-role\/AWSReservedSSO_Developer_[0-9a-f]{16}\/alice$/);
    assert.ok(id.$metadata.requestId, 'id.$metadata.requestId');
    const again = await sts(prep).send(new GetCallerIdentityCommand({}));
    assert.equal(again.Arn, id.Arn);
    const other = await sts(prod).send(new GetCallerIdentityCommand({}));
    assert.notEqual(other.Arn?.split('/')[1], id.Arn?.split('/')[1]);
  });

  test('SigV4 failures: wrong secret, unknown key, foreign session token, no signature, stale date', async () => {
    const wrongSecret = await errorOf(sts({ ...prep, SecretAccessKey: `${SECRET_MARKER}wrongwrongwrongwrongwrongwrongw` }).send(new GetCallerIdentityCommand({})));
    assert.equal(wrongSecret.name, 'SignatureDoesNotMatch');
    assert.equal(wrongSecret.$metadata?.httpStatusCode, 403);
    assert.equal(wrongSecret.Type, 'Sender');
    const unknown = await errorOf(sts({ ...prep, AccessKeyId: 'ASIAAAAAAAAAAAAAAAAA' }).send(new GetCallerIdentityCommand({})));
    assert.equal(unknown.name, 'InvalidClientTokenId');
    const foreignToken = await errorOf(sts({ ...prep, SessionToken: prod.SessionToken }).send(new GetCallerIdentityCommand({})));
    assert.equal(foreignToken.name, 'InvalidClientTokenId');
    assert.equal(foreignToken.$metadata?.httpStatusCode, 403);

    const raw = await fetch(`${emu.url}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=GetCallerIdentity&Version=2011-06-15' });
    assert.equal(raw.status, 403);
    const xml = await raw.text();
    assert.match(xml, /^<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">/);
    assert.match(xml, /<Code>MissingAuthenticationToken<\/Code>/);
    assert.match(xml, new RegExp(`<RequestId>${raw.headers.get('x-amzn-requestid')}</RequestId>`));

    const stale = await errorOf(sts(prep, { systemClockOffset: -30 * 60_000, maxAttempts: 1 }).send(new GetCallerIdentityCommand({})));
    assert.equal(stale.name, 'RequestExpired');
  });

  test('emulated clock: signing keeps working across jumps; expired role credentials → ExpiredToken', async () => {
    const { accessToken } = await deviceLogin(emu, 'bob');
    const sso = new SSOClient({ region: 'us-east-1', endpoint: emu.url });
    const c = (await sso.send(new GetRoleCredentialsCommand({ accessToken, accountId: '111122223333', roleName: 'ReadOnly' }))).roleCredentials ?? {};
    sso.destroy();
    const client = sts({ AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, SessionToken: c.sessionToken });
    await emu.control.advanceClock(30 * 60);
    assert.match((await client.send(new GetCallerIdentityCommand({}))).Arn ?? '', /AWSReservedSSO_ReadOnly_[0-9a-f]{16}\/bob$/);
    await emu.control.advanceClock(31 * 60);
    const expired = await errorOf(client.send(new GetCallerIdentityCommand({})));
    assert.equal(expired.name, 'ExpiredToken');
    assert.equal(expired.$metadata?.httpStatusCode, 403);
    await emu.control.setClockOffset(0);
  });

  test('AssumeRole: session policy, tags, source identity; the new credentials sign further calls', async () => {
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::acme/*' }] });
    const r = await sts(prep).send(
      new AssumeRoleCommand({
        RoleArn: ROBOT,
        RoleSessionName: 'task-42@ci',
        DurationSeconds: 900,
        Policy: policy,
        SourceIdentity: 'alice',
        Tags: [{ Key: 'task', Value: '42' }, { Key: 'team', Value: 'infra' }],
        TransitiveTagKeys: ['task'],
      }),
    );
    assert.equal(r.AssumedRoleUser?.Arn, 'arn:aws:sts::111122223333:assumed-role/keyrack-robot/task-42@ci');
    assert.match(r.AssumedRoleUser?.AssumedRoleId ?? '', /^AROA[A-Z0-9]{17}:task-42@ci$/);
    assert.equal(r.SourceIdentity, 'alice');
    assert.ok((r.PackedPolicySize ?? 0) > 0 && (r.PackedPolicySize ?? 0) <= 100, '(r.PackedPolicySize ?? 0) > 0 && (r.PackedPolicySize ?? 0) <');
    assert.ok(Math.abs((r.Credentials?.Expiration?.getTime() ?? 0) - (Date.now() + 900_000)) < 5000, 'Math.abs((r.Credentials?.Expiration?.getTime() ?? 0) - (Date');
    const robot = r.Credentials ?? { AccessKeyId: '', SecretAccessKey: '', SessionToken: '', Expiration: new Date() };
    assert.equal((await sts(robot).send(new GetCallerIdentityCommand({}))).Arn, r.AssumedRoleUser?.Arn);

    const chained = await sts(robot).send(new AssumeRoleCommand({ RoleArn: DEPLOYER, RoleSessionName: 'deploy' }));
    assert.equal(chained.AssumedRoleUser?.Arn, 'arn:aws:sts::111122223333:assumed-role/deployer/deploy');
    assert.equal(chained.SourceIdentity, 'alice', 'source identity sticks to the chain');

    const sessions = await emu.control.stsSessions();
    const mine = sessions.find((s) => s.arn === r.AssumedRoleUser?.Arn);
    assert.deepEqual(mine?.tags, [{ key: 'task', value: '42' }, { key: 'team', value: 'infra' }]);
    assert.equal(mine?.policy, policy);
    assert.equal(mine?.durationSeconds, 900);
    assert.equal(mine?.sourceIdentity, 'alice');
    assert.deepEqual(sessions.find((s) => s.sessionName === 'deploy')?.tags, [{ key: 'task', value: '42' }], 'transitive tag carried');
  });

  test('AssumeRole refusals: trust, unknown role, chaining limit, validation, policy', async () => {
    const prodId = (await sts(prod).send(new GetCallerIdentityCommand({}))).Arn;
    const untrusted = await errorOf(sts(prod).send(new AssumeRoleCommand({ RoleArn: ROBOT, RoleSessionName: 'x1' })));
    assert.equal(untrusted.name, 'AccessDenied');
    assert.equal(untrusted.$metadata?.httpStatusCode, 403);
    assert.equal(untrusted.message, `User: ${prodId} is not authorized to perform: sts:AssumeRole on resource: ${ROBOT}`);
    assert.equal((await errorOf(sts(prep).send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::111122223333:role/nope', RoleSessionName: 'x1' })))).name, 'AccessDenied');

    const client = sts(prep);
    const expect = async (input: ConstructorParameters<typeof AssumeRoleCommand>[0], name: string, message?: RegExp) => {
      const e = await errorOf(client.send(new AssumeRoleCommand(input)));
      assert.equal(e.name, name, JSON.stringify(input).slice(0, 120));
      assert.equal(e.$metadata?.httpStatusCode, 400);
      if (message) assert.match(e.message, message);
    };
    await expect({ RoleArn: ROBOT, RoleSessionName: 'x1', DurationSeconds: 7200 }, 'ValidationError', /1 hour session limit for roles assumed by role chaining/);
    await expect({ RoleArn: ROBOT, RoleSessionName: 'x1', DurationSeconds: 600 }, 'ValidationError', /^1 validation error detected: Value '600' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900$/);
    await expect({ RoleArn: ROBOT, RoleSessionName: 'has space' }, 'ValidationError', /at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern/);
    await expect({ RoleArn: ROBOT, RoleSessionName: 'x' }, 'ValidationError', /Member must have length greater than or equal to 2/);
    await expect({ RoleArn: ROBOT, RoleSessionName: 'x'.repeat(65), DurationSeconds: 1 }, 'ValidationError', /^2 validation errors detected: /);
    await expect({ RoleArn: ROBOT, RoleSessionName: 'x1', SourceIdentity: 'aws:me' }, 'ValidationError', /aws:/);
    await expect({ RoleArn: ROBOT, RoleSessionName: 'x1', SourceIdentity: 'a' }, 'ValidationError', /sourceIdentity/);
    await expect({ RoleArn: ROBOT, RoleSessionName: 'x1', Tags: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })) }, 'ValidationError');
    await expect({ RoleArn: ROBOT, RoleSessionName: 'x1', Tags: [{ Key: 'bad<key>', Value: 'v' }] }, 'ValidationError', /tags\.1\.member\.key/);
    await expect({ RoleArn: ROBOT, RoleSessionName: 'x1', Tags: [{ Key: 'A', Value: '1' }, { Key: 'a', Value: '2' }] }, 'ValidationError', /Duplicate tag keys/);
    await expect({ RoleArn: ROBOT, RoleSessionName: 'x1', Policy: '{"Version":' }, 'MalformedPolicyDocumentException', /Syntax errors in policy/);
    await expect({ RoleArn: ROBOT, RoleSessionName: 'x1', Policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"*"}]}' }, 'MalformedPolicyDocumentException');
    const big = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: Array.from({ length: 80 }, (_, i) => `arn:aws:s3:::bucket-${i}-xyz/*`) }] });
    assert.ok(big.length > 2048, 'policy longer than 2048 characters');
    await expect({ RoleArn: ROBOT, RoleSessionName: 'x1', Policy: big }, 'PackedPolicyTooLargeException', /Packed policy consumes \d+% of allotted space/);
    const random = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: randomBytes(1800).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 1700), Effect: 'Allow', Action: '*', Resource: '*' }] });
    assert.ok(random.length <= 2048, 'short but incompressible policy');
    await expect({ RoleArn: ROBOT, RoleSessionName: 'x1', Policy: random }, 'PackedPolicyTooLargeException');
  });

  test('AssumeRoleWithWebIdentity: RS256 and ES256 tokens verified against the fixture JWKS', async () => {
    const anon = sts(undefined);
    const r = await anon.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: DEPLOYER, RoleSessionName: 'gha-run-7', WebIdentityToken: jwt({}), DurationSeconds: 7200 }));
    assert.equal(r.SubjectFromWebIdentityToken, 'repo:acme/app:ref:refs/heads/main');
    assert.equal(r.Audience, AUDIENCE);
    assert.equal(r.Provider, 'token.ci.example.com');
    assert.equal(r.AssumedRoleUser?.Arn, 'arn:aws:sts::111122223333:assumed-role/deployer/gha-run-7');
    assert.ok(Math.abs((r.Credentials?.Expiration?.getTime() ?? 0) - (Date.now() + 7200_000)) < 5000, 'not chained: up to the role max');
    assert.equal((await sts(r.Credentials).send(new GetCallerIdentityCommand({}))).Arn, r.AssumedRoleUser?.Arn);
    const es = await anon.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: DEPLOYER, RoleSessionName: 'gha-run-8', WebIdentityToken: jwt({}, { alg: 'ES256' }) }));
    assert.ok(es.Credentials?.AccessKeyId, 'es.Credentials?.AccessKeyId');
  });

  test('AssumeRoleWithWebIdentity refusals: signature, expiry, audience, issuer, trust, garbage', async () => {
    const anon = sts(undefined);
    const send = (token: string, roleArn = DEPLOYER) => errorOf(anon.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn, RoleSessionName: 'web', WebIdentityToken: token })));
    const now = Math.floor(Date.now() / 1000);
    assert.equal((await send(jwt({}, { key: stranger.privateKey }))).name, 'InvalidIdentityTokenException');
    assert.equal((await send(jwt({}, { kid: 'other' }))).name, 'InvalidIdentityTokenException');
    assert.equal((await send(jwt({}, { alg: 'none' }))).name, 'InvalidIdentityTokenException');
    const expired = await send(jwt({ exp: now - 10 }));
    assert.equal(expired.name, 'ExpiredTokenException');
    assert.equal(expired.$metadata?.httpStatusCode, 400);
    assert.equal((await send(jwt({ nbf: now + 600 }))).name, 'InvalidIdentityTokenException');
    assert.equal((await send(jwt({ aud: 'someone-else' }))).name, 'InvalidIdentityTokenException');
    assert.equal((await send(jwt({ iss: 'https://unknown.example.com' }))).name, 'InvalidIdentityTokenException');
    assert.equal((await send('not.a.jwt')).name, 'InvalidIdentityTokenException');
    const untrusted = await send(jwt({}), ROBOT);
    assert.equal(untrusted.name, 'AccessDenied');
    assert.equal(untrusted.message, 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
    assert.equal((await send('abc')).name, 'ValidationError');
    // Emulated time judges exp: a token valid now is expired an hour later.
    await emu.control.advanceClock(3600);
    assert.equal((await send(jwt({}))).name, 'ExpiredTokenException');
    await emu.control.setClockOffset(0);
  });

  test('awsQuery odds and ends: unknown action, wrong version, garbage body, Throttling fault', async () => {
    const post = (body: string) => fetch(`${emu.url}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    const unknown = await post('Action=GetSessionToken&Version=2011-06-15');
    assert.equal(unknown.status, 400);
    assert.match(await unknown.text(), /<Code>InvalidAction<\/Code>/);
    assert.match(await (await post('Action=GetCallerIdentity&Version=2099-01-01')).text(), /<Code>InvalidAction<\/Code>/);
    const garbage = await post('%%%&&&===');
    assert.equal(garbage.status, 400);
    assert.match(await garbage.text(), /<ErrorResponse/);

    await emu.control.fault({ operation: 'GetCallerIdentity', count: 1, status: 400, errorType: 'Throttling', message: 'Rate exceeded' });
    assert.equal((await sts(prep).send(new GetCallerIdentityCommand({}))).$metadata.attempts, 2, 'Throttling is retried');
    await emu.control.fault({ operation: 'GetCallerIdentity', count: 1, status: 400, errorType: 'Throttling' });
    const once = await errorOf(sts(prep, { maxAttempts: 1 }).send(new GetCallerIdentityCommand({})));
    assert.equal(once.name, 'Throttling');
    await emu.control.fault({ operation: 'AssumeRole', malformed: true });
    const bad = await errorOf(sts(prep, { maxAttempts: 1 }).send(new AssumeRoleCommand({ RoleArn: ROBOT, RoleSessionName: 'x1' })));
    assert.ok(bad instanceof Error, 'bad instanceof Error');
  });
});
