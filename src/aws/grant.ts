// The robot path: hand out a reference (or short-lived role credentials) only after proving it works.
// Takes a RobotContext; nothing reachable from here can start a login.
//
// Validation cache: a successful validation (profile, identity, credential expiry; no secrets) may be reused for
// a short TTL so a tight loop of grants does not hammer AWS. TTL: KEYRACK_VALIDATION_TTL, else `grant.validation_ttl`
// in the user config ($XDG_CONFIG_HOME/keyrack/config.yml), else 30 s; 0 disables; at most 5 min. lock, unlock and
// any failed validation drop it; a hit still checks locally that the unlock is live, that ~/.aws/config still
// points the profile at the same account/role/session, that the SSO token file exists and has not expired, and
// (for --credentials) that the cached role credentials are the ones that were validated.
import { requireUnlocked, unlockCommand } from '../core/access.js';
import { formatDuration, parseDuration } from '../core/duration.js';
import { KeyrackError } from '../core/errors.js';
import type { AwsProfileRef } from '../core/keyrack-file.js';
import { selectRefs } from '../core/keyrack-find.js';
import { parseKeyrackText } from '../core/keyrack-load.js';
import { parseCacheFor } from '../store/parse-cache.js';
import type { Grant, GrantRequest, RobotContext } from '../core/plugin.js';
import type { EnvVars } from '../core/runtime.js';
import { filesFingerprint, pollUntil } from '../core/wait.js';
import { registerWaiter } from '../core/waiters.js';
import { dropValidation, readSettled, readValidation, statFingerprint, unlockRecordPath, validationFileName, validationLeasePath, writeFastGrant, writeValidation, type ValidationEntry } from '../store/state.js';
import { releaseLease } from '../store/lease.js';
import { loadUserConfig, parseUserConfigText, userConfigPath, type UserConfig } from '../store/user-config.js';
import { networkFromEnv, withBudget } from './network.js';
import { readAwsConfig, type AwsConfigDoc } from './config-file.js';
import { readRoleCredentials } from './role-cache.js';
import { readTokenSteady } from './session-token.js';
import { resolveTarget, type ProfileTarget } from './target.js';
import { tokenExpiresAt, tokenFilePath } from './token-cache.js';
import { checkPins } from './pins.js';
import { resolveTargetOrRecorded } from './credential-process.js';
import { proveRef, validationEntry } from './prove.js';
import { openTokenStore, storeKindIn, type TokenStore } from './token-store.js';
import { sha256Hex } from '../core/hash.js';

export const DEFAULT_VALIDATION_TTL_MS = 30_000;
/** Longer reuse would hide a revoked session from robots for longer than anyone would expect. */
export const MAX_VALIDATION_TTL_MS = 5 * 60_000;
/** A grant never hands out credentials with less than this left; the robot would fail mid-task. */
const MIN_CREDENTIAL_LIFE_MS = 5 * 60_000;

/** The TTL and where it came from: KEYRACK_VALIDATION_TTL as set (verbatim; null when unset). */
interface TtlSource {
  ms: number;
  env: string | null;
}

function ttlSource(vars: EnvVars, config: UserConfig): TtlSource {
  const env = vars.KEYRACK_VALIDATION_TTL ?? null;
  const raw = env?.trim();
  if (raw) {
    const ms = raw === '0' ? 0 : parseDuration(raw, 'KEYRACK_VALIDATION_TTL') * 1000;
    if (ms > MAX_VALIDATION_TTL_MS) {
      throw new KeyrackError({
        code: 'duration.too-long',
        reason: 'invalid-input',
        message: `KEYRACK_VALIDATION_TTL is longer than ${MAX_VALIDATION_TTL_MS / 1000}s`,
        fix: `keep it at most ${formatDuration(MAX_VALIDATION_TTL_MS / 1000)}: a longer reuse would hide a revoked SSO session from robots for that long`,
      });
    }
    return { ms, env };
  }
  return { ms: config.grant.validationTtlMs ?? DEFAULT_VALIDATION_TTL_MS, env };
}

