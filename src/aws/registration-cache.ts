// The OIDC client registration cache, `~/.aws/sso/cache/<registrationCacheKey>.json`, as the AWS CLI v2 keeps it.
// It is a cache: an unreadable, foreign-permission or malformed file is treated as absent, and the next login
// registers again and replaces it (0600), which is what the CLI would end up doing too.
import type { Paths } from '../core/runtime.js';
import { removeFileIfExists, writeFileAtomic } from '../store/files.js';
import { pythonJsonDumps, type PyJson } from './cache-keys.js';
import { formatAwsTimestamp, parseAwsTimestamp, readPrivateFile, tokenFilePath } from './token-cache.js';

export interface ClientRegistration {
  clientId: string;
  clientSecret: string;
  /** Registration expiry (`clientSecretExpiresAt`), RFC 3339. */
  expiresAt: string;
  scopes?: string[];
  /** Written by the CLI's PKCE flow only: `["authorization_code", "refresh_token"]`. */
  grantTypes?: string[];
}

export type LoginFlow = 'device' | 'pkce';

/** The CLI re-registers when fewer than 15 minutes remain. */
export const REGISTRATION_MIN_REMAINING_MS = 15 * 60_000;

function stringList(v: unknown): string[] | undefined | false {
  if (v === undefined) return undefined;
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : false;
}

export async function readRegistration(paths: Pick<Paths, 'ssoCache'>, key: string): Promise<{ path: string; registration: ClientRegistration } | undefined> {
  const path = tokenFilePath(paths, key);
  const read = await readPrivateFile(path);
  const registration = read.kind === 'ok' ? parseRegistrationJson(read.text) : undefined;
  return registration ? { path, registration } : undefined;
}

/** A client registration as the AWS CLI's file (or keyrack's keychain entry) holds it; undefined for anything else. */
export function parseRegistrationJson(text: string): ClientRegistration | undefined {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return undefined;
  const o = obj as Record<string, unknown>;
  if (typeof o.clientId !== 'string' || typeof o.clientSecret !== 'string' || typeof o.expiresAt !== 'string') return undefined;
  if (parseAwsTimestamp(o.expiresAt) === undefined) return undefined;
  const scopes = stringList(o.scopes);
  const grantTypes = stringList(o.grantTypes);
  if (scopes === false || grantTypes === false) return undefined;
  const registration: ClientRegistration = { clientId: o.clientId, clientSecret: o.clientSecret, expiresAt: o.expiresAt };
  if (scopes) registration.scopes = scopes;
  if (grantTypes) registration.grantTypes = grantTypes;
  return registration;
}

/** One line, CLI field order and separators, `…Z` expiry. */
export function serialiseRegistration(reg: ClientRegistration): string {
  const t = parseAwsTimestamp(reg.expiresAt);
  const out: Record<string, PyJson> = {
    clientId: reg.clientId,
    clientSecret: reg.clientSecret,
    expiresAt: t === undefined ? reg.expiresAt : formatAwsTimestamp(t),
  };
  if (reg.scopes) out.scopes = reg.scopes;
  if (reg.grantTypes) out.grantTypes = reg.grantTypes;
  return pythonJsonDumps(out);
}

export async function writeRegistration(paths: Pick<Paths, 'ssoCache'>, key: string, reg: ClientRegistration): Promise<string> {
  const path = tokenFilePath(paths, key);
  await writeFileAtomic(path, serialiseRegistration(reg));
  return path;
}

export async function deleteRegistration(paths: Pick<Paths, 'ssoCache'>, key: string): Promise<boolean> {
  return removeFileIfExists(tokenFilePath(paths, key));
}

/**
 * The CLI's reuse rule: valid for at least 15 more minutes, and registered for the flow about to run. A
 * registration with `authorization_code` in its grant types is for PKCE; anything else (the CLI did not record
 * grant types before PKCE) is a device-code registration.
 */
export function isUsable(reg: ClientRegistration, now: number, flow: LoginFlow): boolean {
  const expires = parseAwsTimestamp(reg.expiresAt);
  if (expires === undefined || expires - now < REGISTRATION_MIN_REMAINING_MS) return false;
  const forAuthCode = reg.grantTypes?.includes('authorization_code') ?? false;
  return flow === 'pkce' ? forAuthCode : !forAuthCode;
}
