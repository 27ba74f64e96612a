// Task-scoped robot grants: short-lived credentials narrowed to one named purpose and the resources a task
// touches. keyrack.yml's `scope` block declares the role to chain into, the longest session and the purposes
// (IAM actions, allowed resources). A robot names its task, purpose and resources; keyrack builds the minimal
// session policy, checks it locally, and calls STS:
//   - profile refs: AssumeRole signed with the unlocked SSO session's role credentials (the unlock record is
//     required, as for every grant). SourceIdentity = the human's SSO user name; tags TaskId and Purpose.
//   - web_identity refs (CI fleets, no human): AssumeRoleWithWebIdentity with the CI's OIDC token, straight
//     into the scope role when it is web_identity.role_arn, else into that role and on by AssumeRole.
// Robot path: takes a RobotContext and reaches no login code.
import { requireUnlocked, unlockCommand } from '../../core/access.js';
import { formatDuration } from '../../core/duration.js';
import { KeyrackError } from '../../core/errors.js';
import type { AwsProfileRef, AwsWebIdentityRef, KeyRef, ScopeRef } from '../../core/keyrack-file.js';
import { selectRefs } from '../../core/keyrack-find.js';
import type { Grant, RobotContext } from '../../core/plugin.js';
import { dropValidation, readValidation, writeValidation } from '../../store/state.js';
import { networkFromEnv } from '../clients.js';
import { readAwsConfig } from '../config-file.js';
import { resolveTargetOrRecorded } from '../credential-process.js';
import { proveRef, validationEntry } from '../prove.js';
import { tokenStoreFor } from '../token-store.js';
import {
  assumeRole, assumeRoleWithWebIdentity, checkAudience, jwtClaims, readWebIdentityToken, tokenSourceLabel,
  type AssumedSession, type ScopeCallContext, type StsCallTarget,
} from './assume.js';
import { chooseDuration, describeClamp, STS_MIN_DURATION_SECONDS } from './duration.js';
import { buildSessionPolicy, checkPackedSize, type SessionTag } from './policy.js';
import { roleSessionName, sessionNameFromArn, sourceIdentity, tagValue } from './session-name.js';

export { buildSessionPolicy, checkPackedSize, estimatePackedPercent, parseArn, resourceAllowed, MAX_POLICY_CHARS } from './policy.js';
export type { SessionPolicy, SessionPolicyDocument, SessionTag } from './policy.js';
export { roleSessionName, sourceIdentity, sanitiseSessionName, sessionNameFromArn, tagValue } from './session-name.js';
export { chooseDuration, describeClamp, ROLE_CHAINING_MAX_SECONDS, STS_MIN_DURATION_SECONDS, type DurationChoice } from './duration.js';
export { classifyScopeError, readWebIdentityToken } from './assume.js';

export interface ScopedGrantRequest {
  env?: string;
  key: string;
  /** The task id: becomes RoleSessionName (sanitised) and the TaskId session tag. */
  task: string;
  /** A purpose declared under the key's scope.purposes. */
  purpose: string;
  /** Resource ARNs (--resource); empty = the purpose's declared resources. */
  resources: string[];
  /** --duration in seconds; clamped, never refused for being out of range. */
  durationSeconds?: number;
  /** Build and return the plan without calling AWS. */
  dryRun?: boolean;
}

export interface ScopedGrantPlan {
  roleArn: string;
  roleSessionName: string;
  sourceIdentity?: string;
  durationSeconds: number;
  /** The requested --duration when it was clamped. */
  clampedFrom?: number;
  /** The session policy exactly as sent (compact JSON). */
  policy: string;
  tags: { Key: string; Value: string }[];
  env: string;
  key: string;
  purpose: string;
  actions: string[];
  resources: string[];
  /** The STS call that yields the scoped credentials. */
  call: 'AssumeRole' | 'AssumeRoleWithWebIdentity';
  /** What signs / precedes that call. */
  via: { kind: 'sso-profile'; profile: string } | { kind: 'web-identity'; roleArn: string; token: string; chained: boolean };
  /** One line on why the duration was clamped. */
  clamp?: string;
  /** keyrack's estimate of STS's PackedPolicySize, in %. */
  packedPolicyEstimatePercent: number;
  /** Anything a reader of the plan should know (sanitised names, omitted parameters, a locked key). */
  notes: string[];
}

const where = (ref: KeyRef) => `${ref.location.file}:${ref.location.line}:${ref.location.col}`;

