// The recorded target of a keychain-mode profile (see ./credential-process.ts): its shape, its file, and the
// Version 1 JSON a credential_process prints. A leaf module: the credential-process fast path (src/cli/fast)
// reads the record and prints the answer without loading the rest of the AWS plugin.
import { join } from 'node:path';
import { KeyrackError } from '../core/errors.js';
import type { RoleCredentials } from '../core/plugin.js';

export interface ProcessTargetRef {
  env: string;
  key: string;
  /** keyrack.yml pins of that key */
  account?: string;
  role?: string;
}

export interface ProcessTarget {
  version: 1;
  profile: string;
  /** The keyrack.yml keys this profile backs; credential-process serves while any of them is unlocked. */
  refs: ProcessTargetRef[];
  sso: { session: string; startUrl: string; region: string; scopes?: string[] };
  accountId: string;
  roleName: string;
  /** epoch ms */
  updatedAt: number;
}

const PROFILE_NAME = /^[A-Za-z0-9._-]{1,128}$/;
export const processDir = (state: string) => join(state, 'process-profiles');
export const processTargetPath = (state: string, profile: string) => join(processDir(state), `${profile}.json`);

export const isProfileName = (profile: string) => PROFILE_NAME.test(profile);

export function checkProfileName(profile: string): void {
  if (!isProfileName(profile)) {
    throw new KeyrackError({ code: 'credential-process.bad-profile', reason: 'invalid-input', message: 'the profile name has characters a profile cannot have', fix: 'pass the profile name from ~/.aws/config: --profile NAME' });
  }
}

/** The record in `text`, or undefined when it is damaged or for another profile (treated as absent: a refusal). */
export function parseProcessTarget(text: string, profile: string): ProcessTarget | undefined {
  try {
    const t = JSON.parse(text) as Partial<ProcessTarget>;
    if (t.version !== 1 || t.profile !== profile || !Array.isArray(t.refs) || !t.sso || typeof t.sso.session !== 'string' || typeof t.accountId !== 'string' || typeof t.roleName !== 'string') return undefined;
    return t as ProcessTarget;
  } catch {
    return undefined;
  }
}

/** What credential_process must print: https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-sourcing-external.html */
export function renderProcessOutput(c: RoleCredentials): string {
  return `${JSON.stringify({ Version: 1, AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, SessionToken: c.sessionToken, Expiration: new Date(c.expiresAt).toISOString() })}\n`;
}
