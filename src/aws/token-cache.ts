// The SSO token cache `~/.aws/sso/cache/<key>.json`, shared with the AWS CLI v2 and the JS SDK (which refreshes
// it in place). Written the way the CLI writes it: one line of Python-style JSON, `…Z` timestamps, mode 0600.
import { join } from 'node:path';
import type { Paths } from '../core/runtime.js';
import { KeyrackError } from '../core/errors.js';
import { readOwnFile, removeFileIfExists, writeFileAtomic } from '../store/files.js';
import { isCacheKey, pythonJsonDumps, type PyJson } from './cache-keys.js';

/**
 * A token is refreshed when less than this is left, like AWS CLI v2 (the JS SDK waits until 5 minutes). Kept with
 * the token file (not in session-token.ts, which refreshes) so the fast paths can read it without the lock code.
 */
export const REFRESH_WINDOW_MS = 15 * 60_000;

export interface SsoTokenFile {
  startUrl?: string;
  region?: string;
  accessToken: string;
  expiresAt: string;
  refreshToken?: string;
  clientId?: string;
  clientSecret?: string;
  registrationExpiresAt?: string;
  [other: string]: unknown;
}

// ---------------------------------------------------------------------------------------------------------------
// Timestamps: the CLI writes `2025-01-01T12:00:00Z`, the JS SDK `…T12:00:00.000Z`; others use `+00:00`.

const TS_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:?\d{2})$/;

/** Epoch ms of an RFC 3339 timestamp with an explicit zone, or undefined. */
export function parseAwsTimestamp(s: string): number | undefined {
  const m = TS_RE.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  const ms = frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59 || Number(sec) > 60) return undefined;
  let t = Date.UTC(Number(y), month - 1, day, Number(h), Number(mi), Number(sec), ms);
  if (zone && zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return Number.isFinite(t) ? t : undefined;
}

/** `YYYY-MM-DDTHH:MM:SSZ`, as the AWS CLI writes it (fractions are dropped, i.e. rounded towards earlier). */
export function formatAwsTimestamp(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

// ---------------------------------------------------------------------------------------------------------------

export function tokenFilePath(paths: Pick<Paths, 'ssoCache'>, key: string): string {
  if (!isCacheKey(key)) throw new KeyrackError({ code: 'internal.cache-key', reason: 'internal', message: 'invalid cache key' });
  return join(paths.ssoCache, `${key}.json`);
}

function corrupt(path: string, what: string): KeyrackError {
  // Never echo the content: it may hold a live token.
  return new KeyrackError({
    code: 'token-cache.corrupt',
    reason: 'misconfigured',
    message: `the SSO token cache file is unreadable (${what})`,
    location: path,
    fix: 'run `keyrack unlock` to sign in again; it re-creates the file',
  });
}

export type PrivateRead = { kind: 'missing' } | { kind: 'exposed'; detail: string } | { kind: 'ok'; text: string };

/**
 * Read a cache file that holds secrets, noticing one that others could read or that someone else owns
 * (store/files.ts readOwnFile, private).
 */
export async function readPrivateFile(path: string): Promise<PrivateRead> {
  const read = readOwnFile(path);
  return read.kind === 'ok' ? { kind: 'ok', text: read.bytes.toString('utf8') } : read;
}

/**
 * The token for `key` (see cache-keys.ts), or undefined when there is none. A file others can read is refused
 * rather than used: the token in it may already have leaked, and a new login is the only real fix.
 */
export async function readTokenFile(paths: Pick<Paths, 'ssoCache'>, key: string): Promise<{ path: string; token: SsoTokenFile } | undefined> {
  const path = tokenFilePath(paths, key);
  const read = await readPrivateFile(path);
  if (read.kind === 'missing') return undefined;
  if (read.kind === 'exposed') {
    throw new KeyrackError({
      code: 'token-cache.permissions',
      reason: 'misconfigured',
      message: `the SSO token cache file is accessible to others (${read.detail})`,
      location: path,
      fix: `chmod 600 '${path}' and run \`keyrack unlock\` to replace the token, which may have been exposed`,
    });
  }
  const token = parseTokenJson(read.text);
  if (typeof token === 'string') throw corrupt(path, token);
  return { path, token };
}

/**
 * The token in `text` as the AWS CLI's file (or keyrack's keychain entry, which holds the same JSON) has it, or
 * what is wrong with it (for the message; never the content). Every reader of a token goes through this.
 */
export function parseTokenJson(text: string): SsoTokenFile | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text.trim() === '' ? 'empty' : 'not JSON';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'not a JSON object';
  const obj = parsed as Record<string, unknown>;
  if (typeof obj.accessToken !== 'string' || obj.accessToken === '') return 'no accessToken';
  if (typeof obj.expiresAt !== 'string' || parseAwsTimestamp(obj.expiresAt) === undefined) return 'no valid expiresAt';
  for (const k of ['startUrl', 'region', 'refreshToken', 'clientId', 'clientSecret', 'registrationExpiresAt']) {
    if (obj[k] !== undefined && typeof obj[k] !== 'string') return `${k} is not a string`;
  }
  return obj as SsoTokenFile;
}

