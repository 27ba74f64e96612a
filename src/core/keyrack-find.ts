// Which keyrack.yml a command uses, and which of its refs: the same precedence everywhere, so a robot in CI
// and a human in a subdirectory both land on the file and entries they expect.
import { statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { KeyrackError } from './errors.js';
import type { KeyRef, KeyrackFile } from './keyrack-file.js';
import type { EnvVars } from './runtime.js';

export const KEYRACK_FILE_NAME = 'keyrack.yml';

const isFile = (p: string): boolean => statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;

/**
 * `--file`, then `KEYRACK_FILE`, then the nearest keyrack.yml from `cwd` up to the filesystem root (like git
 * finds .git). An explicit path that does not exist is an error, never a reason to fall back to searching.
 */
export function findKeyrackFile(opts: { cwd: string; explicit?: string; env: EnvVars; exists?: (p: string) => boolean }): string {
  const exists = opts.exists ?? isFile;
  const chosen: Array<[string | undefined, string]> = [
    [opts.explicit, '--file'],
    [opts.env.KEYRACK_FILE, 'KEYRACK_FILE'],
  ];
  for (const [given, source] of chosen) {
    if (!given) continue;
    const path = resolve(opts.cwd, given);
    if (exists(path)) return path;
    throw new KeyrackError({
      code: 'keyrack-file.not-found',
      reason: 'invalid-input',
      location: path,
      message: `${source} points at a keyrack.yml that does not exist`,
      fix: `correct ${source}, or ${source === '--file' ? 'omit it' : 'unset it'} to search from the current directory`,
    });
  }
  for (let dir = resolve(opts.cwd); ; dir = dirname(dir)) {
    const path = join(dir, KEYRACK_FILE_NAME);
    if (exists(path)) return path;
    if (dirname(dir) === dir) break;
  }
  throw new KeyrackError({
    code: 'keyrack-file.not-found',
    reason: 'invalid-input',
    message: `no ${KEYRACK_FILE_NAME} in ${resolve(opts.cwd)} or any parent directory`,
    fix: 'run inside a repo that has one, pass --file <path>, or set KEYRACK_FILE (see keyrack.yml.example to create one)',
  });
}

/**
 * The refs a command acts on. `env` may be left out only when the file has a single env (`prep` or `env.prep`);
 * `key` narrows to one ref. Unknown names are errors that list the known ones.
 */
export function selectRefs(file: KeyrackFile, opts: { env?: string; key?: string }): KeyRef[] {
  const envs = Object.keys(file.envs);
  const list = (names: string[]) => names.join(', ') || '(none)';
  let env = opts.env?.replace(/^env\./, '');
  if (env === undefined || env === '') {
    if (envs.length !== 1) {
      throw new KeyrackError({
        code: 'keyrack-file.env-required',
        reason: 'invalid-input',
        location: file.path,
        message: `${file.path} has ${envs.length} envs; say which one`,
        fix: `pass --env with one of: ${list(envs)}`,
      });
    }
    env = envs[0] ?? '';
  }
  const keys = Object.hasOwn(file.envs, env) ? file.envs[env] : undefined;
  if (!keys) {
    throw new KeyrackError({
      code: 'keyrack-file.unknown-env',
      reason: 'invalid-input',
      location: file.path,
      message: `env ${shown(env)} is not defined in ${file.path}`,
      fix: `use one of: ${list(envs)}`,
    });
  }
  if (opts.key === undefined) return Object.values(keys);
  const ref = Object.hasOwn(keys, opts.key) ? keys[opts.key] : undefined;
  if (!ref) {
    throw new KeyrackError({
      code: 'keyrack-file.unknown-key',
      reason: 'invalid-input',
      location: file.path,
      message: `key ${shown(opts.key)} is not defined in env.${env}`,
      fix: `use one of: ${list(Object.keys(keys))}`,
    });
  }
  return [ref];
}

/** Echo a name the user typed only when it looks like a name, never something pasted by mistake. */
function shown(name: string): string {
  return /^[A-Za-z0-9._-]{1,64}$/.test(name) ? `"${name}"` : '(as given)';
}
