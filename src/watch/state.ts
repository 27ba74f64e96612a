// What the watcher remembers between runs (it runs as a timer-started one-shot as often as in the foreground):
// per SSO session, its last verdict, failures, the login time it knows and which warnings it already sent; the
// logins others tell it about; and a snapshot of the unlock records, to tell when a human unlocked or locked.
// Nothing secret.
//
//   $XDG_STATE_HOME/keyrack/watch/sessions/<token cache key>.json   written by the watcher only
//   $XDG_STATE_HOME/keyrack/watch/logins/<token cache key>.json     written by logins (unlock, device-code push)
//   $XDG_STATE_HOME/keyrack/watch/push/<token cache key>.json       the last device-code push (its cooldown)
//   $XDG_STATE_HOME/keyrack/watch/unlocks.json
//
// The session files take no lock: two watchers running at once may both probe (harmless: refreshes are single
// flight under the token lock) and the last write wins, which can only repeat a notification — and the notifier's
// own deduplication, which is locked, holds that back. Logins go to their own file, so no probe can overwrite one.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Reason } from '../core/errors.js';
import { writeFileAtomicSync } from '../store/files.js';

export type SessionStatus = 'unknown' | 'alive' | 'failing' | 'expired';
export type LoginSource = 'recorded' | 'observed' | 'device-code-push';

export interface SessionWatch {
  version: 1;
  /** ~/.aws/sso/cache/<tokenKey>.json */
  tokenKey: string;
  /** sso-session name, or the start URL of a legacy profile */
  sso: string;
  /** sso-session name (config lookups); absent for legacy profiles */
  ssoName?: string;
  status: SessionStatus;
  /** epoch ms of the login that started the current session, when known */
  loginAt?: number;
  loginSource?: LoginSource;
  lastProbeAt?: number;
  lastOkAt?: number;
  /** last time the SSO session itself was proven alive (refresh, fresh role credentials or a portal read) */
  lastProvenAt?: number;
  /** last time the session was seen dead (expired, logged out, no token) */
  lastDeadAt?: number;
  nextProbeAt?: number;
  /** consecutive failed probes */
  failures: number;
  failingSince?: number;
  lastError?: { reason: Reason; code: string; message: string };
  tokenExpiresAt?: number;
  /** warn-before thresholds (ms) already sent for this login */
  warned: number[];
  expiredNotified: boolean;
  failingNotified: boolean;
}

export interface UnlockSnapshot {
  version: 1;
  envs: Record<string, { unlockedAt: number; until?: number; keys: string[] }>;
}

const watchDir = (state: string) => join(state, 'watch');
const sessionWatchPath = (state: string, tokenKey: string) => join(watchDir(state), 'sessions', `${tokenKey.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
const loginPath = (state: string, tokenKey: string) => join(watchDir(state), 'logins', `${tokenKey.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
const pushPath = (state: string, tokenKey: string) => join(watchDir(state), 'push', `${tokenKey.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
const snapshotPath = (state: string) => join(watchDir(state), 'unlocks.json');

export function freshSessionWatch(tokenKey: string, sso: string, ssoName: string | undefined): SessionWatch {
  return { version: 1, tokenKey, sso, ...(ssoName ? { ssoName } : {}), status: 'unknown', failures: 0, warned: [], expiredNotified: false, failingNotified: false };
}

// These files are small and read or written a few times per pass of a background process, so they use the
// synchronous calls: a pass then costs microseconds of file I/O instead of a thread-pool round trip per step.

/**
 * Atomic (temp file + rename) but without fsync: this state is rewritten every probe, holds nothing that cannot
 * be learnt again, and losing the last write in a crash costs at most one repeated notification.
 */
async function writeStateFile(path: string, text: string): Promise<void> {
  writeFileAtomicSync(path, text, { durable: false });
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined; // missing or damaged: start over (costs at most a repeated notification)
  }
}

export async function readSessionWatch(state: string, tokenKey: string): Promise<SessionWatch | undefined> {
  const w = await readJson<SessionWatch>(sessionWatchPath(state, tokenKey));
  return w?.version === 1 && w.tokenKey === tokenKey && Array.isArray(w.warned) ? w : undefined;
}

export async function writeSessionWatch(state: string, w: SessionWatch): Promise<void> {
  await writeStateFile(sessionWatchPath(state, w.tokenKey), `${JSON.stringify(w)}\n`);
}

export async function readUnlockSnapshot(state: string): Promise<UnlockSnapshot | undefined> {
  const s = await readJson<UnlockSnapshot>(snapshotPath(state));
  return s?.version === 1 && s.envs && typeof s.envs === 'object' ? s : undefined;
}

export async function writeUnlockSnapshot(state: string, s: UnlockSnapshot): Promise<void> {
  await writeStateFile(snapshotPath(state), `${JSON.stringify(s)}\n`);
}

export interface LoginRecord {
  version: 1;
  /** epoch ms */
  loginAt: number;
  source: LoginSource;
}

export async function readLoginRecord(state: string, tokenKey: string): Promise<LoginRecord | undefined> {
  const r = await readJson<LoginRecord>(loginPath(state, tokenKey));
  return r?.version === 1 && typeof r.loginAt === 'number' && (r.source === 'recorded' || r.source === 'device-code-push') ? r : undefined;
}

export async function writeLoginRecord(state: string, tokenKey: string, r: LoginRecord): Promise<void> {
  await writeStateFile(loginPath(state, tokenKey), `${JSON.stringify(r)}\n`);
}

export interface PushRecord {
  version: 1;
  /** epoch ms */
  lastAttemptAt: number;
  outcome?: string;
}

export async function readPushRecord(state: string, tokenKey: string): Promise<PushRecord | undefined> {
  const r = await readJson<PushRecord>(pushPath(state, tokenKey));
  return r?.version === 1 && typeof r.lastAttemptAt === 'number' ? r : undefined;
}

export async function writePushRecord(state: string, tokenKey: string, r: PushRecord): Promise<void> {
  await writeStateFile(pushPath(state, tokenKey), `${JSON.stringify(r)}\n`);
}

/** Everything the watcher keeps about one session (the kill switch's part: a file added here is never missed). */
export async function forgetSession(state: string, tokenKey: string): Promise<void> {
  for (const path of [sessionWatchPath(state, tokenKey), loginPath(state, tokenKey), pushPath(state, tokenKey)]) rmSync(path, { force: true });
}
