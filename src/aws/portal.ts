// SSO portal calls (bearer-token, unsigned): role credentials and the account/role listing.
//
// The two calls on a robot's path (GetRoleCredentials, and ListAccounts as the session probe) are hand-built
// REST-JSON requests (network.ts): a grant then never loads the AWS SDK. The listing and Logout, and any call made
// with FIPS or dual-stack endpoints switched on, still go through the SDK's SSO client, loaded only then.
import type { RoleCredentials } from '../core/plugin.js';
import { classifyAwsError, type ClassifyContext } from './classify.js';
import { awsEndpoint, awsUrl, deadline, observed, parseJsonObject, sendAwsRequest, unusableAnswer, USER_AGENT, type AwsAnswer, type AwsCallTarget } from './network.js';
import { KeyrackError } from '../core/errors.js';

export interface PortalTarget extends AwsCallTarget {
  accessToken: string;
}

type Ctx = Omit<ClassifyContext, 'operation'>;

/** The SDK path (KEYRACK_AWS_SDK, FIPS, dual-stack, human commands): loaded only when taken. */
const loadSdk = () => import('./clients.js');

/** REST-JSON errors: `x-amzn-ErrorType` (`Name:namespace`), else the body's `__type` / `code`, as the SDK reads them. */
export function restJsonErrorName(status: number, headers: AwsAnswer['headers'], body: string): string {
  const sanitize = (raw: string) => {
    let c = raw.split(',')[0] ?? raw;
    if (c.includes(':')) c = c.split(':')[0] ?? c;
    if (c.includes('#')) c = c.split('#')[1] ?? c;
    return c.trim();
  };
  const h = headers['x-amzn-errortype'];
  const header = Array.isArray(h) ? h[0] : h;
  if (header) return sanitize(header);
  try {
    const j = JSON.parse(body) as { __type?: unknown; code?: unknown };
    const v = typeof j.code === 'string' ? j.code : typeof j.__type === 'string' ? j.__type : undefined;
    if (v) return sanitize(v);
  } catch {
    // no JSON body: named after the status below
  }
  return status >= 500 ? 'InternalServerError' : 'UnknownError';
}

/** The portal request for `path`, or undefined when the call must go through the SDK. */
function portalRequest(t: PortalTarget, path: string, query: Record<string, string>) {
  if (!t.env) return undefined;
  const endpoint = awsEndpoint('portal.sso', t.region, t.endpoints.sso, t.env);
  if (!endpoint) return undefined;
  return {
    method: 'GET' as const,
    url: awsUrl(endpoint, path, query),
    headers: { 'x-amz-sso_bearer_token': t.accessToken, accept: 'application/json', 'user-agent': USER_AGENT },
    errorName: restJsonErrorName,
  };
}

interface RoleCredentialsShape {
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  sessionToken?: string | undefined;
  expiration?: number | undefined;
}

export async function getRoleCredentials(t: PortalTarget, accountId: string, roleName: string, c: Ctx): Promise<RoleCredentials> {
  try {
    let rc: RoleCredentialsShape | undefined;
    const req = portalRequest(t, '/federation/credentials', { account_id: accountId, role_name: roleName });
    if (req) {
      const out = await observed(t.log, 'GetRoleCredentials', () => sendAwsRequest(req, t.net, deadline(t.net, t.signal)));
      const body = parseJsonObject(out.body).roleCredentials;
      if (body !== undefined && (typeof body !== 'object' || body === null)) throw unusableAnswer('unreadable answer');
      const r = (body ?? {}) as Record<string, unknown>;
      const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
      rc = { accessKeyId: str(r.accessKeyId), secretAccessKey: str(r.secretAccessKey), sessionToken: str(r.sessionToken), expiration: typeof r.expiration === 'number' ? r.expiration : undefined };
    } else {
      const sdk = await loadSdk();
      const client = sdk.ssoClient(t.region, t.endpoints, t.net);
      try {
        const out = await observed(t.log, 'GetRoleCredentials', () =>
          client.send(new sdk.GetRoleCredentialsCommand({ accessToken: t.accessToken, accountId, roleName }), { abortSignal: deadline(t.net, t.signal) }),
        );
        rc = out.roleCredentials;
      } finally {
        client.destroy();
      }
    }
    if (!rc?.accessKeyId || !rc.secretAccessKey || !rc.sessionToken || !rc.expiration) {
      throw new KeyrackError({ code: 'sso.bad-credentials', reason: 'unavailable', message: `AWS returned incomplete role credentials for ${c.subject}`, fix: 'retry later' });
    }
    return { accessKeyId: rc.accessKeyId, secretAccessKey: rc.secretAccessKey, sessionToken: rc.sessionToken, expiresAt: rc.expiration, accountId };
  } catch (e) {
    if (e instanceof KeyrackError) throw e;
    throw classifyAwsError(e, { ...c, operation: 'GetRoleCredentials' });
  }
}

