// `keyrack credential-process --profile P`: the robot path behind a keychain-mode profile.
//
// A session with `token_store: keychain` keeps its SSO token in the OS keychain, where the AWS CLI and the SDKs
// cannot read it. So `keyrack unlock` rewrites each profile keyrack.yml references for that session into
//
//   [profile acme.prep]
//   credential_process = '/usr/bin/node' '/…/keyrack-aws/bin/keyrack.cjs' credential-process --profile acme.prep
//   region = us-east-1
//
// without the sso_* keys (the AWS CLI would prefer SSO over credential_process and look for a token file), and
// records the SSO target of the profile (session, start URL, region, account, role, the keyrack.yml keys and pins
// it backs; no secret) in $XDG_STATE_HOME/keyrack/process-profiles/<profile>.json. From any directory, without
// keyrack.yml, every AWS CLI / SDK call then runs this, which:
//
//   1. refuses unless a human's unlock of one of those keys is live (`keyrack lock` takes effect at once);
//   2. reads the token from the keychain, refreshing it under the cross-process lock when it is due (one refresh
//      however many callers arrive at once);
//   3. serves role credentials from the keychain while they have more than 5 minutes left; otherwise fetches them
//      (GetRoleCredentials), proves them (STS GetCallerIdentity), checks the pins and caches them in the keychain;
//   4. prints the Version 1 JSON the AWS CLI and the SDKs expect; a refusal is one line on stderr and a non-zero
//      exit, which the CLI and the SDK show to the robot.
//
// It can never log in: nothing here imports src/aws/login. The AWS SDK is loaded only when AWS must be asked.
import type { Launcher } from '../core/launcher.js';
import { readdir } from 'node:fs/promises';
import { requireUnlocked, unlockCommand } from '../core/access.js';
import { KeyrackError, isKeyrackError } from '../core/errors.js';
import type { AwsProfileRef } from '../core/keyrack-file.js';
import type { Identity, RobotContext, RoleCredentials } from '../core/plugin.js';
import { readFileIfExists, removeFileIfExists, writeFileAtomic } from '../store/files.js';
import { dropFastProcess, readSettled, writeFastProcess } from '../store/state.js';
import { parseUserConfigText, ssoSettings, userConfigPath } from '../store/user-config.js';
import { findSection, parseAwsConfig, resolveProfile, resolveSsoSession, upsertSection, type AwsConfigDoc } from './config-file.js';
import { networkFromEnv, robotCallTarget, withBudget } from './network.js';
import { checkPins } from './pins.js';
import { DEFAULT_REGISTRATION_SCOPES, specForRef } from './profile-writer.js';
import { usableToken, type UsableToken } from './session-token.js';
import { resolveTarget, sessionLogin, type ProfileTarget } from './target.js';
import { tokenStoreFor, type TokenStore } from './token-store.js';
import { roleCacheKey } from './cache-keys.js';
import { checkProfileName, parseProcessTarget, processDir, processTargetPath, type ProcessTarget, type ProcessTargetRef } from './process-target.js';
import { sha256Hex } from '../core/hash.js';

export { processTargetPath, renderProcessOutput, type ProcessTarget, type ProcessTargetRef } from './process-target.js';

// ---------------------------------------------------------------------------------------------------------------
// The recorded target of a keychain-mode profile (its shape and file: ./process-target.ts)

export async function readProcessTarget(state: string, profile: string): Promise<ProcessTarget | undefined> {
  checkProfileName(profile);
  const text = await readFileIfExists(processTargetPath(state, profile));
  return text === undefined ? undefined : parseProcessTarget(text, profile);
}

export async function writeProcessTarget(state: string, target: ProcessTarget): Promise<void> {
  checkProfileName(target.profile);
  await writeFileAtomic(processTargetPath(state, target.profile), `${JSON.stringify(target)}\n`);
}

export async function removeProcessTarget(state: string, profile: string): Promise<boolean> {
  checkProfileName(profile);
  return removeFileIfExists(processTargetPath(state, profile));
}

