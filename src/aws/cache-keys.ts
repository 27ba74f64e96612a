// File names of the AWS CLI v2 caches. They are SHA-1 digests of texts built exactly as botocore builds them
// (Python `json.dumps`, ASCII-escaped), so keyrack, the AWS CLI and the JS SDK find each other's files.
import { createHash } from 'node:crypto';

export type PyJson = null | boolean | number | string | readonly PyJson[] | { readonly [key: string]: PyJson };

function sha1Hex(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex');
}

/** Python's `json.dumps` string literal with the default `ensure_ascii=True`. */
function pyString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (c >= 0x20 && c <= 0x7e) out += ch;
    else {
      // Astral characters become a UTF-16 surrogate pair, each escaped (lower-case hex, as Python does).
      for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
    }
  }
  return `${out}"`;
}

/** Python sorts dict keys by code point; JS's default sort compares UTF-16 units. */
function byCodePoint(a: string, b: string): number {
  const ca = Array.from(a, (c) => c.codePointAt(0) ?? 0);
  const cb = Array.from(b, (c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const d = (ca[i] ?? 0) - (cb[i] ?? 0);
    if (d !== 0) return d;
  }
  return ca.length - cb.length;
}

/**
 * The text Python's `json.dumps(value, sort_keys=…, separators=…)` produces for JSON-shaped values.
 * Default separators are `", "` and `": "`; `compact` gives `","` and `":"`.
 */
export function pythonJsonDumps(value: PyJson, opts: { sortKeys?: boolean; compact?: boolean } = {}): string {
  const item = opts.compact ? ',' : ', ';
  const kv = opts.compact ? ':' : ': ';
  const dump = (v: PyJson): string => {
    if (v === null) return 'null';
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new TypeError('non-finite number');
      return String(v);
    }
    if (typeof v === 'string') return pyString(v);
    if (Array.isArray(v)) return `[${(v as readonly PyJson[]).map(dump).join(item)}]`;
    const obj = v as { readonly [key: string]: PyJson };
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined);
    if (opts.sortKeys) keys.sort(byCodePoint);
    return `{${keys.map((k) => `${pyString(k)}${kv}${dump(obj[k] as PyJson)}`).join(item)}}`;
  };
  return dump(value);
}

/** Which login a cache entry belongs to: an `[sso-session]` by name, or a legacy profile by its start URL. */
export type SsoRef = { session: string } | { startUrl: string };

/**
 * `~/.aws/sso/cache/<key>.json` of the SSO token: SHA-1 of the sso-session name, or of the legacy profile's
 * `sso_start_url` exactly as configured (a trailing `/` changes the key).
 */
export function tokenCacheKey(ref: SsoRef): string {
  return sha1Hex('session' in ref ? ref.session : ref.startUrl);
}

export interface RegistrationKeyInput {
  startUrl: string;
  /** `sso_region` */
  region: string;
  /** The sso-session name; `null` for legacy profiles. */
  session: string | null;
  /** `sso_registration_scopes` as the CLI parses it; `null` when the key is absent (an empty list is not null). */
  scopes: readonly string[] | null;
}

/** `~/.aws/sso/cache/<key>.json` of the OIDC client registration (botocore `_registration_cache_key`). */
export function registrationCacheKey(input: RegistrationKeyInput): string {
  const text = pythonJsonDumps(
    { tool: 'botocore', startUrl: input.startUrl, region: input.region, scopes: input.scopes, session_name: input.session },
    { sortKeys: true },
  );
  return sha1Hex(text);
}

export type RoleKeyInput = { accountId: string; roleName: string } & SsoRef;

/** `~/.aws/cli/cache/<key>.json` of SSO role credentials (botocore `SSOCredentialFetcher._create_cache_key`). */
export function roleCacheKey(input: RoleKeyInput): string {
  const args: Record<string, string> = { roleName: input.roleName, accountId: input.accountId };
  if ('session' in input) args.sessionName = input.session;
  else args.startUrl = input.startUrl;
  return sha1Hex(pythonJsonDumps(args, { sortKeys: true, compact: true }));
}

/** Cache keys are file names: only accept what these functions produce, so a key can never escape its directory. */
export function isCacheKey(key: string): boolean {
  return /^[0-9a-f]{40}$/.test(key);
}
