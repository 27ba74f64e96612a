// The robot half of the rhachet adapter: isUnlocked, get, set, del, relock. Nothing imported from here reaches a
// login module (test/rhachet checks the module graph): a robot's `rhx keyrack get` can never start a sign-in.
import { KeyrackError, isKeyrackError } from '../core/errors.js';
import type { AwsProfileRef, KeyrackFile } from '../core/keyrack-file.js';
import { createLogger } from '../core/log.js';
import type { RobotContext } from '../core/plugin.js';
import { createRuntime } from '../core/runtime.js';
import { withFileLock } from '../store/lock.js';
import { networkFromEnv } from '../aws/clients.js';
import { readAwsConfig } from '../aws/config-file.js';
import { logout } from '../aws/portal.js';
import { deleteRoleCredentials } from '../aws/role-cache.js';
import { tokenLockPath } from '../aws/session-token.js';
import { resolveTarget, type ProfileTarget } from '../aws/target.js';
import { deleteTokenFile, readTokenFile } from '../aws/token-cache.js';
import { validateRef, type Validation } from '../aws/validate.js';
import { RHACHET_MECH, type AwsProfileMeta, type KeyrackAwsVaultOptions, type RhachetKeyGrant } from './types.js';

export const DEFAULT_UNLOCK_COMMAND = 'rhx keyrack unlock';

/** `org.env.KEY` → its parts; a slug with fewer dots still names something sensible. */
export function slugParts(slug: string | null | undefined): { org: string; env: string; key: string } {
  const parts = (slug ?? '').split('.');
  if (parts.length >= 3) return { org: parts[0] ?? '', env: parts[1] ?? '', key: parts.slice(2).join('.') };
  if (parts.length === 2) return { org: '', env: parts[0] ?? '', key: parts[1] ?? '' };
  return { org: '', env: '', key: parts[0] ?? '' };
}

/** The host keeps its references in its own manifest, not keyrack.yml: robot contexts get an empty file. */
const HOST_FILE: KeyrackFile = Object.freeze({ path: '(host manifest)', sso: {}, envs: {} }) as KeyrackFile;

export function robotContext(opts: KeyrackAwsVaultOptions): RobotContext {
  const runtime = createRuntime({ env: opts.env ?? process.env, ...(opts.cwd ? { cwd: opts.cwd } : {}), ...(opts.clock ? { clock: opts.clock } : {}) });
  return { runtime, file: HOST_FILE, log: createLogger({ enabled: opts.debug ?? runtime.env.KEYRACK_DEBUG === '1' }), ...(opts.signal ? { signal: opts.signal } : {}) };
}

export function refFor(slug: string | null | undefined, profile: string): AwsProfileRef {
  const { env, key } = slugParts(slug);
  return { kind: 'profile', env: env || 'default', key: key || 'AWS_PROFILE', profile, location: { file: '(host manifest)', line: 1, col: 1 } };
}

export function checkMech(mech: string | null | undefined): void {
  if (mech !== undefined && mech !== null && mech !== RHACHET_MECH) {
    throw new KeyrackError({ code: 'rhachet.mech', reason: 'invalid-input', message: 'keyrack-aws only supports the EPHEMERAL_VIA_AWS_SSO mechanism', fix: `use mech ${RHACHET_MECH} (or another vault for other mechanisms)` });
  }
}

export function requireExid(exid: string | null | undefined, op: string): string {
  if (!exid) {
    throw new KeyrackError({ code: 'rhachet.exid-required', reason: 'invalid-input', message: `${op} needs the AWS profile name as exid`, fix: 'pass --exid <profile>, or create one with: keyrack add aws' });
  }
  return exid;
}

export async function targetFor(ctx: RobotContext, ref: AwsProfileRef): Promise<ProfileTarget> {
  const doc = await readAwsConfig(ctx.runtime.paths.awsConfig, { home: ctx.runtime.paths.home });
  return resolveTarget(doc, ref);
}

/** The Identity Center user behind an assumed-role ARN: its last path segment. */
export function ssoUsername(arn: string): string {
  return arn.split('/').pop() ?? '';
}

export async function prove(ctx: RobotContext, slug: string | null | undefined, exid: string, cmd: string): Promise<{ target: ProfileTarget; v: Validation }> {
  const ref = refFor(slug, exid);
  const target = await targetFor(ctx, ref);
  return { target, v: await validateRef(ctx, ref, target, cmd) };
}

export function userMismatch(exid: string, expected: string, actual: string, cmd: string): KeyrackError {
  return new KeyrackError({
    code: 'rhachet.user-mismatch',
    reason: 'mismatch',
    message: `profile ${exid} is signed in as ${actual}, not ${expected}`,
    fix: `relock (keyrack lock --logout), then ${cmd} and sign in as ${expected}`,
  });
}

