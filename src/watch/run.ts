// Running the watcher: one pass (`--once`, what the installed service does) or in the foreground until stopped.
// Each pass re-reads config.yml, so a changed interval or channel applies without a restart. The foreground
// watcher looks every PASS_EVERY_MS (cheap when nothing is due: local files only) and keeps what it learnt from
// the cache files between passes (ProbeMemo).
import { setTimeout as sleep } from 'node:timers/promises';
import { hostname } from 'node:os';
import { toKeyrackError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Runtime } from '../core/runtime.js';
import { createNotifier, type ChannelResult } from '../notify/dispatch.js';
import type { NotifyEvent } from '../notify/events.js';
import { loadUserConfig } from '../store/user-config.js';
import { ProbeMemo } from './aws-probe.js';
import { registerWatcher } from './pids.js';
import { PassCache, watchOnce, type PushOutcome, type RunReport } from './probe.js';

/** How often the foreground watcher looks at signals and due sessions. */
const PASS_EVERY_MS = 15_000;

export interface RunOptions {
  /** One pass, then return (after any device-code push it started has ended). */
  once: boolean;
  /** Only sessions whose interval has passed (the installed service); default: all of them. */
  dueOnly: boolean;
  signal?: AbortSignal;
  /** A pass's outcome, for the caller to print. */
  onReport(report: RunReport): void;
  onEvent(event: NotifyEvent, results: ChannelResult[]): void;
  onPush(outcome: PushOutcome): void;
  onError(message: string): void;
}

export async function runWatcher(runtime: Runtime, log: Logger, opts: RunOptions): Promise<void> {
  const unregister = await registerWatcher(runtime.paths.state, { pid: process.pid, host: hostname(), startedAt: runtime.clock.now(), mode: opts.once ? 'once' : 'foreground' });
  const memo = new ProbeMemo();
  const cache = new PassCache();
  const pushes = new Set<Promise<void>>();
  try {
    for (let first = true; ; first = false) {
      try {
        const config = await loadUserConfig(runtime.paths);
        const notifier = createNotifier({ runtime, config, log, onEvent: opts.onEvent });
        const report = await watchOnce({ runtime, log, config, notifier, memo, cache, force: opts.once && !opts.dueOnly && first, ...(opts.signal ? { signal: opts.signal } : {}) });
        opts.onReport(report);
        for (const p of report.pushes) {
          const tracked: Promise<void> = p
            .then(opts.onPush, (e: unknown) => opts.onError(`device-code push: ${toKeyrackError(e).message}`))
            .finally(() => pushes.delete(tracked));
          pushes.add(tracked);
        }
      } catch (e) {
        opts.onError(toKeyrackError(e).message);
        if (opts.once) throw e;
      }
      if (opts.once || opts.signal?.aborted) break;
      try {
        await sleep(PASS_EVERY_MS, undefined, opts.signal ? { signal: opts.signal } : {});
      } catch {
        break; // stopped
      }
    }
    await Promise.allSettled([...pushes]);
  } finally {
    await unregister().catch(() => undefined);
  }
}
