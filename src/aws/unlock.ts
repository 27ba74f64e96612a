// The human path: make every referenced SSO session live (reuse, silent refresh, or a login as a last resort),
// prove every reference with AWS, then record the unlock so robots may be granted.
import { unlockCommand } from '../core/access.js';
import { KeyrackError } from '../core/errors.js';
import { selectRefs, type AwsProfileRef } from '../core/keyrack-file.js';
import type { HumanContext, UnlockRequest, UnlockResult, ValidatedRef } from '../core/plugin.js';
import { clearValidations, readUnlockRecord, writeUnlockRecord } from '../store/state.js';
import { loginSso } from './login/index.js';
import { writeMissingProfiles } from './profile-writer.js';
import { inspectToken, REFRESH_WINDOW_MS, usableToken } from './session-token.js';
import { resolveTarget, type ProfileTarget, type SsoLogin } from './target.js';
import { validateRef } from './validate.js';

type How = UnlockResult['logins'][number]['how'];

/** Reuse, else refresh silently, else log in. Also used by `keyrack add aws` before it lists accounts. */
export async function ensureSession(ctx: HumanContext, sso: SsoLogin, cmd: string): Promise<How> {
  let view;
  try {
    view = await inspectToken(ctx, sso);
  } catch (e) {
    // A damaged token file is no reason to stop a human: signing in again replaces it.
    if (e instanceof KeyrackError && e.code === 'token-cache.corrupt') return loginSso(ctx, sso, cmd);
    throw e;
  }
  const now = ctx.runtime.clock.now();
  if (view.state === 'valid' && view.expiresAt !== undefined && view.expiresAt - now > REFRESH_WINDOW_MS) return 'reused';
  if (view.state === 'valid' || view.state === 'refreshable') {
    try {
      const t = await usableToken(ctx, sso, cmd);
      return t.refreshed ? 'refreshed' : 'reused';
    } catch (e) {
      // A dead refresh token means log in; an outage does not (logging in would not help).
      if (!(e instanceof KeyrackError) || e.reason !== 'expired') throw e;
    }
  }
  return loginSso(ctx, sso, cmd);
}

export async function unlock(ctx: HumanContext, req: UnlockRequest): Promise<UnlockResult> {
  const selected = selectRefs(ctx.file, { ...(req.env ? { env: req.env } : {}), ...(req.key ? { key: req.key } : {}) });
  const refs = selected.filter((r): r is AwsProfileRef => r.kind === 'profile');
  const env = selected[0]?.env ?? req.env ?? '';
  if (refs.length === 0) {
    throw new KeyrackError({ code: 'unlock.nothing', reason: 'invalid-input', message: `env ${env} has no AWS profile references to unlock`, fix: 'add an aws.profile reference to keyrack.yml' });
  }
  const cmd = unlockCommand(env);
  const { doc, written } = await writeMissingProfiles(ctx.runtime.paths, ctx.file, refs);
  const targets = new Map<AwsProfileRef, ProfileTarget>(refs.map((r) => [r, resolveTarget(doc, r)]));

  const logins = new Map<string, { sso: string; how: How }>();
  for (const t of targets.values()) {
    if (!logins.has(t.sso.tokenKey)) logins.set(t.sso.tokenKey, { sso: t.sso.label, how: await ensureSession(ctx, t.sso, cmd) });
  }

  await clearValidations(ctx.runtime.paths.state);
  const validated: ValidatedRef[] = [];
  for (const [ref, t] of targets) {
    let v;
    try {
      v = await validateRef(ctx, ref, t, cmd);
    } catch (e) {
      // The token looked fine locally but AWS says the session is dead (revoked, logged out elsewhere):
      // a human is here, so sign in once more instead of telling them to run the command they just ran.
      const entry = logins.get(t.sso.tokenKey);
      if (!(e instanceof KeyrackError) || e.reason !== 'expired' || !entry || (entry.how !== 'reused' && entry.how !== 'refreshed')) throw e;
      entry.how = await loginSso(ctx, t.sso, cmd);
      v = await validateRef(ctx, ref, t, cmd);
    }
    validated.push({ ref, profile: ref.profile, identity: v.identity, credentialsExpireAt: v.credentials.expiresAt, tokenExpiresAt: v.tokenExpiresAt });
  }

  const now = ctx.runtime.clock.now();
  const until = req.forSeconds !== undefined ? now + req.forSeconds * 1000 : undefined;
  // `--key K` adds to what is already open in this env rather than closing the other keys.
  const previous = req.key ? await readUnlockRecord(ctx.runtime.paths.state, env) : undefined;
  const keep = previous && (previous.until === undefined || previous.until > now) ? previous.keys : {};
  await writeUnlockRecord(ctx.runtime.paths.state, {
    version: 1,
    env,
    keys: { ...keep, ...Object.fromEntries(refs.map((r) => [r.key, { profile: r.profile, ...(r.sso ? { sso: r.sso } : {}) }])) },
    sessions: [...new Set([...targets.values()].map((t) => t.sso.label))],
    unlockedAt: now,
    ...(until !== undefined ? { until } : {}),
    file: ctx.file.path,
  });
  return { env, validated, ...(until !== undefined ? { until } : {}), profilesWritten: written, logins: [...logins.values()] };
}
