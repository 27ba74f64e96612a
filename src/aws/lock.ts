// Closing keys to robots. Plain `lock` leaves the human's AWS session alone (the next unlock needs no browser);
// `--logout` also ends the SSO session server-side and deletes only that session's cache files; `--revoke` is the
// kill switch (below).
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyrackError, toKeyrackError } from '../core/errors.js';
import type { AwsProfileRef, KeyrackFile } from '../core/keyrack-file.js';
import { selectRefs } from '../core/keyrack-find.js';
import type { Logger } from '../core/log.js';
import type { RobotContext } from '../core/plugin.js';
import type { Runtime } from '../core/runtime.js';
import { clearAllLoginSignals } from '../store/signal.js';
import { clearValidations, listUnlockRecords, removeUnlockRecord, type UnlockRecord } from '../store/state.js';
import { withFileLock } from '../store/lock.js';
import { stopRegisteredWatchers } from '../watch/pids.js';
import { stopService, type Platform } from '../watch/units.js';
import { forgetSession } from '../watch/state.js';
import { readAwsConfig, type AwsConfigDoc } from './config-file.js';
import { networkFromEnv, robotCallTarget } from './network.js';
import { grant } from './grant.js';
import { logout, probeSession } from './portal.js';
import { deleteRoleCredentials } from './role-cache.js';
import { resolveTargetOrRecorded } from './credential-process.js';
import { tokenLockPath } from './session-token.js';
import type { ProfileTarget, SsoLogin } from './target.js';
import { parseTokenJson } from './token-cache.js';
import { isCacheKey } from './cache-keys.js';
import { readFileIfExists } from '../store/files.js';
import { fileTokenStore, tokenStoreFor } from './token-store.js';

export interface LockResult {
  locked: string[];
  loggedOut: { sso: string; serverSide: boolean }[];
  deletedFiles: number;
}

