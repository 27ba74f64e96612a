// The robot → human "login required" signal. When a grant is refused because its key is locked or its SSO
// session has expired, the refusal leaves a small JSON file in the state dir; `keyrack watch` picks it up, tells
// the human (one robot-blocked notification per cooldown), optionally pushes a device code (opt-in per sso
// session), and deletes the signal once the key works again. Files survive watcher restarts.
//
//   $XDG_STATE_HOME/keyrack/signals/login-required-<id>.json      one per env/key, <id> = hash of both
//
// Nothing secret is in a signal: names, the refusal's reason and code, who asked (pid, cwd, the command up to
// `--`, redacted) and times (epoch ms). Writes are atomic (temp file + rename) and read-modify-write happens under
// a per-signal lock, so robots refused at the same moment and a watcher clearing the signal never lose an update.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Redactor } from '../core/log.js';
import type { Runtime } from '../core/runtime.js';
import { readFileIfExists, writeFileAtomic } from './files.js';
import { withFileLock } from './lock.js';
import { lockDir } from './state.js';

export type LoginRequiredReason = 'locked' | 'expired';

export interface Requester {
  pid: number;
  ppid?: number;
  cwd: string;
  /** argv up to `--` (what the robot ran, not what it passed on), each part shortened and redacted */
  command: string[];
}

/** What a refused robot reports. */
export interface LoginRequired {
  env: string;
  key: string;
  profile: string;
  reason: LoginRequiredReason;
  /** the refusal's stable KeyrackError code, e.g. `sso.expired.CreateToken` */
  code?: string;
  /** the latest requester */
  requester: Requester;
}

/** The signal file: the latest refusal, and how many since it was last cleared. */
export interface LoginSignal extends LoginRequired {
  version: 1;
  id: string;
  /** epoch ms of the latest refusal */
  timestamp: number;
  /** epoch ms of the first refusal since the signal was last cleared */
  firstTimestamp: number;
  /** refusals since then */
  count: number;
  /** epoch ms: the watcher starts no device-code push for this signal before then */
  nextAttemptAfter: number;
  /** the watcher's last device-code push for it, if any */
  lastAttempt?: { at: number; outcome: string };
}

const MAX_ARGS = 16;
const MAX_ARG_CHARS = 120;
const LOCK = { timeoutMs: 1_000, staleMs: 10_000, pollMs: 10 } as const;

export const signalDir = (state: string) => join(state, 'signals');
export const signalId = (env: string, key: string) => createHash('sha256').update(`${env}\0${key}`).digest('hex').slice(0, 16);
export const signalPath = (state: string, env: string, key: string) => join(signalDir(state), `login-required-${signalId(env, key)}.json`);
const signalLock = (state: string, id: string) => join(lockDir(state), `signal-${id}.lock`);

/** Who is asking, as a signal records it: the command line stops at `--` and is redacted. */
export function describeRequester(p: { pid: number; ppid?: number; cwd: string; argv: readonly string[] }): Requester {
  const redactor = new Redactor();
  const cut = p.argv.indexOf('--');
  const args = (cut === -1 ? p.argv : p.argv.slice(0, cut)).slice(0, MAX_ARGS);
  const command = args.map((a) => {
    const r = redactor.redact(a);
    return r.length > MAX_ARG_CHARS ? `${r.slice(0, MAX_ARG_CHARS)}…` : r;
  });
  if ((cut === -1 ? p.argv.length : cut) > MAX_ARGS) command.push('…');
  return { pid: p.pid, ...(p.ppid !== undefined ? { ppid: p.ppid } : {}), cwd: p.cwd, command };
}

function parse(text: string | undefined): LoginSignal | undefined {
  if (text === undefined) return undefined;
  try {
    const s = JSON.parse(text) as Partial<LoginSignal> | null;
    if (!s || s.version !== 1 || typeof s.env !== 'string' || typeof s.key !== 'string' || typeof s.profile !== 'string') return undefined;
    if (s.reason !== 'locked' && s.reason !== 'expired') return undefined;
    if (typeof s.timestamp !== 'number' || typeof s.firstTimestamp !== 'number' || typeof s.nextAttemptAfter !== 'number' || typeof s.count !== 'number') return undefined;
    if (!s.requester || typeof s.requester.pid !== 'number' || typeof s.requester.cwd !== 'string' || !Array.isArray(s.requester.command)) return undefined;
    return s as LoginSignal;
  } catch {
    return undefined;
  }
}

