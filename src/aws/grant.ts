// The robot path: hand out a reference (or short-lived role credentials) only after proving it works.
// Takes a RobotContext; nothing reachable from here can start a login.
import { stat } from 'node:fs/promises';
import { requireUnlocked, unlockCommand } from '../core/access.js';
import { parseDuration } from '../core/duration.js';
import { KeyrackError } from '../core/errors.js';
import { selectRefs, type AwsProfileRef } from '../core/keyrack-file.js';
import type { Grant, GrantRequest, RobotContext } from '../core/plugin.js';
import type { EnvVars } from '../core/runtime.js';
import { dropValidation, readValidation, writeValidation } from '../store/state.js';
import { readAwsConfig } from './config-file.js';
import { resolveTarget } from './target.js';
import { tokenFilePath } from './token-cache.js';
import { validateRef } from './validate.js';

export const DEFAULT_VALIDATION_TTL_MS = 30_000;
/** A grant never hands out credentials with less than this left; the robot would fail mid-task. */
const MIN_CREDENTIAL_LIFE_MS = 5 * 60_000;

export function validationTtlMs(env: EnvVars): number {
  const raw = env.KEYRACK_VALIDATION_TTL;
  if (raw === undefined || raw === '') return DEFAULT_VALIDATION_TTL_MS;
  return raw === '0' ? 0 : parseDuration(raw) * 1000;
}

export function profileRef(ctx: RobotContext, req: { env?: string; key: string }): AwsProfileRef {
  const [ref] = selectRefs(ctx.file, req);
  if (!ref) throw new KeyrackError({ code: 'keyrack-file.unknown-key', reason: 'invalid-input', message: `no key ${req.key}`, fix: 'check keyrack.yml' });
  if (ref.kind !== 'profile') {
    throw new KeyrackError({
      code: 'grant.web-identity-unsupported',
      reason: 'invalid-input',
      message: `${ref.env}/${ref.key} is a web_identity reference, which this version cannot grant yet`,
      location: `${ref.location.file}:${ref.location.line}:${ref.location.col}`,
      fix: 'use a profile reference for this key',
    });
  }
  return ref;
}

export async function grant(ctx: RobotContext, req: GrantRequest): Promise<Grant> {
  const ref = profileRef(ctx, req);
  await requireUnlocked(ctx, ref);
  const { paths, clock } = ctx.runtime;
  const ttl = validationTtlMs(ctx.runtime.env);

  if (!req.credentials && ttl > 0) {
    const hit = await readValidation(paths.state, ref.env, ref.key, ref.profile);
    const now = clock.now();
    if (hit && now - hit.validatedAt < ttl && now >= hit.validatedAt && hit.credentialsExpireAt - now > MIN_CREDENTIAL_LIFE_MS && hit.tokenKey) {
      // One stat keeps `aws sso logout` (which deletes the token file) effective immediately.
      const alive = await stat(tokenFilePath(paths, hit.tokenKey)).then(() => true, () => false);
      if (alive) return { env: ref.env, key: ref.key, profile: ref.profile, identity: hit.identity, expiresAt: hit.credentialsExpireAt, cached: true };
    }
  }

  const cmd = unlockCommand(ref.env);
  try {
    const target = resolveTarget(await readAwsConfig(paths.awsConfig, { home: paths.home }), ref);
    const v = await validateRef(ctx, ref, target, cmd);
    const now = clock.now();
    await writeValidation(paths.state, {
      version: 1,
      env: ref.env,
      key: ref.key,
      profile: ref.profile,
      identity: v.identity,
      validatedAt: now,
      credentialsExpireAt: v.credentials.expiresAt,
      tokenExpiresAt: v.tokenExpiresAt,
      tokenKey: target.sso.tokenKey,
    });
    return {
      env: ref.env,
      key: ref.key,
      profile: ref.profile,
      identity: v.identity,
      expiresAt: v.credentials.expiresAt,
      cached: false,
      ...(req.credentials ? { credentials: v.credentials } : {}),
    };
  } catch (e) {
    await dropValidation(paths.state, ref.env, ref.key, ref.profile).catch(() => undefined);
    throw e;
  }
}