export function profileRef(ctx: RobotContext, req: { env?: string; key: string }): AwsProfileRef {
  const [ref] = selectRefs(ctx.file, req);
  if (!ref) throw new KeyrackError({ code: 'keyrack-file.unknown-key', reason: 'invalid-input', message: `no key ${req.key}`, fix: 'check keyrack.yml' });
  if (ref.kind !== 'profile') {
    throw new KeyrackError({
      code: 'grant.web-identity-unsupported',
      reason: 'invalid-input',
      message: `${ref.env}/${ref.key} is a web_identity reference, which this version cannot grant yet`,
      location: `${ref.location.file}:${ref.location.line}:${ref.location.col}`,
      fix: 'use a profile reference for this key',
    });
  }
  return ref;
}

/** Whether a validation still describes what ~/.aws/config points the profile at (same SSO login, account, role). */
function matchesTarget(v: Pick<ValidationEntry, 'tokenKey' | 'identity'>, target: ProfileTarget): boolean {
  return v.tokenKey === target.sso.tokenKey && v.identity.account === target.accountId && (v.identity.role ?? target.roleName) === target.roleName;
}

async function fromValidationCache(ctx: RobotContext, ref: AwsProfileRef, target: ProfileTarget, store: TokenStore, ttl: number, credentials: boolean): Promise<{ grant: Grant; entry: ValidationEntry } | undefined> {
  const { paths, clock } = ctx.runtime;
  const log = ctx.log;
  const hit = await readValidation(paths.state, ref.env, ref.key, ref.profile);
  const now = clock.now();
  const miss = (why: string) => {
    log.debug(`validation cache: miss (${why})`, { env: ref.env, key: ref.key });
    return undefined;
  };
  if (!hit) return miss('none');
  const age = now - hit.validatedAt;
  if (age < 0 || age >= ttl) return miss(`older than the ${ttl}ms TTL`);
  if (hit.credentialsExpireAt - now <= MIN_CREDENTIAL_LIFE_MS) return miss('credentials close to expiry');
  if (!matchesTarget(hit, target)) return miss('~/.aws/config changed');
  checkPins(ref, target, hit.identity);
  // `aws sso logout` deletes the token file; an expired token is never papered over by the cache.
  const token = await readTokenSteady(ctx, target.sso, store);
  if (!token) return miss('no SSO token');
  if (tokenExpiresAt(token) <= now) return miss('SSO token expired');
  const base = { env: ref.env, key: ref.key, profile: ref.profile, identity: hit.identity, expiresAt: hit.credentialsExpireAt, cached: true };
  if (!credentials) {
    log.debug('validation cache: hit', { env: ref.env, key: ref.key, ageMs: age, ttlMs: ttl });
    return { grant: base, entry: hit };
  }
  const rc = await readRoleCredentials(paths, target.roleKey, now, { marginMs: MIN_CREDENTIAL_LIFE_MS });
  if (!rc || Math.floor(rc.credentials.expiresAt / 1000) !== Math.floor(hit.credentialsExpireAt / 1000)) return miss('cached role credentials are not the validated ones');
  ctx.log.redactor.register(rc.credentials.secretAccessKey);
  ctx.log.redactor.register(rc.credentials.sessionToken);
  log.debug('validation cache: hit (with the validated role credentials)', { env: ref.env, key: ref.key, ageMs: age, ttlMs: ttl });
  return { grant: { ...base, credentials: rc.credentials }, entry: hit };
}

const sameRef = (a: AwsProfileRef, b: AwsProfileRef) =>
  a.env === b.env && a.key === b.key && a.profile === b.profile && a.sso === b.sso && a.account === b.account && a.role === b.role;
/**
 * Leave the fast path's record (store/state.ts FastGrantRecord) for a validation entry this grant just wrote or
 * used. Each input is read again and checked against what this grant actually used, so the record never vouches for
 * text that was not parsed, scanned and validated: keyrack.yml is parsed again (or its kept parse, store/parse-cache.ts, reused) and must
 * give the same ref; ~/.aws/config must be the text that was resolved; the user config must give the same TTL and
 * must not choose a token store (a keychain-held session has no token file for the fast path to look at).
 * Best effort: a failure only means no fast path.
 */
