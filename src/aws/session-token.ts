// The SSO access token, as a robot may obtain it: read the shared cache, and refresh it with the refresh token
// under a cross-process lock when it is near expiry. Nothing here can start a login.
//
// Single flight: of N processes that find the token due, the first to take the lock refreshes; the others wait,
// re-read the file and use the new token. When the refresh fails, the holder records the outcome (no secret: a
// time, a hash of the refresh token it used, the reason) next to the lock, and the processes that were already
// queued behind that very attempt share its answer instead of asking AWS again. So an outage or a dead session
// costs one CreateToken per round of callers, not one per caller; after AWS failed to answer, the next round
// waits TRANSIENT_FAILURE_HOLD_MS.
//
// The token itself is read and written through the session's TokenStore (token-store.ts): the AWS CLI's cache
// file, or the OS keychain. The lock, the failure record and the single-flight logic are the same for both.
import { sha256Hex } from '../core/hash.js';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyrackError, type Reason } from '../core/errors.js';
import type { RobotContext } from '../core/plugin.js';
import { readFileIfExists, writeFileAtomic } from '../store/files.js';
import { lockDir } from '../store/state.js';
import { withFileLock } from '../store/lock.js';
import { budgetLeftMs, networkFromEnv, robotCallTarget } from './network.js';
import { formatAwsTimestamp, isRefreshable, REFRESH_WINDOW_MS, tokenExpiresAt, type SsoTokenFile } from './token-cache.js';
import { tokenStoreFor, type TokenStore } from './token-store.js';
import type { SsoLogin } from './target.js';

/** Refresh when less than this is left (defined with the token file, for the fast paths). */
export { REFRESH_WINDOW_MS };
let oidcModule: Promise<typeof import('./oidc-token.js')> | undefined;

/** Below this, the token is not worth handing to a portal call. */
const USABLE_MARGIN_MS = 30_000;
/**
 * The AWS CLI (botocore's JSONFileCache) rewrites cache files in place, not atomically: a reader can catch one
 * half-written. A file that does not parse is read again after these pauses before it is called corrupt.
 */
const REREAD_DELAYS_MS = [50, 150];
/**
 * After a refresh failed because AWS did not answer, callers arriving within this window share that answer too
 * instead of trying again: during an outage the fleet makes one refresh round per window, not one per caller.
 * (A definite refusal is shared only with the callers queued behind it: a human's unlock right after must retry.)
 */
export const TRANSIENT_FAILURE_HOLD_MS = 2_000;

export type TokenState = 'valid' | 'refreshable' | 'expired' | 'missing';

export interface TokenView {
  state: TokenState;
  /** epoch ms */
  expiresAt?: number;
  /** epoch ms */
  registrationExpiresAt?: number;
}

export function tokenState(token: SsoTokenFile | undefined, now: number): TokenState {
  if (!token) return 'missing';
  const exp = tokenExpiresAt(token);
  if (exp - now > USABLE_MARGIN_MS) return 'valid';
  return isRefreshable(token, now) ? 'refreshable' : 'expired';
}

/**
 * The session's token from its store (the user config's choice unless `store` is given), tolerant of a
 * concurrent non-atomic writer of the AWS CLI's file: a corrupt read is retried twice before it counts.
 */
export async function readTokenSteady(ctx: RobotContext, sso: SsoLogin, store?: TokenStore): Promise<SsoTokenFile | undefined> {
  const from = store ?? (await tokenStoreFor(ctx.runtime, sso));
  for (let i = 0; ; i++) {
    try {
      return await from.readToken(sso);
    } catch (e) {
      const delay = REREAD_DELAYS_MS[i];
      if (!(e instanceof KeyrackError && e.code === 'token-cache.corrupt') || delay === undefined) throw e;
      ctx.log.debug('sso token cache did not parse; reading it again', { sso: sso.label, afterMs: delay });
      await sleep(delay);
    }
  }
}

export async function inspectToken(ctx: RobotContext, sso: SsoLogin, store?: TokenStore): Promise<TokenView> {
  const token = await readTokenSteady(ctx, sso, store);
  const now = ctx.runtime.clock.now();
  if (!token) return { state: 'missing' };
  const reg = token.registrationExpiresAt ? Date.parse(token.registrationExpiresAt) : undefined;
  return { state: tokenState(token, now), expiresAt: tokenExpiresAt(token), ...(reg ? { registrationExpiresAt: reg } : {}) };
}

export interface UsableToken {
  accessToken: string;
  /** epoch ms */
  expiresAt: number;
  /** true when this call refreshed it (which also proves the SSO session is alive right now) */
  refreshed: boolean;
}