function scopedRef(ctx: RobotContext, req: ScopedGrantRequest): { ref: KeyRef; scope: ScopeRef } {
  const [ref] = selectRefs(ctx.file, { ...(req.env !== undefined ? { env: req.env } : {}), key: req.key });
  if (!ref) throw new KeyrackError({ code: 'keyrack-file.unknown-key', reason: 'invalid-input', message: 'no such key', fix: 'check keyrack.yml' });
  if (!ref.scope) {
    throw new KeyrackError({
      code: 'scope.not-declared',
      reason: 'invalid-input',
      message: `${ref.env}/${ref.key} declares no scope, so it has no task-scoped grants`,
      fix: 'add scope: { role_arn, max_duration, purposes } under its aws: in keyrack.yml (see keyrack.yml.example)',
      location: where(ref),
    });
  }
  return { ref, scope: ref.scope };
}

/** Everything that can be decided without AWS; throws invalid-input for anything STS would refuse. */
function buildPlan(ref: KeyRef, scope: ScopeRef, req: ScopedGrantRequest): ScopedGrantPlan {
  const policy = buildSessionPolicy({ scope, purpose: req.purpose, resources: req.resources, location: where(ref) });
  const name = roleSessionName(req.task);
  const direct = ref.kind === 'web-identity' && scope.roleArn === ref.roleArn;
  const duration = chooseDuration(req.durationSeconds, scope.maxDurationSeconds, { chained: !direct });
  // AssumeRoleWithWebIdentity takes no tags (they come from the token's claims); AssumeRole does.
  const tags: SessionTag[] = direct ? [] : [{ Key: 'TaskId', Value: tagValue(req.task) }, { Key: 'Purpose', Value: req.purpose }];
  const packed = checkPackedSize(policy, tags);
  const notes: string[] = [];
  if (name.changed) {
    notes.push(`the task id is not a valid session name as is; RoleSessionName is ${name.value} (${name.truncated ? 'shortened, ' : ''}with a hash of the task id so it stays unique)`);
  }
  if (policy.defaultResources) notes.push(`no --resource given: the purpose's declared resources are used (${policy.resources.join(', ')})`);
  if (direct) notes.push('AssumeRoleWithWebIdentity takes no session tags or SourceIdentity from the caller; CloudTrail records the token subject and the RoleSessionName');
  else if (ref.kind === 'web-identity') notes.push('no SourceIdentity: a web identity session has no human behind it; CloudTrail records the token subject on the first hop');
  const clamp = describeClamp(duration);
  return {
    roleArn: scope.roleArn,
    roleSessionName: name.value,
    durationSeconds: duration.seconds,
    ...(duration.clampedFrom !== undefined ? { clampedFrom: duration.clampedFrom } : {}),
    policy: policy.json,
    tags,
    env: ref.env,
    key: ref.key,
    purpose: policy.purpose,
    actions: policy.actions,
    resources: policy.resources,
    call: direct ? 'AssumeRoleWithWebIdentity' : 'AssumeRole',
    via: ref.kind === 'profile' ? { kind: 'sso-profile', profile: ref.profile } : { kind: 'web-identity', roleArn: ref.roleArn, token: tokenSourceLabel(ref), chained: !direct },
    ...(clamp ? { clamp } : {}),
    packedPolicyEstimatePercent: packed,
    notes,
  };
}

function callContext(ref: KeyRef, plan: ScopedGrantPlan): ScopeCallContext {
  return {
    subject: `${ref.env}/${ref.key}`,
    purpose: `purpose ${plan.purpose}`,
    renewCallerFix: ref.kind === 'profile' ? `a human runs: ${unlockCommand(ref.env)}` : 'refresh the CI token (request a new OIDC token) and retry',
    location: where(ref),
  };
}

function toGrant(ref: KeyRef, s: AssumedSession): Grant {
  return {
    env: ref.env,
    key: ref.key,
    // A web identity grant has no profile behind it; the credentials are the grant.
    profile: ref.kind === 'profile' ? ref.profile : '',
    identity: s.identity,
    expiresAt: s.credentials.expiresAt,
    credentials: s.credentials,
    cached: false,
  };
}

function registerSecrets(ctx: RobotContext, s: AssumedSession): void {
  ctx.log.redactor.register(s.credentials.secretAccessKey);
  ctx.log.redactor.register(s.credentials.sessionToken);
}

