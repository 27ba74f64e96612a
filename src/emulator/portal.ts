// The SSO portal: ListAccounts, ListAccountRoles, GetRoleCredentials and Logout, authorised by the OIDC access
// token in `x-amz-sso_bearer_token`. Role credentials become STS sessions that sts.ts later verifies.
import type { Emu } from './context.js';
import { reservedRoleSuffix, roleId } from './ids.js';
import type { SsoSession } from './state.js';
import { json, portalError, type EmuReply, type EmuRequest } from './wire.js';

const DEFAULT_PAGE_SIZE = 10;
const UNAUTHORIZED = 'Session token not found or invalid';

function bearer(emu: Emu, req: EmuRequest): SsoSession | EmuReply {
  const raw = req.headers['x-amz-sso_bearer_token'];
  const token = Array.isArray(raw) ? raw[0] : raw;
  return emu.store.sessionForAccessToken(token, emu.clock.now()) ?? portalError('UnauthorizedException', UNAUTHORIZED);
}

/** Opaque page tokens: the offset plus which listing they belong to, so a token cannot be replayed elsewhere. */
function paginate<T>(req: EmuRequest, scope: string, items: T[]): { page: T[]; nextToken?: string } | EmuReply {
  const rawMax = req.query.get('max_result');
  let size = DEFAULT_PAGE_SIZE;
  if (rawMax !== null) {
    if (!/^\d+$/.test(rawMax) || Number(rawMax) < 1 || Number(rawMax) > 100) {
      return portalError('InvalidRequestException', 'maxResults must be between 1 and 100');
    }
    size = Number(rawMax);
  }
  let offset = 0;
  const rawNext = req.query.get('next_token');
  if (rawNext !== null && rawNext !== '') {
    const m = /^(\d+)\/(.+)$/.exec(Buffer.from(rawNext, 'base64url').toString('utf8'));
    if (!m || m[2] !== scope || Number(m[1]) > items.length) return portalError('InvalidRequestException', 'Invalid nextToken');
    offset = Number(m[1]);
  }
  const page = items.slice(offset, offset + size);
  const end = offset + page.length;
  return end < items.length ? { page, nextToken: Buffer.from(`${end}/${scope}`).toString('base64url') } : { page };
}

function assignmentsOf(emu: Emu, user: string) {
  return emu.fixture.users.find((u) => u.name === user)?.assignments ?? [];
}

export function listAccounts(emu: Emu, req: EmuRequest): EmuReply {
  const s = bearer(emu, req);
  if ('status' in s) return s;
  const ids = new Set(assignmentsOf(emu, s.user).map((a) => a.accountId));
  const accounts = emu.fixture.accounts.filter((a) => ids.has(a.id));
  const p = paginate(req, `accounts:${s.user}`, accounts);
  if ('status' in p) return { ...p, user: s.user };
  const accountList = p.page.map((a) => ({ accountId: a.id, accountName: a.name, emailAddress: a.email }));
  return { ...json(200, { ...(p.nextToken ? { nextToken: p.nextToken } : {}), accountList }), user: s.user };
}

export function listAccountRoles(emu: Emu, req: EmuRequest): EmuReply {
  const s = bearer(emu, req);
  if ('status' in s) return s;
  const accountId = req.query.get('account_id');
  if (!accountId) return { ...portalError('InvalidRequestException', 'accountId is required'), user: s.user };
  const roles = assignmentsOf(emu, s.user).filter((a) => a.accountId === accountId);
  if (roles.length === 0) return { ...portalError('ResourceNotFoundException', 'No access'), user: s.user };
  const p = paginate(req, `roles:${s.user}:${accountId}`, roles);
  if ('status' in p) return { ...p, user: s.user };
  const roleList = p.page.map((a) => ({ roleName: a.roleName, accountId: a.accountId }));
  return { ...json(200, { ...(p.nextToken ? { nextToken: p.nextToken } : {}), roleList }), user: s.user };
}

export function getRoleCredentials(emu: Emu, req: EmuRequest): EmuReply {
  const s = bearer(emu, req);
  if ('status' in s) return s;
  const roleName = req.query.get('role_name');
  const accountId = req.query.get('account_id');
  if (!roleName || !accountId) return { ...portalError('InvalidRequestException', 'roleName and accountId are required'), user: s.user };
  if (!assignmentsOf(emu, s.user).some((a) => a.accountId === accountId && a.roleName === roleName)) {
    return { ...portalError('ResourceNotFoundException', 'No access'), user: s.user };
  }
  const now = emu.clock.now();
  const lifetime = emu.fixture.lifetimes.roleCredentials;
  // Identity Center backs each permission set with an IAM role named AWSReservedSSO_<set>_<hash>.
  const reserved = `AWSReservedSSO_${roleName}_${reservedRoleSuffix(accountId, roleName)}`;
  const roleArn = `arn:aws:iam::${accountId}:role/aws-reserved/sso.amazonaws.com/${reserved}`;
  const creds = emu.store.addStsSession({
    kind: 'sso',
    accountId,
    roleArn,
    roleName: reserved,
    sessionName: s.user,
    arn: `arn:aws:sts::${accountId}:assumed-role/${reserved}/${s.user}`,
    assumedRoleId: `${roleId(roleArn)}:${s.user}`,
    issuedAt: now,
    expiresAt: now + lifetime * 1000,
    durationSeconds: lifetime,
    user: s.user,
    sourceIdentity: undefined,
    tags: [],
    transitiveTagKeys: [],
    policy: undefined,
    policyArns: [],
  });
  return {
    ...json(200, {
      roleCredentials: {
        accessKeyId: creds.accessKeyId,
        secretAccessKey: creds.secretAccessKey,
        sessionToken: creds.sessionToken,
        expiration: creds.expiresAt, // epoch milliseconds, unlike every other timestamp in these APIs
      },
    }),
    user: s.user,
  };
}

export function logout(emu: Emu, req: EmuRequest): EmuReply {
  const s = bearer(emu, req);
  if ('status' in s) return s;
  emu.store.endSession(s); // ends its access tokens and its refresh token together
  return { status: 200, headers: {}, body: '', user: s.user };
}
