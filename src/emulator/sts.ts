// STS over awsQuery: GetCallerIdentity and AssumeRole (SigV4-verified against the credentials the emulator
// issued) and AssumeRoleWithWebIdentity (unsigned; the JWT is the credential). XML in, XML out.
import { isoSeconds } from './clock.js';
import type { Emu } from './context.js';
import type { FixtureRole } from './fixture.js';
import { roleId } from './ids.js';
import { decodeJwt, verifyJwtSignature } from './jwt.js';
import { parseAmzDate, parseAuthorization, verifySignature } from './sigv4.js';
import type { SessionTag, StsSession } from './state.js';
import {
  SESSION_NAME_RE, Violations, checkLength, checkPattern, checkPolicyText, duplicateTagKeys, memberList,
  packedPolicyPercent, parseTags, policySyntaxError,
} from './sts-params.js';
import { STS_NS, stsError, xmlEscape, type EmuReply, type EmuRequest } from './wire.js';

export const STS_VERSION = '2011-06-15';
export const STS_ACTIONS = ['GetCallerIdentity', 'AssumeRole', 'AssumeRoleWithWebIdentity'] as const;
/** SigV4 allows this much difference between the request date and the server's (real) clock. */
const MAX_SKEW_MS = 15 * 60 * 1000;
const CHAINED_MAX_SECONDS = 3600;

const MSG = {
  missingAuth: 'Request is missing Authentication Token',
  invalidToken: 'The security token included in the request is invalid.',
  expiredToken: 'The security token included in the request is expired',
  badSignature:
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
};

/** Form body plus query string: the SDKs POST a form, presigned-style callers put it in the query. */
export function stsParams(req: EmuRequest): URLSearchParams {
  const params = new URLSearchParams(req.rawQuery);
  const ct = String(req.headers['content-type'] ?? '');
  if (req.method === 'POST' && (ct === '' || ct.startsWith('application/x-www-form-urlencoded'))) {
    for (const [k, v] of new URLSearchParams(req.body.toString('utf8'))) params.append(k, v);
  }
  return params;
}

function el(name: string, value: string | number | undefined, indent: string): string {
  return value === undefined ? '' : `${indent}<${name}>${xmlEscape(String(value))}</${name}>\n`;
}

function ok(action: string, result: string, requestId: string): EmuReply {
  const body =
    `<${action}Response xmlns="${STS_NS}">\n  <${action}Result>\n${result}  </${action}Result>\n` +
    `  <ResponseMetadata>\n    <RequestId>${requestId}</RequestId>\n  </ResponseMetadata>\n</${action}Response>\n`;
  return { status: 200, headers: { 'content-type': 'text/xml' }, body };
}

