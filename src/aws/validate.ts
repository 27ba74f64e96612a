// Proving a reference works right now: a live SSO session, role credentials (from the AWS CLI's cache while they
// have > 5 min left, else from the portal) and STS GetCallerIdentity with them, then the pinned account and role.
import type { AwsProfileRef } from '../core/keyrack-file.js';
import { KeyrackError } from '../core/errors.js';
import type { Identity, RobotContext, RoleCredentials } from '../core/plugin.js';
import { networkFromEnv, robotCallTarget } from './network.js';
import { getRoleCredentials, probeSession } from './portal.js';
import { deleteRoleCredentials, readRoleCredentials, writeRoleCredentials } from './role-cache.js';
import { checkPins } from './pins.js';
import { usableToken } from './session-token.js';
import { getCallerIdentity } from './sts.js';
import type { ProfileTarget } from './target.js';
import type { TokenStore } from './token-store.js';


export interface Validation {
  identity: Identity;
  credentials: RoleCredentials;
  tokenExpiresAt: number;
}

async function freshCredentials(ctx: RobotContext, target: ProfileTarget, unlockCommand: string, store: TokenStore | undefined): Promise<{ creds: RoleCredentials; tokenExpiresAt: number }> {
  const t = await usableToken(ctx, target.sso, unlockCommand, store ? { store } : {});
  ctx.log.redactor.register(t.accessToken);
  const creds = await getRoleCredentials(
    { ...robotCallTarget(ctx, target.sso.region, networkFromEnv(ctx.runtime.env)), accessToken: t.accessToken },
    target.accountId,
    target.roleName,
    { subject: `profile ${target.profile}`, unlockCommand },
  );
  ctx.log.redactor.register(creds.secretAccessKey);
  ctx.log.redactor.register(creds.sessionToken);
  await writeRoleCredentials(ctx.runtime.paths, target.roleKey, creds);
  return { creds, tokenExpiresAt: t.expiresAt };
}
/**
 * Validate a profile reference.
 *
 * Role credentials come from the AWS CLI's cache while they have more than 5 minutes left. Cached credentials
 * outlive the SSO session (a revoke or a logout elsewhere does not end them), so they are only used after the
 * session itself was proven alive: by a refresh just now, or by one cheap portal read (ListAccounts, 1 item).
 * A cached credential that STS refuses is dropped and fetched once more before deciding, so a stale cache never
 * hides a live session (nor a dead one). A fresh credential STS refuses is dropped too, and means `expired`.
 */
export async function validateRef(ctx: RobotContext, ref: AwsProfileRef, target: ProfileTarget, unlockCommand: string, store?: TokenStore): Promise<Validation> {
  const { paths, clock } = ctx.runtime;
  const net = networkFromEnv(ctx.runtime.env);
  const sts = robotCallTarget(ctx, target.sso.region, net);
  const subject = { subject: `profile ${target.profile}`, unlockCommand };

  const cached = await readRoleCredentials(paths, target.roleKey, clock.now());
  let creds: RoleCredentials;
  let tokenExpiresAt: number;
  let fromCache = false;
  if (cached) {
    const token = await usableToken(ctx, target.sso, unlockCommand, store ? { store } : {});
    ctx.log.redactor.register(token.accessToken);
    if (!token.refreshed) {
      await probeSession({ ...sts, accessToken: token.accessToken }, subject);
    }
    creds = cached.credentials;
    tokenExpiresAt = token.expiresAt;
    fromCache = true;
    ctx.log.debug('role credentials: from the AWS CLI cache', { profile: target.profile, left: `${Math.round((creds.expiresAt - clock.now()) / 60_000)}min` });
  } else {
    ctx.log.debug('role credentials: none cached with > 5 min left; fetching', { profile: target.profile });
    ({ creds, tokenExpiresAt } = await freshCredentials(ctx, target, unlockCommand, store));
  }
  ctx.log.redactor.register(creds.secretAccessKey);
  ctx.log.redactor.register(creds.sessionToken);

  const refused = (e: unknown) => e instanceof KeyrackError && e.reason === 'expired';
  let identity: Identity;
  try {
    identity = await getCallerIdentity(sts, creds, subject);
  } catch (e) {
    if (!refused(e)) throw e;
    await deleteRoleCredentials(paths, target.roleKey);
    if (!fromCache) throw e;
    ctx.log.debug('cached role credentials refused by STS; dropped, fetching new ones once', { profile: target.profile });
    ({ creds, tokenExpiresAt } = await freshCredentials(ctx, target, unlockCommand, store));
    try {
      identity = await getCallerIdentity(sts, creds, subject);
    } catch (e2) {
      if (refused(e2)) await deleteRoleCredentials(paths, target.roleKey);
      throw e2;
    }
  }
  checkPins(ref, target, identity);
  return { identity, credentials: creds, tokenExpiresAt };
}
