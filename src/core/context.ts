// Building contexts for a host: the robot context any host can make, and the human context, which needs a
// LoginCapability the host provides (its terminal, its browser). Hosts never get login powers by default.
import { KeyrackError } from './errors.js';
import { findKeyrackFile } from './keyrack-find.js';
import { loadKeyrackFile } from './keyrack-load.js';
import { parseCacheFor } from '../store/parse-cache.js';
import { createLogger } from './log.js';
import type { HumanContext, LoginCapability, RobotContext } from './plugin.js';
import { createRuntime, type Clock, type EnvVars } from './runtime.js';

export interface ContextOptions {
  /** Defaults to process.env (the host's environment). */
  env?: EnvVars;
  cwd?: string;
  /** keyrack.yml path; else KEYRACK_FILE, else searched upward from cwd. */
  file?: string;
  clock?: Clock;
  signal?: AbortSignal;
  debug?: boolean;
}

export async function createRobotContext(opts: ContextOptions = {}): Promise<RobotContext> {
  const runtime = createRuntime({ ...(opts.env ? { env: opts.env } : {}), ...(opts.cwd ? { cwd: opts.cwd } : {}), ...(opts.clock ? { clock: opts.clock } : {}) });
  const path = findKeyrackFile({ cwd: runtime.cwd, env: runtime.env, ...(opts.file ? { explicit: opts.file } : {}) });
  const file = await loadKeyrackFile(path, parseCacheFor(runtime.paths.state));
  const log = createLogger({ enabled: opts.debug ?? runtime.env.KEYRACK_DEBUG === '1' });
  return { runtime, file, log, ...(opts.signal ? { signal: opts.signal } : {}) };
}

export function createHumanContext(robot: RobotContext, login: LoginCapability): HumanContext {
  if (!login || typeof login.showDeviceCode !== 'function') {
    throw new KeyrackError({ code: 'host.no-login', reason: 'invalid-input', message: 'a human context needs a LoginCapability', fix: 'pass the host’s terminal/browser implementation' });
  }
  return { ...robot, login };
}
