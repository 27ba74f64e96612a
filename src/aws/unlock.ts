// The human path: make every referenced SSO session live (reuse, silent refresh, or a login as a last resort),
// prove every reference with AWS, then record the unlock so robots may be granted.
//
// A session with `token_store: keychain` (user config) keeps its token in the OS keychain. For it, unlock also
// moves any plaintext copy the files still hold into the keychain (and deletes it), validates with the role
// credentials cached in the keychain, and turns each referenced profile into a `credential_process` profile
// (credential-process.ts) whose target it records. A profile keyrack turned into one goes back to an sso_session
// profile when its session uses the files again.
import { unlockCommand } from '../core/access.js';
import { installedLauncher } from '../core/launcher.js';
import { KeyrackError } from '../core/errors.js';
import type { AwsProfileRef } from '../core/keyrack-file.js';
import { selectRefs } from '../core/keyrack-find.js';
import type { HumanContext, UnlockRequest, UnlockResult, ValidatedRef } from '../core/plugin.js';
import { clearValidations, readUnlockRecord, writeUnlockRecord } from '../store/state.js';
import { readAwsConfig, resolveProfile, writeAwsConfig } from './config-file.js';
import {
  credentialProcessLine,
  isKeyrackProcessLine,
  mergeProcessTarget,
  readProcessTarget,
  removeProcessTarget,
  resolveTargetOrRecorded,
  toProcessProfile,
  toSsoProfile,
  writeProcessTarget,
} from './credential-process.js';
import { loginSso } from './login/index.js';
import { adoptPlaintext } from './migrate.js';
import { writeMissingProfiles } from './profile-writer.js';
import { inspectToken, REFRESH_WINDOW_MS, usableToken } from './session-token.js';
import type { ProfileTarget, SsoLogin } from './target.js';
import { tokenStoreFor, type TokenStore } from './token-store.js';
import { proveRef } from './prove.js';
import { recordSessionLogin } from '../watch/session-end.js';

type How = UnlockResult['logins'][number]['how'];

/**
 * Reuse, else refresh silently, else log in. Also used by `keyrack add aws` before it lists accounts.
 * `store`: where the session's token lives (default: what the user config says, interactive).
 */
export async function ensureSession(ctx: HumanContext, sso: SsoLogin, cmd: string, store?: TokenStore): Promise<How> {
  const s = store ?? (await tokenStoreFor(ctx.runtime, sso, { interactive: true }));
  let view;
  try {
    view = await inspectToken(ctx, sso, s);
  } catch (e) {
    // A damaged token file is no reason to stop a human: signing in again replaces it.
    if (e instanceof KeyrackError && e.code === 'token-cache.corrupt') return loginSso(ctx, sso, cmd, { store: s });
    throw e;
  }
  const now = ctx.runtime.clock.now();
  if (view.state === 'valid' && view.expiresAt !== undefined && view.expiresAt - now > REFRESH_WINDOW_MS) return 'reused';
  if (view.state === 'valid' || view.state === 'refreshable') {
    try {
      const t = await usableToken(ctx, sso, cmd, { store: s });
      return t.refreshed ? 'refreshed' : 'reused';
    } catch (e) {
      // A dead refresh token means log in; an outage does not (logging in would not help).
      if (!(e instanceof KeyrackError) || e.reason !== 'expired') throw e;
    }
  }
  return loginSso(ctx, sso, cmd, { store: s });
}

/**
 * Profiles into the shape their session's store needs: keychain → credential_process (target recorded first);
 * files → back to sso_session, only for profiles keyrack itself turned into credential_process ones.
 */
