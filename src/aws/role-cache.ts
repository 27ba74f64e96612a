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
import type { RoleCredentials } from '../core/plugin.js';

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
  if (read.kind !== 'ok') return undefined;
  let obj: unknown;
  try {
    obj = JSON.parse(read.text);
  } catch {
    return undefined;
  }
  if (typeof obj !== 'object' || obj === null) return undefined;
  const o = obj as { ProviderType?: unknown; Credentials?: unknown };
  if (o.ProviderType !== 'sso' || typeof o.Credentials !== 'object' || o.Credentials === null) return undefined;
  const c = o.Credentials as Record<string, unknown>;
  const { AccessKeyId, SecretAccessKey, SessionToken, Expiration, AccountId } = c;
  if (typeof AccessKeyId !== 'string' || typeof SecretAccessKey !== 'string' || typeof SessionToken !== 'string' || typeof Expiration !== 'string') return undefined;
  const expiresAt = parseAwsTimestamp(Expiration);
  if (expiresAt === undefined || expiresAt - now <= (opts.marginMs ?? DEFAULT_ROLE_MARGIN_MS)) return undefined;
  const credentials: RoleCredentials = { accessKeyId: AccessKeyId, secretAccessKey: SecretAccessKey, sessionToken: SessionToken, expiresAt };
  if (typeof AccountId === 'string') credentials.accountId = AccountId;
  return { path, credentials };
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
