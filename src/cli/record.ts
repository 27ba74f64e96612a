// What a command leaves behind besides its output: an audit event for every outcome, and for a robot refused
// as locked/expired the login-required signal the watcher turns into a notification. Neither may ever change
// the command's own answer, so both swallow their failures.
import { KeyrackError, toKeyrackError } from '../core/errors.js';
import { selectRefs } from '../core/keyrack-find.js';
import type { RobotContext } from '../core/plugin.js';
import type { Runtime } from '../core/runtime.js';
import { appendAudit, currentCaller, type AuditEvent } from '../store/audit.js';
import { describeRequester, recordLoginRequired } from '../store/signal.js';

export type Outcome = Omit<AuditEvent, 'time' | 'caller' | 'result'> & { result?: AuditEvent['result'] };

export async function audit(runtime: Runtime, o: Outcome): Promise<void> {
  try {
    await appendAudit(runtime.paths.state, { time: new Date(runtime.clock.now()).toISOString(), result: 'ok', ...o, caller: currentCaller(runtime.cwd) });
  } catch {
    // the audit trail is best effort: a robot's grant must not fail because the log could not be appended
  }
}

/**
 * Audit a failure and, for a locked/expired robot refusal, raise the login-required signal. The profile is
 * `target.profile` when the caller knows it, else looked up in keyrack.yml.
 */
export async function recordRefusal(ctx: RobotContext | undefined, runtime: Runtime, command: string, target: { env?: string; key?: string; profile?: string }, e: unknown): Promise<void> {
  const err = e instanceof KeyrackError ? e : toKeyrackError(e);
  let env = target.env;
  let profile = target.profile;
  if (ctx && target.key) {
    try {
      const ref = selectRefs(ctx.file, { ...(target.env ? { env: target.env } : {}), key: target.key })[0];
      env = ref?.env ?? env;
      profile ??= ref?.kind === 'profile' ? ref.profile : undefined;
    } catch {
      // unknown env/key: nothing to signal
    }
  }
  const refused = err.reason !== 'internal';
  await audit(runtime, {
    command,
    result: refused ? 'refused' : 'error',
    reason: err.reason,
    code: err.code,
    ...(env ? { env } : {}),
    ...(target.key ? { key: target.key } : {}),
    ...(profile ? { profile } : {}),
  });
  if ((err.reason === 'locked' || err.reason === 'expired') && env && target.key && profile) {
    await recordLoginRequired(runtime, {
      env,
      key: target.key,
      profile,
      reason: err.reason,
      code: err.code,
      requester: describeRequester({ pid: process.pid, ppid: process.ppid, cwd: runtime.cwd, argv: ['keyrack', ...process.argv.slice(2)] }),
    }).catch(() => undefined);
  }
}
