// The STS calls behind a scoped grant: AssumeRole signed with the unlocked SSO session's role credentials, and
// AssumeRoleWithWebIdentity with a CI / workload OIDC token. Errors become the robot contract's reasons: a
// policy or parameter STS refuses is `invalid-input`, a trust policy that says no is `denied`, an expired CI
// token is `expired`, anything AWS did not answer definitely is `unavailable`.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, STSClient, type Credentials } from '@aws-sdk/client-sts';
import { KeyrackError } from '../../core/errors.js';
import type { AwsWebIdentityRef } from '../../core/keyrack-file.js';
import type { Identity, RobotContext, RoleCredentials } from '../../core/plugin.js';
import type { Endpoints } from '../../core/runtime.js';
import { errorName, isTransient } from '../classify.js';
import { deadline, stsClient, type NetworkPolicy } from '../clients.js';
import { unusableAnswer } from '../network.js';
import { identityFromArn } from '../sts.js';
import type { SessionTag } from './policy.js';

export interface StsCallTarget {
  region: string;
  endpoints: Endpoints;
  net: NetworkPolicy;
  signal?: AbortSignal;
}

export interface AssumeInput {
  roleArn: string;
  roleSessionName: string;
  durationSeconds: number;
  /** Inline session policy (compact JSON); omitted on a hop that only leads to the scoped role. */
  policy?: string;
  /** AssumeRole only: AssumeRoleWithWebIdentity takes neither (they come from the token's claims). */
  sourceIdentity?: string;
  tags?: SessionTag[];
}

export interface AssumedSession {
  credentials: RoleCredentials;
  identity: Identity;
  /** STS's PackedPolicySize: % of the packed budget used. */
  packedPolicySize?: number;
  sourceIdentity?: string;
}

/** For messages and fixes: what is being assumed for whom, and how the caller's credentials are renewed. */
export interface ScopeCallContext {
  /** e.g. `prep/AWS_TASK` */
  subject: string;
  /** e.g. `purpose log-analysis` */
  purpose: string;
  /** What renews the credentials that sign AssumeRole: `a human runs: keyrack unlock …`, or a CI token refresh. */
  renewCallerFix: string;
  /** The keyrack.yml location of the key, for configuration errors. */
  location?: string;
}

type Operation = 'AssumeRole' | 'AssumeRoleWithWebIdentity';

/**
 * Maps an AssumeRole / AssumeRoleWithWebIdentity failure. The AWS message is never copied (it echoes
 * parameters); it is only inspected to pick one of our own sentences.
 */
