// Browsing what an SSO session can reach, one question at a time: the accounts (one listing), then the roles of
// just the account someone picked or referenced. Cheaper than listing every account's roles up front when an
// organization has hundreds of accounts. Bearer-token calls only: robot-safe, never a login.
import { ListAccountRolesCommand, ListAccountsCommand } from '@aws-sdk/client-sso';
import { KeyrackError } from '../core/errors.js';
import type { ClassifyContext } from './classify.js';
import { classifyAwsError, errorName } from './classify.js';
import { deadline, ssoClient } from './clients.js';
import type { PortalTarget } from './portal.js';

export interface AccountSummary {
  accountId: string;
  accountName: string;
  emailAddress: string;
}

type Ctx = Omit<ClassifyContext, 'operation'>;

export async function listAccounts(t: PortalTarget, c: Ctx): Promise<AccountSummary[]> {
  const client = ssoClient(t.region, t.endpoints, t.net);
  const signal = deadline({ ...t.net, totalTimeoutMs: t.net.totalTimeoutMs * 3 }, t.signal);
  try {
    const out: AccountSummary[] = [];
    let nextToken: string | undefined;
    do {
      const page = await client
        .send(new ListAccountsCommand({ accessToken: t.accessToken, nextToken, maxResults: 100 }), { abortSignal: signal })
        .catch((e: unknown) => { throw classifyAwsError(e, { ...c, operation: 'ListAccounts' }); });
      for (const a of page.accountList ?? []) {
        if (a.accountId) out.push({ accountId: a.accountId, accountName: a.accountName ?? '', emailAddress: a.emailAddress ?? '' });
      }
      nextToken = page.nextToken || undefined;
    } while (nextToken);
    return out.sort((a, b) => a.accountName.localeCompare(b.accountName) || a.accountId.localeCompare(b.accountId));
  } finally {
    client.destroy();
  }
}

/** The roles this user has in one account; an account the user cannot reach has none (not an error). */
export async function listAccountRoles(t: PortalTarget, accountId: string, c: Ctx): Promise<string[]> {
  const client = ssoClient(t.region, t.endpoints, t.net);
  const signal = deadline({ ...t.net, totalTimeoutMs: t.net.totalTimeoutMs * 3 }, t.signal);
  try {
    const roles: string[] = [];
    let nextToken: string | undefined;
    do {
      let page;
      try {
        page = await client.send(new ListAccountRolesCommand({ accessToken: t.accessToken, accountId, nextToken, maxResults: 100 }), { abortSignal: signal });
      } catch (e) {
        if (errorName(e) === 'ResourceNotFoundException') return [];
        throw classifyAwsError(e, { ...c, operation: 'ListAccountRoles' });
      }
      for (const r of page.roleList ?? []) if (r.roleName) roles.push(r.roleName);
      nextToken = page.nextToken || undefined;
    } while (nextToken);
    return roles.sort();
  } catch (e) {
    if (e instanceof KeyrackError) throw e;
    throw classifyAwsError(e, { ...c, operation: 'ListAccountRoles' });
  } finally {
    client.destroy();
  }
}

/** Case-insensitive match on name, id or email, for searchable pickers. */
export function matchesAccount(a: AccountSummary, term: string | undefined): boolean {
  const t = (term ?? '').trim().toLowerCase();
  if (t === '') return true;
  return [a.accountName, a.accountId, a.emailAddress].some((f) => f.toLowerCase().includes(t));
}
