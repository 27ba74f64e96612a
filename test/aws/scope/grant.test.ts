// Task-scoped grants for profile refs against the in-process emulator: an SSO session approved through the
// control API, an unlock record, then AssumeRole into the scope role with policy, SourceIdentity and tags.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { tokenCacheKey } from '../../../src/aws/cache-keys.js';
import { networkFromEnv } from '../../../src/aws/clients.js';
import { readAwsConfig } from '../../../src/aws/config-file.js';
import { assumeRole } from '../../../src/aws/scope/assume.js';
import { renderPlan, scopedGrant, type ScopedGrantRequest } from '../../../src/aws/scope/index.js';
import { getCallerIdentity } from '../../../src/aws/sts.js';
import { resolveTarget } from '../../../src/aws/target.js';
import { validateRef } from '../../../src/aws/validate.js';
import { formatAwsTimestamp, writeTokenFile } from '../../../src/aws/token-cache.js';
import { KeyrackError } from '../../../src/core/errors.js';
import { parseKeyrackFile } from '../../../src/core/keyrack-file.js';
import { createLogger } from '../../../src/core/log.js';
import { renderGrant } from '../../../src/core/output.js';
import type { RobotContext } from '../../../src/core/plugin.js';
import { createRuntime } from '../../../src/core/runtime.js';
import { SECRET_MARKER, defaultFixture } from '../../../src/emulator/index.js';
import { readValidation, removeUnlockRecord, writeUnlockRecord } from '../../../src/store/state.js';
import { START_URL, deviceLogin, sandboxHome, startTestEmulator, type TestEmulator } from '../../helpers/emulator.js';

const ACCOUNT = '111122223333';
const ROBOT = `arn:aws:iam::${ACCOUNT}:role/keyrack-robot`;
const UNTRUSTING = `arn:aws:iam::${ACCOUNT}:role/not-for-sso`;

const KEYRACK_YML = `
sso:
  acme: { start_url: ${START_URL}, region: us-east-1 }
env.prep:
  AWS_TASK:
    aws:
      profile: dev
      sso: acme
      account: "${ACCOUNT}"
      scope:
        role_arn: ${ROBOT}
        max_duration: 4h
        purposes:
          log-analysis: { actions: [s3:GetObject, logs:FilterLogEvents] }
          inventory: { actions: [ec2:DescribeInstances], resources: ["*"] }
  AWS_SHORT:
    aws:
      profile: dev
      scope:
        role_arn: ${ROBOT}
        max_duration: 20m
        purposes:
          inventory: { actions: [ec2:DescribeInstances], resources: ["*"] }
  AWS_DENIED:
    aws:
      profile: dev
      scope:
        role_arn: ${UNTRUSTING}
        purposes:
          inventory: { actions: [ec2:DescribeInstances], resources: ["*"] }
  AWS_PLAIN:
    aws: { profile: dev }
`;

const AWS_CONFIG = `[profile dev]
sso_session = acme
sso_account_id = ${ACCOUNT}
sso_role_name = Developer
region = us-east-1

[sso-session acme]
sso_start_url = ${START_URL}
sso_region = us-east-1
sso_registration_scopes = sso:account:access
`;

/** Asserts a refusal: the reason, the code, and that nothing secret made it into the message or fix. */
async function refused(p: Promise<unknown>, reason: string, code: string | RegExp): Promise<KeyrackError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof KeyrackError, `expected a KeyrackError, got ${String(caught)}`);
  assert.equal(caught.reason, reason, `${caught.code}: ${caught.message}`);
  if (typeof code === 'string') assert.equal(caught.code, code);
  else assert.match(caught.code, code);
  assert.ok(!`${caught.message} ${caught.fix ?? ''}`.includes(SECRET_MARKER));
  return caught;
}

