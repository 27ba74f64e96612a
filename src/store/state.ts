// keyrack's own state under $XDG_STATE_HOME/keyrack. Nothing here is secret: unlock records say which keys a
// human opened and until when; validation entries say which identity a profile proved to be, and until when.
import { readdir, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { KeyrackError } from '../core/errors.js';
import type { Identity } from '../core/plugin.js';
import { readFileIfExists, writeFileAtomic } from './files.js';

export interface UnlockRecord {
  version: 1;
  env: string;
  /** key → profile it was validated as */
  keys: Record<string, { profile: string; sso?: string }>;
  /** sso-session names (or legacy start URLs) covered */
  sessions: string[];
  /** epoch ms */
  unlockedAt: number;
  /** epoch ms; absent = until `keyrack lock` or the SSO session ends */
  until?: number;
  /** the keyrack.yml this unlock was for */
  file: string;
}

export interface ValidationEntry {
  version: 1;
  env: string;
  key: string;
  profile: string;
  identity: Identity;
  /** epoch ms */
  validatedAt: number;
  /** epoch ms */
  credentialsExpireAt: number;
  tokenExpiresAt?: number;
  /** the SSO token cache key the validation rested on */
  tokenKey?: string;
}

const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');
const unlockDir = (state: string) => join(state, 'unlocked');
const validationDir = (state: string) => join(state, 'validated');
export const lockDir = (state: string) => join(state, 'locks');

function stateError(path: string, e: unknown): KeyrackError {
  const code = (e as NodeJS.ErrnoException).code ?? 'unknown';
  return new KeyrackError({
    code: 'state.unreadable',
    reason: 'misconfigured',
    message: `cannot use keyrack's state at ${path} (${code})`,
    fix: `make it readable and writable by you: chmod -R u+rwX ${path}`,
    cause: e,
  });
}

async function readJson<T>(path: string): Promise<T | undefined> {
  let text: string | undefined;
  try {
    text = await readFileIfExists(path);
  } catch (e) {
    throw stateError(path, e);
  }
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined; // a damaged record counts as absent: the safe direction (robots are refused)
  }
}

async function writeJson(path: string, value: unknown): Promise<void> {
  try {
    await writeFileAtomic(path, `${JSON.stringify(value)}\n`);
  } catch (e) {
    throw stateError(path, e);
  }
}

export const unlockRecordPath = (state: string, env: string) => join(unlockDir(state), `${safeName(env)}.json`);

export async function readUnlockRecord(state: string, env: string): Promise<UnlockRecord | undefined> {
  const r = await readJson<UnlockRecord>(unlockRecordPath(state, env));
  return r?.version === 1 ? r : undefined;
}

export async function writeUnlockRecord(state: string, record: UnlockRecord): Promise<void> {
  await writeJson(unlockRecordPath(state, record.env), record);
}

export async function listUnlockRecords(state: string): Promise<UnlockRecord[]> {
  let names: string[];
  try {
    names = await readdir(unlockDir(state));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw stateError(unlockDir(state), e);
  }
  const out: UnlockRecord[] = [];
  for (const n of names.filter((x) => x.endsWith('.json'))) {
    const r = await readJson<UnlockRecord>(join(unlockDir(state), n));
    if (r?.version === 1) out.push(r);
  }
  return out;
}

export async function removeUnlockRecord(state: string, env: string): Promise<boolean> {
  const p = unlockRecordPath(state, env);
  const existed = (await readFileIfExists(p).catch(() => undefined)) !== undefined;
  await rm(p, { force: true });
  return existed;
}

function validationPath(state: string, env: string, key: string, profile: string): string {
  const id = createHash('sha1').update(JSON.stringify([env, key, profile])).digest('hex');
  return join(validationDir(state), `${id}.json`);
}

export async function readValidation(state: string, env: string, key: string, profile: string): Promise<ValidationEntry | undefined> {
  const v = await readJson<ValidationEntry>(validationPath(state, env, key, profile));
  return v?.version === 1 && v.env === env && v.key === key && v.profile === profile ? v : undefined;
}

export async function writeValidation(state: string, entry: ValidationEntry): Promise<void> {
  await writeJson(validationPath(state, entry.env, entry.key, entry.profile), entry);
}

export async function dropValidation(state: string, env: string, key: string, profile: string): Promise<void> {
  await rm(validationPath(state, env, key, profile), { force: true });
}

export async function clearValidations(state: string): Promise<void> {
  await rm(validationDir(state), { recursive: true, force: true });
}
