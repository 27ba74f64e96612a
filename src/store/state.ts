// keyrack's own state under $XDG_STATE_HOME/keyrack. Nothing here is secret: unlock records say which keys a
// human opened and until when; validation entries say which identity a profile proved to be, and until when.
import { readdir, rm } from 'node:fs/promises';
import { fstatSync, readFileSync, type BigIntStats } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { KeyrackError } from '../core/errors.js';
import type { Identity } from '../core/plugin.js';
import { readFileIfExists, readThroughFd, removeFileIfExists, writeFileAtomic } from './files.js';
import { sha256Hex } from '../core/hash.js';

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
const fastDir = (state: string) => join(state, 'fast');
export const lockDir = (state: string) => join(state, 'locks');
/** The validation lease (store/lease.ts) for one validation file: who validates for a burst of robots. */
export const validationLeasePath = (state: string, validationFile: string) => join(lockDir(state), `lease-${validationFile}`);

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

/**
 * A record, or undefined when absent or damaged (a damaged record counts as absent: the safe direction, robots
 * are refused); unreadable throws. Synchronous, for the fast path (src/cli/fast) and everyone else: these files
 * are small and a thread-pool hop per read costs more than the read (store/files.ts).
 */
function readJsonSync<T>(path: string): T | undefined {
  let text: string | undefined;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw stateError(path, e);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
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
  const r = readJsonSync<UnlockRecord>(unlockRecordPath(state, env));
  return r?.version === 1 ? r : undefined;
}

/** readUnlockRecord, synchronously (the fast path). */
export function readUnlockRecordSync(state: string, env: string): UnlockRecord | undefined {
  const r = readJsonSync<UnlockRecord>(unlockRecordPath(state, env));
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
    const r = readJsonSync<UnlockRecord>(join(unlockDir(state), n));
    if (r?.version === 1) out.push(r);
  }
  return out;
}

export async function removeUnlockRecord(state: string, env: string): Promise<boolean> {
  return removeFileIfExists(unlockRecordPath(state, env));
}

/** The validation entry's file name in the validation dir. */
export function validationFileName(env: string, key: string, profile: string): string {
  return `${createHash('sha1').update(JSON.stringify([env, key, profile])).digest('hex')}.json`;
}

function validationPath(state: string, env: string, key: string, profile: string): string {
  return join(validationDir(state), validationFileName(env, key, profile));
}

const isEntry = (v: ValidationEntry | undefined, env: string, key: string, profile: string) => v?.version === 1 && v.env === env && v.key === key && v.profile === profile;

export async function readValidation(state: string, env: string, key: string, profile: string): Promise<ValidationEntry | undefined> {
  const v = readJsonSync<ValidationEntry>(validationPath(state, env, key, profile));
  return isEntry(v, env, key, profile) ? v : undefined;
}

/** readValidation for the fast path: synchronous, by the file name a FastGrantRecord carries (no hashing here). */
export function readValidationFileSync(state: string, fileName: string, env: string, key: string, profile: string): ValidationEntry | undefined {
  if (!/^[0-9a-f]{40}\.json$/.test(fileName)) return undefined;
  const v = readJsonSync<ValidationEntry>(join(validationDir(state), fileName));
  return isEntry(v, env, key, profile) ? v : undefined;
}

export async function writeValidation(state: string, entry: ValidationEntry): Promise<void> {
  await writeJson(validationPath(state, entry.env, entry.key, entry.profile), entry);
}

export async function dropValidation(state: string, env: string, key: string, profile: string): Promise<void> {
  await rm(validationPath(state, env, key, profile), { force: true });
}

export async function clearValidations(state: string): Promise<void> {
  await rm(validationDir(state), { recursive: true, force: true });
  await rm(fastDir(state), { recursive: true, force: true });
}

/**
 * What lets `keyrack grant` answer a validation-cache hit before loading citty, YAML or ~/.aws/config's parser
 * (src/cli/fast/grant.ts). Written by a grant that validated or hit the cache (src/aws/grant.ts); no secrets.
 * It vouches for one validation entry (file name and `validatedAt`) under exact inputs: the keyrack.yml text, the
 * ~/.aws/config text, the user config text and the KEYRACK_VALIDATION_TTL value. A file counts as unchanged when
 * its stat fingerprint is the recorded one (taken only from a file that had not changed for a second, so a later
 * write cannot share its timestamps), else when its SHA-256 is. Any difference, or a missing validation entry
 * (lock, unlock and a failed validation drop it), and the grant takes the full path, which parses, scans and
 * checks everything again.
 */
export interface FastGrantRecord {
  version: 1;
  /** keyrack.yml (absolute): the text whose ref for `envArg`/`key` was validated */
  file: string;
  fileSha256: string;
  fileStat: string | null;
  /** `--env` exactly as given ('' when omitted) and the key: what the record is looked up by */
  envArg: string;
  key: string;
  /** what keyrack.yml maps them to */
  env: string;
  profile: string;
  /** ~/.aws/config (or AWS_CONFIG_FILE): the text the profile was resolved from */
  awsConfig: string;
  awsConfigSha256: string;
  awsConfigStat: string | null;
  /** what that text resolves the profile to: the SSO token's and the role credentials' cache keys */
  tokenKey: string;
  roleKey: string;
  /** $XDG_CONFIG_HOME/keyrack/config.yml: SHA-256 null and stat 'absent' when there is none */
  userConfig: string;
  userConfigSha256: string | null;
  userConfigStat: string | null;
  /** KEYRACK_VALIDATION_TTL as it was set (null: unset), and the TTL those inputs give (ms, > 0) */
  ttlEnv: string | null;
  ttlMs: number;
  /** the validation entry this vouches for: its file name (validationFileName) and validatedAt */
  validationFile: string;
  validatedAt: number;
}