async function profileGrant(ctx: RobotContext, ref: AwsProfileRef, plan: ScopedGrantPlan, dryRun: boolean): Promise<{ plan: ScopedGrantPlan; grant?: Grant }> {
  const { paths, clock } = ctx.runtime;
  if (dryRun) {
    try {
      await requireUnlocked(ctx, ref);
    } catch (e) {
      if (!(e instanceof KeyrackError && e.reason === 'locked')) throw e;
      plan.notes.push(`${ref.env}/${ref.key} is locked: a real grant is refused until a human runs: ${unlockCommand(ref.env)}`);
    }
    const hit = await readValidation(paths.state, ref.env, ref.key, ref.profile);
    const user = hit ? sessionNameFromArn(hit.identity.arn) : undefined;
    if (hit && user) {
      plan.sourceIdentity = sourceIdentity(user).value;
      plan.notes.push(`SourceIdentity is the SSO user of the last validation (${new Date(hit.validatedAt).toISOString()}); a real grant uses whoever is signed in then`);
    } else {
      plan.notes.push('SourceIdentity omitted: the SSO user is not known without checking the session (no validation cached on this machine); a real grant sets it to the SSO user name');
    }
    return { plan };
  }

  await requireUnlocked(ctx, ref);
  const cmd = unlockCommand(ref.env);
  const target = await resolveTargetOrRecorded(ctx, await readAwsConfig(paths.awsConfig, { home: paths.home }), ref);
  let v;
  try {
    v = await proveRef(ctx, ref, target, await tokenStoreFor(ctx.runtime, target.sso), cmd);
  } catch (e) {
    await dropValidation(paths.state, ref.env, ref.key, ref.profile).catch(() => undefined);
    throw e;
  }
  // The same proof `grant` records: the profile works now, as this identity.
  await writeValidation(paths.state, validationEntry(ref, target, v, clock.now()));
  const user = sessionNameFromArn(v.identity.arn);
  if (user) plan.sourceIdentity = sourceIdentity(user).value;
  else plan.notes.push('SourceIdentity omitted: the SSO session ARN carries no user name');

  const sts: StsCallTarget = { region: target.sso.region, endpoints: ctx.runtime.endpoints, net: networkFromEnv(ctx.runtime.env), ...(ctx.signal ? { signal: ctx.signal } : {}) };
  const s = await assumeRole(
    sts,
    v.credentials,
    {
      roleArn: plan.roleArn,
      roleSessionName: plan.roleSessionName,
      durationSeconds: plan.durationSeconds,
      policy: plan.policy,
      ...(plan.sourceIdentity !== undefined ? { sourceIdentity: plan.sourceIdentity } : {}),
      tags: plan.tags,
    },
    callContext(ref, plan),
  );
  registerSecrets(ctx, s);
  return { plan, grant: toGrant(ref, s) };
}

/** The region for STS when no profile says: the usual AWS variables, else us-east-1 (regional endpoint). */
function webIdentityRegion(ctx: RobotContext): string {
  return ctx.runtime.env.AWS_REGION || ctx.runtime.env.AWS_DEFAULT_REGION || 'us-east-1';
}

async function tokenPresenceNote(ctx: RobotContext, ref: AwsWebIdentityRef): Promise<string> {
  try {
    const token = await readWebIdentityToken(ctx, ref);
    const exp = jwtClaims(token)?.exp;
    const when = typeof exp === 'number' ? `, expires ${new Date(exp * 1000).toISOString()}` : '';
    return `web identity token found (${tokenSourceLabel(ref)}${when})`;
  } catch (e) {
    if (e instanceof KeyrackError) return `web identity token not usable: ${e.message}`;
    throw e;
  }
}

async function webIdentityGrant(ctx: RobotContext, ref: AwsWebIdentityRef, plan: ScopedGrantPlan, dryRun: boolean): Promise<{ plan: ScopedGrantPlan; grant?: Grant }> {
  if (dryRun) {
    plan.notes.push(await tokenPresenceNote(ctx, ref));
    return { plan };
  }
  const token = await readWebIdentityToken(ctx, ref);
  checkAudience(ref, token);
  const sts: StsCallTarget = { region: webIdentityRegion(ctx), endpoints: ctx.runtime.endpoints, net: networkFromEnv(ctx.runtime.env), ...(ctx.signal ? { signal: ctx.signal } : {}) };
  const c = callContext(ref, plan);
  let s: AssumedSession;
  if (plan.call === 'AssumeRoleWithWebIdentity') {
    s = await assumeRoleWithWebIdentity(sts, token, { roleArn: plan.roleArn, roleSessionName: plan.roleSessionName, durationSeconds: plan.durationSeconds, policy: plan.policy }, c);
  } else {
    // First hop: only long enough to make the second call; no policy, so it can still assume the scope role.
    const first = await assumeRoleWithWebIdentity(sts, token, { roleArn: ref.roleArn, roleSessionName: plan.roleSessionName, durationSeconds: STS_MIN_DURATION_SECONDS }, c);
    registerSecrets(ctx, first);
    s = await assumeRole(
      sts,
      first.credentials,
      { roleArn: plan.roleArn, roleSessionName: plan.roleSessionName, durationSeconds: plan.durationSeconds, policy: plan.policy, tags: plan.tags },
      c,
    );
  }
  registerSecrets(ctx, s);
  return { plan, grant: toGrant(ref, s) };
}