const header = (req: EmuRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** Who signed this request: the STS session whose secret produces the signature, or the AWS error. */
function authenticate(emu: Emu, req: EmuRequest): StsSession | EmuReply {
  const rid = req.requestId;
  const authz = header(req, 'authorization');
  if (!authz) return stsError('MissingAuthenticationToken', MSG.missingAuth, 403, rid);
  const auth = parseAuthorization(authz);
  if (typeof auth === 'string') return stsError('IncompleteSignature', auth, 400, rid);
  const amzDate = header(req, 'x-amz-date');
  const signedAt = amzDate === undefined ? undefined : parseAmzDate(amzDate);
  if (amzDate === undefined || signedAt === undefined) {
    return stsError('IncompleteSignature', `Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.`, 400, rid);
  }
  // Real time on purpose: the client signs with its own real clock, whatever the emulated clock says.
  if (Math.abs(signedAt - emu.clock.real()) > MAX_SKEW_MS) {
    return stsError('RequestExpired', `Request has expired. Timestamp date is ${amzDate}`, 400, rid);
  }
  if (auth.date !== amzDate.slice(0, 8)) {
    return stsError('SignatureDoesNotMatch', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.date}' != '${amzDate.slice(0, 8)}'`, 403, rid);
  }
  if (auth.service !== 'sts') return stsError('SignatureDoesNotMatch', `Credential should be scoped to correct service: 'sts'.`, 403, rid);
  const session = emu.store.stsSessions.get(auth.accessKeyId);
  if (!session || header(req, 'x-amz-security-token') !== session.sessionToken) return stsError('InvalidClientTokenId', MSG.invalidToken, 403, rid);
  if (emu.clock.now() >= session.expiresAt) return { ...stsError('ExpiredToken', MSG.expiredToken, 403, rid), ...userOf(session) };
  if (!verifySignature(req, auth, amzDate, session.secretAccessKey)) return { ...stsError('SignatureDoesNotMatch', MSG.badSignature, 403, rid), ...userOf(session) };
  return session;
}

const userOf = (s: StsSession) => (s.user === undefined ? {} : { user: s.user });

export function getCallerIdentity(emu: Emu, req: EmuRequest): EmuReply {
  const caller = authenticate(emu, req);
  if ('status' in caller) return caller;
  const result = el('Arn', caller.arn, '    ') + el('UserId', caller.assumedRoleId, '    ') + el('Account', caller.accountId, '    ');
  return { ...ok('GetCallerIdentity', result, req.requestId), ...userOf(caller) };
}

interface CommonParams {
  roleArn: string;
  sessionName: string;
  durationSeconds: number | undefined;
  policy: string | undefined;
  policyArns: string[];
}

/** The constraints AssumeRole and AssumeRoleWithWebIdentity share. */
function commonParams(params: URLSearchParams, v: Violations): CommonParams {
  const roleArn = params.get('RoleArn') ?? undefined;
  const sessionName = params.get('RoleSessionName') ?? undefined;
  const rawDuration = params.get('DurationSeconds') ?? undefined;
  const policy = params.get('Policy') ?? undefined;
  checkLength(v, roleArn, 'roleArn', 20, 2048, true);
  checkLength(v, sessionName, 'roleSessionName', 2, 64, true);
  checkPattern(v, sessionName, 'roleSessionName', SESSION_NAME_RE, '[\\w+=,.@-]*');
  let durationSeconds: number | undefined;
  if (rawDuration !== undefined) {
    if (!/^-?\d+$/.test(rawDuration)) v.add(rawDuration, 'durationSeconds', 'be an integer');
    else {
      durationSeconds = Number(rawDuration);
      if (durationSeconds < 900) v.add(rawDuration, 'durationSeconds', 'have value greater than or equal to 900');
      if (durationSeconds > 43200) v.add(rawDuration, 'durationSeconds', 'have value less than or equal to 43200');
    }
  }
  checkPolicyText(v, policy);
  const policyArns = memberList(params, 'PolicyArns', '.arn');
  policyArns.forEach((a, i) => checkLength(v, a, `policyArns.${i + 1}.member.arn`, 20, 2048, true));
  if (policyArns.length > 10) v.add(`[${policyArns.length} ARNs]`, 'policyArns', 'have length less than or equal to 10');
  return { roleArn: roleArn ?? '', sessionName: sessionName ?? '', durationSeconds, policy, policyArns };
}

/** Duration rules that need the role: its maximum, and the one-hour cap on role chaining. */
function durationError(role: FixtureRole, requested: number | undefined, chained: boolean): string | undefined {
  if (requested === undefined) return undefined;
  if (chained && requested > CHAINED_MAX_SECONDS) return 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.';
  if (requested > role.maxSessionDuration) return 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.';
  return undefined;
}

/** Policy syntax, then packed size. Returns the error reply or the packed percentage to report. */
function policyChecks(req: EmuRequest, policy: string | undefined, tags: SessionTag[]): EmuReply | number | undefined {
  if (policy !== undefined && policy.length <= 2048) {
    const bad = policySyntaxError(policy);
    if (bad) return stsError('MalformedPolicyDocument', bad, 400, req.requestId);
  }
  if (policy === undefined && tags.length === 0) return undefined;
  const percent = packedPolicyPercent(policy, tags);
  if (percent > 100) {
    return stsError('PackedPolicyTooLarge', `Packed policy consumes ${percent}% of allotted space, please use smaller policy.`, 400, req.requestId);
  }
  return percent;
}

function isTrusted(role: FixtureRole, caller: StsSession): boolean {
  return role.trust.principals.some(
    (p) =>
      (p === 'sso' && caller.kind === 'sso') ||
      (p === `sso:${caller.accountId}` && caller.kind === 'sso') ||
      p === caller.accountId ||
      p === caller.roleArn,
  );
}

const roleNameOf = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1);
const accountOf = (arn: string) => arn.split(':')[4] ?? '';