export function classifyScopeError(e: unknown, op: Operation, input: Pick<AssumeInput, 'roleArn' | 'durationSeconds'>, c: ScopeCallContext): KeyrackError {
  if (e instanceof KeyrackError) return e;
  const unavailable = () =>
    new KeyrackError({
      code: `aws.unavailable.${op}`,
      reason: 'unavailable',
      message: `AWS did not answer ${op} for ${c.subject} (${errorName(e)}); nothing was granted`,
      fix: 'retry later',
      cause: e,
    });
  if (isTransient(e)) return unavailable();
  // The SDK names modelled errors `<Code>Exception` and unmodelled ones by their wire code. `ExpiredToken`
  // (the signing credentials) and `ExpiredTokenException` (the web identity token) are different errors.
  const name = errorName(e);
  const awsMessage = e instanceof Error ? e.message : '';
  const role = input.roleArn;
  const at = c.location ? { location: c.location } : {};
  const callerExpired = () =>
    new KeyrackError({ code: 'scope.caller-expired', reason: 'expired', message: `AWS refused the credentials behind ${c.subject}`, fix: c.renewCallerFix, cause: e });
  switch (name) {
    case 'MalformedPolicyDocumentException':
    case 'MalformedPolicyDocument':
      return new KeyrackError({
        code: 'scope.policy-rejected',
        reason: 'invalid-input',
        message: `STS rejected the session policy for ${c.purpose} of ${c.subject} as malformed`,
        fix: "check the purpose's actions and resources in keyrack.yml (service:Action names, resource ARNs); --dry-run shows the policy",
        cause: e,
        ...at,
      });
    case 'PackedPolicyTooLargeException':
    case 'PackedPolicyTooLarge':
      return new KeyrackError({
        code: 'scope.policy-too-large',
        reason: 'invalid-input',
        message: `STS found the session policy and tags for ${c.purpose} of ${c.subject} too large once packed`,
        fix: 'pass fewer --resource values (or one pattern the purpose allows), or split the purpose into smaller ones in keyrack.yml',
        cause: e,
      });
    case 'ValidationError':
      if (/role chaining/i.test(awsMessage)) {
        return new KeyrackError({
          code: 'scope.duration-chaining',
          reason: 'invalid-input',
          message: `STS refused DurationSeconds ${input.durationSeconds} for ${role}: role chaining caps sessions at 1 hour`,
          fix: 'ask for --duration 1h or less',
          cause: e,
        });
      }
      if (/MaxSessionDuration/i.test(awsMessage)) {
        return new KeyrackError({
          code: 'scope.duration-role-max',
          reason: 'invalid-input',
          message: `STS refused DurationSeconds ${input.durationSeconds}: it exceeds the maximum session duration of ${role}`,
          fix: "ask for a shorter --duration, lower max_duration in keyrack.yml, or raise the role's maximum session duration in IAM",
          cause: e,
          ...at,
        });
      }
      return new KeyrackError({
        code: 'scope.parameters-rejected',
        reason: 'invalid-input',
        message: `STS refused the ${op} parameters for ${c.subject} (ValidationError)`,
        fix: 'run with --dry-run to see them; check the task id, the role ARN and the duration',
        cause: e,
      });
    case 'AccessDenied':
    case 'AccessDeniedException':
      return new KeyrackError({
        code: `scope.denied.${op}`,
        reason: 'denied',
        message: `AWS denied ${op} into ${role} for ${c.subject}`,
        fix:
          op === 'AssumeRole'
            ? `let the caller's role assume ${role}: its trust policy must allow sts:AssumeRole, sts:TagSession and sts:SetSourceIdentity`
            : `let the token's issuer and audience assume ${role}: its trust policy must allow sts:AssumeRoleWithWebIdentity for them`,
        cause: e,
        ...at,
      });
    case 'InvalidIdentityTokenException':
    case 'InvalidIdentityToken':
    case 'IDPRejectedClaimException':
    case 'IDPRejectedClaim':
      return new KeyrackError({
        code: 'web-identity.token-rejected',
        reason: 'denied',
        message: `STS rejected the web identity token for ${c.subject} (wrong issuer, audience, signature or claims)`,
        fix: `check that IAM has an OIDC provider for the token's issuer and audience, and that ${role} trusts it`,
        cause: e,
        ...at,
      });
    case 'IDPCommunicationErrorException':
    case 'IDPCommunicationError':
      return new KeyrackError({
        code: 'web-identity.idp-unreachable',
        reason: 'unavailable',
        message: `STS could not reach the identity provider to check the token for ${c.subject}`,
        fix: 'retry later',
        cause: e,
      });
    case 'ExpiredTokenException':
      if (op === 'AssumeRoleWithWebIdentity') {
        return new KeyrackError({
          code: 'web-identity.token-expired',
          reason: 'expired',
          message: `the web identity token for ${c.subject} has expired`,
          fix: 'refresh the CI token: request a new OIDC token from the CI provider (or rerun the job), then retry',
          cause: e,
        });
      }
      return callerExpired();
    case 'ExpiredToken':
    case 'InvalidClientTokenId':
      if (op === 'AssumeRole') return callerExpired();
      break;
    case 'RegionDisabledException':
    case 'RegionDisabled':
      return new KeyrackError({
        code: 'scope.region-disabled',
        reason: 'misconfigured',
        message: `STS is not activated in the region used for ${c.subject}`,
        fix: 'activate STS for that region in the IAM account settings, or use another region (AWS_REGION)',
        cause: e,
      });
    default:
      break;
  }
  return unavailable();
}

