// The watcher's check of one SSO session with AWS. It does what a grant's validation does — a token good for the
// next calls (refreshed under the shared lock when it is in the refresh window), role credentials from the AWS
// CLI cache or the portal, STS GetCallerIdentity with them — with two differences that suit a process asking the
// same question every few minutes for months:
//  - it keeps its SDK clients (one portal client per region, one STS client per credential) between probes
//    instead of building one per call, which is most of a call's cost;
//  - it remembers the token's and the role credentials' expiry (and the access token) while their cache files are
//    unchanged (same inode, size, mode, times), so a probe that has nothing to refresh reads no file (sessions
//    kept in the OS keychain, token_store: keychain, are read from their store every time);
//  - role credentials are read and written through the session's token store, like the token: a keychain-mode
//    session never gets credentials written to ~/.aws/cli/cache;
//  - proving the SSO session itself (not just the role credentials, which outlive it) is done by whatever already
//    proves it — a refresh, or fetching role credentials — and by one ListAccounts only when neither happened for
//    SESSION_PROOF_MAX_AGE_MS. A robot's grant always proves the session; the watcher notices a revoked one within
//    that age at the latest (a natural end: at once, since access tokens never outlive their session).
import { GetRoleCredentialsCommand, ListAccountsCommand, type SSOClient } from '@aws-sdk/client-sso';
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import { statSync } from 'node:fs';
import { KeyrackError } from '../core/errors.js';
import type { AwsProfileRef } from '../core/keyrack-file.js';
import type { Identity, RobotContext, RoleCredentials } from '../core/plugin.js';
import { classifyAwsError } from '../aws/classify.js';
import { deadline, networkFromEnv, observed, ssoClient, stsClient, type NetworkPolicy } from '../aws/clients.js';
import { DEFAULT_ROLE_MARGIN_MS, roleFilePath } from '../aws/role-cache.js';
import { REFRESH_WINDOW_MS, usableToken, type UsableToken } from '../aws/session-token.js';
import { tokenFilePath } from '../aws/token-cache.js';
import { tokenStoreFor } from '../aws/token-store.js';
import { identityFromArn } from '../aws/sts.js';
import type { ProfileTarget } from '../aws/target.js';

export const SESSION_PROOF_MAX_AGE_MS = 3_600_000;

