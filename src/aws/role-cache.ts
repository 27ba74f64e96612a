// SSO role credentials in the AWS CLI's cache, `~/.aws/cli/cache/<roleCacheKey>.json`. The CLI reads this file
// before it ever looks at the SSO token, so what keyrack writes here is what `aws` uses next.
// It is a cache: a malformed file, one others can read, or one of another provider type is treated as absent;
// the next write replaces it (0600).
import { join } from 'node:path';
import type { Paths } from '../core/runtime.js';
import { KeyrackError } from '../core/errors.js';
import { removeFileIfExists, writeFileAtomic } from '../store/files.js';
import { isCacheKey, pythonJsonDumps, type PyJson } from './cache-keys.js';
import { formatAwsTimestamp, parseAwsTimestamp, readPrivateFile } from './token-cache.js';

// The one credential shape keyrack uses; `expiresAt` is written with whole seconds (rounded down), as the CLI does.
export type { RoleCredentials } from '../core/plugin.js';
import type { Identity, RoleCredentials } from '../core/plugin.js';

export const DEFAULT_ROLE_MARGIN_MS = 5 * 60_000;

export function roleFilePath(paths: Pick<Paths, 'cliCache'>, key: string): string {
  if (!isCacheKey(key)) throw new KeyrackError({ code: 'internal.cache-key', reason: 'internal', message: 'invalid cache key' });
  return join(paths.cliCache, `${key}.json`);
}

/** Cached credentials with more than `marginMs` (default 5 min) left, or undefined. */
export async function readRoleCredentials(
  paths: Pick<Paths, 'cliCache'>,
  key: string,
  now: number,
  opts: { marginMs?: number } = {},
): Promise<{ path: string; credentials: RoleCredentials } | undefined> {
  const path = roleFilePath(paths, key);
  const read = await readPrivateFile(path);
  const role = read.kind === 'ok' ? parseRoleJson(read.text) : undefined;
  if (!role || role.credentials.expiresAt - now <= (opts.marginMs ?? DEFAULT_ROLE_MARGIN_MS)) return undefined;
  return { path, credentials: role.credentials };
}

export interface CachedRole {
  credentials: RoleCredentials;
  /** Who STS said the credentials belong to, when the store keeps it (the keychain does; the CLI's files cannot). */
  identity?: Identity;
}

/**
 * Role credentials as the AWS CLI's cache file has them (`{"ProviderType":"sso","Credentials":{…}}`), with the
 * `Identity` keyrack's keychain entries add; undefined for anything else. Every reader of role credentials (the
 * file store, the keychain store, the fast paths) goes through this.
 */
export function parseRoleJson(text: string): CachedRole | undefined {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null) return undefined;
  const { ProviderType, Credentials, Identity: id } = o as { ProviderType?: unknown; Credentials?: unknown; Identity?: unknown };
  if (ProviderType !== 'sso' || typeof Credentials !== 'object' || Credentials === null) return undefined;
  const { AccessKeyId, SecretAccessKey, SessionToken, Expiration, AccountId } = Credentials as Record<string, unknown>;
  if (typeof AccessKeyId !== 'string' || typeof SecretAccessKey !== 'string' || typeof SessionToken !== 'string' || typeof Expiration !== 'string') return undefined;
  const expiresAt = parseAwsTimestamp(Expiration);
  if (expiresAt === undefined) return undefined;
  const credentials: RoleCredentials = { accessKeyId: AccessKeyId, secretAccessKey: SecretAccessKey, sessionToken: SessionToken, expiresAt };
  if (typeof AccountId === 'string') credentials.accountId = AccountId;
  const i = typeof id === 'object' && id !== null ? (id as Partial<Identity>) : undefined;
  const identity = i && typeof i.arn === 'string' && typeof i.account === 'string' ? { arn: i.arn, account: i.account, ...(typeof i.role === 'string' ? { role: i.role } : {}) } : undefined;
  return { credentials, ...(identity ? { identity } : {}) };
}

export function serialiseRoleCredentials(creds: RoleCredentials): string {
  const inner: Record<string, PyJson> = {
    AccessKeyId: creds.accessKeyId,
    SecretAccessKey: creds.secretAccessKey,
    SessionToken: creds.sessionToken,
    Expiration: formatAwsTimestamp(creds.expiresAt),
  };
  if (creds.accountId !== undefined) inner.AccountId = creds.accountId;
  return pythonJsonDumps({ ProviderType: 'sso', Credentials: inner });
}

export async function writeRoleCredentials(paths: Pick<Paths, 'cliCache'>, key: string, creds: RoleCredentials): Promise<string> {
  const path = roleFilePath(paths, key);
  await writeFileAtomic(path, serialiseRoleCredentials(creds));
  return path;
}

/** True when a file was deleted. */
export async function deleteRoleCredentials(paths: Pick<Paths, 'cliCache'>, key: string): Promise<boolean> {
  return removeFileIfExists(roleFilePath(paths, key));
}
