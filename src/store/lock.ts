// A cross-process lock on one file, for read-modify-write of shared files (token cache, unlock records) by
// several keyrack processes at once.
//
// Acquire: create the lock file with O_EXCL ('wx'), holding {pid, host, createdAt, nonce}. Waiters poll with
// jittered sleeps. A lock is stale when its holder is a dead pid on this host, or it is older than `staleMs`.
//
// Removal is the dangerous part: "read the lock, decide, unlink" races with a waiter that just replaced it. So
// every removal of the lock file (a release, or breaking a stale lock) happens while holding a second, short-lived
// guard file (`<lock>.guard`), and re-checks under the guard that the file is still the one it judged. Creation
// needs no guard (O_EXCL), so under the guard "the file holds nonce N" stays true until we unlink it.
// The guard is held for a read and an unlink only; a guard left by a crashed process is broken by moving it aside
// and checking that the moved file is the one judged stale (a fresh one is linked back).
// Creating, reading and removing a lock file are synchronous calls: a few microseconds each, where a thread-pool
// hop costs tenths of a millisecond (research/soak.md); only the waits are asynchronous.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { link, rename } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyrackError } from '../core/errors.js';
import { systemClock } from '../core/runtime.js';
import { ensurePrivateDir, PRIVATE_FILE_MODE, readThroughFd } from './files.js';

export interface LockOptions {
  /** Give up waiting after this long: KeyrackError `lock.timeout` (reason `unavailable`). */
  timeoutMs: number;
  /** A lock older than this is taken over even if its holder looks alive. Must exceed the longest hold. */
  staleMs: number;
  /** Mean poll interval while waiting (jittered ±50%). Default 25 ms. */
  pollMs?: number;
  /** Epoch ms; must advance. Used for ages and the timeout. */
  now?: () => number;
  /** Called once, when the lock is busy and the caller starts waiting. */
  onWait?: () => void;
}

export interface LockInfo {
  pid: number;
  host: string;
  createdAt: number;
  nonce: string;
}

interface Seen {
  info: LockInfo | undefined;
  dev: number;
  ino: number;
  mtimeMs: number;
  size: number;
}

/** A guard is held for microseconds; one older than this was left by a crashed (or frozen) process. */
const GUARD_STALE_MS = 5_000;
const GUARD_POLL_MS = 5;

// Locks held in the current async context: a nested withFileLock on the same file would wait for itself.
const heldHere = new AsyncLocalStorage<ReadonlySet<string>>();
// Nonces held by this process: a lock file with our pid but a nonce not in here was left by a dead process
// whose pid we reused.
const ownNonces = new Set<string>();

function newNonce(): string {
  return randomBytes(12).toString('hex');
}

function parseInfo(text: string): LockInfo | undefined {
  try {
    const o = JSON.parse(text) as Partial<LockInfo> | null;
    if (o && typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.createdAt === 'number' && typeof o.nonce === 'string') {
      return { pid: o.pid, host: o.host, createdAt: o.createdAt, nonce: o.nonce };
    }
  } catch {
    // A holder that crashed between create and write leaves an empty file: judged by its age only.
  }
  return undefined;
}

/** Create `path` exclusively with our info; false when it exists. */
async function tryCreate(path: string, info: LockInfo): Promise<boolean> {
  let fd: number;
  try {
    fd = openSync(path, 'wx', PRIVATE_FILE_MODE);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    writeSync(fd, `${JSON.stringify(info)}\n`);
  } catch (e) {
    closeSync(fd);
    unlinkQuietly(path); // ours, and unreadable to others: nobody else would remove it
    throw e;
  }
  closeSync(fd);
  return true;
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Content and identity of the file, read through one descriptor; undefined if it is gone. */
async function inspect(path: string): Promise<Seen | undefined> {
  return readThroughFd(path, (fd) => {
    const st = fstatSync(fd);
    return { info: parseInfo(readFileSync(fd, 'utf8')), dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs, size: st.size };
  });
}

function sameFile(a: Seen, b: Seen): boolean {
  if (a.dev !== b.dev || a.ino !== b.ino) return false;
  if (a.info || b.info) return a.info?.nonce === b.info?.nonce;
  return a.mtimeMs === b.mtimeMs && a.size === b.size;
}

function pidIsDead(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false; // 0 and negatives address process groups
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH'; // EPERM: alive, someone else's
  }
}

function isStale(seen: Seen, now: number, staleMs: number): boolean {
  const info = seen.info;
  if (info && info.host === hostname()) {
    if (info.pid === process.pid ? !ownNonces.has(info.nonce) : pidIsDead(info.pid)) return true;
  }
  // createdAt is on the caller's clock; a file's mtime is wall-clock time.
  const age = info ? now - info.createdAt : systemClock.now() - seen.mtimeMs;
  return age > staleMs;
}

function jitter(ms: number): number {
  return Math.max(1, Math.round(ms * (0.5 + Math.random())));
}

