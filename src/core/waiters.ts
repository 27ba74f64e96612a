// Robots waiting for a human (`grant --wait`) leave a small record in the state dir while they wait, so a human
// (or `keyrack status`, or a test) can see who is queued behind the unlock. No secrets: pid, env, key, times.
// A record whose process died is ignored by readers and removed on sight.
import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Reason } from './errors.js';
import { readFileIfExists, writeFileAtomic } from '../store/files.js';
import { pidAlive } from '../store/pid.js';

export interface Waiter {
  version: 1;
  pid: number;
  env: string;
  key: string;
  /** why it waits: locked or expired */
  reason: Reason;
  /** epoch ms */
  since: number;
  /** epoch ms: it gives up then */
  until: number;
}

export const waitersDir = (state: string) => join(state, 'waiting');


/** Records a waiter; the returned function removes the record (call it in a finally). Best effort. */
export async function registerWaiter(state: string, w: Omit<Waiter, 'version' | 'pid'>): Promise<() => Promise<void>> {
  const path = join(waitersDir(state), `${process.pid}-${randomBytes(4).toString('hex')}.json`);
  const record: Waiter = { version: 1, pid: process.pid, ...w };
  const written = await writeFileAtomic(path, `${JSON.stringify(record)}\n`).then(() => true, () => false);
  return async () => {
    if (written) await rm(path, { force: true }).catch(() => undefined);
  };
}

/** Live waiters, oldest first; `env` narrows to one env. Records of dead processes are removed. */
export async function listWaiters(state: string, env?: string): Promise<Waiter[]> {
  const dir = waitersDir(state);
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: Waiter[] = [];
  for (const n of names.filter((x) => x.endsWith('.json'))) {
    const text = await readFileIfExists(join(dir, n)).catch(() => undefined);
    let w: Partial<Waiter> | undefined;
    try {
      w = text ? (JSON.parse(text) as Partial<Waiter>) : undefined;
    } catch {
      w = undefined;
    }
    if (!w || w.version !== 1 || typeof w.pid !== 'number' || !pidAlive(w.pid)) {
      await rm(join(dir, n), { force: true }).catch(() => undefined);
      continue;
    }
    if (env === undefined || w.env === env) out.push(w as Waiter);
  }
  return out.sort((a, b) => a.since - b.since);
}