export async function listProcessTargets(state: string): Promise<ProcessTarget[]> {
  const names = await readdir(processDir(state)).catch(() => [] as string[]);
  const out: ProcessTarget[] = [];
  for (const n of names.filter((x) => x.endsWith('.json'))) {
    const t = await readProcessTarget(state, n.slice(0, -5)).catch(() => undefined);
    if (t) out.push(t);
  }
  return out;
}

/** The SSO login and cache keys of a recorded target. */
export function profileTargetOf(t: Pick<ProcessTarget, 'profile' | 'sso' | 'accountId' | 'roleName'>): ProfileTarget {
  const sso = sessionLogin(t.sso.session, { ...t.sso, registrationScopes: t.sso.scopes });
  return { profile: t.profile, sso, accountId: t.accountId, roleName: t.roleName, roleKey: roleCacheKey({ accountId: t.accountId, roleName: t.roleName, session: t.sso.session }) };
}

/** The record for `target`, keeping the keys an earlier unlock (of another env or repo) added. */
export function mergeProcessTarget(previous: ProcessTarget | undefined, target: ProfileTarget, refs: ProcessTargetRef[], now: number): ProcessTarget {
  if (target.sso.session === undefined) throw new KeyrackError({ code: 'internal.legacy-process', reason: 'internal', message: 'a legacy SSO profile cannot use the keychain store' });
  const same = previous && previous.sso.session === target.sso.session && previous.accountId === target.accountId && previous.roleName === target.roleName;
  const kept = same ? previous.refs.filter((p) => !refs.some((r) => r.env === p.env && r.key === p.key)) : [];
  return {
    version: 1,
    profile: target.profile,
    refs: [...kept, ...refs],
    sso: { session: target.sso.session, startUrl: target.sso.startUrl, region: target.sso.region, ...(target.sso.scopes ? { scopes: target.sso.scopes } : {}) },
    accountId: target.accountId,
    roleName: target.roleName,
    updatedAt: now,
  };
}

/**
 * The target of a reference, as resolveTarget gives it, but also for a profile keyrack turned into a
 * credential_process profile (no sso_* keys left): from keyrack.yml (sso, account, role) and the [sso-session],
 * else from the record the last unlock wrote. Robot-safe (no AWS, no login); what grant, status, lock and the
 * watcher need to handle keychain-mode profiles.
 */