async function shapeProfiles(ctx: HumanContext, validated: { ref: AwsProfileRef; target: ProfileTarget; store: TokenStore }[]): Promise<string[]> {
  const { paths, clock } = ctx.runtime;
  const doc = await readAwsConfig(paths.awsConfig, { home: paths.home });
  let text = doc.text;
  const changed = new Set<string>();
  const byProfile = new Map<string, typeof validated>();
  for (const v of validated) byProfile.set(v.ref.profile, [...(byProfile.get(v.ref.profile) ?? []), v]);
  for (const [profile, vs] of byProfile) {
    const first = vs[0] as (typeof vs)[number];
    if (first.store.kind === 'keychain') {
      const refs = vs.map((v) => ({ env: v.ref.env, key: v.ref.key, ...(v.ref.account ? { account: v.ref.account } : {}), ...(v.ref.role ? { role: v.ref.role } : {}) }));
      await writeProcessTarget(paths.state, mergeProcessTarget(await readProcessTarget(paths.state, profile), first.target, refs, clock.now()));
      const next = toProcessProfile(text, first.target, credentialProcessLine(installedLauncher(), profile), doc.displayPath);
      if (next !== text) changed.add(profile);
      text = next;
    } else {
      let p;
      try {
        p = resolveProfile(doc, profile);
      } catch {
        continue;
      }
      if (p.kind !== 'credential-process' || !isKeyrackProcessLine(p.command, profile)) continue;
      text = toSsoProfile(text, first.target, doc.displayPath);
      changed.add(profile);
    }
  }
  if (text !== doc.text) await writeAwsConfig(paths.awsConfig, text, { expected: doc.text, displayPath: doc.displayPath });
  for (const [profile, vs] of byProfile) if (vs[0]?.store.kind !== 'keychain' && changed.has(profile)) await removeProcessTarget(paths.state, profile);
  return [...changed];
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
  const targets = new Map<AwsProfileRef, ProfileTarget>();
  for (const r of refs) targets.set(r, await resolveTargetOrRecorded(ctx, doc, r));

  // One store per session; a keychain session first takes in (and deletes) any plaintext copy left in the files.
  const stores = new Map<string, TokenStore>();
  for (const t of targets.values()) {
    if (stores.has(t.sso.tokenKey)) continue;
    const store = await tokenStoreFor(ctx.runtime, t.sso, { interactive: true });
    stores.set(t.sso.tokenKey, store);
    if (store.kind === 'keychain') {
      const roleKeys = [...targets.values()].filter((x) => x.sso.tokenKey === t.sso.tokenKey).map((x) => x.roleKey);
      await adoptPlaintext(ctx, t.sso, store, roleKeys);
    }
  }
  const storeOf = (t: ProfileTarget) => stores.get(t.sso.tokenKey) as TokenStore;

  const logins = new Map<string, { sso: string; how: How }>();
  for (const t of targets.values()) {
    if (!logins.has(t.sso.tokenKey)) logins.set(t.sso.tokenKey, { sso: t.sso.label, how: await ensureSession(ctx, t.sso, cmd, storeOf(t)) });
  }

  await clearValidations(ctx.runtime.paths.state);
  const validated: ValidatedRef[] = [];
  const proven: { ref: AwsProfileRef; target: ProfileTarget; store: TokenStore }[] = [];
  const prove = (ref: AwsProfileRef, t: ProfileTarget) => proveRef(ctx, ref, t, storeOf(t), cmd);
  for (const [ref, t] of targets) {
    let v;
    try {
      v = await prove(ref, t);
    } catch (e) {
      // The token looked fine locally but AWS says the session is dead (revoked, logged out elsewhere):
      // a human is here, so sign in once more instead of telling them to run the command they just ran.
      const entry = logins.get(t.sso.tokenKey);
      if (!(e instanceof KeyrackError) || e.reason !== 'expired' || !entry || (entry.how !== 'reused' && entry.how !== 'refreshed')) throw e;
      entry.how = await loginSso(ctx, t.sso, cmd, { store: storeOf(t) });
      v = await prove(ref, t);
    }
    validated.push({ ref, profile: ref.profile, identity: v.identity, credentialsExpireAt: v.credentials.expiresAt, tokenExpiresAt: v.tokenExpiresAt });
    proven.push({ ref, target: t, store: storeOf(t) });
  }
  const reshaped = await shapeProfiles(ctx, proven);

  // A fresh sign-in starts the administrator-set session clock: the watcher warns ahead of its end from this.
  for (const [tokenKey, l] of logins) if (l.how === 'pkce' || l.how === 'device-code') await recordSessionLogin(ctx.runtime, { tokenKey });

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
  return { env, validated, ...(until !== undefined ? { until } : {}), profilesWritten: [...new Set([...written, ...reshaped])], logins: [...logins.values()] };
}
