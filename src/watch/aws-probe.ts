// The watcher's check of one SSO session with AWS. It does what a grant's validation does — a token good for the
// next calls (refreshed under the shared lock when it is in the refresh window), role credentials from the AWS
// CLI cache or the portal, STS GetCallerIdentity with them — with differences that suit a process asking the
// same question every few minutes for months:
//  - its AWS calls are the robot's hand-built requests (portal.ts, sts.ts; the SDK only with FIPS / dual-stack
//    endpoints or KEYRACK_AWS_SDK=1): a pass loads no SDK, and a timer-started `keyrack watch --once` starts fast;
//  - it remembers the token's and the role credentials' expiry (and the access token) while their cache files are
//    unchanged (same inode, size, mode, times), so a probe that has nothing to refresh reads no file (sessions
//    kept in the OS keychain, token_store: keychain, are read from their store every time);
//  - the token store is the one the pass's user config names (read once per pass, not once per probe);
//  - role credentials are read and written through the session's token store, like the token: a keychain-mode
//    session never gets credentials written to ~/.aws/cli/cache;
//  - proving the SSO session itself (not just the role credentials, which outlive it) is done by whatever already
//    proves it — a refresh, or fetching role credentials — and by one ListAccounts only when neither happened for
//    SESSION_PROOF_MAX_AGE_MS. A robot's grant always proves the session; the watcher notices a revoked one within
//    that age at the latest (a natural end: at once, since access tokens never outlive their session).
import { statSync } from 'node:fs';
import { statFingerprint } from '../store/state.js';
import { KeyrackError } from '../core/errors.js';
import type { Identity, RobotContext, RoleCredentials } from '../core/plugin.js';
import { networkFromEnv, robotCallTarget } from '../aws/network.js';
import { getRoleCredentials, probeSession, type PortalTarget } from '../aws/portal.js';
import { DEFAULT_ROLE_MARGIN_MS, roleFilePath } from '../aws/role-cache.js';
import { REFRESH_WINDOW_MS, usableToken, type UsableToken } from '../aws/session-token.js';
import { tokenFilePath } from '../aws/token-cache.js';
import { openTokenStore, type TokenStoreKind } from '../aws/token-store.js';
import { getCallerIdentity } from '../aws/sts.js';
import type { ProfileTarget } from '../aws/target.js';

const SESSION_PROOF_MAX_AGE_MS = 3_600_000;

/** What identifies a file's current content (a rewrite or a chmod changes its ctime); undefined: no file. */
function fileStamp(path: string): string | undefined {
  const stamp = statFingerprint(statSync(path, { bigint: true, throwIfNoEntry: false }));
  return stamp === 'absent' ? undefined : stamp;
}

/** What the cache files said, kept across probes (and passes) while the files are unchanged. */
export class ProbeMemo {
  readonly tokens = new Map<string, { stamp: string; accessToken: string; expiresAt: number }>();
  readonly roles = new Map<string, { stamp: string; credentials: RoleCredentials }>();
}

export interface ProbeResult {
  identity: Identity;
  tokenExpiresAt: number;
  credentialsExpireAt: number;
  /** true when this probe proved the SSO session itself (refresh, fresh role credentials or ListAccounts) */
  sessionProven: boolean;
  refreshed: boolean;
}

/** `storeKind`: where the session's secrets live, as the pass's user config names it (see tokenStoreKind). */
export async function probeWithAws(ctx: RobotContext, target: ProfileTarget, unlockCmd: string, memo: ProbeMemo, lastProvenAt: number | undefined, storeKind: TokenStoreKind): Promise<ProbeResult> {
  const { paths, clock } = ctx.runtime;
  const store = await openTokenStore(ctx.runtime, storeKind);
  const files = store.kind === 'aws-cli';
  const region = target.sso.region;
  const classify = { subject: `profile ${target.profile}`, unlockCommand: unlockCmd };
  const log = ctx.log;
  const base = robotCallTarget(ctx, region, networkFromEnv(ctx.runtime.env));

  const tokenPath = tokenFilePath(paths, target.sso.tokenKey);
  const known = files ? memo.tokens.get(target.sso.tokenKey) : undefined;
  let token: UsableToken;
  if (known && known.stamp === fileStamp(tokenPath) && known.expiresAt - clock.now() >= REFRESH_WINDOW_MS) {
    token = { accessToken: known.accessToken, expiresAt: known.expiresAt, refreshed: false };
  } else {
    token = await usableToken(ctx, target.sso, unlockCmd, { store });
    const st = files ? fileStamp(tokenPath) : undefined;
    if (st) memo.tokens.set(target.sso.tokenKey, { stamp: st, accessToken: token.accessToken, expiresAt: token.expiresAt });
  }
  log.redactor.register(token.accessToken);
  const portal: PortalTarget = { ...base, accessToken: token.accessToken };
  let proven = token.refreshed;
  // Fresh role credentials are stored only once STS accepted them, with the identity it named (as validateTarget
  // stores them): credential-process serves the keychain's entry, and its pins and audit use that identity.
  let fetched = false;
  const rolePath = roleFilePath(paths, target.roleKey);
  const remember = (c: RoleCredentials) => {
    const st = files ? fileStamp(rolePath) : undefined;
    if (st) memo.roles.set(target.roleKey, { stamp: st, credentials: c });
    else memo.roles.delete(target.roleKey);
  };

  const fetchCreds = async (): Promise<RoleCredentials> => {
    const creds = await getRoleCredentials(portal, target.accountId, target.roleName, classify);
    log.redactor.register(creds.secretAccessKey);
    log.redactor.register(creds.sessionToken);
    proven = true;
    fetched = true;
    return creds;
  };

  const knownRole = memo.roles.get(target.roleKey);
  const fresh = files && knownRole !== undefined && knownRole.stamp === fileStamp(rolePath) && knownRole.credentials.expiresAt - clock.now() > DEFAULT_ROLE_MARGIN_MS;
  const cached = fresh && knownRole ? { credentials: knownRole.credentials } : await store.readRoleCredentials(target.roleKey, clock.now());
  if (cached && !fresh) remember(cached.credentials);
  let creds = cached?.credentials ?? (await fetchCreds());
  log.redactor.register(creds.secretAccessKey);
  log.redactor.register(creds.sessionToken);
  if (!proven && (lastProvenAt === undefined || clock.now() - lastProvenAt >= SESSION_PROOF_MAX_AGE_MS)) {
    await probeSession(portal, classify);
    proven = true;
  }

  const callerIdentity = (c: RoleCredentials): Promise<Identity> => getCallerIdentity(base, c, classify);

  let identity: Identity;
  try {
    identity = await callerIdentity(creds);
  } catch (e) {
    if (!(e instanceof KeyrackError && e.reason === 'expired')) throw e;
    // STS refused the credentials: drop them (the AWS CLI would use them too) and decide with fresh ones.
    await store.deleteRoleCredentials(target.roleKey);
    memo.roles.delete(target.roleKey);
    if (!cached) throw e;
    creds = await fetchCreds();
    try {
      identity = await callerIdentity(creds);
    } catch (e2) {
      if (e2 instanceof KeyrackError && e2.reason === 'expired') await store.deleteRoleCredentials(target.roleKey);
      throw e2;
    }
  }
  if (fetched) {
    await store.writeRoleCredentials(target.roleKey, creds, identity);
    remember(creds);
  }
  return { identity, tokenExpiresAt: token.expiresAt, credentialsExpireAt: creds.expiresAt, sessionProven: proven, refreshed: token.refreshed };
}