export async function resolveTargetOrRecorded(ctx: Pick<RobotContext, 'runtime' | 'file'>, doc: AwsConfigDoc, ref: AwsProfileRef): Promise<ProfileTarget> {
  try {
    return resolveTarget(doc, ref);
  } catch (e) {
    if (!isKeyrackError(e) || e.code !== 'aws-config.not-sso') throw e;
    const p = resolveProfile(doc, ref.profile);
    if (p.kind !== 'credential-process' || !isKeyrackProcessLine(p.command, ref.profile)) throw e;
    const spec = specForRef(ctx.file, ref);
    if (spec) {
      const name = spec.session.name;
      let session: { startUrl: string; region: string; registrationScopes?: string[] } = spec.session;
      try {
        session = resolveSsoSession(doc, name);
      } catch (err) {
        if (!isKeyrackError(err) || err.code !== 'aws-config.sso-session-missing') throw err;
      }
      return profileTargetOf({ profile: ref.profile, sso: { session: name, startUrl: session.startUrl, region: session.region, ...(session.registrationScopes ? { scopes: session.registrationScopes } : {}) }, accountId: spec.account, roleName: spec.role });
    }
    const recorded = await readProcessTarget(ctx.runtime.paths.state, ref.profile);
    if (recorded) return profileTargetOf(recorded);
    throw new KeyrackError({
      code: 'aws-config.process-target-unknown',
      reason: 'misconfigured',
      message: `profile "${ref.profile}" is a keyrack credential_process profile, but this machine has no record of its SSO account and role`,
      location: `${ref.location.file}:${ref.location.line}:${ref.location.col}`,
      fix: `add sso, account and role to ${ref.env}/${ref.key} in keyrack.yml, then run keyrack unlock again`,
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The profile in ~/.aws/config


/** Quoted for both readers: botocore (shlex.split) and the SDKs (/bin/sh). */
function quoteArg(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  if (/['\r\n]/.test(s) || /(?:^|\s)[#;]/.test(s)) {
    throw new KeyrackError({
      code: 'credential-process.unquotable-path',
      reason: 'misconfigured',
      message: 'the path of node or keyrack cannot be written into ~/.aws/config as a credential_process',
      fix: 'install keyrack (and node) under a path without quotes, line breaks or " #" / " ;"',
    });
  }
  return `'${s}'`;
}

/** `cmd`: what the line runs, node and keyrack's launcher (src/core/launcher.ts installedLauncher). */
export function credentialProcessLine(cmd: Launcher, profile: string): string {
  checkProfileName(profile);
  return `${quoteArg(cmd.node)} ${quoteArg(cmd.bin)} credential-process --profile ${profile}`;
}

/** Whether a credential_process value is keyrack's (for `profile`, when given). */
export function isKeyrackProcessLine(line: string, profile?: string): boolean {
  const m = /\scredential-process --profile ([A-Za-z0-9._-]+)$/.exec(line.trim());
  return m !== null && (profile === undefined || m[1] === profile);
}

/** The keys that make the AWS CLI pick SSO over credential_process. */
const SSO_PROFILE_KEYS = ['sso_session', 'sso_account_id', 'sso_role_name', 'sso_start_url', 'sso_region', 'sso_registration_scopes'];

/** `[profile P]` as a keychain-mode profile: credential_process (and a region), no sso_* keys; other keys kept. */
export function toProcessProfile(text: string, target: ProfileTarget, line: string, displayPath?: string): string {
  const ref = { kind: 'profile' as const, name: target.profile };
  const section = findSection(parseAwsConfig(text, displayPath), ref);
  const entries: [string, string][] = [['credential_process', line]];
  if (!section?.entries.has('region')) entries.push(['region', target.sso.region]);
  return upsertSection(text, ref, entries, { force: true, remove: SSO_PROFILE_KEYS, ...(displayPath ? { displayPath } : {}) }).text;
}

/** Back to an AWS-CLI SSO profile (sso_session, account, role), its [sso-session] added if it went missing. */
export function toSsoProfile(text: string, target: ProfileTarget, displayPath?: string): string {
  const session = target.sso.session;
  if (session === undefined) return text;
  const opts = displayPath ? { displayPath } : {};
  const sessionRef = { kind: 'sso-session' as const, name: session };
  let out = text;
  if (!findSection(parseAwsConfig(out, displayPath), sessionRef)) {
    out = upsertSection(out, sessionRef, [['sso_start_url', target.sso.startUrl], ['sso_region', target.sso.region], ['sso_registration_scopes', target.sso.scopes?.join(', ') ?? DEFAULT_REGISTRATION_SCOPES]], opts).text;
  }
  return upsertSection(out, { kind: 'profile', name: target.profile }, [['sso_session', session], ['sso_account_id', target.accountId], ['sso_role_name', target.roleName]], { ...opts, force: true, remove: ['credential_process'] }).text;
}

// ---------------------------------------------------------------------------------------------------------------
// Validation with the store's role-credential cache

export interface TargetValidation {
  credentials: RoleCredentials;
  /** Absent only for a cache hit in a store that cannot keep it (the AWS CLI's files). */
  identity?: Identity;
  tokenExpiresAt?: number;
  /** served from the role-credential cache */
  cached: boolean;
}

/**
 * Role credentials for `target`, the session proven locally (a token that is valid or was just refreshed), and
 * the pins of `pinRef` checked against the identity STS reported.
 *
 * `prove: false` (credential-process): a cached credential with more than 5 minutes left is served without asking
 * AWS; when AWS does not answer a due refresh, a cached credential is still served. `prove: true` (unlock): like
 * grant's validation — a cached credential is used only after the session was proven alive (a refresh just now, or
 * one ListAccounts) and STS accepted it; one STS refuses is dropped and fetched once more.
 */
export async function validateTarget(ctx: RobotContext, target: ProfileTarget, pinRef: AwsProfileRef, store: TokenStore, cmd: string, opts: { prove: boolean }): Promise<TargetValidation> {
  const { clock } = ctx.runtime;
  const log = ctx.log;
  let cached = await store.readRoleCredentials(target.roleKey, clock.now());
  if (cached) {
    log.redactor.register(cached.credentials.secretAccessKey);
    log.redactor.register(cached.credentials.sessionToken);
  }
  const fromCache = (c: NonNullable<typeof cached>, tokenExpiresAt?: number): TargetValidation => {
    checkPins(pinRef, target, c.identity ?? { arn: '', account: target.accountId, role: target.roleName });
    log.debug('role credentials: from the store', { profile: target.profile, store: store.kind, left: `${Math.round((c.credentials.expiresAt - clock.now()) / 60_000)}min` });
    return { credentials: c.credentials, ...(c.identity ? { identity: c.identity } : {}), ...(tokenExpiresAt !== undefined ? { tokenExpiresAt } : {}), cached: true };
  };

  let token: UsableToken;
  try {
    token = await usableToken(ctx, target.sso, cmd, { store });
  } catch (e) {
    if (!opts.prove && cached && e instanceof KeyrackError && e.reason === 'unavailable') {
      log.debug('refresh not answered; serving the cached role credentials', { profile: target.profile });
      return fromCache(cached);
    }
    throw e;
  }
  log.redactor.register(token.accessToken);
  if (cached && !opts.prove) return fromCache(cached, token.expiresAt);

  // AWS must be asked: only now is the SDK loaded.
  const [{ getRoleCredentials, probeSession }, { getCallerIdentity }] = await Promise.all([import('./portal.js'), import('./sts.js')]);
  const net = networkFromEnv(ctx.runtime.env);
  // Hand-built requests (no SDK load) unless the SDK is asked for.
  const sts = { ...robotCallTarget(ctx, target.sso.region, net), log };
  const portal = { ...sts, accessToken: token.accessToken };
  const subject = { subject: `profile ${target.profile}`, unlockCommand: cmd };
  const refused = (e: unknown) => e instanceof KeyrackError && e.reason === 'expired';

  if (cached) {
    if (!token.refreshed) await probeSession(portal, subject);
    try {
      const identity = await getCallerIdentity(sts, cached.credentials, subject);
      checkPins(pinRef, target, identity);
      await store.writeRoleCredentials(target.roleKey, cached.credentials, identity);
      return { credentials: cached.credentials, identity, tokenExpiresAt: token.expiresAt, cached: true };
    } catch (e) {
      if (!refused(e)) throw e;
      log.debug('cached role credentials refused by STS; dropped, fetching new ones once', { profile: target.profile });
      await store.deleteRoleCredentials(target.roleKey);
      cached = undefined;
    }
  }

  const credentials = await getRoleCredentials(portal, target.accountId, target.roleName, subject);
  log.redactor.register(credentials.secretAccessKey);
  log.redactor.register(credentials.sessionToken);
  let identity: Identity;
  try {
    identity = await getCallerIdentity(sts, credentials, subject);
  } catch (e) {
    if (refused(e)) await store.deleteRoleCredentials(target.roleKey);
    throw e;
  }
  checkPins(pinRef, target, identity);
  await store.writeRoleCredentials(target.roleKey, credentials, identity);
  return { credentials, identity, tokenExpiresAt: token.expiresAt, cached: false };
}

// ---------------------------------------------------------------------------------------------------------------
// The command's work

export interface ProcessResult {
  env: string;
  key: string;
  profile: string;
  credentials: RoleCredentials;
  identity?: Identity;
  cached: boolean;
  store: TokenStore['kind'];
}

/** A keyrack.yml reference rebuilt from the record: enough for the unlock check, the pins and their messages. */
function refOf(target: ProcessTarget, r: ProcessTargetRef, state: string): AwsProfileRef {
  return {
    kind: 'profile',
    env: r.env,
    key: r.key,
    profile: target.profile,
    sso: target.sso.session,
    ...(r.account ? { account: r.account } : {}),
    ...(r.role ? { role: r.role } : {}),
    location: { file: processTargetPath(state, target.profile), line: 1, col: 1 },
  };
}

/** The first of the profile's keys a human has unlocked (for this very profile), or the refusal. */
async function unlockedRef(ctx: RobotContext, target: ProcessTarget): Promise<AwsProfileRef> {
  const state = ctx.runtime.paths.state;
  let first: unknown;
  for (const r of target.refs) {
    const ref = refOf(target, r, state);
    try {
      const record = await requireUnlocked(ctx, ref);
      if (record.keys[r.key]?.profile === target.profile) return ref;
      throw new KeyrackError({ code: 'unlock.none', reason: 'locked', message: `${r.env}/${r.key} is locked for profile ${target.profile}: it was unlocked as another profile`, fix: `a human runs: ${unlockCommand(r.env)}` });
    } catch (e) {
      first ??= e;
    }
  }
  throw first ?? new KeyrackError({ code: 'unlock.none', reason: 'locked', message: `profile ${target.profile} backs no unlocked key`, fix: 'a human runs keyrack unlock in the repo whose keyrack.yml references it' });
}

/**
 * Leave the fast path's record (store/state.ts FastProcessRecord) after serving from the keychain: the user config
 * is read again and must still put this session in the keychain, so the record never vouches for a text that was
 * not the one used. True when the record is in place (rewritten only when it changed). Best effort: false only
 * means no fast path.
 */
async function vouchForFastPath(ctx: RobotContext, targetText: string, target: ProfileTarget): Promise<boolean> {
  const { paths, clock } = ctx.runtime;
  try {
    if (target.sso.session === undefined) return false;
    const now = clock.now();
    const userConfig = userConfigPath(paths);
    const uc = await readSettled(userConfig, now);
    if (!uc || ssoSettings(await parseUserConfigText(uc.bytes.toString('utf8'), userConfig), target.sso.session).tokenStore !== 'keychain') return false;
    await writeFastProcess(paths.state, {
      version: 1,
      profile: target.profile,
      targetSha256: sha256Hex(targetText),
      tokenKey: target.sso.tokenKey,
      roleKey: target.roleKey,
      userConfig,
      userConfigSha256: sha256Hex(uc.bytes),
      userConfigStat: uc.stat,
    });
    return true;
  } catch (e) {
    ctx.log.debug('fast path: no record written', { error: e instanceof KeyrackError ? e.code : e instanceof Error ? e.name : typeof e });
    return false;
  }
}

export async function credentialProcess(robot: RobotContext, profile: string): Promise<ProcessResult> {
  const state = robot.runtime.paths.state;
  checkProfileName(profile);
  // A refusal, or an answer that cannot vouch, leaves no record for the fast path to trust.
  try {
    const text = await readFileIfExists(processTargetPath(state, profile));
    const target = text === undefined ? undefined : parseProcessTarget(text, profile);
    if (!target || text === undefined) {
      throw new KeyrackError({
        code: 'credential-process.unknown-profile',
        reason: 'misconfigured',
        message: `profile ${profile} is not a keyrack keychain-mode profile on this machine`,
        fix: 'a human runs keyrack unlock in the repo whose keyrack.yml references it (with token_store: keychain for its sso session)',
      });
    }
    const ref = await unlockedRef(robot, target);
    // One budget for everything: the lock wait, the refresh, the portal and STS calls with their retries.
    const ctx = withBudget(robot, networkFromEnv(robot.runtime.env));
    const pt = profileTargetOf(target);
    const store = await tokenStoreFor(ctx.runtime, pt.sso);
    const v = await validateTarget(ctx, pt, ref, store, unlockCommand(ref.env), { prove: false });
    if (store.kind !== 'keychain' || !(await vouchForFastPath(ctx, text, pt))) await dropFastProcess(state, profile);
    return { env: ref.env, key: ref.key, profile, credentials: v.credentials, ...(v.identity ? { identity: v.identity } : {}), cached: v.cached, store: store.kind };
  } catch (e) {
    await dropFastProcess(state, profile).catch(() => undefined);
    throw e;
  }
}