describe('scopedGrant: profile refs against the emulator', () => {
  let emu: TestEmulator;
  let box: Awaited<ReturnType<typeof sandboxHome>>;
  let ctx: RobotContext;
  const logLines: string[] = [];

  before(async () => {
    emu = await startTestEmulator({
      fixture: {
        ...defaultFixture,
        roles: [
          { arn: ROBOT, maxSessionDuration: 4 * 3600, trust: { principals: [`sso:${ACCOUNT}`], webIdentity: [] } },
          { arn: UNTRUSTING, maxSessionDuration: 3600, trust: { principals: ['999999999999'], webIdentity: [] } },
        ],
      },
    });
    box = await sandboxHome();
    const env = {
      HOME: box.home,
      XDG_STATE_HOME: join(box.home, '.local', 'state'),
      XDG_CONFIG_HOME: join(box.home, '.config'),
      AWS_ENDPOINT_URL: emu.url,
      KEYRACK_MAX_ATTEMPTS: '1',
    };
    const runtime = createRuntime({ env, cwd: box.home });
    await mkdir(join(box.home, '.aws'), { recursive: true });
    await writeFile(runtime.paths.awsConfig, AWS_CONFIG);
    const file = parseKeyrackFile(KEYRACK_YML, join(box.home, 'repo', 'keyrack.yml'));
    ctx = { runtime, file, log: createLogger({ enabled: true, write: (l) => logLines.push(l) }) };

    const login = await deviceLogin(emu, 'alice');
    const now = Date.now();
    await writeTokenFile(runtime.paths, tokenCacheKey({ session: 'acme' }), {
      startUrl: START_URL,
      region: 'us-east-1',
      accessToken: login.accessToken,
      expiresAt: formatAwsTimestamp(now + login.expiresIn * 1000),
      clientId: login.clientId,
      clientSecret: login.clientSecret,
      registrationExpiresAt: formatAwsTimestamp(now + 80 * 86_400_000),
      ...(login.refreshToken ? { refreshToken: login.refreshToken } : {}),
    });
  });
  after(async () => {
    assert.ok(!logLines.join('').includes(SECRET_MARKER), 'the debug log never carries a secret');
    await box.restore();
    await emu.close();
  });

  const unlock = () =>
    writeUnlockRecord(ctx.runtime.paths.state, {
      version: 1,
      env: 'prep',
      keys: { AWS_TASK: { profile: 'dev', sso: 'acme' }, AWS_SHORT: { profile: 'dev' }, AWS_DENIED: { profile: 'dev' }, AWS_PLAIN: { profile: 'dev' } },
      sessions: ['acme'],
      unlockedAt: Date.now(),
      file: ctx.file.path,
    });
  beforeEach(async () => {
    await emu.control.clearFaults();
    await unlock();
  });

  const req = (over: Partial<ScopedGrantRequest> = {}): ScopedGrantRequest => ({
    env: 'prep',
    key: 'AWS_TASK',
    task: 'build-4711',
    purpose: 'log-analysis',
    resources: ['arn:aws:s3:::acme-logs-123/app.log'],
    ...over,
  });

  test('dry run: the plan, no AWS call, SourceIdentity omitted (and said so) without a validation cache', async () => {
    const before = (await emu.control.calls()).length;
    const { plan, grant } = await scopedGrant(ctx, req({ dryRun: true, durationSeconds: 1800 }));
    assert.equal(grant, undefined);
    assert.equal((await emu.control.calls()).length, before, 'dry run calls nothing');
    assert.equal(plan.roleArn, ROBOT);
    assert.equal(plan.roleSessionName, 'build-4711');
    assert.equal(plan.sourceIdentity, undefined);
    assert.ok(plan.notes.some((n) => /SourceIdentity omitted/.test(n)));
    assert.equal(plan.durationSeconds, 1800);
    assert.equal(plan.call, 'AssumeRole');
    assert.deepEqual(plan.tags, [{ Key: 'TaskId', Value: 'build-4711' }, { Key: 'Purpose', Value: 'log-analysis' }]);
    assert.equal(plan.policy, '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","logs:FilterLogEvents"],"Resource":"arn:aws:s3:::acme-logs-123/app.log"}]}');

    const text = renderPlan(plan);
    assert.match(text, /dry run: nothing was sent to AWS/);
    assert.match(text, /RoleSessionName\s+build-4711/);
    assert.match(text, /SourceIdentity\s+\(not sent\)/);
    assert.ok(text.includes(plan.policy), 'the exact policy is shown');
    const json = JSON.parse(renderPlan(plan, 'json')) as Record<string, unknown>;
    assert.equal(json.policy, plan.policy);
    assert.deepEqual(json.policyDocument, JSON.parse(plan.policy));
    assert.equal(json.durationSeconds, 1800);
    assert.equal(json.dryRun, true);
  });

  test('dry run of a locked key still plans, and says the real grant would be refused', async () => {
    await removeUnlockRecord(ctx.runtime.paths.state, 'prep');
    const { plan } = await scopedGrant(ctx, req({ dryRun: true }));
    assert.ok(plan.notes.some((n) => /is locked/.test(n) && /keyrack unlock aws --env prep/.test(n)));
  });

  test('locked: refused before any AWS call; invalid input is reported first', async () => {
    await removeUnlockRecord(ctx.runtime.paths.state, 'prep');
    const before = (await emu.control.calls()).length;
    const e = await refused(scopedGrant(ctx, req()), 'locked', 'unlock.none');
    assert.equal(e.exitCode, 3);
    await refused(scopedGrant(ctx, req({ purpose: 'admin' })), 'invalid-input', 'scope.unknown-purpose');
    assert.equal((await emu.control.calls()).length, before);
  });

  test('a key without scope is invalid input pointing at keyrack.yml', async () => {
    const e = await refused(scopedGrant(ctx, req({ key: 'AWS_PLAIN' })), 'invalid-input', 'scope.not-declared');
    assert.match(e.location ?? '', /keyrack\.yml:\d+:\d+$/);
  });

  test('grant: scoped credentials; the emulator session has the policy, SourceIdentity, tags and duration', async () => {
    const { plan, grant } = await scopedGrant(ctx, req({ durationSeconds: 1200 }));
    assert.ok(grant?.credentials);
    assert.equal(plan.sourceIdentity, 'alice');
    assert.ok(grant.credentials.secretAccessKey.includes(SECRET_MARKER), 'real emulator credentials');
    assert.ok(!renderPlan(plan).includes(SECRET_MARKER) && !renderPlan(plan, 'json').includes(SECRET_MARKER), 'the plan never holds a secret');
    assert.match(grant.identity.arn, new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/keyrack-robot/build-4711$`));
    assert.equal(grant.identity.role, 'keyrack-robot');
    assert.equal(grant.cached, false);
    assert.ok(Math.abs(grant.expiresAt - (Date.now() + 1200_000)) < 60_000);

    const session = (await emu.control.stsSessions()).find((s) => s.accessKeyId === grant.credentials?.accessKeyId);
    assert.ok(session, 'the emulator issued these credentials');
    assert.equal(session.kind, 'assume-role');
    assert.equal(session.sessionName, 'build-4711');
    assert.equal(session.sourceIdentity, 'alice');
    assert.equal(session.user, 'alice');
    assert.deepEqual(session.tags, [{ key: 'TaskId', value: 'build-4711' }, { key: 'Purpose', value: 'log-analysis' }]);
    assert.equal(session.policy, plan.policy);
    assert.equal(session.durationSeconds, 1200);

    // The credentials work, as the scoped role.
    const id = await getCallerIdentity({ region: 'us-east-1', endpoints: ctx.runtime.endpoints, net: networkFromEnv({}) }, grant.credentials, { subject: 'test', unlockCommand: 'x' });
    assert.equal(id.arn, grant.identity.arn);

    // renderGrant prints them like `grant --credentials`.
    const out = JSON.parse(renderGrant(grant, 'json')) as { credentials: { AccessKeyId: string; Expiration: string } };
    assert.equal(out.credentials.AccessKeyId, grant.credentials.accessKeyId);
    assert.match(renderGrant(grant, 'shell'), /^export AWS_ACCESS_KEY_ID=/);

    // A later dry run knows the SSO user from the validation this grant recorded.
    assert.ok(await readValidation(ctx.runtime.paths.state, 'prep', 'AWS_TASK', 'dev'));
    const dry = await scopedGrant(ctx, req({ dryRun: true }));
    assert.equal(dry.plan.sourceIdentity, 'alice');
    assert.ok(dry.plan.notes.some((n) => /last validation/.test(n)));
  });

  test('a unicode task id: sanitised session name, readable tag', async () => {
    const { plan, grant } = await scopedGrant(ctx, req({ task: 'tâche #42 / été', purpose: 'inventory', resources: [] }));
    assert.match(plan.roleSessionName, /^tache-42-ete-[0-9a-f]{10}$/);
    assert.ok(plan.notes.some((n) => /not a valid session name/.test(n)));
    const session = (await emu.control.stsSessions()).find((s) => s.accessKeyId === grant?.credentials?.accessKeyId);
    assert.equal(session?.sessionName, plan.roleSessionName);
    assert.deepEqual(session?.tags[0], { key: 'TaskId', value: 'tâche _42 / été' });
    assert.equal(session?.policy, '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:DescribeInstances","Resource":"*"}]}');
  });

  test('duration: clamped to the 1h role-chaining cap (max_duration 4h), and the emulator enforces the cap', async () => {
    const { plan, grant } = await scopedGrant(ctx, req({ durationSeconds: 3 * 3600 }));
    assert.equal(plan.durationSeconds, 3600);
    assert.equal(plan.clampedFrom, 3 * 3600);
    assert.match(plan.clamp ?? '', /role chaining/);
    assert.match(renderPlan(plan), /clamped: 3h asked, 1h granted/);
    const session = (await emu.control.stsSessions()).find((s) => s.accessKeyId === grant?.credentials?.accessKeyId);
    assert.equal(session?.durationSeconds, 3600);

    // Without the clamp STS refuses: proof the cap is real, and how the refusal is classified.
    const e = await refused(
      (async () => {
        const ref = ctx.file.envs.prep?.AWS_TASK;
        assert.ok(ref?.kind === 'profile');
        const v = await validateRef(ctx, ref, resolveTarget(await readAwsConfig(ctx.runtime.paths.awsConfig), ref), 'x');
        return assumeRole(
          { region: 'us-east-1', endpoints: ctx.runtime.endpoints, net: networkFromEnv({ KEYRACK_MAX_ATTEMPTS: '1' }) },
          v.credentials,
          { roleArn: ROBOT, roleSessionName: 'too-long', durationSeconds: 7200 },
          { subject: 'prep/AWS_TASK', purpose: 'purpose x', renewCallerFix: 'x' },
        );
      })(),
      'invalid-input',
      'scope.duration-chaining',
    );
    assert.match(e.fix ?? '', /1h or less/);
  });

  test('duration: clamped to max_duration and up to the STS minimum', async () => {
    const long = await scopedGrant(ctx, req({ key: 'AWS_SHORT', purpose: 'inventory', resources: [], durationSeconds: 3600 }));
    assert.equal(long.plan.durationSeconds, 1200);
    assert.match(long.plan.clamp ?? '', /max_duration/);
    const short = await scopedGrant(ctx, req({ key: 'AWS_SHORT', purpose: 'inventory', resources: [], durationSeconds: 60 }));
    assert.equal(short.plan.durationSeconds, 900);
    const sessions = await emu.control.stsSessions();
    assert.equal(sessions.find((s) => s.accessKeyId === long.grant?.credentials?.accessKeyId)?.durationSeconds, 1200);
    assert.equal(sessions.find((s) => s.accessKeyId === short.grant?.credentials?.accessKeyId)?.durationSeconds, 900);
  });

  test('MalformedPolicyDocument from STS is invalid-input', async () => {
    await emu.control.fault({ operation: 'AssumeRole', status: 400, errorType: 'MalformedPolicyDocument', message: 'Syntax errors in policy.' });
    const e = await refused(scopedGrant(ctx, req()), 'invalid-input', 'scope.policy-rejected');
    assert.match(e.message, /purpose log-analysis of prep\/AWS_TASK/);
    assert.equal(e.exitCode, 2);
  });

  test('PackedPolicyTooLarge from STS (past the local estimate) is invalid-input', async () => {
    await emu.control.fault({ operation: 'AssumeRole', status: 400, errorType: 'PackedPolicyTooLarge', message: 'Packed policy consumes 112% of allotted space' });
    const e = await refused(scopedGrant(ctx, req()), 'invalid-input', 'scope.policy-too-large');
    assert.match(e.fix ?? '', /fewer --resource/);
  });

  test('any other ValidationError is invalid-input, without echoing AWS\'s message', async () => {
    await emu.control.fault({ operation: 'AssumeRole', status: 400, errorType: 'ValidationError', message: "Value 'x' at 'roleSessionName' failed" });
    const e = await refused(scopedGrant(ctx, req()), 'invalid-input', 'scope.parameters-rejected');
    assert.ok(!e.message.includes("Value 'x'"));
  });

  test('a role that does not trust the SSO role: denied, with the trust-policy fix', async () => {
    const e = await refused(scopedGrant(ctx, req({ key: 'AWS_DENIED', purpose: 'inventory', resources: [] })), 'denied', 'scope.denied.AssumeRole');
    assert.match(e.fix ?? '', /sts:AssumeRole, sts:TagSession and sts:SetSourceIdentity/);
    assert.equal(e.exitCode, 5);
  });

  test('throttling and server errors are unavailable', async () => {
    await emu.control.fault({ operation: 'AssumeRole', status: 400, errorType: 'Throttling' });
    await refused(scopedGrant(ctx, req()), 'unavailable', 'aws.unavailable.AssumeRole');
    await emu.control.fault({ operation: 'AssumeRole', status: 500, errorType: 'InternalFailure' });
    await refused(scopedGrant(ctx, req()), 'unavailable', 'aws.unavailable.AssumeRole');
    await emu.control.fault({ operation: 'AssumeRole', reset: true });
    await refused(scopedGrant(ctx, req()), 'unavailable', 'aws.unavailable.AssumeRole');
  });

  test('an ended SSO session: expired, with the unlock command', async () => {
    await emu.control.revoke('alice');
    await emu.control.expire('role-credentials');
    const e = await refused(scopedGrant(ctx, req()), 'expired', /^sso\./);
    assert.match(e.fix ?? '', /keyrack unlock aws --env prep/);
  });
});
