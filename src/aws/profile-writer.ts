// Writes the profiles keyrack.yml references into ~/.aws/config, from each reference's sso/account/role, so a
// teammate who clones the repo needs no `aws configure sso`. Surgical: only the new (or, with force, the differing)
// lines change; a different existing definition is never overwritten without force. Robot-safe: no network.
import { KeyrackError, isKeyrackError } from '../core/errors.js';
import type { AwsProfileRef, KeyrackFile } from '../core/keyrack-file.js';
import type { Paths } from '../core/runtime.js';
import {
  findSection,
  parseAwsConfig,
  readAwsConfig,
  resolveProfile,
  resolveSsoSession,
  upsertSection,
  writeAwsConfig,
  type AwsConfigDoc,
} from './config-file.js';

export const DEFAULT_REGISTRATION_SCOPES = 'sso:account:access';

/** One SSO profile as keyrack writes it: `[sso-session]` + `[profile]`. */
export interface ProfileSpec {
  profile: string;
  session: { name: string; startUrl: string; region: string };
  account: string;
  role: string;
  /** The profile's default region for API calls; the session's region when absent. */
  region?: string;
}

export type Change = 'added' | 'unchanged' | 'updated';

export interface ProfileWrite {
  text: string;
  session: Change;
  profile: Change;
}

/** How an existing profile compares with what a reference wants. */
export type ProfileState = { state: 'missing' } | { state: 'same' } | { state: 'differs'; detail: string };

export function specForRef(file: KeyrackFile, ref: AwsProfileRef): ProfileSpec | undefined {
  if (!ref.sso || !ref.account || !ref.role) return undefined;
  const sso = file.sso[ref.sso];
  if (!sso) return undefined;
  return { profile: ref.profile, session: { name: ref.sso, startUrl: sso.startUrl, region: sso.region }, account: ref.account, role: ref.role };
}

/**
 * Compare by meaning, as the AWS CLI would resolve the profile: same portal (start URL), account and role is the
 * same profile whether it uses an [sso-session] of another name or legacy sso_start_url keys.
 */
export function compareProfile(doc: AwsConfigDoc, want: Pick<ProfileSpec, 'profile' | 'account' | 'role'> & { startUrl?: string }): ProfileState {
  if (!findSection(doc, { kind: 'profile', name: want.profile })) return { state: 'missing' };
  let p;
  try {
    p = resolveProfile(doc, want.profile);
  } catch (e) {
    if (!isKeyrackError(e)) throw e;
    return { state: 'differs', detail: e.message };
  }
  if (p.kind !== 'sso-session' && p.kind !== 'legacy') return { state: 'differs', detail: `[profile ${want.profile}] is not an SSO profile` };
  if (p.accountId !== want.account) return { state: 'differs', detail: `[profile ${want.profile}] is account ${p.accountId}, not ${want.account}` };
  if (p.roleName !== want.role) return { state: 'differs', detail: `[profile ${want.profile}] is role ${p.roleName}, not ${want.role}` };
  if (want.startUrl !== undefined && p.startUrl.replace(/\/+$/, '') !== want.startUrl.replace(/\/+$/, '')) {
    return { state: 'differs', detail: `[profile ${want.profile}] signs in at another start URL` };
  }
  return { state: 'same' };
}

function conflict(doc: AwsConfigDoc, message: string, line: number | undefined): KeyrackError {
  return new KeyrackError({
    code: 'aws-config.conflict',
    reason: 'misconfigured',
    message,
    location: line === undefined ? doc.displayPath : `${doc.displayPath}:${line}`,
    fix: `edit ${doc.displayPath} yourself, choose another name, or rerun with --force to let keyrack update it`,
  });
}

/**
 * The edit that makes `spec` exist in `text`: nothing when an equivalent profile is there, the new sections
 * appended when it is missing, and (only with force) the differing lines changed when it is different.
 */
