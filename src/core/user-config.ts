// The user's own keyrack settings, `$XDG_CONFIG_HOME/keyrack/config.yml` (not keyrack.yml, which belongs to a
// repository and is committed). The file is optional. Keys this version does not know are ignored, so a newer
// config does not break an older keyrack; the keys it knows are checked strictly.
//
//   validation_ttl: 30s   # how long a grant may reuse a successful validation; 0 disables; at most 5m
//
// Environment variables win over the file (KEYRACK_VALIDATION_TTL), so one run can differ without editing it.
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { readFileIfExists } from '../store/files.js';
import { parseDuration } from './duration.js';
import { KeyrackError } from './errors.js';
import type { Paths } from './runtime.js';

export const USER_CONFIG_FILE = 'config.yml';

export interface UserConfig {
  /** Where it was read from (whether or not it exists). */
  path: string;
  /** ms; undefined when not set */
  validationTtlMs?: number;
}

export const userConfigPath = (paths: Pick<Paths, 'config'>) => join(paths.config, USER_CONFIG_FILE);

function bad(path: string, message: string, fix: string): KeyrackError {
  return new KeyrackError({ code: 'user-config.invalid', reason: 'misconfigured', message, location: path, fix });
}

/** A duration (`30s`, `1m`) or 0; `what` names the source in messages. Never echoes the value. */
export function parseTtl(value: unknown, what: string, maxMs: number): number {
  let ms: number;
  if (value === 0 || value === '0') ms = 0;
  else if (typeof value === 'string') ms = parseDuration(value, what) * 1000;
  else throw new KeyrackError({ code: 'duration.invalid', reason: 'invalid-input', message: `${what} is not a duration`, fix: 'write it as e.g. 30s, 2m, or 0 to disable' });
  if (ms > maxMs) {
    throw new KeyrackError({
      code: 'duration.too-long',
      reason: 'invalid-input',
      message: `${what} is longer than ${maxMs / 1000}s`,
      fix: `keep it at most ${maxMs / 1000}s: a longer reuse would hide a revoked SSO session from robots for that long`,
    });
  }
  return ms;
}

export async function readUserConfig(paths: Pick<Paths, 'config'>, limits: { maxValidationTtlMs: number }): Promise<UserConfig> {
  const path = userConfigPath(paths);
  let text: string | undefined;
  try {
    text = await readFileIfExists(path);
  } catch (e) {
    throw bad(path, `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, `make it readable by you, or remove it`);
  }
  if (text === undefined || text.trim() === '') return { path };
  const doc = parseDocument(text, { prettyErrors: false, version: '1.2' });
  // Position only: the text itself could be anything the user pasted.
  const first = doc.errors[0];
  if (first) throw bad(path, `${path} is not valid YAML (line ${first.linePos?.[0]?.line ?? '?'})`, 'fix the YAML syntax');
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) return { path };
  if (typeof data !== 'object' || Array.isArray(data)) throw bad(path, `${path} must be a mapping of settings`, 'write settings as `name: value` lines');
  const out: UserConfig = { path };
  const ttl = (data as Record<string, unknown>).validation_ttl;
  if (ttl !== undefined) {
    try {
      out.validationTtlMs = parseTtl(ttl, `validation_ttl in ${path}`, limits.maxValidationTtlMs);
    } catch (e) {
      if (e instanceof KeyrackError) throw bad(path, e.message, e.fix ?? 'write it as e.g. 30s');
      throw e;
    }
  }
  return out;
}
