// The pure parts of guided setup (`keyrack init`, `keyrack add aws`): which SSO sessions a person can pick from,
// what to call new things, and how a profile that does not exist yet would resolve. No I/O here.
import type { KeyrackFile } from '../core/keyrack-file.js';
import { KEYRACK_PATTERNS } from '../core/keyrack-file.js';
import { listProfiles, listSsoSessions, resolveProfile, type AwsConfigDoc } from './config-file.js';
import { roleCacheKey } from './cache-keys.js';
import type { ProfileSpec } from './profile-writer.js';
import { sessionLogin, type ProfileTarget, type SsoLogin } from './target.js';

export interface SessionChoice {
  name: string;
  startUrl: string;
  region: string;
  /** Where it is defined: this machine's ~/.aws/config, the repo's keyrack.yml, or both. */
  from: ('aws-config' | 'keyrack.yml')[];
  registrationScopes?: string[];
}

const NAME_RE = new RegExp(KEYRACK_PATTERNS.name);
export const norm = (u: string) => u.replace(/\/+$/, '');

/** Every SSO session a person could pick: complete [sso-session] sections, then keyrack.yml's sso entries. */
export function sessionChoices(doc: AwsConfigDoc, file: KeyrackFile | undefined): SessionChoice[] {
  const out = new Map<string, SessionChoice>();
  for (const s of listSsoSessions(doc)) {
    if (!s.startUrl || !s.region || !NAME_RE.test(s.name)) continue;
    out.set(s.name, { name: s.name, startUrl: s.startUrl, region: s.region, from: ['aws-config'], ...(s.registrationScopes ? { registrationScopes: s.registrationScopes } : {}) });
  }
  for (const s of Object.values(file?.sso ?? {})) {
    const seen = out.get(s.name);
    if (seen && norm(seen.startUrl) === norm(s.startUrl) && seen.region === s.region) seen.from.push('keyrack.yml');
    else if (!seen) out.set(s.name, { name: s.name, startUrl: s.startUrl, region: s.region, from: ['keyrack.yml'] });
  }
  return [...out.values()];
}

/** A session name for a new start URL: the org, else the portal's subdomain (`acme` of acme.awsapps.com). */
export function suggestSessionName(startUrl: string, org: string | undefined, taken: (name: string) => boolean): string {
  let host = '';
  try {
    host = new URL(startUrl).hostname.split('.')[0] ?? '';
  } catch {
    host = '';
  }
  const base = [org, host.replace(/[^A-Za-z0-9._-]/g, ''), 'sso'].find((c) => c !== undefined && c !== '' && NAME_RE.test(c)) ?? 'sso';
  if (!taken(base)) return base;
  for (let i = 2; ; i++) if (!taken(`${base}-${i}`)) return `${base}-${i}`;
}

/** The keyrack.yml sso name already used for this portal, if any (so one portal keeps one name in the repo). */
export function keyrackSsoFor(file: KeyrackFile | undefined, startUrl: string, region: string): string | undefined {
  return Object.values(file?.sso ?? {}).find((s) => norm(s.startUrl) === norm(startUrl) && s.region === region)?.name;
}

export function ssoLoginFor(s: { name: string; startUrl: string; region: string; registrationScopes?: string[] }): SsoLogin {
  return sessionLogin(s.name, { ...s, registrationScopes: s.registrationScopes ?? ['sso:account:access'] });
}

/** What resolveTarget will find once `spec` is written: lets a profile be proven before any file changes. */
export function targetForSpec(spec: ProfileSpec, scopes?: string[]): ProfileTarget {
  return {
    profile: spec.profile,
    sso: ssoLoginFor({ ...spec.session, ...(scopes ? { registrationScopes: scopes } : {}) }),
    accountId: spec.account,
    roleName: spec.role,
    roleKey: roleCacheKey({ accountId: spec.account, roleName: spec.role, session: spec.session.name }),
  };
}

export interface ImportableProfile {
  profile: string;
  session?: string;
  startUrl: string;
  region: string;
  account: string;
  role: string;
}

/** SSO profiles on this machine that keyrack.yml could reference (`keyrack init` offers to import them). */
export function importableProfiles(doc: AwsConfigDoc): ImportableProfile[] {
  const out: ImportableProfile[] = [];
  for (const name of listProfiles(doc)) {
    if (!NAME_RE.test(name)) continue;
    try {
      const p = resolveProfile(doc, name);
      if (p.kind === 'sso-session') out.push({ profile: name, session: p.session, startUrl: p.startUrl, region: p.region, account: p.accountId, role: p.roleName });
      else if (p.kind === 'legacy') out.push({ profile: name, startUrl: p.startUrl, region: p.region, account: p.accountId, role: p.roleName });
    } catch {
      // A profile the AWS CLI could not use either is not offered.
    }
  }
  return out;
}

/** The env a profile name suggests: `acme.prod` / `acme-prod` / `prod` → `prod`, when that env is wanted. */
export function guessEnv(profile: string, envs: readonly string[]): string | undefined {
  const lower = profile.toLowerCase();
  return envs.find((e) => lower === e.toLowerCase() || lower.endsWith(`.${e.toLowerCase()}`) || lower.endsWith(`-${e.toLowerCase()}`) || lower.endsWith(`_${e.toLowerCase()}`));
}