export function tokenLockPath(ctx: Pick<RobotContext, 'runtime'>, sso: Pick<SsoLogin, 'tokenKey'>): string {
  return join(lockDir(ctx.runtime.paths.state), `sso-${sso.tokenKey}.lock`);
}

/** Where the last failed refresh attempt is recorded (no secrets). */
export function refreshOutcomePath(ctx: RobotContext, sso: SsoLogin): string {
  return join(lockDir(ctx.runtime.paths.state), `sso-${sso.tokenKey}.last-failure.json`);
}

interface RefreshFailure {
  version: 1;
  /** epoch ms when the attempt failed */
  at: number;
  /** first 16 hex digits of SHA-256 of the refresh token used: which attempt this was, without the secret */
  refreshTokenId: string;
  reason: Reason;
  code: string;
  message: string;
}

const refreshTokenId = (rt: string) => sha256Hex(rt).slice(0, 16);

async function readFailure(path: string): Promise<RefreshFailure | undefined> {
  try {
    const text = await readFileIfExists(path);
    if (text === undefined) return undefined;
    const f = JSON.parse(text) as Partial<RefreshFailure>;
    if (f.version !== 1 || typeof f.at !== 'number' || typeof f.refreshTokenId !== 'string' || typeof f.code !== 'string' || typeof f.message !== 'string') return undefined;
    if (f.reason !== 'unavailable' && f.reason !== 'expired') return undefined;
    return f as RefreshFailure;
  } catch {
    return undefined; // a damaged record only means we ask AWS ourselves
  }
}

function noToken(sso: SsoLogin, unlockCommand: string, why: 'missing' | 'expired'): KeyrackError {
  return new KeyrackError({
    code: why === 'missing' ? 'sso.no-token' : 'sso.token-expired',
    reason: 'expired',
    message: why === 'missing' ? `no SSO session for ${sso.label} on this machine` : `the SSO session for ${sso.label} has expired`,
    fix: `a human runs: ${unlockCommand}`,
  });
}

const minutes = (ms: number) => `${Math.round(ms / 6_000) / 10}min`;

/**
 * A token good for the next calls. Refreshes at most once across all processes: the lock holder refreshes,
 * everyone else waits, re-reads the file and finds the new token (or shares the holder's failure). A failed
 * refresh never deletes or rewrites the cache; a still-valid token is used anyway and the portal has the last word.
 * Every wait is bounded by the operation's budget (KEYRACK_TOTAL_TIMEOUT_MS).
 */