async function vouchForFastPath(ctx: RobotContext, req: GrantRequest, ref: AwsProfileRef, target: ProfileTarget, doc: AwsConfigDoc, ttl: TtlSource, entry: ValidationEntry): Promise<void> {
  try {
    const { paths, clock } = ctx.runtime;
    if (!doc.exists || !matchesTarget(entry, target)) return;
    const now = clock.now();
    const file = ctx.file.path;
    const yml = await readSettled(file, now);
    if (!yml) return;
    const [again] = selectRefs(await parseKeyrackText(yml.bytes.toString('utf8'), file, parseCacheFor(paths.state)), { ...(req.env ? { env: req.env } : {}), key: req.key });
    if (again?.kind !== 'profile' || !sameRef(again, ref)) return;
    const aws = await readSettled(paths.awsConfig, now);
    const awsConfigSha256 = aws && sha256Hex(aws.bytes);
    if (!aws || awsConfigSha256 !== sha256Hex(doc.text)) return;
    const userConfig = userConfigPath(paths);
    const uc = await readSettled(userConfig, now);
    const ucText = uc?.bytes.toString('utf8');
    if (ucText?.includes('token_store')) return;
    if (ttl.env === null || ttl.env.trim() === '') {
      const fromFile = ucText === undefined ? undefined : (await parseUserConfigText(ucText, userConfig)).grant.validationTtlMs;
      if ((fromFile ?? DEFAULT_VALIDATION_TTL_MS) !== ttl.ms) return;
    }
    await writeFastGrant(paths.state, {
      version: 1,
      file,
      fileSha256: sha256Hex(yml.bytes),
      fileStat: yml.stat,
      envArg: req.env ?? '',
      key: req.key,
      env: ref.env,
      profile: ref.profile,
      awsConfig: paths.awsConfig,
      awsConfigSha256,
      awsConfigStat: aws.stat,
      tokenKey: target.sso.tokenKey,
      roleKey: target.roleKey,
      userConfig,
      userConfigSha256: uc ? sha256Hex(uc.bytes) : null,
      userConfigStat: uc ? uc.stat : statFingerprint(undefined),
      ttlEnv: ttl.env,
      ttlMs: ttl.ms,
      validationFile: validationFileName(entry.env, entry.key, entry.profile),
      validatedAt: entry.validatedAt,
    });
  } catch (e) {
    ctx.log.debug('fast path: no record written', { error: e instanceof KeyrackError ? e.code : e instanceof Error ? e.name : typeof e });
  }
}

export async function grant(robot: RobotContext, req: GrantRequest): Promise<Grant> {
  const ref = profileRef(robot, req);
  robot.log.debug('grant', { env: ref.env, key: ref.key, profile: ref.profile, credentials: req.credentials === true });
  await requireUnlocked(robot, ref);
  // One budget for everything this grant does: lock waits, refresh, portal and STS calls with their retries.
  const ctx = withBudget(robot, networkFromEnv(robot.runtime.env));
  const { paths, clock } = ctx.runtime;
  const cmd = unlockCommand(ref.env);
  try {
    const doc = await readAwsConfig(paths.awsConfig, { home: paths.home });
    // A hardened-mode profile carries credential_process instead of sso_* keys; its target was recorded at unlock.
    const target = await resolveTargetOrRecorded(ctx, doc, ref);
    // The user config (read once here) names the session's token store and the validation TTL.
    const config = await loadUserConfig(paths);
    const store = await openTokenStore(ctx.runtime, storeKindIn(config, target.sso));
    const ttl = ttlSource(ctx.runtime.env, config);
    // The validation cache and the fast path trust the AWS CLI's files; a keychain session is proven every time.
    const cacheable = ttl.ms > 0 && store.kind === 'aws-cli';
    if (cacheable) {
      const hit = await fromValidationCache(ctx, ref, target, store, ttl.ms, req.credentials === true);
      if (hit) {
        await vouchForFastPath(ctx, req, ref, target, doc, ttl, hit.entry);
        return hit.grant;
      }
    } else {
      ctx.log.debug(`validation cache: not used (${store.kind === 'aws-cli' ? 'TTL 0' : 'a keychain session is proven every time'})`);
    }
    // The AWS calls are loaded only now: a validation-cache hit never pays for them.
    const v = await proveRef(ctx, ref, target, store, cmd);
    if (cacheable) {
      const entry = validationEntry(ref, target, v, clock.now());
      await writeValidation(paths.state, entry);
      await vouchForFastPath(ctx, req, ref, target, doc, ttl, entry);
      // Robots waiting on the fast path's lease can answer from here on: do not make them wait for this exit.
      releaseLease(validationLeasePath(paths.state, validationFileName(entry.env, entry.key, entry.profile)));
    }
    ctx.log.debug('grant: validated with AWS', { env: ref.env, key: ref.key, account: v.identity.account, role: v.identity.role ?? null });
    return {
      env: ref.env,
      key: ref.key,
      profile: ref.profile,
      identity: v.identity,
      expiresAt: v.credentials.expiresAt,
      cached: false,
      ...(req.credentials ? { credentials: v.credentials } : {}),
    };
  } catch (e) {
    await dropValidation(paths.state, ref.env, ref.key, ref.profile).catch(() => undefined);
    if (e instanceof KeyrackError) ctx.log.debug('grant refused', { reason: e.reason, code: e.code });
    throw e;
  }
}

