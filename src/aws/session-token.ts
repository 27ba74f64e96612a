// The SSO access token, as a robot may obtain it: read the shared cache, and refresh it with the refresh token
// under a cross-process lock when it is near expiry. Nothing here can start a login.
import { join } from 'node:path';
import { KeyrackError } from '../core/errors.js';
import type { RobotContext } from '../core/plugin.js';
import { lockDir } from '../store/state.js';
import { withFileLock } from '../store/lock.js';
import { networkFromEnv } from './clients.js';
import { refreshAccessToken } from './oidc-token.js';
import { formatAwsTimestamp, isRefreshable, readTokenFile, tokenExpiresAt, writeTokenFile, type SsoTokenFile } from './token-cache.js';
import type { SsoLogin } from './target.js';

/** Refresh when less than this is left, like AWS CLI v2 (the JS SDK waits until 5 minutes). */
export const REFRESH_WINDOW_MS = 15 * 60_000;
/** Below this, the token is not worth handing to a portal call. */
const USABLE_MARGIN_MS = 30_000;

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

export async function inspectToken(ctx: RobotContext, sso: SsoLogin): Promise<TokenView> {
  const read = await readTokenFile(ctx.runtime.paths, sso.tokenKey);
  const now = ctx.runtime.clock.now();
  if (!read) return { state: 'missing' };
  const reg = read.token.registrationExpiresAt ? Date.parse(read.token.registrationExpiresAt) : undefined;
  return { state: tokenState(read.token, now), expiresAt: tokenExpiresAt(read.token), ...(reg ? { registrationExpiresAt: reg } : {}) };
}

export interface UsableToken {
  accessToken: string;
  /** epoch ms */
  expiresAt: number;
  refreshed: boolean;
}

export function tokenLockPath(ctx: RobotContext, sso: SsoLogin): string {
  return join(lockDir(ctx.runtime.paths.state), `sso-${sso.tokenKey}.lock`);
}

function noToken(sso: SsoLogin, unlockCommand: string, why: 'missing' | 'expired'): KeyrackError {
  return new KeyrackError({
    code: why === 'missing' ? 'sso.no-token' : 'sso.token-expired',
    reason: 'expired',
    message: why === 'missing' ? `no SSO session for ${sso.label} on this machine` : `the SSO session for ${sso.label} has expired`,
    fix: `a human runs: ${unlockCommand}`,
  });
}

/**
 * A token good for the next calls. Refreshes at most once across all processes: the lock holder refreshes,
 * everyone else waits, re-reads the file and finds the new token. A failed refresh never deletes or rewrites
 * the cache; a still-valid token is used anyway and the portal has the last word.
 */
export async function usableToken(ctx: RobotContext, sso: SsoLogin, unlockCommand: string): Promise<UsableToken> {
  const { paths, clock } = ctx.runtime;
  const first = await readTokenFile(paths, sso.tokenKey);
  if (!first) throw noToken(sso, unlockCommand, 'missing');
  const firstExp = tokenExpiresAt(first.token);
  const needsRefresh = (exp: number) => exp - clock.now() < REFRESH_WINDOW_MS;
  const usable = (exp: number) => exp - clock.now() > USABLE_MARGIN_MS;
  // Legacy profiles are never refreshed (the AWS CLI does not either).
  if (!needsRefresh(firstExp) || sso.session === undefined || !isRefreshable(first.token, clock.now())) {
    if (usable(firstExp)) return { accessToken: first.token.accessToken, expiresAt: firstExp, refreshed: false };
    throw noToken(sso, unlockCommand, 'expired');
  }
  const net = networkFromEnv(ctx.runtime.env);
  return withFileLock(
    tokenLockPath(ctx, sso),
    async () => {
      const again = await readTokenFile(paths, sso.tokenKey);
      if (!again) throw noToken(sso, unlockCommand, 'missing');
      const exp = tokenExpiresAt(again.token);
      if (!needsRefresh(exp)) return { accessToken: again.token.accessToken, expiresAt: exp, refreshed: false };
      const t = again.token;
      if (!isRefreshable(t, clock.now()) || !t.refreshToken || !t.clientId || !t.clientSecret) {
        if (usable(exp)) return { accessToken: t.accessToken, expiresAt: exp, refreshed: false };
        throw noToken(sso, unlockCommand, 'expired');
      }
      ctx.log.redactor.register(t.refreshToken);
      ctx.log.redactor.register(t.clientSecret);
      ctx.log.debug('refreshing SSO access token', { sso: sso.label });
      let grant;
      try {
        grant = await refreshAccessToken(
          { region: sso.region, endpoints: ctx.runtime.endpoints, net, ...(ctx.signal ? { signal: ctx.signal } : {}) },
          { clientId: t.clientId, clientSecret: t.clientSecret },
          t.refreshToken,
          { subject: sso.label, unlockCommand },
        );
      } catch (e) {
        if (e instanceof KeyrackError && e.reason === 'unavailable' && usable(exp)) {
          ctx.log.debug('refresh failed transiently; the current token is still valid', { sso: sso.label });
          return { accessToken: t.accessToken, expiresAt: exp, refreshed: false };
        }
        throw e;
      }
      ctx.log.redactor.register(grant.accessToken);
      ctx.log.redactor.register(grant.refreshToken);
      const expiresAt = clock.now() + grant.expiresIn * 1000;
      const next: SsoTokenFile = { ...t, accessToken: grant.accessToken, expiresAt: formatAwsTimestamp(expiresAt) };
      if (grant.refreshToken) next.refreshToken = grant.refreshToken;
      await writeTokenFile(paths, sso.tokenKey, next);
      return { accessToken: grant.accessToken, expiresAt, refreshed: true };
    },
    { timeoutMs: net.totalTimeoutMs + 5_000, staleMs: net.totalTimeoutMs * 2 + 10_000 },
  );
}