export async function lock(ctx: RobotContext, req: { env?: string; logout?: boolean }): Promise<LockResult> {
  const { paths } = ctx.runtime;
  const envs = req.env ? [req.env.replace(/^env\./, '')] : (await listUnlockRecords(paths.state)).map((r) => r.env);
  if (req.env && !Object.hasOwn(ctx.file.envs, envs[0] as string)) {
    throw new KeyrackError({ code: 'keyrack-file.unknown-env', reason: 'invalid-input', message: `env ${req.env} is not defined in ${ctx.file.path}`, fix: `use one of: ${Object.keys(ctx.file.envs).join(', ')}` });
  }
  const locked: string[] = [];
  for (const env of envs) if (await removeUnlockRecord(paths.state, env)) locked.push(env);
  await clearValidations(paths.state);

  const result: LockResult = { locked, loggedOut: [], deletedFiles: 0 };
  if (!req.logout) return result;

  const doc = await readAwsConfig(paths.awsConfig, { home: paths.home });
  const scopeEnvs = req.env ? envs : Object.keys(ctx.file.envs);
  const targets: ProfileTarget[] = [];
  for (const env of scopeEnvs) {
    for (const ref of selectRefs(ctx.file, { env }).filter((r): r is AwsProfileRef => r.kind === 'profile')) {
      try {
        targets.push(await resolveTargetOrRecorded(ctx, doc, ref));
      } catch {
        // no profile, nothing cached for it
      }
    }
  }
  const net = networkFromEnv(ctx.runtime.env);
  const done = new Set<string>();
  for (const t of targets) {
    // Wherever the session keeps its secrets: the AWS CLI's files, or the OS keychain in hardened mode.
    const store = await tokenStoreFor(ctx.runtime, t.sso);
    if (await store.deleteRoleCredentials(t.roleKey)) result.deletedFiles++;
    if (done.has(t.sso.tokenKey)) continue;
    done.add(t.sso.tokenKey);
    await withFileLock(tokenLockPath(ctx, t.sso), async () => {
      const token = await store.readToken(t.sso).catch(() => undefined);
      let serverSide = false;
      if (token) {
        ctx.log.redactor.register(token.accessToken);
        serverSide = await logout({ region: t.sso.region, endpoints: ctx.runtime.endpoints, net, accessToken: token.accessToken });
      }
      if (await store.deleteToken(t.sso)) result.deletedFiles++;
      result.loggedOut.push({ sso: t.sso.label, serverSide });
    }, { timeoutMs: net.totalTimeoutMs + 5_000, staleMs: net.totalTimeoutMs * 2 + 10_000 });
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// The kill switch: `keyrack lock --revoke [--all]`, for a leak. In this order, so nothing can bring a session back
// while it is being taken down:
//   1. stop the watcher (the installed service, and every registered `keyrack watch` process);
//   2. remove the unlock records (robots are refused from here on), validation caches and robot signals;
//   3. for each SSO session: SSO Logout (ends it server-side), delete its token file and role credentials, then ask
//      the portal with the old access token to confirm the session is really gone;
//   4. prove it: a grant for every key in scope now fails with exit 3;
//   5. say what cannot be done from here: role sessions AWS already issued stay valid until they expire.
// Scope: the sessions keyrack.yml references (one env with --env); with --all, every unlock record on this machine
// and every SSO token and SSO role credential in the AWS CLI caches, with or without a keyrack.yml.
// Idempotent: a second run finds nothing left and says so. Never prints a token.

export interface RevokeRequest {
  env?: string;
  all?: boolean;
  platform: Platform;
}

export interface RevokeResult {
  watcher: { stoppedPids: number[]; service: 'stopped' | 'not-installed' | 'failed'; detail?: string };
  locked: string[];
  /** `unreadable`: a token others could read, or a damaged one: deleted without a logout (AWS was not told). */
  sessions: { sso: string; logout: 'ok' | 'failed' | 'no-token' | 'unreadable'; ended: 'confirmed' | 'unconfirmed' | 'no-token' }[];
  deleted: { tokens: number; roleCredentials: number; signals: number };
  verified: { env: string; key: string; exitCode: number; reason: string }[];
  consoleSteps: string[];
}

const CONSOLE_STEPS = [
  'Role sessions AWS already issued stay valid until they expire (up to the permission set\'s session duration, 1 hour by default); a logout cannot end them.',
  'To end them now: AWS console → IAM Identity Center → Users → <the user> → Active sessions → select them → Revoke session.',
  'Then look for use you did not expect: CloudTrail event history (filter by the user name), or GuardDuty findings if it is enabled.',
];

export interface RevokeContext {
  runtime: Runtime;
  log: Logger;
  /** keyrack.yml; optional with --all */
  file?: KeyrackFile;
  signal?: AbortSignal;
}

interface SessionToEnd {
  sso: SsoLogin;
  roleKeys: Set<string>;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}

/**
 * The `<cache key>.json` files of an AWS CLI cache directory with their text, read without the permission check
 * a robot's read makes: a file others can read is the first one a kill switch must find.
 */
async function cacheFiles(dir: string): Promise<{ key: string; text: string }[]> {
  const out: { key: string; text: string }[] = [];
  for (const n of await readdir(dir).catch(() => [] as string[])) {
    const key = n.slice(0, -5);
    if (!n.endsWith('.json') || !isCacheKey(key)) continue;
    const text = await readFileIfExists(join(dir, n)).catch(() => undefined);
    if (text !== undefined) out.push({ key, text });
  }
  return out;
}

/** Every SSO token file in ~/.aws/sso/cache (registration files have no accessToken and are left alone). */
async function cachedTokens(runtime: Runtime): Promise<SsoLogin[]> {
  const out: SsoLogin[] = [];
  for (const { key, text } of await cacheFiles(runtime.paths.ssoCache)) {
    const t = parseTokenJson(text);
    if (t === 'no accessToken') continue; // a client registration
    const known = typeof t === 'string' ? undefined : t; // damaged: still a file to delete
    out.push({ label: known?.startUrl ?? key.slice(0, 8), startUrl: known?.startUrl ?? '', region: known?.region ?? 'us-east-1', tokenKey: key });
  }
  return out;
}

/** Role credentials the AWS CLI cache holds for SSO profiles (ProviderType sso). */
async function cachedSsoRoleKeys(runtime: Runtime): Promise<string[]> {
  const out: string[] = [];
  for (const { key, text } of await cacheFiles(runtime.paths.cliCache)) {
    try {
      if ((JSON.parse(text) as { ProviderType?: unknown }).ProviderType === 'sso') out.push(key);
    } catch {
      // not ours to judge
    }
  }
  return out;
}

export async function revoke(ctx: RevokeContext, req: RevokeRequest): Promise<RevokeResult> {
  const { runtime, log } = ctx;
  const { paths } = runtime;
  const env = req.env?.replace(/^env\./, '');
  if (env && ctx.file && !Object.hasOwn(ctx.file.envs, env)) {
    throw new KeyrackError({ code: 'keyrack-file.unknown-env', reason: 'invalid-input', message: `env ${req.env} is not defined in ${ctx.file.path}`, fix: `use one of: ${Object.keys(ctx.file.envs).join(', ')}` });
  }
  if (!ctx.file && !req.all) {
    throw new KeyrackError({ code: 'lock.revoke-scope', reason: 'invalid-input', message: 'lock --revoke needs a keyrack.yml to know which sessions to revoke', fix: 'run it in the repo, pass --file, or use --revoke --all for every session on this machine' });
  }

  // 1. Nothing may refresh or push a login while we take sessions down.
  const service = await stopService(runtime, req.platform, exists).catch((e: unknown) => ({ installed: true, stopped: false, detail: toKeyrackError(e).message }));
  const stoppedPids = await stopRegisteredWatchers(paths.state);
  const result: RevokeResult = {
    watcher: { stoppedPids, service: !service.installed ? 'not-installed' : service.stopped ? 'stopped' : 'failed', ...(service.detail ? { detail: service.detail } : {}) },
    locked: [],
    sessions: [],
    deleted: { tokens: 0, roleCredentials: 0, signals: 0 },
    verified: [],
    consoleSteps: CONSOLE_STEPS,
  };

  // 2. Robots are refused from here on.
  const records = await listUnlockRecords(paths.state);
  const inScope = (r: UnlockRecord) => req.all || (env ? r.env === env : ctx.file !== undefined && Object.hasOwn(ctx.file.envs, r.env));
  const scopedRecords = records.filter(inScope);
  for (const r of scopedRecords) if (await removeUnlockRecord(paths.state, r.env)) result.locked.push(r.env);
  await clearValidations(paths.state);
  result.deleted.signals = await clearAllLoginSignals(paths.state);

  // 3. The sessions: from keyrack.yml, from the unlock records, and with --all from the caches themselves.
  let doc: AwsConfigDoc | undefined;
  try {
    doc = await readAwsConfig(paths.awsConfig, { home: paths.home });
  } catch (e) {
    log.debug('revoke: ~/.aws/config unreadable; using the caches only', { code: toKeyrackError(e).code });
  }
  const robotCtx: RobotContext = { runtime, log, file: ctx.file ?? { path: '(revoke)', sso: {}, envs: {} }, ...(ctx.signal ? { signal: ctx.signal } : {}) };
  const sessions = new Map<string, SessionToEnd>();
  const add = (t: ProfileTarget) => {
    const s = sessions.get(t.sso.tokenKey) ?? { sso: t.sso, roleKeys: new Set<string>() };
    s.roleKeys.add(t.roleKey);
    sessions.set(t.sso.tokenKey, s);
  };
  const refs: { env: string; key: string; profile: string }[] = [];
  if (ctx.file) for (const e of env ? [env] : Object.keys(ctx.file.envs)) for (const r of selectRefs(ctx.file, { env: e })) if (r.kind === 'profile') refs.push(r);
  for (const r of scopedRecords) for (const [key, k] of Object.entries(r.keys)) refs.push({ env: r.env, key, profile: k.profile });
  for (const r of refs) {
    if (!doc) break;
    try {
      add(await resolveTargetOrRecorded(robotCtx, doc, { kind: 'profile', env: r.env, key: r.key, profile: r.profile, location: { file: '(revoke)', line: 1, col: 1 } }));
    } catch {
      // no such profile: nothing cached for it
    }
  }
  if (req.all) for (const sso of await cachedTokens(runtime)) if (!sessions.has(sso.tokenKey)) sessions.set(sso.tokenKey, { sso, roleKeys: new Set() });
  const net = networkFromEnv(runtime.env);
  for (const s of sessions.values()) {
    // The session's own store: the AWS CLI files, or the OS keychain (config.yml sso.<name>.token_store).
    const store = await tokenStoreFor(runtime, s.sso).catch(() => fileTokenStore(paths));
    for (const k of s.roleKeys) {
      if (await store.deleteRoleCredentials(k).catch(() => false)) result.deleted.roleCredentials++;
      if (store.kind !== 'aws-cli' && (await deleteRoleCredentials(paths, k))) result.deleted.roleCredentials++;
    }
    await withFileLock(
      tokenLockPath(robotCtx, s.sso),
      async () => {
        let token: Awaited<ReturnType<typeof store.readToken>>;
        let unreadable = false;
        try {
          token = await store.readToken(s.sso);
        } catch {
          unreadable = true; // others can read it, or it is damaged: no logout with it, but it goes all the same
        }
        if (!token) {
          if (await store.deleteToken(s.sso).catch(() => false)) result.deleted.tokens++;
          result.sessions.push(unreadable ? { sso: s.sso.label, logout: 'unreadable', ended: 'unconfirmed' } : { sso: s.sso.label, logout: 'no-token', ended: 'no-token' });
          return;
        }
        const accessToken = token.accessToken;
        log.redactor.register(accessToken);
        log.redactor.register(token.refreshToken);
        const region = token.region ?? s.sso.region;
        const target = { ...robotCallTarget(robotCtx, region, net), accessToken };
        const loggedOut = await logout(target);
        if (await store.deleteToken(s.sso)) result.deleted.tokens++;
        // The old token must now be refused: that is AWS saying the session is over.
        let ended: 'confirmed' | 'unconfirmed' = 'unconfirmed';
        try {
          await probeSession(target, { subject: s.sso.label, unlockCommand: 'keyrack unlock aws' });
        } catch (e) {
          if (e instanceof KeyrackError && e.reason === 'expired') ended = 'confirmed';
        }
        result.sessions.push({ sso: s.sso.label, logout: loggedOut ? 'ok' : 'failed', ended });
      },
      { timeoutMs: net.totalTimeoutMs * 2 + 5_000, staleMs: net.totalTimeoutMs * 2 + 10_000 },
    );
  }
  if (req.all) for (const k of await cachedSsoRoleKeys(runtime)) if (await deleteRoleCredentials(paths, k)) result.deleted.roleCredentials++;
  for (const s of sessions.values()) await forgetSession(paths.state, s.sso.tokenKey);

  // 4. Proof, the way a robot would find out.
  const seen = new Set<string>();
  for (const r of refs) {
    const id = `${r.env}\0${r.key}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const file = ctx.file && Object.hasOwn(ctx.file.envs, r.env) && ctx.file.envs[r.env]?.[r.key] ? ctx.file : undefined;
    if (!file) {
      // A key from another repo's keyrack.yml: its unlock record is gone, which is what a grant checks first.
      result.verified.push({ env: r.env, key: r.key, exitCode: 3, reason: 'locked' });
      continue;
    }
    try {
      await grant({ ...robotCtx, file }, { env: r.env, key: r.key });
      result.verified.push({ env: r.env, key: r.key, exitCode: 0, reason: 'granted' });
    } catch (e) {
      const err = toKeyrackError(e);
      result.verified.push({ env: r.env, key: r.key, exitCode: err.exitCode, reason: err.reason });
    }
  }
  return result;
}
