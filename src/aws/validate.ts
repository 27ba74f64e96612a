// Proving a reference works right now: role credentials (from the AWS CLI's cache while they have > 5 min left,
// else from the portal) and STS GetCallerIdentity with them, then the pinned account and role.
import type { AwsProfileRef } from '../core/keyrack-file.js';
import { KeyrackError } from '../core/errors.js';
import type { Identity, RobotContext, RoleCredentials } from '../core/plugin.js';
import { networkFromEnv } from './clients.js';
import { getRoleCredentials } from './portal.js';
import { deleteRoleCredentials, readRoleCredentials, writeRoleCredentials } from './role-cache.js';
import { usableToken } from './session-token.js';
import { getCallerIdentity } from './sts.js';
import type { ProfileTarget } from './target.js';

export interface Validation {
  identity: Identity;
  credentials: RoleCredentials;
  tokenExpiresAt: number;
}

async function freshCredentials(ctx: RobotContext, target: ProfileTarget, unlockCommand: string): Promise<{ creds: RoleCredentials; tokenExpiresAt: number }> {
  const token = await usableToken(ctx, target.sso, unlockCommand);
  ctx.log.redactor.register(token.accessToken);
  const creds = await getRoleCredentials(
    { region: target.sso.region, endpoints: ctx.runtime.endpoints, net: networkFromEnv(ctx.runtime.env), accessToken: token.accessToken, ...(ctx.signal ? { signal: ctx.signal } : {}) },
    target.accountId,
    target.roleName,
    { subject: `profile ${target.profile}`, unlockCommand },
  );
  await writeRoleCredentials(ctx.runtime.paths, target.roleKey, creds);
  return { creds, tokenExpiresAt: token.expiresAt };
}

function checkPins(ref: AwsProfileRef, target: ProfileTarget, identity: Identity): void {
  const wantAccount = ref.account;
  const wantRole = ref.role;
  const mismatch = (what: string, want: string, got: string) =>
    new KeyrackError({
      code: `identity.${what}-mismatch`,
      reason: 'mismatch',
      message: `${ref.env}/${ref.key}: profile ${ref.profile} is ${what} ${got}, keyrack.yml pins ${want}`,
      location: `${ref.location.file}:${ref.location.line}:${ref.location.col}`,
      fix: `point profile ${ref.profile} at ${what} ${want} in ~/.aws/config, or update the pin in keyrack.yml`,
    });
  if (wantAccount && identity.account !== wantAccount) throw mismatch('account', wantAccount, identity.account || target.accountId);
  if (wantRole && (identity.role ?? target.roleName) !== wantRole) throw mismatch('role', wantRole, identity.role ?? target.roleName);
}

/**
 * Validate a profile reference. A cached role credential that STS refuses is dropped and fetched once more
 * before deciding, so a stale cache never hides a live session (nor a dead one).
 */
export async function validateRef(ctx: RobotContext, ref: AwsProfileRef, target: ProfileTarget, unlockCommand: string): Promise<Validation> {
  const { paths, clock } = ctx.runtime;
  const net = networkFromEnv(ctx.runtime.env);
  const sts = { region: target.sso.region, endpoints: ctx.runtime.endpoints, net, ...(ctx.signal ? { signal: ctx.signal } : {}) };
  const subject = { subject: `profile ${target.profile}`, unlockCommand };

  const cached = await readRoleCredentials(paths, target.roleKey, clock.now());
  let creds: RoleCredentials;
  let tokenExpiresAt: number;
  let fromCache = false;
  if (cached) {
    // The token still has to be alive: a cached credential must not outlive `aws sso logout` or a revoked session.
    const token = await usableToken(ctx, target.sso, unlockCommand);
    creds = cached.credentials;
    tokenExpiresAt = token.expiresAt;
    fromCache = true;
  } else {
    ({ creds, tokenExpiresAt } = await freshCredentials(ctx, target, unlockCommand));
  }
  ctx.log.redactor.register(creds.secretAccessKey);
  ctx.log.redactor.register(creds.sessionToken);

  let identity: Identity;
  try {
    identity = await getCallerIdentity(sts, creds, subject);
  } catch (e) {
    if (!(fromCache && e instanceof KeyrackError && e.reason === 'expired')) throw e;
    ctx.log.debug('cached role credentials refused by STS; fetching new ones', { profile: target.profile });
    await deleteRoleCredentials(paths, target.roleKey);
    ({ creds, tokenExpiresAt } = await freshCredentials(ctx, target, unlockCommand));
    ctx.log.redactor.register(creds.secretAccessKey);
    ctx.log.redactor.register(creds.sessionToken);
    identity = await getCallerIdentity(sts, creds, subject);
  }
  checkPins(ref, target, identity);
  return { identity, credentials: creds, tokenExpiresAt };
}