export async function usableToken(ctx: RobotContext, sso: SsoLogin, unlockCommand: string, opts: { store?: TokenStore } = {}): Promise<UsableToken> {
  const { clock } = ctx.runtime;
  const log = ctx.log;
  const queuedAt = clock.now();
  const firstStore = opts.store ?? (await tokenStoreFor(ctx.runtime, sso));
  const first = await readTokenSteady(ctx, sso, firstStore);
  if (!first) {
    log.debug('sso token: none cached', { sso: sso.label });
    throw noToken(sso, unlockCommand, 'missing');
  }
  const firstExp = tokenExpiresAt(first);
  const needsRefresh = (exp: number) => exp - clock.now() < REFRESH_WINDOW_MS;
  const usable = (exp: number) => exp - clock.now() > USABLE_MARGIN_MS;
  // Legacy profiles are never refreshed (the AWS CLI does not either).
  if (!needsRefresh(firstExp) || sso.session === undefined || !isRefreshable(first, clock.now())) {
    if (usable(firstExp)) {
      log.debug('sso token: valid', { sso: sso.label, left: minutes(firstExp - clock.now()) });
      return { accessToken: first.accessToken, expiresAt: firstExp, refreshed: false };
    }
    log.debug('sso token: expired and not refreshable', { sso: sso.label });
    throw noToken(sso, unlockCommand, 'expired');
  }
  log.debug('sso token: due for refresh', { sso: sso.label, left: minutes(firstExp - clock.now()) });

  const net = networkFromEnv(ctx.runtime.env);
  const lockPath = tokenLockPath(ctx, sso);
  const failurePath = refreshOutcomePath(ctx, sso);
  const waitStart = performance.now();
  let waited = false;
  return withFileLock(
    lockPath,
    async () => {
      if (waited) log.debug('refresh lock acquired', { sso: sso.label, waitedMs: Math.round(performance.now() - waitStart) });
      // `keyrack migrate` moves the token under this lock: whoever waited behind it reads the store named now.
      const store = opts.store ?? (await tokenStoreFor(ctx.runtime, sso));
      const again = await readTokenSteady(ctx, sso, store);
      if (!again) throw noToken(sso, unlockCommand, 'missing');
      const exp = tokenExpiresAt(again);
      if (!needsRefresh(exp)) {
        log.debug('sso token: refreshed by another process meanwhile', { sso: sso.label, left: minutes(exp - clock.now()) });
        return { accessToken: again.accessToken, expiresAt: exp, refreshed: false };
      }
      const t = again;
      if (!isRefreshable(t, clock.now()) || !t.refreshToken || !t.clientId || !t.clientSecret) {
        if (usable(exp)) return { accessToken: t.accessToken, expiresAt: exp, refreshed: false };
        throw noToken(sso, unlockCommand, 'expired');
      }
      ctx.log.redactor.register(t.refreshToken);
      ctx.log.redactor.register(t.clientSecret);
      ctx.log.redactor.register(t.accessToken);
      const rtId = refreshTokenId(t.refreshToken);

      // Queued behind an attempt with this very refresh token that failed after we started waiting (or AWS did
      // not answer it moments ago): its answer is ours.
      const failed = await readFailure(failurePath);
      const now = clock.now();
      const recent = failed !== undefined && failed.reason === 'unavailable' && now - failed.at >= 0 && now - failed.at < TRANSIENT_FAILURE_HOLD_MS;
      if (failed && failed.refreshTokenId === rtId && (failed.at >= queuedAt || recent)) {
        log.debug('sharing the outcome of the refresh attempt we queued behind', { sso: sso.label, reason: failed.reason, code: failed.code });
        if (failed.reason === 'unavailable' && usable(exp)) return { accessToken: t.accessToken, expiresAt: exp, refreshed: false };
        throw new KeyrackError({
          code: failed.code,
          reason: failed.reason,
          message: failed.message,
          fix: failed.reason === 'expired' ? `a human runs: ${unlockCommand}` : 'retry later; the session is still unlocked',
        });
      }
      if (ctx.signal?.aborted) {
        throw new KeyrackError({ code: 'aws.unavailable.budget', reason: 'unavailable', message: `ran out of time before refreshing the SSO token for ${sso.label}; nothing was changed`, fix: 'retry later; raise KEYRACK_TOTAL_TIMEOUT_MS if this machine is slow' });
      }

      let grant;
      try {
        // Loaded only when a refresh is due (and kept, for the watcher's refresh every hour).
        const { refreshAccessToken } = await (oidcModule ??= import('./oidc-token.js'));
        grant = await refreshAccessToken(
          robotCallTarget(ctx, sso.region, net),
          { clientId: t.clientId, clientSecret: t.clientSecret },
          t.refreshToken,
          { subject: sso.label, unlockCommand },
        );
      } catch (e) {
        if (e instanceof KeyrackError && (e.reason === 'unavailable' || e.reason === 'expired')) {
          const record: RefreshFailure = { version: 1, at: clock.now(), refreshTokenId: rtId, reason: e.reason, code: e.code, message: e.message };
          await writeFileAtomic(failurePath, `${JSON.stringify(record)}\n`).catch(() => undefined);
          if (e.reason === 'unavailable' && usable(exp)) {
            log.debug('refresh failed transiently; the current token is still valid', { sso: sso.label });
            return { accessToken: t.accessToken, expiresAt: exp, refreshed: false };
          }
        }
        throw e;
      }
      ctx.log.redactor.register(grant.accessToken);
      ctx.log.redactor.register(grant.refreshToken);
      const expiresAt = clock.now() + grant.expiresIn * 1000;
      const next: SsoTokenFile = { ...t, accessToken: grant.accessToken, expiresAt: formatAwsTimestamp(expiresAt) };
      if (grant.refreshToken) next.refreshToken = grant.refreshToken;
      await store.writeToken(sso, next);
      await rm(failurePath, { force: true }).catch(() => undefined);
      log.debug('sso token refreshed and written', { sso: sso.label, left: minutes(expiresAt - clock.now()) });
      return { accessToken: grant.accessToken, expiresAt, refreshed: true };
    },
    {
      // Bounded by what is left of the operation's budget; a holder that died is detected by its pid at once,
      // one on another host (shared home) only after staleMs, which must exceed the longest refresh.
      timeoutMs: Math.max(1, budgetLeftMs(ctx, net)),
      staleMs: net.totalTimeoutMs * 2 + 10_000,
      pollMs: 40,
      onWait: () => {
        waited = true;
        log.debug('waiting for the refresh lock', { sso: sso.label, lock: lockPath });
      },
    },
  );
}