function toRoleCredentials(c: Credentials | undefined): RoleCredentials {
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
    // Treated like a garbage body: AWS did not answer usably (isTransient maps SyntaxError to unavailable).
    throw unusableAnswer('incomplete credentials');
  }
  return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiresAt: c.Expiration.getTime() };
}

/**
 * An STS client that can only make unsigned calls (AssumeRoleWithWebIdentity is `noAuth`): its credential
 * provider refuses, so the SDK never looks for credentials in the environment or ~/.aws on its own.
 */
function unsignedStsClient(t: StsCallTarget): STSClient {
  return new STSClient({
    region: t.region,
    maxAttempts: t.net.maxAttempts,
    requestHandler: { connectionTimeout: t.net.connectTimeoutMs, requestTimeout: t.net.requestTimeoutMs },
    ...(t.endpoints.sts ? { endpoint: t.endpoints.sts } : {}),
    credentials: () => Promise.reject(Object.assign(new Error('unsigned client'), { name: 'CredentialsProviderError' })),
  });
}

/** The part of an AssumeRole / AssumeRoleWithWebIdentity answer both calls share. */
function assumedSession(out: { Credentials?: Parameters<typeof toRoleCredentials>[0]; AssumedRoleUser?: { Arn?: string; AssumedRoleId?: string }; PackedPolicySize?: number; SourceIdentity?: string }): AssumedSession {
  const arn = out.AssumedRoleUser?.Arn;
  if (!arn) throw unusableAnswer('no AssumedRoleUser');
  return {
    credentials: toRoleCredentials(out.Credentials),
    identity: identityFromArn(arn, out.AssumedRoleUser?.AssumedRoleId),
    ...(out.PackedPolicySize !== undefined ? { packedPolicySize: out.PackedPolicySize } : {}),
    ...(out.SourceIdentity ? { sourceIdentity: out.SourceIdentity } : {}),
  };
}

/** AssumeRole signed with `caller` (the SSO role credentials, or a web-identity session's). */
export async function assumeRole(t: StsCallTarget, caller: RoleCredentials, input: AssumeInput, c: ScopeCallContext): Promise<AssumedSession> {
  const client = stsClient(t.region, t.endpoints, t.net, caller);
  try {
    const out = await client.send(
      new AssumeRoleCommand({
        RoleArn: input.roleArn,
        RoleSessionName: input.roleSessionName,
        DurationSeconds: input.durationSeconds,
        ...(input.policy !== undefined ? { Policy: input.policy } : {}),
        ...(input.sourceIdentity !== undefined ? { SourceIdentity: input.sourceIdentity } : {}),
        ...(input.tags && input.tags.length > 0 ? { Tags: input.tags } : {}),
      }),
      { abortSignal: deadline(t.net, t.signal) },
    );
    return assumedSession(out);
  } catch (e) {
    throw classifyScopeError(e, 'AssumeRole', input, c);
  } finally {
    client.destroy();
  }
}

/** AssumeRoleWithWebIdentity: unsigned, the token is the credential. */
export async function assumeRoleWithWebIdentity(
  t: StsCallTarget,
  token: string,
  input: Omit<AssumeInput, 'sourceIdentity' | 'tags'>,
  c: ScopeCallContext,
): Promise<AssumedSession & { subjectFromToken?: string; audience?: string; provider?: string }> {
  const client = unsignedStsClient(t);
  try {
    const out = await client.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: input.roleArn,
        RoleSessionName: input.roleSessionName,
        WebIdentityToken: token,
        DurationSeconds: input.durationSeconds,
        ...(input.policy !== undefined ? { Policy: input.policy } : {}),
      }),
      { abortSignal: deadline(t.net, t.signal) },
    );
    return {
      ...assumedSession(out),
      ...(out.SubjectFromWebIdentityToken ? { subjectFromToken: out.SubjectFromWebIdentityToken } : {}),
      ...(out.Audience ? { audience: out.Audience } : {}),
      ...(out.Provider ? { provider: out.Provider } : {}),
    };
  } catch (e) {
    throw classifyScopeError(e, 'AssumeRoleWithWebIdentity', input, c);
  } finally {
    client.destroy();
  }
}

