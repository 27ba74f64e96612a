// Which `keyrack watch` processes run on this machine: each writes `$XDG_STATE_HOME/keyrack/watch/pids/<pid>.json`
// while it runs, so the kill switch can stop them without a service manager and without guessing by name.
import { readdir, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeFileAtomic } from '../store/files.js';
import { pidAlive } from '../store/pid.js';

export interface WatcherPid {
  pid: number;
  host: string;
  /** epoch ms */
  startedAt: number;
  mode: 'foreground' | 'once';
  /** Linux: the process's command line (/proc/<pid>/cmdline) when it registered, so a reused pid is told apart. */
  cmdline?: string;
}

const pidDir = (state: string) => join(state, 'watch', 'pids');

export async function registerWatcher(state: string, info: WatcherPid): Promise<() => Promise<void>> {
  const path = join(pidDir(state), `${info.pid}.json`);
  const cmdline = info.cmdline ?? (await cmdlineOf(info.pid));
  await writeFileAtomic(path, `${JSON.stringify({ ...info, ...(cmdline !== undefined ? { cmdline } : {}) })}\n`);
  return () => rm(path, { force: true });
}

async function listWatchers(state: string): Promise<(WatcherPid & { file: string })[]> {
  let names: string[];
  try {
    names = await readdir(pidDir(state));
  } catch {
    return [];
  }
  const out: (WatcherPid & { file: string })[] = [];
  for (const n of names.filter((x) => /^\d+\.json$/.test(x))) {
    const file = join(pidDir(state), n);
    try {
      const w = JSON.parse(await readFile(file, 'utf8')) as WatcherPid;
      if (!Number.isInteger(w.pid) || w.pid <= 1 || typeof w.host !== 'string') continue;
      if (typeof w.cmdline !== 'string') delete w.cmdline; // damaged: judged by the older rule
      out.push({ ...w, file });
    } catch {
      // damaged: nothing to stop
    }
  }
  return out;
}

async function cmdlineOf(pid: number): Promise<string | undefined> {
  if (process.platform !== 'linux') return undefined;
  return readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
}

/**
 * On Linux, the process must still be the watcher that registered (a reused pid is left alone): the same command
 * line as it recorded. An entry without one (written by an older keyrack) needs a `watch` command naming keyrack.
 */
async function stillTheWatcher(w: WatcherPid): Promise<boolean> {
  if (process.platform !== 'linux') return true;
  const now = await cmdlineOf(w.pid);
  if (now === undefined) return false;
  if (w.cmdline !== undefined) return now === w.cmdline;
  const cmd = now.split('\0');
  return cmd.includes('watch') && cmd.some((a) => /keyrack/.test(a));
}

/**
 * Stop every registered watcher on this host (SIGTERM, then SIGKILL after `graceMs`), and forget the stale entries.
 * Returns the pids that were running and were stopped.
 */
export async function stopRegisteredWatchers(state: string, opts: { graceMs?: number } = {}): Promise<number[]> {
  const stopped: number[] = [];
  for (const w of await listWatchers(state)) {
    if (w.host !== hostname() || w.pid === process.pid) continue;
    if (pidAlive(w.pid) && (await stillTheWatcher(w))) {
      try {
        process.kill(w.pid, 'SIGTERM');
      } catch {
        continue;
      }
      const until = performance.now() + (opts.graceMs ?? 3_000);
      while (pidAlive(w.pid) && performance.now() < until) await sleep(25);
      if (pidAlive(w.pid)) {
        try {
          process.kill(w.pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      stopped.push(w.pid);
    }
    await rm(w.file, { force: true });
  }
  return stopped;
}