function timeoutError(lockPath: string, waitedMs: number, holder: LockInfo | undefined): KeyrackError {
  const who = holder ? `pid ${holder.pid}${holder.host === hostname() ? '' : ` on ${holder.host}`}` : 'an unknown process';
  return new KeyrackError({
    code: 'lock.timeout',
    reason: 'unavailable',
    message: `gave up after ${Math.round(waitedMs / 100) / 10}s waiting for the lock ${lockPath}, held by ${who}`,
    location: lockPath,
    fix: holder
      ? `wait for the process ${holder.pid} to finish and retry; if it no longer exists, delete ${lockPath}`
      : `retry; if it keeps failing, delete ${lockPath}`,
  });
}

/** Hold `<lock>.guard` while running `fn`; waits until `deadline` (epoch ms by `now`). */
async function withGuard<T>(lockPath: string, now: () => number, deadline: number, fn: () => Promise<T>): Promise<T> {
  const guardPath = `${lockPath}.guard`;
  const start = now();
  const info: LockInfo = { pid: process.pid, host: hostname(), createdAt: start, nonce: newNonce() };
  ownNonces.add(info.nonce);
  try {
    for (;;) {
      info.createdAt = now();
      if (await tryCreate(guardPath, info)) break;
      const seen = await inspect(guardPath);
      if (seen && isStale(seen, now(), GUARD_STALE_MS)) {
        const aside = `${guardPath}.${newNonce()}.stale`;
        try {
          await rename(guardPath, aside);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw e;
        }
        const moved = await inspect(aside);
        // Moved someone's fresh guard by mistake: put it back unless another one appeared meanwhile.
        if (moved && !sameFile(moved, seen)) await link(aside, guardPath).catch(() => undefined);
        unlinkQuietly(aside);
        continue;
      }
      if (now() >= deadline) throw timeoutError(guardPath, now() - start, seen?.info);
      await sleep(jitter(GUARD_POLL_MS));
    }
    try {
      return await fn();
    } finally {
      const mine = await inspect(guardPath);
      if (mine?.info?.nonce === info.nonce) unlinkQuietly(guardPath);
    }
  } finally {
    ownNonces.delete(info.nonce);
  }
}

/**
 * Run `fn` while holding the lock file `lockPath` (created 0600 in a 0700 directory if needed).
 * Released afterwards (also on error) only if the file still holds our nonce.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, opts: LockOptions): Promise<T> {
  const path = resolve(lockPath);
  const now = opts.now ?? (() => systemClock.now());
  const pollMs = opts.pollMs ?? 25;
  const outer = heldHere.getStore();
  if (outer?.has(path)) {
    throw new KeyrackError({ code: 'lock.reentrant', reason: 'internal', message: `the lock ${path} is already held by this call chain` });
  }
  await ensurePrivateDir(dirname(path));

  const start = now();
  const deadline = start + opts.timeoutMs;
  const info: LockInfo = { pid: process.pid, host: hostname(), createdAt: start, nonce: newNonce() };
  ownNonces.add(info.nonce);
  let holder: LockInfo | undefined;
  let waiting = false;
  try {
    for (;;) {
      info.createdAt = now();
      if (await tryCreate(path, info)) break;
      const seen = await inspect(path);
      if (!seen) continue; // released between our create and our read: try again at once
      holder = seen.info ?? holder;
      if (isStale(seen, now(), opts.staleMs)) {
        await withGuard(path, now, deadline, async () => {
          const again = await inspect(path);
          if (again && sameFile(again, seen)) unlinkQuietly(path);
        });
        continue;
      }
      if (now() >= deadline) throw timeoutError(path, now() - start, holder);
      if (!waiting) {
        waiting = true;
        opts.onWait?.();
      }
      await sleep(Math.min(jitter(pollMs), Math.max(1, deadline - now())));
    }
  } catch (e) {
    ownNonces.delete(info.nonce);
    throw e;
  }

  try {
    return await heldHere.run(new Set([...(outer ?? []), path]), fn);
  } finally {
    await release(path, info.nonce, now, Math.max(opts.timeoutMs, 2 * GUARD_STALE_MS)).finally(() => ownNonces.delete(info.nonce));
  }
}

async function release(path: string, nonce: string, now: () => number, waitMs: number): Promise<void> {
  const removeIfMine = async () => {
    const seen = await inspect(path);
    if (seen?.info?.nonce === nonce) unlinkQuietly(path);
  };
  try {
    await withGuard(path, now, now() + waitMs, removeIfMine);
  } catch {
    // The guard could not be had (a wedged guard holder): a plain check-and-unlink is the best left to do.
    await removeIfMine().catch(() => undefined);
  }
}

/** The current holder of a lock, if any (for diagnostics such as `keyrack doctor`). */
export async function readLockHolder(lockPath: string): Promise<LockInfo | undefined> {
  return (await inspect(resolve(lockPath)))?.info;
}