// The AWS CLI's field order; unknown fields (another tool's) follow in their own order.
const FIELD_ORDER = ['startUrl', 'region', 'accessToken', 'expiresAt', 'clientId', 'clientSecret', 'registrationExpiresAt', 'refreshToken'];

function normaliseTimestamp(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const t = parseAwsTimestamp(v);
  return t === undefined ? v : formatAwsTimestamp(t);
}

/** Serialise like the CLI: one line, `", "`/`": "` separators, ASCII-escaped, `…Z` timestamps. */
export function serialiseTokenFile(token: SsoTokenFile): string {
  if (parseAwsTimestamp(token.expiresAt) === undefined) {
    throw new KeyrackError({ code: 'token-cache.invalid', reason: 'internal', message: 'refusing to write a token without a valid expiresAt' });
  }
  const out: Record<string, PyJson> = {};
  const keys = [...FIELD_ORDER.filter((k) => k in token), ...Object.keys(token).filter((k) => !FIELD_ORDER.includes(k))];
  for (const k of keys) {
    const v = k === 'expiresAt' || k === 'registrationExpiresAt' ? normaliseTimestamp(token[k]) : token[k];
    if (v !== undefined) out[k] = toPyJson(v);
  }
  return pythonJsonDumps(out);
}

function toPyJson(v: unknown): PyJson {
  // Round-trip through JSON drops what JSON cannot hold, as JSON.stringify would.
  return JSON.parse(JSON.stringify(v) ?? 'null') as PyJson;
}

/** Atomic write (0600 file, 0700 directories); a concurrent reader sees the old file or the new one. */
export async function writeTokenFile(paths: Pick<Paths, 'ssoCache'>, key: string, token: SsoTokenFile): Promise<string> {
  const path = tokenFilePath(paths, key);
  await writeFileAtomic(path, serialiseTokenFile(token));
  return path;
}

/** True when a file was deleted. */
export async function deleteTokenFile(paths: Pick<Paths, 'ssoCache'>, key: string): Promise<boolean> {
  return removeFileIfExists(tokenFilePath(paths, key));
}

/** Epoch ms at which the access token expires. */
export function tokenExpiresAt(token: Pick<SsoTokenFile, 'expiresAt'>): number {
  const t = parseAwsTimestamp(token.expiresAt);
  if (t === undefined) {
    throw new KeyrackError({ code: 'token-cache.corrupt', reason: 'misconfigured', message: 'the SSO token has no valid expiresAt', fix: 'run `keyrack unlock` to sign in again' });
  }
  return t;
}

/**
 * Whether a refresh can be attempted: a refresh token and the client registration it belongs to, not expired.
 * A missing `registrationExpiresAt` (files written by other tools) is allowed; the server has the last word.
 */
export function isRefreshable(token: SsoTokenFile, now: number): boolean {
  if (!token.refreshToken || !token.clientId || !token.clientSecret) return false;
  if (token.registrationExpiresAt === undefined) return true;
  const reg = parseAwsTimestamp(token.registrationExpiresAt);
  return reg !== undefined && reg > now;
}
