// From a keyrack.yml reference to what AWS needs: which SSO login backs the profile (and its cache keys),
// which account and role to ask for. Read from ~/.aws/config, the one source of truth shared with the AWS CLI.
import type { AwsProfileRef } from '../core/keyrack-file.js';
import { KeyrackError } from '../core/errors.js';
import { resolveProfile, type AwsConfigDoc } from './config-file.js';
import { roleCacheKey, tokenCacheKey } from './cache-keys.js';

/** One SSO login: an `[sso-session]`, or a legacy profile's start URL. */
export interface SsoLogin {
  /** For messages: the sso-session name, or the start URL of a legacy profile. */
  label: string;
  /** sso-session name; undefined for legacy profiles (which the AWS CLI never refreshes). */
  session?: string;
  startUrl: string;
  region: string;
  scopes?: string[];
  /** ~/.aws/sso/cache/<tokenKey>.json */
  tokenKey: string;
}

export interface ProfileTarget {
  profile: string;
  sso: SsoLogin;
  accountId: string;
  roleName: string;
  /** ~/.aws/cli/cache/<roleKey>.json */
  roleKey: string;
}

/** The login of an [sso-session NAME]: labelled by its name, its token cached under the name's key. */
export function sessionLogin(name: string, s: { startUrl: string; region: string; registrationScopes?: string[] | undefined }): SsoLogin {
  return { label: name, session: name, startUrl: s.startUrl, region: s.region, tokenKey: tokenCacheKey({ session: name }), ...(s.registrationScopes ? { scopes: s.registrationScopes } : {}) };
}

export function resolveTarget(doc: AwsConfigDoc, ref: AwsProfileRef): ProfileTarget {
  const p = resolveProfile(doc, ref.profile);
  if (p.kind !== 'sso-session' && p.kind !== 'legacy') {
    throw new KeyrackError({
      code: 'aws-config.not-sso',
      reason: 'misconfigured',
      message: `profile "${ref.profile}" is not an IAM Identity Center (SSO) profile`,
      location: doc.displayPath,
      fix: `give [profile ${ref.profile}] sso_session, sso_account_id and sso_role_name`,
    });
  }
  const sso: SsoLogin =
    p.kind === 'sso-session'
      ? sessionLogin(p.session, p)
      : { label: p.startUrl, startUrl: p.startUrl, region: p.region, tokenKey: tokenCacheKey({ startUrl: p.startUrl }) };
  const roleKey = roleCacheKey(p.kind === 'sso-session' ? { accountId: p.accountId, roleName: p.roleName, session: p.session } : { accountId: p.accountId, roleName: p.roleName, startUrl: p.startUrl });
  return { profile: ref.profile, sso, accountId: p.accountId, roleName: p.roleName, roleKey };
}
