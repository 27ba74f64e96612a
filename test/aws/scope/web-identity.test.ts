// Task-scoped grants for web_identity refs (CI fleets): a JWT signed by a test RSA key the emulator trusts,
// AssumeRoleWithWebIdentity straight into the scope role or chained on by AssumeRole. No unlock record.
import assert from 'node:assert/strict';
import { createSign, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { renderPlan, scopedGrant, type ScopedGrantRequest } from '../../../src/aws/scope/index.js';
import { KeyrackError } from '../../../src/core/errors.js';
import { parseKeyrackFile } from '../../../src/core/keyrack-file.js';
import { createLogger } from '../../../src/core/log.js';
import { renderGrant } from '../../../src/core/output.js';
import type { RobotContext } from '../../../src/core/plugin.js';
import { createRuntime, type EnvVars } from '../../../src/core/runtime.js';
import { SECRET_MARKER, defaultFixture } from '../../../src/emulator/index.js';
import { listUnlockRecords } from '../../../src/store/state.js';
import { sandboxHome, startTestEmulator, type TestEmulator } from '../../helpers/emulator.js';

const ACCOUNT = '111122223333';
const ISSUER = 'https://token.actions.example.com';
const AUDIENCE = 'sts.amazonaws.com';
const CI = `arn:aws:iam::${ACCOUNT}:role/ci`;
const CI_SCOPED = `arn:aws:iam::${ACCOUNT}:role/ci-scoped`;
const KID = 'test-key-1';

const KEYRACK_YML = `
env.ci:
  AWS_CI:
    aws:
      web_identity: { role_arn: ${CI}, token_env: CI_OIDC_TOKEN }
      scope:
        role_arn: ${CI}
        max_duration: 2h
        purposes:
          publish: { actions: [s3:PutObject], resources: ["arn:aws:s3:::acme-artifacts/*"] }
  AWS_CI_CHAIN:
    aws:
      web_identity: { role_arn: ${CI}, token_file: ci-token.jwt }
      scope:
        role_arn: ${CI_SCOPED}
        max_duration: 2h
        purposes:
          publish: { actions: [s3:PutObject], resources: ["arn:aws:s3:::acme-artifacts/*"] }
  AWS_CI_AUD:
    aws:
      web_identity: { role_arn: ${CI}, token_env: CI_OIDC_TOKEN, audience: ${AUDIENCE} }
      scope:
        role_arn: ${CI}
        purposes:
          publish: { actions: [s3:PutObject], resources: ["arn:aws:s3:::acme-artifacts/*"] }
  AWS_CI_FILE_MISSING:
    aws:
      web_identity: { role_arn: ${CI}, token_file: /nonexistent/keyrack-test/token }
      scope:
        role_arn: ${CI}
        purposes:
          publish: { actions: [s3:PutObject], resources: ["*"] }
`;

function b64url(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

function signJwt(key: KeyObject, claims: Record<string, unknown>, kid = KID): string {
  const input = `${b64url({ alg: 'RS256', typ: 'JWT', kid })}.${b64url(claims)}`;
  const sig = createSign('RSA-SHA256').update(input).sign(key).toString('base64url');
  return `${input}.${sig}`;
}

async function refused(p: Promise<unknown>, reason: string, code: string): Promise<KeyrackError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof KeyrackError, `expected a KeyrackError, got ${String(caught)}`);
  assert.equal(caught.reason, reason, `${caught.code}: ${caught.message}`);
  assert.equal(caught.code, code);
  const text = `${caught.message} ${caught.fix ?? ''}`;
  assert.ok(!text.includes(SECRET_MARKER) && !text.includes('eyJ'), 'no secret and no token in messages');
  return caught;
}

