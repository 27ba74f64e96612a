// Builds the contexts commands run in. This is one of the two places allowed to read process.env.
import { createLogger } from '../core/log.js';
import { findKeyrackFile, loadKeyrackFile } from '../core/keyrack-file.js';
import { KeyrackError } from '../core/errors.js';
import type { RobotContext } from '../core/plugin.js';
import { createRuntime, type Runtime } from '../core/runtime.js';

export const fileArg = {
  file: { type: 'string', description: 'keyrack.yml to use (default: search upward from the current directory, or KEYRACK_FILE)', valueHint: 'PATH' },
} as const;

export function processRuntime(): Runtime {
  return createRuntime({ env: process.env, cwd: process.cwd() });
}

export async function robotContext(args: { file?: string | undefined }, signal?: AbortSignal): Promise<RobotContext> {
  const runtime = processRuntime();
  const path = findKeyrackFile({ cwd: runtime.cwd, env: runtime.env, ...(args.file ? { explicit: args.file } : {}) });
  const file = await loadKeyrackFile(path);
  const log = createLogger({ enabled: runtime.env.KEYRACK_DEBUG === '1' });
  return { runtime, file, log, ...(signal ? { signal } : {}) };
}

/** `keyrack unlock aws` / `keyrack lock aws`: the plugin positional is optional, and only `aws` exists. */
export function checkPlugin(name: string | undefined): void {
  if (name !== undefined && name !== '' && name !== 'aws') {
    throw new KeyrackError({ code: 'cli.unknown-plugin', reason: 'invalid-input', message: `unknown plugin "${name}"`, fix: 'the only plugin is aws: keyrack unlock aws' });
  }
}

export function wantsJson(args: { json?: boolean | undefined; format?: string | undefined }): boolean {
  return args.json === true || args.format === 'json';
}
