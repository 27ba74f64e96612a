// `keyrack migrate --to keychain|files [--sso NAME]`: move an SSO session between the AWS CLI's files and the OS
// keychain, and remove the copy it leaves behind.
//
// Per session, under the session's refresh lock (so no refresh or login writes meanwhile), in this order:
//   1. copied    the token and client registration are written to the destination store and read back; when both
//                stores hold a token, the one that expires later wins (after an interrupted run, the one a refresh
//                since has rotated), so a live refresh token is never overwritten by a stale one;
//   2. switched  the user config's `sso.<name>.token_store` names the destination (robots follow it from here);
//   3. profiles  the keyrack-managed profiles of the session are rewritten: to `credential_process` for the
//                keychain (their target recorded for credential-process), back to sso_session for the files;
//   4. cleaned   the source copies are deleted: token, registration, and the role credentials of those profiles.
// Each step leaves a working state, and running the command again finishes the job: an interruption loses nothing.
//
// "Keyrack-managed" profiles: those keyrack.yml references (when there is one), those in a live unlock record, and
// those keyrack already turned into credential_process profiles. No other profile is touched.
import { isMap, parseDocument } from 'yaml';
import { installedLauncher } from '../core/launcher.js';
import { KeyrackError, isKeyrackError } from '../core/errors.js';
import type { AwsProfileRef, KeyrackFile } from '../core/keyrack-file.js';
import { selectRefs } from '../core/keyrack-find.js';
import type { Logger } from '../core/log.js';
import type { RobotContext } from '../core/plugin.js';
import type { Paths, Runtime } from '../core/runtime.js';
import { readFileIfExists, writeFileAtomic } from '../store/files.js';
import { withFileLock } from '../store/lock.js';
import { listUnlockRecords } from '../store/state.js';
import { userConfigPath, type TokenStore as TokenStoreKind } from '../store/user-config.js';
import { parseUserConfig } from '../store/user-config-parse.js';
import { registrationCacheKey } from './cache-keys.js';
import { readAwsConfig, resolveProfile, resolveSsoSession, writeAwsConfig, type AwsConfigDoc } from './config-file.js';
import {
  credentialProcessLine,
  isKeyrackProcessLine,
  listProcessTargets,
  mergeProcessTarget,
  profileTargetOf,
  readProcessTarget,
  removeProcessTarget,
  resolveTargetOrRecorded,
  toProcessProfile,
  toSsoProfile,
  writeProcessTarget,
  type ProcessTargetRef,
} from './credential-process.js';
import { tokenLockPath } from './session-token.js';
import { sessionLogin, type ProfileTarget, type SsoLogin } from './target.js';
import { tokenExpiresAt, type SsoTokenFile } from './token-cache.js';
import { openTokenStore, type TokenStore } from './token-store.js';

export type MigrateTo = 'keychain' | 'files';
export type MigrateStep = 'copied' | 'switched' | 'profiles' | 'cleaned';

export interface MigrateContext {
  runtime: Runtime;
  log: Logger;
  /** keyrack.yml, when there is one: its references say which profiles keyrack manages, and their pins. */
  file?: KeyrackFile;
  /** A person at a terminal (a locked keyring may then show its unlock dialog). */
  interactive?: boolean;
  /** Called after each step of each session; a throw stops the migration there (used to prove resumability). */
  afterStep?: (step: MigrateStep, session: string) => void | Promise<void>;
}

export interface SessionMigration {
  sso: string;
  /** moved: the source's token is now in the destination; kept: the destination already had a newer one */
  token: 'moved' | 'kept' | 'none';
  registration: 'moved' | 'kept' | 'none';
  /** profiles rewritten */
  profiles: string[];
  /** source copies deleted (token, registration, role credentials) */
  removed: number;
}

export interface MigrateResult {
  to: MigrateTo;
  sessions: SessionMigration[];
}

const kindOf = (to: MigrateTo): TokenStoreKind => (to === 'keychain' ? 'keychain' : 'aws-cli');

// ---------------------------------------------------------------------------------------------------------------
// The user config switch