function credentialsXml(s: StsSession, packed: number | undefined): string {
  const i = '    ';
  return (
    el('SourceIdentity', s.sourceIdentity, i) +
    `${i}<AssumedRoleUser>\n${el('AssumedRoleId', s.assumedRoleId, `${i}  `)}${el('Arn', s.arn, `${i}  `)}${i}</AssumedRoleUser>\n` +
    `${i}<Credentials>\n${el('AccessKeyId', s.accessKeyId, `${i}  `)}${el('SecretAccessKey', s.secretAccessKey, `${i}  `)}` +
    `${el('SessionToken', s.sessionToken, `${i}  `)}${el('Expiration', isoSeconds(s.expiresAt), `${i}  `)}${i}</Credentials>\n` +
    el('PackedPolicySize', packed, i)
  );
}

function newRoleSession(emu: Emu, kind: StsSession['kind'], role: FixtureRole, p: CommonParams, extra: Pick<StsSession, 'user' | 'sourceIdentity' | 'tags' | 'transitiveTagKeys'>): StsSession {
  const now = emu.clock.now();
  const duration = p.durationSeconds ?? 3600;
  const roleName = roleNameOf(role.arn);
  const accountId = accountOf(role.arn);
  return emu.store.addStsSession({
    kind,
    accountId,
    roleArn: role.arn,
    roleName,
    sessionName: p.sessionName,
    arn: `arn:aws:sts::${accountId}:assumed-role/${roleName}/${p.sessionName}`,
    assumedRoleId: `${roleId(role.arn)}:${p.sessionName}`,
    issuedAt: now,
    expiresAt: now + duration * 1000,
    durationSeconds: duration,
    policy: p.policy,
    policyArns: p.policyArns,
    ...extra,
  });
}

export function assumeRole(emu: Emu, req: EmuRequest, params: URLSearchParams): EmuReply {
  const rid = req.requestId;
  const caller = authenticate(emu, req);
  if ('status' in caller) return caller;
  const withUser = (r: EmuReply): EmuReply => ({ ...r, ...userOf(caller) });

  const v = new Violations();
  const p = commonParams(params, v);
  const sourceIdentity = params.get('SourceIdentity') ?? undefined;
  checkLength(v, sourceIdentity, 'sourceIdentity', 2, 64, false);
  // The pattern has no ':', which is also what keeps the reserved `aws:` prefix out.
  checkPattern(v, sourceIdentity, 'sourceIdentity', SESSION_NAME_RE, '[\\w+=,.@-]*');
  const externalId = params.get('ExternalId') ?? undefined;
  checkLength(v, externalId, 'externalId', 2, 1224, false);
  checkPattern(v, externalId, 'externalId', /^[\w+=,.@:/-]*$/, '[\\w+=,.@:\\/-]*');
  const tags = parseTags(params, v);
  const transitive = memberList(params, 'TransitiveTagKeys');
  if (v.message) return withUser(stsError('ValidationError', v.message, 400, rid));
  if (duplicateTagKeys(tags)) return withUser(stsError('ValidationError', 'Duplicate tag keys found. Please note that Tag keys are case insensitive.', 400, rid));
  if (caller.sourceIdentity !== undefined && sourceIdentity !== undefined && sourceIdentity !== caller.sourceIdentity) {
    return withUser(stsError('ValidationError', 'The source identity of a role session cannot be changed once set.', 400, rid));
  }

  const role = emu.fixture.roles.find((r) => r.arn === p.roleArn);
  if (!role || !isTrusted(role, caller)) {
    return withUser(stsError('AccessDenied', `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${p.roleArn}`, 403, rid));
  }
  // Every caller the emulator knows is itself an assumed role (permission sets are IAM roles), so this is chaining.
  const tooLong = durationError(role, p.durationSeconds, true);
  if (tooLong) return withUser(stsError('ValidationError', tooLong, 400, rid));

  // Transitive tags from the caller's session carry over unless this request sets the same key.
  const inherited = caller.tags.filter((t) => caller.transitiveTagKeys.includes(t.key) && !tags.some((n) => n.key.toLowerCase() === t.key.toLowerCase()));
  const packed = policyChecks(req, p.policy, tags);
  if (typeof packed === 'object') return withUser(packed);

  const session = newRoleSession(emu, 'assume-role', role, p, {
    user: caller.user,
    sourceIdentity: sourceIdentity ?? caller.sourceIdentity,
    tags: [...inherited, ...tags],
    transitiveTagKeys: [...new Set([...caller.transitiveTagKeys, ...transitive])],
  });
  return withUser(ok('AssumeRole', credentialsXml(session, packed), rid));
}