/** What identifies a file's current content for this purpose (a rewrite or a chmod changes it). */
function fileStamp(path: string): string | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return `${st.ino}:${st.size}:${st.mode}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return undefined;
  }
}

/** SDK clients (and what the cache files said) kept across probes; destroy() when the watcher stops. */
export class ProbeClients {
  readonly #sso = new Map<string, SSOClient>();
  readonly #sts = new Map<string, { client: STSClient; accessKeyId: string }>();
  readonly tokens = new Map<string, { stamp: string; accessToken: string; expiresAt: number }>();
  readonly roles = new Map<string, { stamp: string; credentials: RoleCredentials }>();

  constructor(private readonly net: NetworkPolicy) {}

  sso(region: string, endpoints: RobotContext['runtime']['endpoints']): SSOClient {
    const key = `${region}|${endpoints.sso ?? ''}`;
    let c = this.#sso.get(key);
    if (!c) {
      c = ssoClient(region, endpoints, this.net);
      this.#sso.set(key, c);
    }
    return c;
  }

  /** One STS client per session: a new credential replaces (and closes) the previous one. */
  sts(session: string, region: string, endpoints: RobotContext['runtime']['endpoints'], creds: RoleCredentials): STSClient {
    const key = `${session}|${region}|${endpoints.sts ?? ''}`;
    const have = this.#sts.get(key);
    if (have && have.accessKeyId === creds.accessKeyId) return have.client;
    have?.client.destroy();
    const client = stsClient(region, endpoints, this.net, creds);
    this.#sts.set(key, { client, accessKeyId: creds.accessKeyId });
    return client;
  }

  destroy(): void {
    for (const c of this.#sso.values()) c.destroy();
    for (const c of this.#sts.values()) c.client.destroy();
    this.#sso.clear();
    this.#sts.clear();
    this.tokens.clear();
    this.roles.clear();
  }
}

export interface ProbeResult {
  identity: Identity;
  tokenExpiresAt: number;
  credentialsExpireAt: number;
  /** true when this probe proved the SSO session itself (refresh, fresh role credentials or ListAccounts) */
  sessionProven: boolean;
  refreshed: boolean;
}

export async function probeWithAws(ctx: RobotContext, ref: AwsProfileRef, target: ProfileTarget, unlockCmd: string, clients: ProbeClients, lastProvenAt: number | undefined): Promise<ProbeResult> {
  const { paths, clock, endpoints } = ctx.runtime;
  const store = await tokenStoreFor(ctx.runtime, target.sso);
  const files = store.kind === 'aws-cli';
  const net = networkFromEnv(ctx.runtime.env);
  const region = target.sso.region;
  const subject = `profile ${target.profile}`;
  const log = ctx.log;

  const tokenPath = tokenFilePath(paths, target.sso.tokenKey);
  const memo = files ? clients.tokens.get(target.sso.tokenKey) : undefined;
  let token: UsableToken;
  if (memo && memo.stamp === fileStamp(tokenPath) && memo.expiresAt - clock.now() >= REFRESH_WINDOW_MS) {
    token = { accessToken: memo.accessToken, expiresAt: memo.expiresAt, refreshed: false };
  } else {
    token = await usableToken(ctx, target.sso, unlockCmd, { store });
    const st = files ? fileStamp(tokenPath) : undefined;
    if (st) clients.tokens.set(target.sso.tokenKey, { stamp: st, accessToken: token.accessToken, expiresAt: token.expiresAt });
  }
  log.redactor.register(token.accessToken);
  let proven = token.refreshed;
  const rolePath = roleFilePath(paths, target.roleKey);
  const remember = (c: RoleCredentials) => {
    const st = files ? fileStamp(rolePath) : undefined;
    if (st) clients.roles.set(target.roleKey, { stamp: st, credentials: c });
    else clients.roles.delete(target.roleKey);
  };

  const fetchCreds = async (): Promise<RoleCredentials> => {
    const out = await observed(log, 'GetRoleCredentials', () =>
      clients.sso(region, endpoints).send(new GetRoleCredentialsCommand({ accessToken: token.accessToken, accountId: target.accountId, roleName: target.roleName }), { abortSignal: deadline(net, ctx.signal) }),
    ).catch((e: unknown) => {
      throw classifyAwsError(e, { operation: 'GetRoleCredentials', subject, unlockCommand: unlockCmd });
    });
    const rc = out.roleCredentials;
    if (!rc?.accessKeyId || !rc.secretAccessKey || !rc.sessionToken || !rc.expiration) {
      throw new KeyrackError({ code: 'sso.bad-credentials', reason: 'unavailable', message: `AWS returned incomplete role credentials for ${subject}`, fix: 'retry later' });
    }
    const creds: RoleCredentials = { accessKeyId: rc.accessKeyId, secretAccessKey: rc.secretAccessKey, sessionToken: rc.sessionToken, expiresAt: rc.expiration, accountId: target.accountId };
    log.redactor.register(creds.secretAccessKey);
    log.redactor.register(creds.sessionToken);
    await store.writeRoleCredentials(target.roleKey, creds);
    remember(creds);
    proven = true;
    return creds;
  };

  const known = clients.roles.get(target.roleKey);
  const fresh = files && known !== undefined && known.stamp === fileStamp(rolePath) && known.credentials.expiresAt - clock.now() > DEFAULT_ROLE_MARGIN_MS;
  const cached = fresh && known ? { credentials: known.credentials } : await store.readRoleCredentials(target.roleKey, clock.now());
  if (cached && !fresh) remember(cached.credentials);
  let creds = cached?.credentials ?? (await fetchCreds());
  log.redactor.register(creds.secretAccessKey);
  log.redactor.register(creds.sessionToken);
  if (!proven && (lastProvenAt === undefined || clock.now() - lastProvenAt >= SESSION_PROOF_MAX_AGE_MS)) {
    await observed(log, 'ListAccounts', () => clients.sso(region, endpoints).send(new ListAccountsCommand({ accessToken: token.accessToken, maxResults: 1 }), { abortSignal: deadline(net, ctx.signal) })).catch((e: unknown) => {
      throw classifyAwsError(e, { operation: 'ListAccounts', subject, unlockCommand: unlockCmd });
    });
    proven = true;
  }

  const callerIdentity = async (c: RoleCredentials): Promise<Identity> => {
    const out = await observed(log, 'GetCallerIdentity', () => clients.sts(target.sso.tokenKey, region, endpoints, c).send(new GetCallerIdentityCommand({}), { abortSignal: deadline(net, ctx.signal) })).catch((e: unknown) => {
      throw classifyAwsError(e, { operation: 'GetCallerIdentity', subject, unlockCommand: unlockCmd });
    });
    if (!out.Arn) throw classifyAwsError(Object.assign(new Error('no Arn'), { name: 'SyntaxError' }), { operation: 'GetCallerIdentity', subject, unlockCommand: unlockCmd });
    return identityFromArn(out.Arn, out.UserId);
  };

  let identity: Identity;
  try {
    identity = await callerIdentity(creds);
  } catch (e) {
    if (!(e instanceof KeyrackError && e.reason === 'expired')) throw e;
    // STS refused the credentials: drop them (the AWS CLI would use them too) and decide with fresh ones.
    await store.deleteRoleCredentials(target.roleKey);
    clients.roles.delete(target.roleKey);
    if (!cached) throw e;
    creds = await fetchCreds();
    try {
      identity = await callerIdentity(creds);
    } catch (e2) {
      if (e2 instanceof KeyrackError && e2.reason === 'expired') await store.deleteRoleCredentials(target.roleKey);
      throw e2;
    }
  }
  return { identity, tokenExpiresAt: token.expiresAt, credentialsExpireAt: creds.expiresAt, sessionProven: proven, refreshed: token.refreshed };
}