const NOT_UNLOCKED = new Set(['locked', 'expired', 'denied', 'mismatch', 'misconfigured']);

export async function isUnlocked(opts: KeyrackAwsVaultOptions, input?: { exid?: string | null; meta?: Partial<AwsProfileMeta> | null }): Promise<boolean> {
  const exid = input?.exid;
  if (!exid) return true; // nothing referenced, nothing to unlock (rhachet's convention)
  try {
    const { v } = await prove(robotContext(opts), null, exid, opts.unlockCommand ?? DEFAULT_UNLOCK_COMMAND);
    const expected = input?.meta?.awsSsoUsername;
    return !expected || ssoUsername(v.identity.arn) === expected;
  } catch (e) {
    if (isKeyrackError(e) && NOT_UNLOCKED.has(e.reason)) return false;
    throw e;
  }
}

export async function get(opts: KeyrackAwsVaultOptions, input: { slug: string; exid?: string | null; mech?: string | null; meta?: Partial<AwsProfileMeta> | null }): Promise<RhachetKeyGrant | null> {
  checkMech(input.mech);
  const exid = input.exid;
  if (!exid) return null;
  const cmd = opts.unlockCommand ?? DEFAULT_UNLOCK_COMMAND;
  const { v } = await prove(robotContext(opts), input.slug, exid, cmd);
  const expected = input.meta?.awsSsoUsername;
  if (expected && ssoUsername(v.identity.arn) !== expected) throw userMismatch(exid, expected, ssoUsername(v.identity.arn), cmd);
  const { org, env } = slugParts(input.slug);
  return {
    slug: input.slug,
    key: { secret: exid, grade: { protection: 'reference', duration: 'ephemeral' } },
    source: { vault: opts.vault ?? 'aws.config', mech: RHACHET_MECH },
    env,
    org,
    expiresAt: new Date(v.credentials.expiresAt).toISOString(),
  };
}

export async function set(opts: KeyrackAwsVaultOptions, input: { slug: string; exid?: string | null; mech?: string | null }): Promise<{ mech: typeof RHACHET_MECH; exid: string; meta: AwsProfileMeta }> {
  checkMech(input.mech);
  const exid = requireExid(input.exid, 'set');
  const ctx = robotContext(opts);
  const ref = refFor(input.slug, exid);
  const target = await targetFor(ctx, ref); // exists, is an SSO profile, reads the same in the CLI and the SDKs
  const meta: AwsProfileMeta = { accountId: target.accountId, roleName: target.roleName, validated: false, ...(target.sso.session ? { ssoSession: target.sso.session } : {}) };
  try {
    const v = await validateRef(ctx, ref, target, opts.unlockCommand ?? DEFAULT_UNLOCK_COMMAND);
    meta.awsSsoUsername = ssoUsername(v.identity.arn);
    meta.validated = true;
  } catch (e) {
    // No live session yet is fine for a reference: unlock will prove it. Anything else is a real problem.
    if (!isKeyrackError(e) || (e.reason !== 'expired' && e.reason !== 'locked')) throw e;
  }
  return { mech: RHACHET_MECH, exid, meta };
}

export async function del(): Promise<void> {
  // The reference lives in the host's manifest and the profile in ~/.aws/config (the user's): nothing to destroy.
}

export async function relock(opts: KeyrackAwsVaultOptions, input: { slug: string; exid?: string | null }): Promise<void> {
  if (!input.exid) return;
  const ctx = robotContext(opts);
  let t: ProfileTarget;
  try {
    t = await targetFor(ctx, refFor(input.slug, input.exid));
  } catch (e) {
    if (isKeyrackError(e)) return; // no such profile: nothing cached for it
    throw e;
  }
  const { paths } = ctx.runtime;
  const net = networkFromEnv(ctx.runtime.env);
  await deleteRoleCredentials(paths, t.roleKey);
  await withFileLock(
    tokenLockPath(ctx, t.sso),
    async () => {
      const read = await readTokenFile(paths, t.sso.tokenKey).catch(() => undefined);
      if (read) {
        ctx.log.redactor.register(read.token.accessToken);
        await logout({ region: t.sso.region, endpoints: ctx.runtime.endpoints, net, accessToken: read.token.accessToken });
      }
      await deleteTokenFile(paths, t.sso.tokenKey);
    },
    { timeoutMs: net.totalTimeoutMs + 5_000, staleMs: net.totalTimeoutMs * 2 + 10_000 },
  );
}