const stripScheme = (iss: string) => iss.replace(/^https:\/\//, '');
const sameIssuer = (a: string, b: string) => stripScheme(a).replace(/\/+$/, '') === stripScheme(b).replace(/\/+$/, '');

export function assumeRoleWithWebIdentity(emu: Emu, req: EmuRequest, params: URLSearchParams): EmuReply {
  const rid = req.requestId;
  const v = new Violations();
  const p = commonParams(params, v);
  const token = params.get('WebIdentityToken') ?? undefined;
  checkLength(v, token, 'webIdentityToken', 4, 20000, true);
  if (v.message) return stsError('ValidationError', v.message, 400, rid);

  const denied = () => stsError('AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity', 403, rid);
  const jwt = decodeJwt(token ?? '');
  if (!jwt) return stsError('InvalidIdentityToken', "Couldn't parse the web identity token", 400, rid);
  const iss = typeof jwt.payload.iss === 'string' ? jwt.payload.iss : undefined;
  const provider = iss === undefined ? undefined : emu.fixture.webIdentityProviders.find((w) => sameIssuer(w.issuer, iss));
  if (!provider || iss === undefined) return stsError('InvalidIdentityToken', `No OpenIDConnect provider found in your account for ${iss ?? '(no issuer)'}`, 400, rid);
  if (!verifyJwtSignature(jwt, provider.jwks.keys)) return stsError('InvalidIdentityToken', 'Token signature could not be verified', 400, rid);

  const nowSec = emu.clock.now() / 1000;
  const exp = jwt.payload.exp;
  const nbf = jwt.payload.nbf;
  if (typeof exp !== 'number') return stsError('InvalidIdentityToken', 'Token is missing the exp claim', 400, rid);
  if (nowSec >= exp) {
    return stsError('ExpiredTokenException', `Token expired: current date/time ${isoSeconds(nowSec * 1000)} must be before the expiration date/time ${isoSeconds(exp * 1000)}`, 400, rid);
  }
  if (typeof nbf === 'number' && nowSec < nbf) return stsError('InvalidIdentityToken', 'Token is not yet valid (nbf is in the future)', 400, rid);
  const auds = Array.isArray(jwt.payload.aud) ? jwt.payload.aud.filter((a): a is string => typeof a === 'string') : typeof jwt.payload.aud === 'string' ? [jwt.payload.aud] : [];
  const audience = auds.find((a) => provider.audiences.includes(a));
  if (audience === undefined) return stsError('InvalidIdentityToken', 'Incorrect token audience', 400, rid);

  const role = emu.fixture.roles.find((r) => r.arn === p.roleArn);
  const trusted = role?.trust.webIdentity.some((w) => sameIssuer(w.issuer, iss) && (w.audiences === undefined || w.audiences.includes(audience)));
  if (!role || !trusted) return denied();
  const tooLong = durationError(role, p.durationSeconds, false);
  if (tooLong) return stsError('ValidationError', tooLong, 400, rid);
  const packed = policyChecks(req, p.policy, []);
  if (typeof packed === 'object') return packed;

  const sub = typeof jwt.payload.sub === 'string' ? jwt.payload.sub : '';
  const session = newRoleSession(emu, 'web-identity', role, p, { user: undefined, sourceIdentity: undefined, tags: [], transitiveTagKeys: [] });
  const i = '    ';
  const result =
    credentialsXml(session, packed) + el('SubjectFromWebIdentityToken', sub, i) + el('Audience', audience, i) + el('Provider', stripScheme(provider.issuer), i);
  return ok('AssumeRoleWithWebIdentity', result, rid);
}