// ---- web identity tokens ---------------------------------------------------------------------------------------

/** STS: WebIdentityToken is 4–20000 characters. */
const TOKEN_MIN = 4;
const TOKEN_MAX = 20_000;

/** Where the token is read from, for messages (never the token). */
export function tokenSourceLabel(ref: AwsWebIdentityRef): string {
  return ref.tokenEnv !== undefined ? `$${ref.tokenEnv}` : `token_file ${ref.tokenFile ?? ''}`;
}

/** token_file as a path: `~/` is the home directory, a relative path is relative to keyrack.yml's directory. */
export function webIdentityTokenPath(ctx: RobotContext, ref: AwsWebIdentityRef): string | undefined {
  const f = ref.tokenFile;
  if (f === undefined) return undefined;
  if (f === '~' || f.startsWith('~/')) return join(ctx.runtime.paths.home, f.slice(1));
  return isAbsolute(f) ? f : resolve(dirname(ref.location.file), f);
}

function tokenProblem(ref: AwsWebIdentityRef, code: string, what: string, fix: string, cause?: unknown): KeyrackError {
  return new KeyrackError({
    code: `web-identity.${code}`,
    reason: 'misconfigured',
    message: `${ref.env}/${ref.key}: the web identity token (${tokenSourceLabel(ref)}) ${what}`,
    fix,
    location: `${ref.location.file}:${ref.location.line}:${ref.location.col}`,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Reads the OIDC token named by the reference, registering it with the log redactor. Never echoes it. */
export async function readWebIdentityToken(ctx: RobotContext, ref: AwsWebIdentityRef): Promise<string> {
  let raw: string | undefined;
  const ciHint = 'make the CI job provide an OIDC token (e.g. GitHub Actions: permissions: id-token: write)';
  if (ref.tokenEnv !== undefined) {
    raw = ctx.runtime.env[ref.tokenEnv];
    if (raw === undefined || raw.trim() === '') throw tokenProblem(ref, 'token-missing', 'is not set', `set ${ref.tokenEnv}; ${ciHint}`);
  } else {
    const path = webIdentityTokenPath(ctx, ref) ?? '';
    try {
      raw = await readFile(path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      if (code === 'ENOENT') throw tokenProblem(ref, 'token-missing', `does not exist (${path})`, `write the token there; ${ciHint}`, e);
      throw tokenProblem(ref, 'token-unreadable', `cannot be read (${code})`, `make ${path} a file readable by this user`, e);
    }
  }
  const token = raw.trim();
  ctx.log.redactor.register(token);
  if (token.length < TOKEN_MIN || token.length > TOKEN_MAX || /\s/.test(token)) {
    throw tokenProblem(ref, 'token-invalid', `is not a token (${token.length} characters${/\s/.test(token) ? ', with whitespace' : ''})`, `${ciHint}; it must be one OIDC ID token (a JWT)`);
  }
  return token;
}

/** The claims of a JWT, without verifying it (STS does that): only to check `aud` early. */
export function jwtClaims(token: string): Record<string, unknown> | undefined {
  const part = token.split('.')[1];
  if (token.split('.').length !== 3 || !part || !/^[A-Za-z0-9_-]+$/.test(part)) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** When keyrack.yml declares `audience`, a token minted for another audience is refused before STS sees it. */
export function checkAudience(ref: AwsWebIdentityRef, token: string): void {
  if (ref.audience === undefined) return;
  const claims = jwtClaims(token);
  if (!claims) return; // not a JWT we can read: STS decides
  const aud = claims.aud;
  const auds = Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : typeof aud === 'string' ? [aud] : [];
  if (!auds.includes(ref.audience)) {
    throw new KeyrackError({
      code: 'web-identity.audience-mismatch',
      reason: 'denied',
      message: `${ref.env}/${ref.key}: the web identity token was minted for another audience than keyrack.yml's ${ref.audience}`,
      fix: `request the CI token with audience ${ref.audience}`,
      location: `${ref.location.file}:${ref.location.line}:${ref.location.col}`,
    });
  }
}