/** Set `sso.<session>.token_store` in $XDG_CONFIG_HOME/keyrack/config.yml, keeping the rest of the file as it is. */
async function setTokenStoreSetting(paths: Pick<Paths, 'config'>, session: string, kind: TokenStoreKind): Promise<boolean> {
  const path = userConfigPath(paths);
  const text = (await readFileIfExists(path)) ?? '';
  const before = parseUserConfig(text, path); // a broken file is reported (with file:line:col), never rewritten
  const current = Object.hasOwn(before.sso, session) ? before.sso[session]?.tokenStore : undefined;
  if ((current ?? 'aws-cli') === kind) return false; // already so, or the default
  // A document that is an empty scalar (`---`, `~`) has no map to add to: start one.
  let doc = parseDocument(text);
  if (doc.contents !== null && !isMap(doc.contents)) doc = parseDocument('');
  doc.setIn(['sso', session, 'token_store'], kind);
  const out = String(doc);
  parseUserConfig(out, path);
  await writeFileAtomic(path, out);
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// Moving one session's secrets

const later = (a: SsoTokenFile, b: SsoTokenFile) => tokenExpiresAt(a) > tokenExpiresAt(b);

function registrationKeyOf(sso: SsoLogin): string {
  return registrationCacheKey({ startUrl: sso.startUrl, region: sso.region, session: sso.session ?? null, scopes: sso.scopes ?? null });
}

/** A source token that cannot be read is still a plaintext copy to delete, but nothing to move. */
async function readOrNothing(store: TokenStore, sso: SsoLogin, log: Logger): Promise<SsoTokenFile | undefined> {
  try {
    return await store.readToken(sso);
  } catch (e) {
    if (isKeyrackError(e) && e.reason === 'misconfigured' && e.code.startsWith('token-cache.')) {
      log.debug('migrate: the source token is unreadable; not moved', { code: e.code });
      return undefined;
    }
    throw e;
  }
}

/** Step 1: copy (newest wins) and read back. Run under the session's lock. */
async function copySession(from: TokenStore, to: TokenStore, sso: SsoLogin, log: Logger): Promise<Pick<SessionMigration, 'token' | 'registration'>> {
  const src = await readOrNothing(from, sso, log);
  const dst = await to.readToken(sso).catch((e: unknown) => {
    if (isKeyrackError(e) && e.code === 'token-cache.corrupt') return undefined; // replaced below
    throw e;
  });
  for (const t of [src, dst]) {
    log.redactor.register(t?.accessToken);
    log.redactor.register(t?.refreshToken);
    log.redactor.register(t?.clientSecret);
  }
  let token: SessionMigration['token'] = 'none';
  if (src && (!dst || later(src, dst))) {
    await to.writeToken(sso, src);
    const back = await to.readToken(sso);
    if (!back || back.accessToken !== src.accessToken || back.refreshToken !== src.refreshToken || back.expiresAt !== src.expiresAt) {
      throw new KeyrackError({ code: 'migrate.verify-failed', reason: 'misconfigured', message: `the SSO token for ${sso.label} did not read back the same from ${to.where(sso)}; nothing was removed`, fix: 'check the store, then rerun keyrack migrate' });
    }
    token = 'moved';
  } else if (src && dst) {
    token = 'kept';
  }
  const key = registrationKeyOf(sso);
  const srcReg = await from.readRegistration(key);
  const dstReg = await to.readRegistration(key);
  log.redactor.register(srcReg?.clientSecret);
  let registration: SessionMigration['registration'] = 'none';
  if (srcReg && (!dstReg || Date.parse(srcReg.expiresAt) > Date.parse(dstReg.expiresAt))) {
    await to.writeRegistration(key, srcReg);
    registration = 'moved';
  } else if (srcReg) {
    registration = 'kept';
  }
  return { token, registration };
}

/** Step 4: delete the source copies, once the destination holds a token at least as new. Run under the lock. */
async function purgeSession(from: TokenStore, to: TokenStore, sso: SsoLogin, roleKeys: Iterable<string>, log: Logger): Promise<number> {
  const src = await readOrNothing(from, sso, log);
  if (src) {
    const dst = await to.readToken(sso);
    if (!dst || later(src, dst)) {
      throw new KeyrackError({ code: 'migrate.not-copied', reason: 'misconfigured', message: `the SSO token for ${sso.label} is not in ${to.where(sso)} yet; the source copy was kept`, fix: 'rerun keyrack migrate' });
    }
  }
  let removed = 0;
  if (await from.deleteToken(sso)) removed++;
  if (await from.deleteRegistration(registrationKeyOf(sso))) removed++;
  for (const k of new Set(roleKeys)) if (await from.deleteRoleCredentials(k)) removed++;
  return removed;
}

const lockOptions = { timeoutMs: 30_000, staleMs: 60_000 };

/**
 * For unlock in keychain mode: a token the AWS CLI (or keyrack before the switch) left in ~/.aws/sso/cache is
 * moved into the keychain when it is newer, and the plaintext copies (token, registration, role credentials) are
 * deleted. Nothing is asked of AWS.
 */
export async function adoptPlaintext(ctx: Pick<RobotContext, 'runtime' | 'log'>, sso: SsoLogin, keychain: TokenStore, roleKeys: Iterable<string>): Promise<number> {
  const files = await openTokenStore(ctx.runtime, 'aws-cli');
  return withFileLock(tokenLockPath(ctx, sso), async () => {
    await copySession(files, keychain, sso, ctx.log);
    return purgeSession(files, keychain, sso, roleKeys, ctx.log);
  }, lockOptions);
}

// ---------------------------------------------------------------------------------------------------------------
// Which sessions and profiles

interface Managed {
  target: ProfileTarget;
  refs: ProcessTargetRef[];
}

function ssoOf(doc: AwsConfigDoc, file: KeyrackFile | undefined, name: string, recorded: SsoLogin | undefined): SsoLogin {
  try {
    const s = resolveSsoSession(doc, name);
    return sessionLogin(name, s);
  } catch (e) {
    if (!isKeyrackError(e) || e.code !== 'aws-config.sso-session-missing') throw e;
  }
  if (recorded) return recorded;
  const y = file && Object.hasOwn(file.sso, name) ? file.sso[name] : undefined;
  if (y) return sessionLogin(name, { startUrl: y.startUrl, region: y.region });
  throw new KeyrackError({ code: 'migrate.unknown-sso', reason: 'invalid-input', message: `no sso-session named ${name} in ${doc.displayPath}`, fix: 'pass the name of an [sso-session NAME] section: --sso NAME' });
}

/** The target of a profile, whether it is still an SSO profile or already keyrack's credential_process one. */
async function targetOf(runtime: Runtime, doc: AwsConfigDoc, profile: string): Promise<ProfileTarget | undefined> {
  const ref: AwsProfileRef = { kind: 'profile', env: '', key: '', profile, location: { file: doc.displayPath, line: 1, col: 1 } };
  // No keyrack.yml: a credential_process profile's target comes from the record the last unlock wrote.
  return resolveTargetOrRecorded({ runtime, file: { path: doc.displayPath, sso: {}, envs: {} } }, doc, ref).catch((e: unknown) => {
    if (isKeyrackError(e)) return undefined;
    throw e;
  });
}

async function managedProfiles(ctx: MigrateContext, doc: AwsConfigDoc): Promise<Map<string, Managed>> {
  const out = new Map<string, Managed>();
  const add = (target: ProfileTarget | undefined, ref: ProcessTargetRef | undefined) => {
    if (!target || target.sso.session === undefined) return;
    const m = out.get(target.profile) ?? { target, refs: [] };
    if (ref && !m.refs.some((r) => r.env === ref.env && r.key === ref.key)) m.refs.push(ref);
    out.set(target.profile, m);
  };
  if (ctx.file) {
    for (const env of Object.keys(ctx.file.envs)) {
      for (const r of selectRefs(ctx.file, { env })) {
        if (r.kind !== 'profile') continue;
        add(await targetOf(ctx.runtime, doc, r.profile), { env: r.env, key: r.key, ...(r.account ? { account: r.account } : {}), ...(r.role ? { role: r.role } : {}) });
      }
    }
  }
  const now = ctx.runtime.clock.now();
  for (const rec of await listUnlockRecords(ctx.runtime.paths.state)) {
    if (rec.until !== undefined && rec.until <= now) continue;
    for (const [key, k] of Object.entries(rec.keys)) add(await targetOf(ctx.runtime, doc, k.profile), { env: rec.env, key });
  }
  for (const t of await listProcessTargets(ctx.runtime.paths.state)) {
    const m = out.get(t.profile);
    if (!m) {
      out.set(t.profile, { target: profileTargetOf(t), refs: [...t.refs] });
      continue;
    }
    for (const r of t.refs) if (!m.refs.some((x) => x.env === r.env && x.key === r.key)) m.refs.push(r);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------

export async function migrate(ctx: MigrateContext, req: { to: MigrateTo; sso?: string }): Promise<MigrateResult> {
  if (req.to !== 'keychain' && req.to !== 'files') {
    throw new KeyrackError({ code: 'migrate.bad-target', reason: 'invalid-input', message: 'migrate --to must be keychain or files', fix: 'keyrack migrate --to keychain (or --to files)' });
  }
  const { paths } = ctx.runtime;
  const doc = await readAwsConfig(paths.awsConfig, { home: paths.home });
  const managed = await managedProfiles(ctx, doc);
  const recordedSso = new Map([...managed.values()].map((m) => [m.target.sso.session as string, m.target.sso]));

  let names: string[];
  if (req.sso) names = [req.sso];
  else if (ctx.file) {
    names = [...new Set([...managed.values()].filter((m) => m.refs.some((r) => ctx.file && Object.hasOwn(ctx.file.envs, r.env) && Object.hasOwn(ctx.file.envs[r.env] ?? {}, r.key))).map((m) => m.target.sso.session as string))];
    if (names.length === 0) throw new KeyrackError({ code: 'migrate.nothing', reason: 'invalid-input', message: `${ctx.file.path} references no sso-session profile`, fix: 'name the session: keyrack migrate --to … --sso NAME' });
  } else {
    throw new KeyrackError({ code: 'migrate.which-sso', reason: 'invalid-input', message: 'no keyrack.yml here to say which SSO sessions to migrate', fix: 'name the session: keyrack migrate --to … --sso NAME' });
  }

  const storeOpts = { interactive: ctx.interactive === true };
  const files = await openTokenStore(ctx.runtime, 'aws-cli');
  const keychain = await openTokenStore(ctx.runtime, 'keychain', storeOpts);
  const [from, to] = req.to === 'keychain' ? [files, keychain] : [keychain, files];
  const step = async (s: MigrateStep, name: string) => ctx.afterStep?.(s, name);
  const result: MigrateResult = { to: req.to, sessions: [] };

  for (const name of names) {
    const sso = ssoOf(doc, ctx.file, name, recordedSso.get(name));
    const mine = [...managed.values()].filter((m) => m.target.sso.session === name);
    const out: SessionMigration = { sso: name, token: 'none', registration: 'none', profiles: [], removed: 0 };
    await withFileLock(tokenLockPath(ctx, sso), async () => {
      Object.assign(out, await copySession(from, to, sso, ctx.log));
      await step('copied', name);

      await setTokenStoreSetting(paths, name, kindOf(req.to));
      await step('switched', name);

      out.profiles = await rewriteProfiles(ctx, mine, req.to);
      await step('profiles', name);

      out.removed = await purgeSession(from, to, sso, mine.map((m) => m.target.roleKey), ctx.log);
      await step('cleaned', name);
    }, lockOptions);
    result.sessions.push(out);
  }
  return result;
}

/** Step 3: the session's managed profiles into the destination's shape; one atomic write of ~/.aws/config. */
async function rewriteProfiles(ctx: MigrateContext, mine: Managed[], to: MigrateTo): Promise<string[]> {
  const { paths, clock } = ctx.runtime;
  const doc = await readAwsConfig(paths.awsConfig, { home: paths.home });
  let text = doc.text;
  const changed: string[] = [];
  const cmd = to === 'keychain' ? installedLauncher() : undefined;
  for (const m of mine) {
    let p;
    try {
      p = resolveProfile(doc, m.target.profile);
    } catch {
      p = undefined;
    }
    const isOurs = p?.kind === 'credential-process' && isKeyrackProcessLine(p.command, m.target.profile);
    const next = cmd ? toProcessProfile(text, m.target, credentialProcessLine(cmd, m.target.profile), doc.displayPath) : isOurs ? toSsoProfile(text, m.target, doc.displayPath) : text;
    if (next !== text) changed.push(m.target.profile);
    text = next;
  }
  // The records first: a credential_process line never points at a target that is not written yet.
  for (const m of mine) {
    if (cmd) await writeProcessTarget(paths.state, mergeProcessTarget(await readProcessTarget(paths.state, m.target.profile), m.target, m.refs, clock.now()));
  }
  if (text !== doc.text) await writeAwsConfig(paths.awsConfig, text, { expected: doc.text, displayPath: doc.displayPath });
  if (!cmd) for (const m of mine) await removeProcessTarget(paths.state, m.target.profile);
  return changed;
}
