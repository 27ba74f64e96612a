// `keyrack grant` served from the validation cache before citty, YAML, ~/.aws/config's parser or the AWS SDK load:
// node:fs and node:crypto over a handful of small files. It answers only when the full path would answer with the
// same validation-cache hit, and otherwise returns false so the command runs as usual (which also makes every
// refusal and every debug line the full path's own).
//
// The full path (src/aws/grant.ts) leaves a FastGrantRecord (src/store/state.ts) after it validated or hit the
// cache. The record vouches for one validation entry under exact inputs, so here each input is compared, not
// re-derived:
//   - keyrack.yml: the same text as the one the full path parsed, secret-scanned and validated, and that mapped
//     this `--env`/key to the profile (an edited file takes the full path, which scans and parses it again);
//   - ~/.aws/config: the same text, so the profile still resolves to the same SSO login, account and role;
//   - the user config: the same text (the TTL and the token store come from it; the full path vouches only when
//     it names no token store, since a keychain-held session has no token file to look at);
//   - KEYRACK_VALIDATION_TTL: the same value verbatim, so the same TTL (> 0, at most 5 min).
// "The same text": the same stat fingerprint (device, inode, size, mtime, ctime), else the same SHA-256.
// Then the checks a cache hit makes every time, exactly as src/aws/grant.ts makes them: the unlock record is live
// (lock is immediate), the validation entry is the vouched one, younger than the TTL, its credentials have more than
// 5 min left; the SSO token file is there, private, readable and not expired (`aws sso logout` is immediate); with
// --credentials, the cached role credentials are the validated ones with more than 5 min left. The pins were
// checked against the same keyrack.yml text and the same identity when the record was written.
//
// Never with KEYRACK_DEBUG=1 (the full path writes the debug lines) or KEYRACK_FAST_PATH=0 (to compare the paths).
// All file access is synchronous (for a handful of small files that is markedly quicker than the thread pool), and
// SHA-256 is ./sha256.ts: node:crypto alone would cost more to load than this whole path takes.
import { dirname } from 'node:path';
import { parseDuration } from '../../core/duration.js';
import { findKeyrackFile } from '../../core/keyrack-find.js';
import { parseFormat, renderGrant } from '../../core/output.js';
import type { Grant, RoleCredentials } from '../../core/plugin.js';
import { resolvePaths, type Paths } from '../../core/runtime.js';
import { takeLease, waitForLease } from '../../store/lease.js';
import { fastGrantLookup, readFastGrant, readUnlockRecordSync, readValidationFileSync, validationLeasePath } from '../../store/state.js';
import { networkFromEnv } from '../../aws/network-policy.js';
import { parseRoleJson, roleFilePath } from '../../aws/role-cache.js';
import { parseAwsTimestamp, parseTokenJson, tokenFilePath } from '../../aws/token-cache.js';
import { parseStrict } from './argv.js';
import { answer, readPrivate, unchanged, type FastIo } from './shared.js';
import { sha256Hex as sha256 } from './sha256.js';

export type { FastIo };

/** The same limits as src/aws/grant.ts. */
const MIN_CREDENTIAL_LIFE_MS = 5 * 60_000;
const MAX_VALIDATION_TTL_MS = 5 * 60_000;
const GRANT_FLAGS = { strings: ['env', 'format', 'file', 'wait'], booleans: ['credentials'] } as const;

/** When the SSO token file as readTokenFile accepts it expires (epoch ms); undefined for anything else. */
function tokenExpiry(paths: Paths, tokenKey: string): number | undefined {
  const text = readPrivate(tokenFilePath(paths, tokenKey));
  const token = text === undefined ? undefined : parseTokenJson(text);
  return token === undefined || typeof token === 'string' ? undefined : parseAwsTimestamp(token.expiresAt);
}

/** The cached role credentials exactly as role-cache.ts's readRoleCredentials returns them, or undefined. */
function roleCredentials(paths: Paths, roleKey: string, now: number): RoleCredentials | undefined {
  const text = readPrivate(roleFilePath(paths, roleKey));
  const role = text === undefined ? undefined : parseRoleJson(text);
  return role && role.credentials.expiresAt - now > MIN_CREDENTIAL_LIFE_MS ? role.credentials : undefined;
}

/**
 * What the validation cache says about this command line: a hit (the grant and its text); stale (everything the
 * record vouches for is unchanged and the key is unlocked, but the validation must be made again: a burst of
 * robots in that state shares one, see `fastGrant`); or undefined: run the full path.
 */
export type Lookup = { kind: 'hit'; grant: Grant; text: string; paths: Paths } | { kind: 'stale'; lease: string };

