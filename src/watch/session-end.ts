// When an SSO session will end. AWS does not say: the token cache holds an access token (about an hour) and a
// refresh token whose lifetime is not written anywhere. What is knowable is the administrator-set session
// duration (the user writes it into config.yml as sso.<name>.session_duration) and the time of the login that
// started the session. keyrack learns that time three ways, best first:
//   recorded          a fresh login (keyrack unlock's browser or device-code login) calls recordSessionLogin();
//   device-code-push  the watcher's own pushed device-code login;
//   observed          the watcher saw the session dead and then alive again: the login happened in between,
//                     at the unlock that followed if there is one, else no later than the first live probe.
// Without a login time or a configured duration there is no estimate, and no expiry warning — never a guess.
import type { Runtime } from '../core/runtime.js';
import { readLoginRecord, writeLoginRecord, type LoginSource, type SessionWatch } from './state.js';

export interface SessionEnd {
  /** epoch ms */
  endsAt: number;
  loginAt: number;
  source: LoginSource;
}

export function estimateSessionEnd(w: Pick<SessionWatch, 'loginAt' | 'loginSource'>, sessionDurationMs: number | undefined): SessionEnd | undefined {
  if (w.loginAt === undefined || sessionDurationMs === undefined) return undefined;
  return { endsAt: w.loginAt + sessionDurationMs, loginAt: w.loginAt, source: w.loginSource ?? 'observed' };
}

/**
 * The warning due now, if any: the smallest threshold already crossed and not yet sent. Crossing several at once
 * (the watcher was off) sends only the most urgent. Returns the threshold and every threshold it covers.
 */
export function dueWarning(endsAt: number, now: number, thresholdsMs: readonly number[], warned: readonly number[]): { threshold: number; covers: number[] } | undefined {
  const left = endsAt - now;
  if (left <= 0) return undefined;
  const crossed = thresholdsMs.filter((t) => left <= t);
  if (crossed.length === 0) return undefined;
  const threshold = Math.min(...crossed);
  if (warned.includes(threshold)) return undefined;
  return { threshold, covers: crossed.filter((t) => !warned.includes(t)) };
}

/** A new session started at `at`: forget what was sent for the previous one, and look at it at the next pass. */
export function withLogin(w: SessionWatch, at: number, source: LoginSource): SessionWatch {
  const { nextProbeAt: _drop, ...rest } = w;
  return { ...rest, loginAt: at, loginSource: source, warned: [], expiredNotified: false, failingNotified: false, failures: 0, status: 'alive' };
}

/** The watcher's state with the newest login anyone recorded for it (a login newer than what it knows wins). */
export async function withRecordedLogin(state: string, w: SessionWatch): Promise<SessionWatch> {
  const r = await readLoginRecord(state, w.tokenKey);
  if (!r || (w.loginAt !== undefined && r.loginAt <= w.loginAt)) return w;
  return withLogin(w, r.loginAt, r.source);
}

/**
 * Tell the watcher that a fresh login just started the session behind `tokenKey` (keyrack unlock calls this after
 * a browser or device-code login; a reused or refreshed session is not a login). Never throws: the login itself
 * succeeded whether or not this could be written.
 */
export async function recordSessionLogin(runtime: Pick<Runtime, 'paths' | 'clock'>, login: { tokenKey: string; at?: number; source?: 'recorded' | 'device-code-push' }): Promise<boolean> {
  try {
    await writeLoginRecord(runtime.paths.state, login.tokenKey, { version: 1, loginAt: login.at ?? runtime.clock.now(), source: login.source ?? 'recorded' });
    return true;
  } catch {
    return false;
  }
}