export function applyProfileSpec(text: string, spec: ProfileSpec, opts: { force?: boolean; displayPath?: string } = {}): ProfileWrite {
  const displayPath = opts.displayPath;
  let doc = parseAwsConfig(text, displayPath);
  const state = compareProfile(doc, { profile: spec.profile, account: spec.account, role: spec.role, startUrl: spec.session.startUrl });
  if (state.state === 'same') return { text, session: 'unchanged', profile: 'unchanged' };
  if (state.state === 'differs' && !opts.force) {
    throw conflict(doc, `${state.detail}; keyrack will not overwrite it`, findSection(doc, { kind: 'profile', name: spec.profile })?.line);
  }

  const sessionRef = { kind: 'sso-session' as const, name: spec.session.name };
  const existingSession = findSection(doc, sessionRef);
  let session: Change = 'unchanged';
  if (!existingSession) {
    text = upsertSection(text, sessionRef, [
      ['sso_start_url', spec.session.startUrl],
      ['sso_region', spec.session.region],
      ['sso_registration_scopes', DEFAULT_REGISTRATION_SCOPES],
    ], { displayPath }).text;
    session = 'added';
  } else {
    // An existing session must sign in at the same portal; its scopes and other keys are the user's business.
    let same = false;
    try {
      const s = resolveSsoSession(doc, spec.session.name);
      same = s.startUrl.replace(/\/+$/, '') === spec.session.startUrl.replace(/\/+$/, '') && s.region === spec.session.region;
    } catch (e) {
      if (!isKeyrackError(e)) throw e;
    }
    if (!same) {
      if (!opts.force) throw conflict(doc, `[sso-session ${spec.session.name}] already exists with a different start URL or region`, existingSession.line);
      text = upsertSection(text, sessionRef, [['sso_start_url', spec.session.startUrl], ['sso_region', spec.session.region]], { displayPath, force: true }).text;
      session = 'updated';
    }
  }
  doc = parseAwsConfig(text, displayPath);

  const profileRef = { kind: 'profile' as const, name: spec.profile };
  const identity: [string, string][] = [
    ['sso_session', spec.session.name],
    ['sso_account_id', spec.account],
    ['sso_role_name', spec.role],
  ];
  if (state.state === 'missing') {
    text = upsertSection(text, profileRef, [...identity, ['region', spec.region ?? spec.session.region]], { displayPath }).text;
    return { text, session, profile: 'added' };
  }
  // Forced: only the identity lines change; legacy keys that would contradict the session go.
  text = upsertSection(text, profileRef, identity, { displayPath, force: true, remove: ['sso_start_url', 'sso_region'] }).text;
  return { text, session, profile: 'updated' };
}

export type SyncStatus = 'written' | 'updated' | 'present' | 'differs' | 'unwritable';

export interface SyncItem {
  env: string;
  key: string;
  profile: string;
  status: SyncStatus;
  /** Why a profile was not written (differs / unwritable). */
  detail?: string;
  fix?: string;
  /** The error code behind `unwritable`, when there was one. */
  code?: string;
  /** An [sso-session] keyrack added or changed along the way. */
  session?: { name: string; change: Change };
}

export interface SyncResult {
  doc: AwsConfigDoc;
  items: SyncItem[];
  /** Profile names added or updated (each once). */
  written: string[];
  changed: boolean;
}

export interface SyncOptions {
  /** Update existing profiles that differ from their reference (else they are reported and left alone). */
  force?: boolean;
  /** Work out what would change, write nothing. */
  dryRun?: boolean;
  /** Only add missing profiles; existing ones are not compared (the implicit write inside unlock). */
  missingOnly?: boolean;
}

function unwritable(ref: AwsProfileRef, displayPath: string): { detail: string; fix: string } {
  return {
    detail: `profile "${ref.profile}" does not exist in ${displayPath}, and keyrack.yml does not say how to create it`,
    fix: `add sso, account and role to ${ref.env}/${ref.key} in keyrack.yml, or create [profile ${ref.profile}] (aws configure sso)`,
  };
}