/** A file's identity and timestamps: equal fingerprints, unchanged file (see FastGrantRecord for the caveat). */
export function statFingerprint(st: BigIntStats | undefined): string {
  return st ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : 'absent';
}

/** A file whose ctime is at least this old cannot share its timestamps with a later write (coarse kernel clocks). */
const SETTLED_MS = 1_000;

/** A file's bytes with its stat fingerprint (null unless it had settled); undefined when there is no file. */
export async function readSettled(path: string, now: number): Promise<{ bytes: Buffer; stat: string | null } | undefined> {
  return readThroughFd(path, (fd) => {
    const before = fstatSync(fd, { bigint: true });
    const bytes = readFileSync(fd);
    const after = fstatSync(fd, { bigint: true });
    if (statFingerprint(before) !== statFingerprint(after)) throw new Error('changed while being read');
    return { bytes, stat: Number(after.ctimeNs / 1_000_000n) <= now - SETTLED_MS ? statFingerprint(after) : null };
  });
}

/**
 * The record's file: `grant-<SHA-256 hex of fastGrantLookup(…)>.json`. The caller hashes (the fast path with its
 * own SHA-256, src/cli/fast/sha256.ts, so that it never loads node:crypto).
 */
export function fastGrantLookup(file: string, envArg: string, key: string): string {
  return JSON.stringify([file, envArg, key]);
}

export function fastGrantPath(state: string, lookupSha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(lookupSha256)) throw new Error('fastGrantPath: not a SHA-256');
  return join(fastDir(state), `grant-${lookupSha256}.json`);
}

/** The record for this lookup, or undefined (absent, damaged, or for other inputs). Synchronous; never throws. */
export function readFastGrant(state: string, lookupSha256: string, file: string, envArg: string, key: string): FastGrantRecord | undefined {
  try {
    const r = readJsonSync<Partial<FastGrantRecord> | null>(fastGrantPath(state, lookupSha256));
    if (r?.version !== 1 || r.file !== file || r.envArg !== envArg || r.key !== key) return undefined;
    return r as FastGrantRecord;
  } catch {
    return undefined;
  }
}

/** Write a fast-path record unless an identical one is there: a full-path run must not pay for a write every time. */
async function writeRecordIfChanged(path: string, record: unknown): Promise<void> {
  const text = `${JSON.stringify(record)}\n`;
  if ((await readFileIfExists(path).catch(() => undefined)) === text) return;
  await writeFileAtomic(path, text);
}

export async function writeFastGrant(state: string, record: FastGrantRecord): Promise<void> {
  await writeRecordIfChanged(fastGrantPath(state, sha256Hex(fastGrantLookup(record.file, record.envArg, record.key))), record);
}

/**
 * What lets `keyrack credential-process --profile P` answer from the keychain before loading the AWS plugin
 * (src/cli/fast/credential-process.ts). Written by the full path when it served from the keychain
 * (src/aws/credential-process.ts); no secrets. It vouches for the inputs the fast path cannot parse cheaply: the
 * process-target record's text (SHA-256; it names the session, account, role and keys) and the cache keys that
 * text resolves to, and the user config text whose token_store puts the session in the keychain. Everything else
 * (the unlock, the token, the role credentials, the pins) the fast path checks itself, every time. Lock and unlock
 * delete it with the validations; any call on the full path replaces it.
 */
export interface FastProcessRecord {
  version: 1;
  profile: string;
  targetSha256: string;
  tokenKey: string;
  roleKey: string;
  userConfig: string;
  userConfigSha256: string | null;
  userConfigStat: string | null;
}

/** `process-<profile>.json`; the profile name is checked by the caller (src/aws/process-target.ts). */
export const fastProcessPath = (state: string, profile: string) => join(fastDir(state), `process-${profile}.json`);

/** The record for this profile, or undefined (absent or damaged). Synchronous; never throws. */
export function readFastProcess(state: string, profile: string): FastProcessRecord | undefined {
  try {
    const r = readJsonSync<Partial<FastProcessRecord> | null>(fastProcessPath(state, profile));
    if (r?.version !== 1 || r.profile !== profile || typeof r.tokenKey !== 'string' || typeof r.roleKey !== 'string') return undefined;
    return r as FastProcessRecord;
  } catch {
    return undefined;
  }
}

export async function writeFastProcess(state: string, record: FastProcessRecord): Promise<void> {
  await writeRecordIfChanged(fastProcessPath(state, record.profile), record);
}

export async function dropFastProcess(state: string, profile: string): Promise<void> {
  await rm(fastProcessPath(state, profile), { force: true });
}