describe('scopedGrant: web_identity refs against the emulator', () => {
  const trusted = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...(trusted.publicKey.export({ format: 'jwk' }) as JsonWebKey), kid: KID, use: 'sig', alg: 'RS256' };
  let emu: TestEmulator;
  let box: Awaited<ReturnType<typeof sandboxHome>>;
  let repo: string;
  const logLines: string[] = [];

  const claims = (over: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return { iss: ISSUER, sub: 'repo:acme/app:ref:refs/heads/main', aud: AUDIENCE, iat: now, nbf: now - 5, exp: now + 600, ...over };
  };
  const goodToken = () => signJwt(trusted.privateKey, claims());

  function context(extraEnv: EnvVars = {}): RobotContext {
    const env = {
      HOME: box.home,
      XDG_STATE_HOME: join(box.home, '.local', 'state'),
      XDG_CONFIG_HOME: join(box.home, '.config'),
      AWS_ENDPOINT_URL: emu.url,
      KEYRACK_MAX_ATTEMPTS: '1',
      ...extraEnv,
    };
    const file = parseKeyrackFile(KEYRACK_YML, join(repo, 'keyrack.yml'));
    // cwd is not the repo: a relative token_file resolves against keyrack.yml's directory.
    return { runtime: createRuntime({ env, cwd: box.home }), file, log: createLogger({ enabled: true, write: (l) => logLines.push(l) }) };
  }

  before(async () => {
    emu = await startTestEmulator({
      fixture: {
        ...defaultFixture,
        webIdentityProviders: [{ issuer: ISSUER, audiences: [AUDIENCE], jwks: { keys: [jwk] } }],
        roles: [
          { arn: CI, maxSessionDuration: 2 * 3600, trust: { principals: [], webIdentity: [{ issuer: ISSUER, audiences: [AUDIENCE] }] } },
          { arn: CI_SCOPED, maxSessionDuration: 4 * 3600, trust: { principals: [CI], webIdentity: [] } },
        ],
      },
    });
    box = await sandboxHome();
    repo = join(box.home, 'repo');
    await mkdir(repo, { recursive: true });
  });
  after(async () => {
    assert.ok(!logLines.join('').includes(SECRET_MARKER), 'the debug log never carries a secret');
    assert.ok(!logLines.join('').includes('eyJ'), 'nor a token');
    await box.restore();
    await emu.close();
  });
  beforeEach(() => emu.control.clearFaults());

  const req = (over: Partial<ScopedGrantRequest> = {}): ScopedGrantRequest => ({
    env: 'ci',
    key: 'AWS_CI',
    task: 'release-2025.06.1',
    purpose: 'publish',
    resources: ['arn:aws:s3:::acme-artifacts/app-1.2.3.tgz'],
    ...over,
  });

  test('direct: AssumeRoleWithWebIdentity with the policy, no unlock record needed', async () => {
    assert.deepEqual(await listUnlockRecords(context().runtime.paths.state), []);
    const { plan, grant } = await scopedGrant(context({ CI_OIDC_TOKEN: goodToken() }), req({ durationSeconds: 3 * 3600 }));
    assert.equal(plan.call, 'AssumeRoleWithWebIdentity');
    assert.deepEqual(plan.tags, []);
    assert.equal(plan.sourceIdentity, undefined);
    assert.equal(plan.durationSeconds, 2 * 3600, 'clamped to max_duration; not chained, so no 1h cap');
    assert.equal(plan.clampedFrom, 3 * 3600);
    // The client's credential provider always refuses: success proves the call went unsigned.
    assert.ok(grant?.credentials);
    assert.equal(grant.profile, '');
    assert.match(grant.identity.arn, /assumed-role\/ci\/release-2025\.06\.1$/);

    const session = (await emu.control.stsSessions()).find((s) => s.accessKeyId === grant.credentials?.accessKeyId);
    assert.equal(session?.kind, 'web-identity');
    assert.equal(session?.policy, plan.policy);
    assert.equal(session?.durationSeconds, 2 * 3600);
    assert.equal(session?.sessionName, 'release-2025.06.1');
    assert.ok(renderGrant(grant, 'dotenv').startsWith('AWS_ACCESS_KEY_ID='));
  });

  test('chained: web identity into role_arn, then AssumeRole into the scope role with tags and the 1h cap', async () => {
    await writeFile(join(repo, 'ci-token.jwt'), `${goodToken()}\n`, { mode: 0o600 });
    const { plan, grant } = await scopedGrant(context(), req({ key: 'AWS_CI_CHAIN', durationSeconds: 2 * 3600, resources: [] }));
    assert.equal(plan.call, 'AssumeRole');
    assert.deepEqual(plan.via, { kind: 'web-identity', roleArn: CI, token: 'token_file ci-token.jwt', chained: true });
    assert.equal(plan.durationSeconds, 3600);
    assert.match(plan.clamp ?? '', /role chaining/);
    assert.ok(grant?.credentials);

    const sessions = await emu.control.stsSessions();
    const scoped = sessions.find((s) => s.accessKeyId === grant.credentials?.accessKeyId);
    assert.equal(scoped?.kind, 'assume-role');
    assert.equal(scoped?.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/ci-scoped/release-2025.06.1`);
    assert.deepEqual(scoped?.tags, [{ key: 'TaskId', value: 'release-2025.06.1' }, { key: 'Purpose', value: 'publish' }]);
    assert.equal(scoped?.policy, '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::acme-artifacts/*"}]}');
    assert.equal(scoped?.durationSeconds, 3600);
    const hop = sessions.filter((s) => s.kind === 'web-identity' && s.arn.includes(':assumed-role/ci/')).at(-1);
    assert.equal(hop?.policy, null, 'the first hop carries no policy');
    assert.equal(hop?.durationSeconds, 900, 'and lasts only as long as STS requires');
  });

  test('dry run: the plan, no STS call, token presence noted without the token', async () => {
    const before = (await emu.control.calls()).length;
    const { plan, grant } = await scopedGrant(context({ CI_OIDC_TOKEN: goodToken() }), req({ dryRun: true }));
    assert.equal(grant, undefined);
    assert.equal((await emu.control.calls()).length, before);
    assert.ok(plan.notes.some((n) => /web identity token found \(\$CI_OIDC_TOKEN, expires /.test(n)));
    const text = renderPlan(plan);
    assert.match(text, /sts:AssumeRoleWithWebIdentity, with the token from \$CI_OIDC_TOKEN/);
    assert.ok(!text.includes('eyJ'));
    const missing = await scopedGrant(context(), req({ dryRun: true }));
    assert.ok(missing.plan.notes.some((n) => /not usable: .* is not set/.test(n)));
  });

  test('an expired JWT: expired, with a fix to refresh the CI token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = signJwt(trusted.privateKey, claims({ iat: now - 900, nbf: now - 900, exp: now - 60 }));
    const e = await refused(scopedGrant(context({ CI_OIDC_TOKEN: token }), req()), 'expired', 'web-identity.token-expired');
    assert.match(e.fix ?? '', /refresh the CI token/);
    assert.equal(e.exitCode, 3);
  });

  test('a token for the wrong audience: denied by STS', async () => {
    const token = signJwt(trusted.privateKey, claims({ aud: 'https://github.com/acme' }));
    await refused(scopedGrant(context({ CI_OIDC_TOKEN: token }), req()), 'denied', 'web-identity.token-rejected');
  });

  test('a token for the wrong audience when keyrack.yml pins one: denied before STS is asked', async () => {
    const token = signJwt(trusted.privateKey, claims({ aud: 'https://github.com/acme' }));
    const before = (await emu.control.calls()).length;
    const e = await refused(scopedGrant(context({ CI_OIDC_TOKEN: token }), req({ key: 'AWS_CI_AUD' })), 'denied', 'web-identity.audience-mismatch');
    assert.match(e.fix ?? '', /audience sts\.amazonaws\.com/);
    assert.equal((await emu.control.calls()).length, before);
    const ok = await scopedGrant(context({ CI_OIDC_TOKEN: goodToken() }), req({ key: 'AWS_CI_AUD' }));
    assert.ok(ok.grant?.credentials);
  });

  test('a token signed by a key the provider does not publish: denied', async () => {
    const token = signJwt(stranger.privateKey, claims());
    await refused(scopedGrant(context({ CI_OIDC_TOKEN: token }), req()), 'denied', 'web-identity.token-rejected');
  });

  test('no token: misconfigured, saying where it was looked for', async () => {
    const e = await refused(scopedGrant(context(), req()), 'misconfigured', 'web-identity.token-missing');
    assert.match(e.message, /\$CI_OIDC_TOKEN\) is not set/);
    assert.match(e.fix ?? '', /id-token: write/);
    const f = await refused(scopedGrant(context(), req({ key: 'AWS_CI_FILE_MISSING', resources: [] })), 'misconfigured', 'web-identity.token-missing');
    assert.match(f.message, /does not exist/);
    await refused(scopedGrant(context({ CI_OIDC_TOKEN: 'a b c d' }), req()), 'misconfigured', 'web-identity.token-invalid');
  });

  test('STS errors on the web identity call: policy rejected, throttled, IdP unreachable', async () => {
    await emu.control.fault({ operation: 'AssumeRoleWithWebIdentity', status: 400, errorType: 'MalformedPolicyDocument' });
    await refused(scopedGrant(context({ CI_OIDC_TOKEN: goodToken() }), req()), 'invalid-input', 'scope.policy-rejected');
    await emu.control.fault({ operation: 'AssumeRoleWithWebIdentity', status: 400, errorType: 'PackedPolicyTooLarge' });
    await refused(scopedGrant(context({ CI_OIDC_TOKEN: goodToken() }), req()), 'invalid-input', 'scope.policy-too-large');
    await emu.control.fault({ operation: 'AssumeRoleWithWebIdentity', status: 400, errorType: 'Throttling' });
    await refused(scopedGrant(context({ CI_OIDC_TOKEN: goodToken() }), req()), 'unavailable', 'aws.unavailable.AssumeRoleWithWebIdentity');
    await emu.control.fault({ operation: 'AssumeRoleWithWebIdentity', status: 400, errorType: 'IDPCommunicationError' });
    await refused(scopedGrant(context({ CI_OIDC_TOKEN: goodToken() }), req()), 'unavailable', 'web-identity.idp-unreachable');
    await emu.control.fault({ operation: 'AssumeRoleWithWebIdentity', status: 403, errorType: 'AccessDenied' });
    await refused(scopedGrant(context({ CI_OIDC_TOKEN: goodToken() }), req()), 'denied', 'scope.denied.AssumeRoleWithWebIdentity');
  });
});
