// Bounded waiting: poll a cheap local check with jittered exponential backoff until it passes or a deadline
// (on the runtime's clock) arrives. Used by `grant --wait` to queue robots behind one human action.
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from './runtime.js';

export interface PollOptions {
  /** epoch ms on `clock`; the poll never sleeps past it */
  deadline: number;
  clock: Clock;
  /** first pause, default 100 ms */
  firstMs?: number;
  /** longest pause, default 2 s */
  maxMs?: number;
  /** growth per round, default 1.5 */
  factor?: number;
  signal?: AbortSignal;
}

/** ±25 %: a crowd of waiters started together does not poll in lock-step. */
export function jittered(ms: number, random: () => number = Math.random): number {
  return Math.max(1, Math.round(ms * (0.75 + random() * 0.5)));
}

/** The pauses pollUntil makes, without jitter: firstMs, ×factor each round, capped at maxMs. */
export function backoffSchedule(rounds: number, o: Pick<PollOptions, 'firstMs' | 'maxMs' | 'factor'> = {}): number[] {
  const out: number[] = [];
  let d = o.firstMs ?? 100;
  for (let i = 0; i < rounds; i++) {
    out.push(d);
    d = Math.min(o.maxMs ?? 2_000, d * (o.factor ?? 1.5));
  }
  return out;
}

/** true as soon as `check` passes; false when the deadline comes first (checked once more at the deadline). */
export async function pollUntil(check: () => Promise<boolean>, o: PollOptions): Promise<boolean> {
  let delay = o.firstMs ?? 100;
  for (;;) {
    if (await check()) return true;
    const left = o.deadline - o.clock.now();
    if (left <= 0 || o.signal?.aborted) return false;
    await sleep(Math.min(left, jittered(delay)), undefined, o.signal ? { signal: o.signal } : undefined).catch(() => undefined);
    delay = Math.min(o.maxMs ?? 2_000, delay * (o.factor ?? 1.5));
  }
}

/**
 * Identity of a set of files as they are now (inode, size, mtime; `-` when absent). Atomic rewrites change the
 * inode, so any write shows, even within one mtime tick.
 */
export async function filesFingerprint(paths: readonly string[]): Promise<string> {
  const parts = await Promise.all(
    paths.map(async (p) => {
      try {
        const s = await stat(p);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return '-';
      }
    }),
  );
  return parts.join('|');
}
