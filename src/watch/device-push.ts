// The opt-in device-code push: the one place outside `keyrack unlock` where a login starts, and only for an SSO
// session whose user wrote `device_code_push: true` under sso.<name> in config.yml (off by default; `keyrack
// status` shows when it is on). A person still has to approve the code in a browser; the watcher only starts the
// device authorization, sends the verification URL and code to the notifiers, and waits for the answer.
//
// When: a robot was refused because the session expired (its signal says so), the key is still unlocked, the
// session is not alive, and the signal's nextAttemptAfter and this session's push cooldown have passed.
// One at a time: a lock per session that a second watcher does not wait for; under it the conditions are checked
// again, so two watchers started at once make one device authorization. On success the token is written the way
// `aws sso login` writes it, the login time is recorded and the signals are cleared; on failure (denied, code
// expired, AWS error) the signals stay and no new push starts before the cooldown has passed.
//
// Loaded with a dynamic import from ./probe.ts only when a push is due. It takes no HumanContext and has no
// LoginCapability: it shows nothing and opens nothing, it only talks to the notifiers.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { unlockCommand } from '../core/access.js';
import { KeyrackError, toKeyrackError } from '../core/errors.js';
import { makeEvent } from '../notify/events.js';
import { withFileLock } from '../store/lock.js';
import { clearLoginSignal, deferLoginSignal, readLoginSignal, type LoginSignal } from '../store/signal.js';
import { lockDir } from '../store/state.js';
import { registrationCacheKey } from '../aws/cache-keys.js';
import { networkFromEnv } from '../aws/clients.js';
import type { OidcTarget } from '../aws/oidc-token.js';
import { isUsable, type ClientRegistration } from '../aws/registration-cache.js';
import { tokenLockPath } from '../aws/session-token.js';
import type { SsoLogin } from '../aws/target.js';
import { formatAwsTimestamp, type SsoTokenFile } from '../aws/token-cache.js';
import { tokenStoreFor, type TokenStore } from '../aws/token-store.js';
import { pollDeviceToken, registerClient, startDeviceAuthorization } from '../aws/login/oidc.js';
import { robotCtx, type PushOutcome, type WatchDeps } from './probe.js';
import { recordSessionLogin } from './session-end.js';
import { readLoginRecord, readPushRecord, readSessionWatch, writePushRecord } from './state.js';

export interface PushRequest {
  sso: SsoLogin;
  ssoName: string;
  signals: LoginSignal[];
}

const pushLock = (state: string, tokenKey: string) => join(lockDir(state), `device-push-${tokenKey}.lock`);
/** Longer than any device code lives (AWS: 10 min), so a live holder is never taken over. */
const PUSH_STALE_MS = 30 * 60_000;

function abortable(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return sleep(ms, undefined, signal ? { signal } : {}).catch(() => {
    throw new KeyrackError({ code: 'watch.push-cancelled', reason: 'unavailable', message: 'the device-code push was cancelled (the watcher is stopping)', fix: 'it is tried again at the next run' });
  });
}

async function registration(deps: WatchDeps, store: TokenStore, t: OidcTarget, req: PushRequest, names: { subject: string; unlockCommand: string }): Promise<ClientRegistration> {
  const { clock } = deps.runtime;
  const sso = req.sso;
  const key = registrationCacheKey({ startUrl: sso.startUrl, region: sso.region, session: sso.session ?? null, scopes: sso.scopes ?? null });
  const cached = await store.readRegistration(key);
  if (cached && isUsable(cached, clock.now(), 'device')) return cached;
  const out = await registerClient(t, { clientName: `botocore-client-${req.ssoName}`, ...(sso.scopes ? { scopes: sso.scopes } : {}) }, names);
  deps.log.redactor.register(out.clientSecret);
  const reg: ClientRegistration = { clientId: out.clientId, clientSecret: out.clientSecret, expiresAt: formatAwsTimestamp(out.clientSecretExpiresAt * 1000), ...(sso.scopes ? { scopes: sso.scopes } : {}) };
  await store.writeRegistration(key, reg);
  return reg;
}

