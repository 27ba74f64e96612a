// A validation lease: when many robots find the same validation stale at once (the moment an access token
// expires, a burst of agents starting together), the first one to arrive validates with AWS and the others wait
// for its answer instead of each loading the full grant and asking AWS themselves.
//
// It is an optimisation only, never a guarantee: two leaders (a race while breaking a dead holder's lease) just
// validate twice, and a waiter that gives up takes the full path, which validates on its own. So, unlike
// store/lock.ts, it needs no guard file; and it is synchronous, node:fs only, because the fast path
// (src/cli/fast) uses it before anything else is loaded.
//
// The file holds {pid, host, createdAt} (0600, in a 0700 directory). The holder removes it once the new validation
// is written (releaseLease), and in any case when its process exits (an exit hook covers every other way it ends).
// A lease whose holder is dead, or that is older than `staleMs`, counts as gone.
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { pidAlive } from './pid.js';

interface LeaseInfo {
  pid: number;
  host: string;
  createdAt: number;
}

function readInfo(path: string): LeaseInfo | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Partial<LeaseInfo> | null;
    if (o && typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.createdAt === 'number') return { pid: o.pid, host: o.host, createdAt: o.createdAt };
  } catch {
    // gone, or caught between create and write: judged by the file's age below
  }
  return undefined;
}

/** Whether a live lease is at `path`: a holder that still runs (on this host) and is younger than `staleMs`. */
export function leaseHeld(path: string, now: number, staleMs: number): boolean {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return false;
  const info = readInfo(path);
  if (!info) return now - st.mtimeMs < Math.min(staleMs, 1_000);
  if (info.host === hostname() && !pidAlive(info.pid)) return false;
  return now - info.createdAt < staleMs;
}

/**
 * Take the lease at `path` for the rest of this process; false when someone else holds a live one. A dead or
 * stale lease is removed first. Released by an exit hook, if the file is still this process's.
 */
export function takeLease(path: string, now: number, staleMs: number): boolean {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (leaseHeld(path, now, staleMs)) return false;
      try {
        unlinkSync(path);
      } catch {
        // someone else broke it first
      }
      continue;
    }
    try {
      writeSync(fd, `${JSON.stringify({ pid: process.pid, host: hostname(), createdAt: now } satisfies LeaseInfo)}\n`);
    } finally {
      closeSync(fd);
    }
    process.once('exit', () => releaseLease(path));
    return true;
  }
  return false;
}

/**
 * Let go of the lease at `path` if this process holds it: as soon as the answer the waiters need is written, so
 * they need not wait for the holder's exit (under load that can be a long time after its last useful write).
 * The file is judged by its content, not its inode, which the file system may already have reused.
 */
export function releaseLease(path: string): void {
  const info = readInfo(path);
  if (!info || info.pid !== process.pid || info.host !== hostname()) return;
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/**
 * Wait while a live lease is at `path`, at most until `deadline` (epoch ms by `now`). True when it was released
 * (or its holder died) in time. A burst means many waiters, and their polling must not starve the one process
 * doing the work: between full checks (holder alive?) a poll is one stat(2) that sees the file go or be replaced,
 * at a growing interval (5 ms doubling to 40 ms).
 */
export async function waitForLease(path: string, opts: { now(): number; deadline: number; staleMs: number }): Promise<boolean> {
  let poll = 5;
  let checkedAt = Number.NEGATIVE_INFINITY;
  let ino: number | undefined;
  for (;;) {
    const now = opts.now();
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) return true;
    if (st.ino !== ino || now - checkedAt >= 1_000) {
      if (!leaseHeld(path, now, opts.staleMs)) return true;
      ino = st.ino;
      checkedAt = now;
    }
    if (now >= opts.deadline) return false;
    await new Promise((r) => setTimeout(r, Math.min(poll, Math.max(1, opts.deadline - now))));
    poll = Math.min(poll * 2, 40);
  }
}
