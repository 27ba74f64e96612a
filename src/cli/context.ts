// Builds the contexts commands run in. This is one of the two places allowed to read process.env.
import { createRobotContext } from '../core/context.js';
import { KeyrackError } from '../core/errors.js';
import type { RobotContext } from '../core/plugin.js';
import { createRuntime, type Runtime } from '../core/runtime.js';

export const fileArg = {
  file: { type: 'string', description: 'keyrack.yml to use (default: search upward from the current directory, or KEYRACK_FILE)', valueHint: 'PATH' },
} as const;

export function processRuntime(): Runtime {
  return createRuntime({ env: process.env, cwd: process.cwd() });
}

export function robotContext(args: { file?: string | undefined }, signal?: AbortSignal): Promise<RobotContext> {
  return createRobotContext({ env: process.env, cwd: process.cwd(), ...(args.file ? { file: args.file } : {}), ...(signal ? { signal } : {}) });
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