/**
 * Proves the SSO session behind the access token is alive right now, with the cheapest portal read (one account).
 * Used when role credentials come from the cache: they outlive a revoked or logged-out session, the token does not.
 */
export async function probeSession(t: PortalTarget, c: Ctx): Promise<void> {
  try {
    const req = portalRequest(t, '/assignment/accounts', { max_result: '1' });
    if (req) {
      const out = await observed(t.log, 'ListAccounts', () => sendAwsRequest(req, t.net, deadline(t.net, t.signal)));
      parseJsonObject(out.body);
      return;
    }
    const sdk = await loadSdk();
    const client = sdk.ssoClient(t.region, t.endpoints, t.net);
    try {
      await observed(t.log, 'ListAccounts', () =>
        client.send(new sdk.ListAccountsCommand({ accessToken: t.accessToken, maxResults: 1 }), { abortSignal: deadline(t.net, t.signal) }),
      );
    } finally {
      client.destroy();
    }
  } catch (e) {
    throw classifyAwsError(e, { ...c, operation: 'ListAccounts' });
  }
}

export interface AccountInfo {
  accountId: string;
  accountName: string;
  emailAddress: string;
  roles: string[];
}

/** Every account and its roles, following every page of both listings. */
export async function listAccountsWithRoles(t: PortalTarget, c: Ctx): Promise<AccountInfo[]> {
  const sdk = await loadSdk();
  const client = sdk.ssoClient(t.region, t.endpoints, t.net);
  const signal = deadline({ ...t.net, totalTimeoutMs: t.net.totalTimeoutMs * 3 }, t.signal);
  try {
    const accounts: AccountInfo[] = [];
    let nextToken: string | undefined;
    do {
      const page = await observed(t.log, 'ListAccounts', () => client.send(new sdk.ListAccountsCommand({ accessToken: t.accessToken, nextToken, maxResults: 100 }), { abortSignal: signal }))
        .catch((e: unknown) => { throw classifyAwsError(e, { ...c, operation: 'ListAccounts' }); });
      for (const a of page.accountList ?? []) {
        if (a.accountId) accounts.push({ accountId: a.accountId, accountName: a.accountName ?? '', emailAddress: a.emailAddress ?? '', roles: [] });
      }
      nextToken = page.nextToken || undefined;
    } while (nextToken);
    for (const account of accounts) {
      let rolesToken: string | undefined;
      do {
        const page = await observed(t.log, 'ListAccountRoles', () =>
          client.send(new sdk.ListAccountRolesCommand({ accessToken: t.accessToken, accountId: account.accountId, nextToken: rolesToken, maxResults: 100 }), { abortSignal: signal }),
        )
          .catch((e: unknown) => { throw classifyAwsError(e, { ...c, operation: 'ListAccountRoles' }); });
        for (const r of page.roleList ?? []) if (r.roleName) account.roles.push(r.roleName);
        rolesToken = page.nextToken || undefined;
      } while (rolesToken);
      account.roles.sort();
    }
    return accounts.sort((a, b) => a.accountName.localeCompare(b.accountName) || a.accountId.localeCompare(b.accountId));
  } finally {
    client.destroy();
  }
}

/** Ends the portal session server-side. Failures are reported, not thrown: local cleanup must go on. */
export async function logout(t: PortalTarget): Promise<boolean> {
  let client: ReturnType<typeof import('./clients.js').ssoClient> | undefined;
  try {
    const sdk = await loadSdk();
    const c = sdk.ssoClient(t.region, t.endpoints, t.net);
    client = c;
    await observed(t.log, 'Logout', () => c.send(new sdk.LogoutCommand({ accessToken: t.accessToken }), { abortSignal: deadline(t.net, t.signal) }));
    return true;
  } catch {
    return false;
  } finally {
    client?.destroy();
  }
}
