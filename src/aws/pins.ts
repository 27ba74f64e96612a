// The keyrack.yml pins (account, role) checked against an identity: after a validation, and again on every
// validation-cache hit (keyrack.yml may have changed since). No AWS here.
import { KeyrackError } from '../core/errors.js';
import type { AwsProfileRef } from '../core/keyrack-file.js';
import type { Identity } from '../core/plugin.js';
import type { ProfileTarget } from './target.js';

/** The keyrack.yml pins (account, role) against the identity AWS reported. */
export function checkPins(ref: AwsProfileRef, target: ProfileTarget, identity: Identity): void {
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
