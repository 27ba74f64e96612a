// SSO portal calls (bearer-token, unsigned): role credentials and the account/role listing.
import { GetRoleCredentialsCommand, ListAccountRolesCommand, ListAccountsCommand, LogoutCommand } from '@aws-sdk/client-sso';
import type { Logger } from '../core/log.js';
import type { Endpoints } from '../core/runtime.js';
import type { RoleCredentials } from '../core/plugin.js';
import { classifyAwsError, type ClassifyContext } from './classify.js';
import { deadline, observed, ssoClient, type NetworkPolicy } from './clients.js';
import { KeyrackError } from '../core/errors.js';

export interface PortalTarget {
  region: string;
  endpoints: Endpoints;
  net: NetworkPolicy;
  accessToken: string;
  signal?: AbortSignal;
  /** Debug log for each call (operation, outcome, duration; never a token). */
  log?: Logger;
}

type Ctx = Omit<ClassifyContext, 'operation'>;

export async function getRoleCredentials(t: PortalTarget, accountId: string, roleName: string, c: Ctx): Promise<RoleCredentials> {
  const client = ssoClient(t.region, t.endpoints, t.net);
  try {
    const out = await observed(t.log, 'GetRoleCredentials', () =>
      client.send(new GetRoleCredentialsCommand({ accessToken: t.accessToken, accountId, roleName }), { abortSignal: deadline(t.net, t.signal) }),
    );
    const rc = out.roleCredentials;
    if (!rc?.accessKeyId || !rc.secretAccessKey || !rc.sessionToken || !rc.expiration) {
      throw new KeyrackError({ code: 'sso.bad-credentials', reason: 'unavailable', message: `AWS returned incomplete role credentials for ${c.subject}`, fix: 'retry later' });
    }
    return { accessKeyId: rc.accessKeyId, secretAccessKey: rc.secretAccessKey, sessionToken: rc.sessionToken, expiresAt: rc.expiration, accountId };
  } catch (e) {
    if (e instanceof KeyrackError) throw e;
    throw classifyAwsError(e, { ...c, operation: 'GetRoleCredentials' });
  } finally {
    client.destroy();
  }
}

/**
 * Proves the SSO session behind the access token is alive right now, with the cheapest portal read (one account).
 * Used when role credentials come from the cache: they outlive a revoked or logged-out session, the token does not.
 */
export async function probeSession(t: PortalTarget, c: Ctx): Promise<void> {
  const client = ssoClient(t.region, t.endpoints, t.net);
  try {
    await observed(t.log, 'ListAccounts', () =>
      client.send(new ListAccountsCommand({ accessToken: t.accessToken, maxResults: 1 }), { abortSignal: deadline(t.net, t.signal) }),
    );
  } catch (e) {
    throw classifyAwsError(e, { ...c, operation: 'ListAccounts' });
  } finally {
    client.destroy();
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
  const client = ssoClient(t.region, t.endpoints, t.net);
  const signal = deadline({ ...t.net, totalTimeoutMs: t.net.totalTimeoutMs * 3 }, t.signal);
  try {
    const accounts: AccountInfo[] = [];
    let nextToken: string | undefined;
    do {
      const page = await observed(t.log, 'ListAccounts', () => client.send(new ListAccountsCommand({ accessToken: t.accessToken, nextToken, maxResults: 100 }), { abortSignal: signal }))
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
          client.send(new ListAccountRolesCommand({ accessToken: t.accessToken, accountId: account.accountId, nextToken: rolesToken, maxResults: 100 }), { abortSignal: signal }),
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
  const client = ssoClient(t.region, t.endpoints, t.net);
  try {
    await observed(t.log, 'Logout', () => client.send(new LogoutCommand({ accessToken: t.accessToken }), { abortSignal: deadline(t.net, t.signal) }));
    return true;
  } catch {
    return false;
  } finally {
    client.destroy();
  }
}