export function cachedGrant(argv: readonly string[], io: Pick<FastIo, 'env' | 'cwd' | 'now'>): Lookup | undefined {
  const { env } = io;
  if (env.KEYRACK_DEBUG === '1' || env.KEYRACK_FAST_PATH === '0') return undefined;
  const args = parseStrict(argv, GRANT_FLAGS, 1);
  const key = args?.positionals[0];
  if (!args || key === undefined) return undefined;
  const credentials = args.booleans.has('credentials');
  try {
    const format = parseFormat(args.strings.format, credentials);
    // On a hit --wait has nothing to wait for; an invalid one is the full path's error to report.
    if (args.strings.wait !== undefined) parseDuration(args.strings.wait, '--wait');
    const paths = resolvePaths(env);
    const file = findKeyrackFile({ cwd: io.cwd, env, ...(args.strings.file ? { explicit: args.strings.file } : {}) });
    const envArg = args.strings.env ?? '';
    const rec = readFastGrant(paths.state, sha256(fastGrantLookup(file, envArg, key)), file, envArg, key);
    if (!rec) return undefined;
    if ((env.KEYRACK_VALIDATION_TTL ?? null) !== rec.ttlEnv || !(rec.ttlMs > 0 && rec.ttlMs <= MAX_VALIDATION_TTL_MS)) return undefined;
    if (rec.awsConfig !== paths.awsConfig || dirname(rec.userConfig) !== paths.config) return undefined;
    if (!unchanged(file, rec.fileStat, rec.fileSha256) || !unchanged(paths.awsConfig, rec.awsConfigStat, rec.awsConfigSha256)) return undefined;
    if (!unchanged(rec.userConfig, rec.userConfigStat, rec.userConfigSha256)) return undefined;

    const now = io.now();
    const unlock = readUnlockRecordSync(paths.state, rec.env);
    if (!unlock || !Object.hasOwn(unlock.keys, rec.key) || (unlock.until !== undefined && unlock.until <= now)) return undefined;
    // From here on a miss means the full path would validate with AWS again.
    const stale = { kind: 'stale', lease: validationLeasePath(paths.state, rec.validationFile) } as const;
    const hit = readValidationFileSync(paths.state, rec.validationFile, rec.env, rec.key, rec.profile);
    if (!hit || hit.validatedAt !== rec.validatedAt || hit.tokenKey !== rec.tokenKey) return stale;
    const age = now - hit.validatedAt;
    if (age < 0 || age >= rec.ttlMs || hit.credentialsExpireAt - now <= MIN_CREDENTIAL_LIFE_MS) return stale;
    const tokenEnd = tokenExpiry(paths, rec.tokenKey);
    if (tokenEnd === undefined || tokenEnd <= now) return stale;
    const grant: Grant = { env: rec.env, key: rec.key, profile: rec.profile, identity: hit.identity, expiresAt: hit.credentialsExpireAt, cached: true };
    if (credentials) {
      const rc = roleCredentials(paths, rec.roleKey, now);
      if (!rc || Math.floor(rc.expiresAt / 1000) !== Math.floor(hit.credentialsExpireAt / 1000)) return stale;
      grant.credentials = rc;
    }
    return { kind: 'hit', grant, text: renderGrant(grant, format), paths };
  } catch {
    return undefined; // any doubt: the full path decides, and reports
  }
}

/** A lease older than this was left by a process that hung or died: no waiter respects it. */
const LEASE_STALE_MS = 30_000;

/**
 * `keyrack grant …` from the validation cache: true when it answered (audit event written, output printed).
 *
 * When the validation is stale (its TTL ran out, the access token expired) the first robot to notice takes the
 * validation lease and returns false: its full path validates (refreshing the token once for everyone, under the
 * token lock) and leaves a new validation entry and record; the lease goes when its process exits. Robots arriving
 * meanwhile wait for the lease, then look again: a burst of N robots makes one validation, not N, and N-1 of them
 * never load the full path. A waiter whose second look misses (the leader was refused, or gave up) takes the full
 * path, which decides and reports for itself.
 */
export async function fastGrant(argv: readonly string[], io: FastIo): Promise<boolean> {
  let found = cachedGrant(argv, io);
  if (found?.kind === 'stale') {
    const lease = found.lease;
    try {
      if (!takeLease(lease, io.now(), LEASE_STALE_MS)) {
        const budget = networkFromEnv(io.env).totalTimeoutMs;
        if (!(await waitForLease(lease, { now: io.now, deadline: io.now() + budget, staleMs: LEASE_STALE_MS }))) return false;
      }
    } catch {
      return false;
    }
    // Look again, also when this process just took the lease: a leader may have finished (and let go) between the
    // first look and the lease. Still stale with the lease held: lead, on the full path.
    found = cachedGrant(argv, io);
  }
  if (found?.kind !== 'hit') return false;
  const g = found.grant;
  return answer(io, found.paths.state, { command: 'grant', env: g.env, key: g.key, profile: g.profile, arn: g.identity.arn, detail: { cached: true, credentials: g.credentials !== undefined } }, found.text);
}
