// Robot-safe report: per key, its unlock state and its SSO token state; `check` also proves it with AWS.
import { unlockCommand } from '../core/access.js';
import { KeyrackError } from '../core/errors.js';
import type { AwsProfileRef } from '../core/keyrack-file.js';
import { selectRefs } from '../core/keyrack-find.js';
import type { Identity, RobotContext } from '../core/plugin.js';
import { readUnlockRecord } from '../store/state.js';
import { loadUserConfig, ssoSettings } from '../store/user-config.js';
import { readAwsConfig } from './config-file.js';
import { inspectToken, type TokenState } from './session-token.js';
import { resolveTargetOrRecorded } from './credential-process.js';
import { proveRef } from './prove.js';
import { tokenStoreFor } from './token-store.js';

export interface KeyStatus {
  env: string;
  key: string;
  profile: string;
  unlocked: boolean;
  /** epoch ms; absent = until lock / session end */
  until?: number;
  sso?: string;
  token: TokenState | 'unknown';
  tokenExpiresAt?: number;
  registrationExpiresAt?: number;
  /** config.yml sso.<name>.device_code_push: the watcher may start a device-code login for blocked robots */
  deviceCodePush?: boolean;
  problem?: { reason: string; code: string; message: string };
  check?: { ok: true; identity: Identity; credentialsExpireAt: number } | { ok: false; reason: string; code: string; message: string };
}

export async function status(ctx: RobotContext, req: { env?: string; check?: boolean }): Promise<KeyStatus[]> {
  const envs = req.env ? [req.env] : Object.keys(ctx.file.envs);
  const doc = await readAwsConfig(ctx.runtime.paths.awsConfig, { home: ctx.runtime.paths.home });
  const config = await loadUserConfig(ctx.runtime.paths);
  const now = ctx.runtime.clock.now();
  const out: KeyStatus[] = [];
  for (const env of envs) {
    const record = await readUnlockRecord(ctx.runtime.paths.state, env.replace(/^env\./, ''));
    for (const ref of selectRefs(ctx.file, { env }).filter((r): r is AwsProfileRef => r.kind === 'profile')) {
      const live = !!record && Object.hasOwn(record.keys, ref.key) && (record.until === undefined || record.until > now);
      const s: KeyStatus = { env: ref.env, key: ref.key, profile: ref.profile, unlocked: live, token: 'unknown', ...(live && record?.until !== undefined ? { until: record.until } : {}) };
      try {
        const target = await resolveTargetOrRecorded(ctx, doc, ref);
        s.sso = target.sso.label;
        if (ssoSettings(config, target.sso.session).deviceCodePush) s.deviceCodePush = true;
        const view = await inspectToken(ctx, target.sso);
        s.token = view.state;
        if (view.expiresAt !== undefined) s.tokenExpiresAt = view.expiresAt;
        if (view.registrationExpiresAt !== undefined) s.registrationExpiresAt = view.registrationExpiresAt;
        if (req.check) {
          const v = await proveRef(ctx, ref, target, await tokenStoreFor(ctx.runtime, target.sso), unlockCommand(ref.env));
          s.check = { ok: true, identity: v.identity, credentialsExpireAt: v.credentials.expiresAt };
        }
      } catch (e) {
        if (!(e instanceof KeyrackError)) throw e;
        const problem = { reason: e.reason, code: e.code, message: e.message };
        if (req.check) s.check = { ok: false, ...problem };
        else s.problem = problem;
      }
      out.push(s);
    }
  }
  return out;
}