export async function pushDeviceCode(deps: WatchDeps, req: PushRequest): Promise<PushOutcome> {
  const { runtime, config, log } = deps;
  const { paths, clock } = runtime;
  const state = paths.state;
  const sso = req.sso;
  const cooldown = config.notify.cooldownMs;
  let entered = false;
  try {
    // timeoutMs 1: a second watcher does not queue behind the first, it leaves the push to it.
    return await withFileLock(pushLock(state, sso.tokenKey), () => ((entered = true), push()), { timeoutMs: 1, staleMs: PUSH_STALE_MS, pollMs: 1 });
  } catch (e) {
    if (!entered && e instanceof KeyrackError && e.code === 'lock.timeout') return { sso: sso.label, outcome: 'skipped', detail: 'another watcher is pushing a device code for this session' };
    throw e;
  }

  async function push(): Promise<PushOutcome> {
    const now = clock.now();
    // Checked again under the lock: another watcher may have pushed, or a human signed in, meanwhile.
    const current = (await Promise.all(req.signals.map((s) => readLoginSignal(state, s.env, s.key)))).filter((s): s is LoginSignal => !!s && s.reason === 'expired' && s.nextAttemptAfter <= now);
    if (current.length === 0) return { sso: sso.label, outcome: 'skipped', detail: 'no signal is waiting for a push' };
    const last = await readPushRecord(state, sso.tokenKey);
    if (last && now - last.lastAttemptAt >= 0 && now - last.lastAttemptAt < cooldown) return { sso: sso.label, outcome: 'skipped', detail: 'the push cooldown has not passed' };
    const ctx = robotCtx(deps);
    // Someone signed in (or a probe found the session alive) after the robots asked: nothing to push.
    const asked = Math.max(...current.map((s) => s.timestamp));
    const login = await readLoginRecord(state, sso.tokenKey);
    const seen = await readSessionWatch(state, sso.tokenKey);
    if ((login && login.loginAt > asked) || (seen?.status === 'alive' && (seen.lastOkAt ?? 0) > asked)) {
      return { sso: sso.label, outcome: 'skipped', detail: 'the session was signed in again meanwhile' };
    }
    await writePushRecord(state, sso.tokenKey, { version: 1, lastAttemptAt: now });

    const env = current[0]?.env ?? 'ENV';
    const names = { subject: sso.label, unlockCommand: unlockCommand(env) };
    const t: OidcTarget = { region: sso.region, endpoints: runtime.endpoints, net: networkFromEnv(runtime.env), log, ...(deps.signal ? { signal: deps.signal } : {}) };
    let outcome: PushOutcome['outcome'] = 'failed';
    let detail: string | undefined;
    try {
      // The session's own store (config.yml sso.<name>.token_store): the AWS CLI files, or the OS keychain.
      const store = await tokenStoreFor(runtime, sso);
      const reg = await registration(deps, store, t, req, names);
      const auth = await startDeviceAuthorization(t, reg, sso.startUrl, names);
      log.redactor.register(auth.deviceCode);
      const expiresAt = clock.now() + auth.expiresIn * 1000;
      const keys = current.map((s) => `${s.env}/${s.key}`).join(', ');
      await deps.notifier.send(
        makeEvent(clock.now(), {
          event: 'login-approval',
          title: `approve a sign-in for ${sso.label}`,
          message: `Robots are waiting for ${keys}: the SSO session ${sso.label} has expired. keyrack watch started a device-code sign-in (device_code_push is on for ${req.ssoName}); approve it in a browser only if you expected this.`,
          sso: sso.label,
          approval: { verificationUri: auth.verificationUri, verificationUriComplete: auth.verificationUriComplete, userCode: auth.userCode, expiresAt: new Date(expiresAt).toISOString() },
          command: unlockCommand(env),
        }),
      );
      let intervalMs = Math.max(1, auth.interval) * 1000;
      for (;;) {
        if (clock.now() >= expiresAt) {
          outcome = 'expired';
          break;
        }
        await abortable(intervalMs, deps.signal);
        const poll = await pollDeviceToken(t, reg, auth.deviceCode, names);
        if (poll.kind === 'pending') continue;
        if (poll.kind === 'slow-down') {
          intervalMs += 5_000; // RFC 8628 §3.5
          continue;
        }
        if (poll.kind === 'expired' || poll.kind === 'denied') {
          outcome = poll.kind;
          break;
        }
        const grant = poll.grant;
        log.redactor.register(grant.accessToken);
        log.redactor.register(grant.refreshToken);
        const token: SsoTokenFile = {
          startUrl: sso.startUrl,
          region: sso.region,
          accessToken: grant.accessToken,
          expiresAt: formatAwsTimestamp(clock.now() + grant.expiresIn * 1000),
          clientId: reg.clientId,
          clientSecret: reg.clientSecret,
          registrationExpiresAt: reg.expiresAt,
          ...(grant.refreshToken ? { refreshToken: grant.refreshToken } : {}),
        };
        await withFileLock(tokenLockPath(ctx, sso), () => store.writeToken(sso, token), { timeoutMs: 20_000, staleMs: 30_000 });
        const at = clock.now();
        await recordSessionLogin(runtime, { tokenKey: sso.tokenKey, at, source: 'device-code-push' });
        for (const s of current) await clearLoginSignal(runtime, s.env, s.key, at).catch(() => false);
        outcome = 'approved';
        break;
      }
    } catch (e) {
      const err = toKeyrackError(e);
      detail = err.message;
      log.debug('device-code push failed', { sso: sso.label, reason: err.reason, code: err.code });
    }
    await writePushRecord(state, sso.tokenKey, { version: 1, lastAttemptAt: now, outcome });
    if (outcome === 'approved') {
      await deps.notifier.send(makeEvent(clock.now(), { event: 'unlocked', title: `${sso.label} signed in again`, message: `The device-code sign-in for ${sso.label} was approved; robots can continue.`, sso: sso.label }));
    } else {
      for (const s of current) await deferLoginSignal(runtime, s.env, s.key, clock.now() + cooldown, outcome).catch(() => undefined);
    }
    return { sso: sso.label, outcome, ...(detail ? { detail } : {}) };
  }
}
