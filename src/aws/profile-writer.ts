// Writes a profile keyrack.yml references but ~/.aws/config lacks, from the reference's sso/account/role.
// Surgical: only the new sections are added; a different existing definition is never overwritten.
import { KeyrackError } from '../core/errors.js';
import type { AwsProfileRef, KeyrackFile } from '../core/keyrack-file.js';
import type { Paths } from '../core/runtime.js';
import { findSection, parseAwsConfig, readAwsConfig, upsertSection, writeAwsConfig, type AwsConfigDoc } from './config-file.js';

function entriesFor(file: KeyrackFile, ref: AwsProfileRef): { session: [string, string][]; profile: [string, string][] } | undefined {
  if (!ref.sso || !ref.account || !ref.role) return undefined;
  const sso = file.sso[ref.sso];
  if (!sso) return undefined;
  return {
    session: [
      ['sso_start_url', sso.startUrl],
      ['sso_region', sso.region],
      ['sso_registration_scopes', 'sso:account:access'],
    ],
    profile: [
      ['sso_session', ref.sso],
      ['sso_account_id', ref.account],
      ['sso_role_name', ref.role],
      ['region', sso.region],
    ],
  };
}

/** Adds missing profiles (and their sso-session) for `refs`; returns the profile names written. */
export async function writeMissingProfiles(paths: Paths, file: KeyrackFile, refs: AwsProfileRef[]): Promise<{ doc: AwsConfigDoc; written: string[] }> {
  let doc = await readAwsConfig(paths.awsConfig, { home: paths.home });
  const original = doc.text;
  let text = original;
  const written: string[] = [];
  for (const ref of refs) {
    if (findSection(doc, { kind: 'profile', name: ref.profile })) continue;
    const e = entriesFor(file, ref);
    if (!e) {
      throw new KeyrackError({
        code: 'aws-config.profile-missing',
        reason: 'misconfigured',
        message: `profile "${ref.profile}" does not exist in ${doc.displayPath}, and keyrack.yml does not say how to create it`,
        location: `${ref.location.file}:${ref.location.line}:${ref.location.col}`,
        fix: `add sso, account and role to ${ref.env}/${ref.key} in keyrack.yml, or create [profile ${ref.profile}] (aws configure sso)`,
      });
    }
    const session = { kind: 'sso-session' as const, name: ref.sso as string };
    // An existing [sso-session] of that name must agree on URL and region (else upsert refuses: it is the
    // user's); its scopes are its own business.
    const sessionEntries = findSection(doc, session) ? e.session.filter(([k]) => k !== 'sso_registration_scopes') : e.session;
    text = upsertSection(text, session, sessionEntries, { displayPath: doc.displayPath }).text;
    text = upsertSection(text, { kind: 'profile', name: ref.profile }, e.profile, { displayPath: doc.displayPath }).text;
    written.push(ref.profile);
    doc = parseAwsConfig(text, doc.displayPath);
  }
  if (text !== original) await writeAwsConfig(paths.awsConfig, text, { expected: original, displayPath: doc.displayPath });
  return { doc, written };
}