export interface WaitOptions {
  /** How long to wait for a human at most. */
  waitMs: number;
  /** Told once, when the grant starts waiting: a one-line message naming the command the human must run. */
  onWaiting(message: string): void;
}

/** The files a human's unlock rewrites: the unlock record and the SSO token. */
async function humanFiles(ctx: RobotContext, ref: AwsProfileRef): Promise<string[]> {
  const files = [unlockRecordPath(ctx.runtime.paths.state, ref.env)];
  try {
    const target = resolveTarget(await readAwsConfig(ctx.runtime.paths.awsConfig, { home: ctx.runtime.paths.home }), ref);
    files.push(tokenFilePath(ctx.runtime.paths, target.sso.tokenKey));
  } catch {
    // no profile yet: the unlock will write it, and the unlock record still shows the unlock
  }
  return files;
}

/**
 * `grant --wait`: when the key is locked or its session expired, wait (at most `waitMs`) for a human's unlock
 * instead of failing at once, then grant. Only local files are polled while waiting (the unlock record and the
 * token file, with backoff); AWS is asked again only after one of them changed. Other failures end it at once.
 */
export async function grantWaiting(ctx: RobotContext, req: GrantRequest, opts: WaitOptions): Promise<Grant> {
  const ref = profileRef(ctx, req);
  const clock = ctx.runtime.clock;
  const start = clock.now();
  const deadline = start + opts.waitMs;
  const waitText = formatDuration(Math.ceil(opts.waitMs / 1000));
  let told = false;
  let unregister: (() => Promise<void>) | undefined;
  try {
    for (;;) {
      const files = await humanFiles(ctx, ref);
      const before = await filesFingerprint(files);
      try {
        return await grant(ctx, req);
      } catch (e) {
        if (!(e instanceof KeyrackError) || (e.reason !== 'locked' && e.reason !== 'expired')) throw e;
        if (clock.now() >= deadline) {
          if (!told) throw e;
          throw new KeyrackError({ code: e.code, reason: e.reason, message: `${e.message} (waited ${waitText} for a human)`, ...(e.fix ? { fix: e.fix } : {}), ...(e.location ? { location: e.location } : {}) });
        }
        if (!told) {
          told = true;
          opts.onWaiting(`keyrack: ${e.message}; waiting up to ${waitText} for a human to run: ${unlockCommand(ref.env)}`);
          // Visible to the human (and to `keyrack status`): who is queued behind the unlock.
          unregister = await registerWaiter(ctx.runtime.paths.state, { env: ref.env, key: ref.key, reason: e.reason, since: start, until: deadline });
        }
        ctx.log.debug('grant --wait: waiting for the unlock record or the SSO token to change', { reason: e.reason, leftMs: deadline - clock.now() });
        await pollUntil(async () => (await filesFingerprint(files)) !== before, { deadline, clock, firstMs: 100, maxMs: 2_000, ...(ctx.signal ? { signal: ctx.signal } : {}) });
      }
    }
  } finally {
    await unregister?.();
  }
}