async function readSignal(state: string, env: string, key: string): Promise<LoginSignal | undefined> {
  return parse(await readFileIfExists(signalPath(state, env, key)));
}

async function writeSignal(state: string, s: LoginSignal): Promise<void> {
  await writeFileAtomic(signalPath(state, s.env, s.key), `${JSON.stringify(s)}\n`);
}

/**
 * Write (or update) the login-required signal for a refused grant. Call it where the grant command reports a
 * `locked` / `expired` refusal. It never throws and gives up after about a second: the refusal itself (exit 3
 * and the unlock command) must reach the robot whether or not the signal could be written.
 */
export async function recordLoginRequired(runtime: Pick<Runtime, 'paths' | 'clock'>, req: LoginRequired): Promise<boolean> {
  const state = runtime.paths.state;
  const id = signalId(req.env, req.key);
  try {
    await withFileLock(
      signalLock(state, id),
      async () => {
        const now = runtime.clock.now();
        const prev = await readSignal(state, req.env, req.key);
        const next: LoginSignal = {
          version: 1,
          id,
          env: req.env,
          key: req.key,
          profile: req.profile,
          reason: req.reason,
          ...(req.code ? { code: req.code } : {}),
          requester: req.requester,
          timestamp: now,
          firstTimestamp: prev?.firstTimestamp ?? now,
          count: (prev?.count ?? 0) + 1,
          // A robot asking again never brings the watcher's next push forward.
          nextAttemptAfter: prev?.nextAttemptAfter ?? now,
          ...(prev?.lastAttempt ? { lastAttempt: prev.lastAttempt } : {}),
        };
        await writeSignal(state, next);
      },
      LOCK,
    );
    return true;
  } catch {
    return false;
  }
}

/**
 * Every readable signal, oldest first. Damaged files are skipped (they carry nothing the watcher can act on).
 * Synchronous reads: the watcher calls this every pass, and the directory is nearly always empty.
 */
export async function listLoginSignals(state: string): Promise<LoginSignal[]> {
  let names: string[];
  try {
    names = readdirSync(signalDir(state));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: LoginSignal[] = [];
  for (const n of names.filter((x) => x.startsWith('login-required-') && x.endsWith('.json'))) {
    let text: string | undefined;
    try {
      text = readFileSync(join(signalDir(state), n), 'utf8');
    } catch {
      text = undefined; // removed meanwhile
    }
    const s = parse(text);
    if (s) out.push(s);
  }
  return out.sort((a, b) => a.firstTimestamp - b.firstTimestamp);
}

export function readLoginSignal(state: string, env: string, key: string): Promise<LoginSignal | undefined> {
  return readSignal(state, env, key);
}

/**
 * Delete the signal because the key works again, as judged at `asOf` (epoch ms): a refusal recorded after that
 * moment is newer news and stays. True when it was deleted.
 */
export async function clearLoginSignal(runtime: Pick<Runtime, 'paths' | 'clock'>, env: string, key: string, asOf: number): Promise<boolean> {
  const state = runtime.paths.state;
  return withFileLock(
    signalLock(state, signalId(env, key)),
    async () => {
      const s = await readSignal(state, env, key);
      if (!s || s.timestamp > asOf) return false;
      await rm(signalPath(state, env, key), { force: true });
      return true;
    },
    { ...LOCK, timeoutMs: 5_000 },
  );
}

/** After a failed device-code push: keep the signal, and no new push before `until` (epoch ms). */
export async function deferLoginSignal(runtime: Pick<Runtime, 'paths' | 'clock'>, env: string, key: string, until: number, outcome: string): Promise<void> {
  const state = runtime.paths.state;
  await withFileLock(
    signalLock(state, signalId(env, key)),
    async () => {
      const s = await readSignal(state, env, key);
      if (!s) return;
      await writeSignal(state, { ...s, nextAttemptAfter: Math.max(s.nextAttemptAfter, until), lastAttempt: { at: runtime.clock.now(), outcome } });
    },
    { ...LOCK, timeoutMs: 5_000 },
  );
}

/** Remove every signal (the kill switch). Returns how many there were. */
export async function clearAllLoginSignals(state: string): Promise<number> {
  const n = (await listLoginSignals(state)).length;
  await rm(signalDir(state), { recursive: true, force: true });
  return n;
}