/** Write (or report) every profile `refs` need. One read, one atomic write guarded against concurrent edits. */
export async function syncProfiles(paths: Paths, file: KeyrackFile, refs: AwsProfileRef[], opts: SyncOptions = {}): Promise<SyncResult> {
  let doc = await readAwsConfig(paths.awsConfig, { home: paths.home });
  const displayPath = doc.displayPath;
  const original = doc.text;
  let text = original;
  const items: SyncItem[] = [];
  const written: string[] = [];
  const decided = new Map<string, SyncItem>();

  for (const ref of refs) {
    const seen = decided.get(ref.profile);
    if (seen) {
      // Several keys may share a profile: the first decides, the others report the same outcome.
      items.push({ ...seen, env: ref.env, key: ref.key, ...(seen.status === 'written' || seen.status === 'updated' ? { status: 'present' as const } : {}) });
      continue;
    }
    const spec = specForRef(file, ref);
    const item: SyncItem = { env: ref.env, key: ref.key, profile: ref.profile, status: 'present' };
    const exists = findSection(doc, { kind: 'profile', name: ref.profile }) !== undefined;
    if (exists && (opts.missingOnly || !spec)) {
      if (!opts.missingOnly && !spec && (ref.account || ref.role)) {
        // Pins without a full recipe still say what the profile must be.
        const p = (() => {
          try {
            return resolveProfile(doc, ref.profile);
          } catch {
            return undefined;
          }
        })();
        const account = p && 'accountId' in p ? p.accountId : undefined;
        const role = p && 'roleName' in p ? p.roleName : undefined;
        if ((ref.account && account !== ref.account) || (ref.role && role !== ref.role)) {
          item.status = 'differs';
          item.detail = `[profile ${ref.profile}] does not match the account/role keyrack.yml pins`;
          item.fix = `edit [profile ${ref.profile}] in ${displayPath}, or add sso to ${ref.env}/${ref.key} in keyrack.yml and rerun with --force`;
        }
      }
    } else if (!spec) {
      Object.assign(item, { status: 'unwritable' as const }, unwritable(ref, displayPath));
    } else {
      const state = compareProfile(doc, { profile: spec.profile, account: spec.account, role: spec.role, startUrl: spec.session.startUrl });
      if (state.state === 'differs' && !opts.force) {
        Object.assign(item, { status: 'differs' as const, detail: state.detail, fix: `edit [profile ${ref.profile}] in ${displayPath}, or rerun with --force to let keyrack update it` });
      } else if (state.state !== 'same') {
        try {
          const w = applyProfileSpec(text, spec, { force: opts.force === true, displayPath });
          text = w.text;
          doc = parseAwsConfig(text, displayPath);
          item.status = w.profile === 'updated' ? 'updated' : 'written';
          if (w.session !== 'unchanged') item.session = { name: spec.session.name, change: w.session };
          written.push(ref.profile);
        } catch (e) {
          if (!isKeyrackError(e) || e.code !== 'aws-config.conflict') throw e;
          Object.assign(item, { status: 'unwritable' as const, detail: e.message, code: e.code, ...(e.fix ? { fix: e.fix } : {}) });
        }
      }
    }
    decided.set(ref.profile, item);
    items.push(item);
  }
  const changed = text !== original;
  if (changed && !opts.dryRun) await writeAwsConfig(paths.awsConfig, text, { expected: original, displayPath });
  return { doc, items, written, changed };
}

/**
 * The implicit write inside unlock: adds missing profiles (and their sso-session) for `refs`; existing profiles
 * are left alone (validation proves them). A reference keyrack cannot write is an error.
 */
export async function writeMissingProfiles(paths: Paths, file: KeyrackFile, refs: AwsProfileRef[]): Promise<{ doc: AwsConfigDoc; written: string[] }> {
  const r = await syncProfiles(paths, file, refs, { missingOnly: true });
  const bad = r.items.find((i) => i.status === 'unwritable');
  if (bad) {
    const ref = refs.find((x) => x.env === bad.env && x.key === bad.key) as AwsProfileRef;
    throw new KeyrackError({
      code: bad.code ?? 'aws-config.profile-missing',
      reason: 'misconfigured',
      message: bad.detail ?? `profile "${bad.profile}" could not be written`,
      location: `${ref.location.file}:${ref.location.line}:${ref.location.col}`,
      ...(bad.fix ? { fix: bad.fix } : {}),
    });
  }
  return { doc: r.doc, written: r.written };
}