/**
 * A task-scoped grant. Local checks come first (purpose, resources, policy size, names, duration), so a robot's
 * mistake is `invalid-input` even while the key is locked. Profile refs then need the unlock record; web
 * identity refs need only their token. `dryRun` returns the plan and calls nothing in AWS.
 */
export async function scopedGrant(ctx: RobotContext, req: ScopedGrantRequest): Promise<{ plan: ScopedGrantPlan; grant?: Grant }> {
  const { ref, scope } = scopedRef(ctx, req);
  const plan = buildPlan(ref, scope, req);
  const dryRun = req.dryRun === true;
  return ref.kind === 'profile' ? profileGrant(ctx, ref, plan, dryRun) : webIdentityGrant(ctx, ref, plan, dryRun);
}

// ---- rendering -------------------------------------------------------------------------------------------------

function planJson(plan: ScopedGrantPlan): Record<string, unknown> {
  return {
    dryRun: true,
    env: plan.env,
    key: plan.key,
    purpose: plan.purpose,
    call: plan.call,
    via: plan.via,
    roleArn: plan.roleArn,
    roleSessionName: plan.roleSessionName,
    ...(plan.sourceIdentity !== undefined ? { sourceIdentity: plan.sourceIdentity } : {}),
    durationSeconds: plan.durationSeconds,
    ...(plan.clampedFrom !== undefined ? { clampedFrom: plan.clampedFrom } : {}),
    ...(plan.clamp !== undefined ? { clamp: plan.clamp } : {}),
    tags: plan.tags,
    actions: plan.actions,
    resources: plan.resources,
    policy: plan.policy,
    policyDocument: JSON.parse(plan.policy) as unknown,
    packedPolicyEstimatePercent: plan.packedPolicyEstimatePercent,
    notes: plan.notes,
  };
}

/** `--dry-run` output: every parameter that would be sent, and the exact policy. Holds no secret. */
export function renderPlan(plan: ScopedGrantPlan, format: 'text' | 'json' = 'text'): string {
  if (format === 'json') return `${JSON.stringify(planJson(plan))}\n`;
  const via =
    plan.via.kind === 'sso-profile'
      ? `signed with the SSO role credentials of profile ${plan.via.profile} (role chaining)`
      : plan.via.chained
        ? `after AssumeRoleWithWebIdentity into ${plan.via.roleArn} with the token from ${plan.via.token}`
        : `with the token from ${plan.via.token}`;
  const rows: [string, string][] = [
    ['key', `${plan.env}/${plan.key}`],
    ['purpose', plan.purpose],
    ['call', `sts:${plan.call}, ${via}`],
    ['RoleArn', plan.roleArn],
    ['RoleSessionName', plan.roleSessionName],
    ['SourceIdentity', plan.sourceIdentity ?? '(not sent)'],
    ['DurationSeconds', `${plan.durationSeconds} (${formatDuration(plan.durationSeconds)})${plan.clamp ? `, clamped: ${plan.clamp}` : ''}`],
    ['Tags', plan.tags.length ? plan.tags.map((t) => `${t.Key}=${t.Value}`).join(', ') : '(none)'],
    ['packed size', `about ${plan.packedPolicyEstimatePercent}% of STS's limit (keyrack's estimate)`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = [
    'keyrack: scoped grant plan (dry run: nothing was sent to AWS)',
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
    `  Policy (${plan.policy.length} characters, sent exactly as):`,
    `    ${plan.policy}`,
    '  which reads:',
    ...JSON.stringify(JSON.parse(plan.policy), null, 2).split('\n').map((l) => `    ${l}`),
  ];
  if (plan.notes.length) lines.push('  notes:', ...plan.notes.map((n) => `    - ${n}`));
  return `${lines.join('\n')}\n`;
}

/** For a CLI that wants the local checks alone (no unlock record, no AWS): the plan for a request. */
export function planScopedGrant(ctx: RobotContext, req: Omit<ScopedGrantRequest, 'dryRun'>): ScopedGrantPlan {
  const { ref, scope } = scopedRef(ctx, req);
  return buildPlan(ref, scope, req);
}

