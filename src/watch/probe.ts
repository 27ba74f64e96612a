// One pass of `keyrack watch`: keep every unlocked SSO session alive and tell the human what they need to know.
//
// For each SSO session behind a live unlock record (whatever keyrack.yml it came from), when its interval has
// passed (or a robot was refused since the last look): refresh the access token if it is in the refresh window
// and prove the session with AWS (the same validation a grant does: portal + STS GetCallerIdentity). Verdicts:
//   ok          → alive; a session seen dead before and alive now was logged in again (its login time is learnt)
//   expired     → one session-expired notification per session, robots are refused until a human signs in
//   unavailable → AWS did not answer: back off (1, 2, 4… intervals, at most an hour), and only after
//                 alert_after_failures probes in a row one refresh-failing notification; never "expired"
//   other       → misconfigured / denied / mismatch: refresh-failing at once (deduplicated by the cooldown)
// Then, with no AWS call: expiry warnings (warn_before the estimated session end), unlock/lock notices, and the
// robots' login-required signals (robot-blocked notice per cooldown; cleared once the key works again).
//
// Nothing here can start a login. The one exception, a device-code push a user opted into per sso session
// (device_code_push: true), lives in ./device-push.ts and is loaded with a dynamic import only when it is needed,
// so this module's static graph never reaches src/aws/login (test/watch/module-graph.test.ts checks it).
import { statSync } from 'node:fs';
import { appendAudit, currentCaller } from '../store/audit.js';
import { join } from 'node:path';
import { unlockCommand } from '../core/access.js';
import { formatDuration } from '../core/duration.js';
import { toKeyrackError } from '../core/errors.js';
import type { AwsProfileRef } from '../core/keyrack-file.js';
import type { Logger } from '../core/log.js';
import type { RobotContext } from '../core/plugin.js';
import type { Runtime } from '../core/runtime.js';
import { makeEvent, type NotifyEvent } from '../notify/events.js';
import { dedupeKey, type Notifier } from '../notify/dispatch.js';
import { clearLoginSignal, listLoginSignals, type LoginSignal } from '../store/signal.js';
import { listUnlockRecords, statFingerprint, type UnlockRecord } from '../store/state.js';
import { ssoSettings, type UserConfig } from '../store/user-config.js';
import { networkFromEnv, withBudget } from '../aws/network.js';
import { ProbeMemo, probeWithAws } from './aws-probe.js';
import { readAwsConfig, type AwsConfigDoc } from '../aws/config-file.js';
import { inspectToken } from '../aws/session-token.js';
import { openTokenStore, storeKindIn } from '../aws/token-store.js';
import { resolveTargetOrRecorded } from '../aws/credential-process.js';
import type { ProfileTarget, SsoLogin } from '../aws/target.js';
import { dueWarning, estimateSessionEnd, withLogin, withRecordedLogin } from './session-end.js';
import { freshSessionWatch, readSessionWatch, readUnlockSnapshot, writeSessionWatch, writeUnlockSnapshot, type LoginSource, type SessionStatus, type SessionWatch, type UnlockSnapshot } from './state.js';

/** Transient failures back off to at most this between probes. */
const MAX_BACKOFF_MS = 3_600_000;

export interface WatchDeps {
  runtime: Runtime;
  log: Logger;
  config: UserConfig;
  notifier: Notifier;
  signal?: AbortSignal;
  /** Probe every session now instead of only those whose interval has passed. */
  force?: boolean;
  /** What the cache files said, kept between passes (a long-running watcher); a pass without it starts afresh. */
  memo?: ProbeMemo;
  /** Kept between passes: files re-read only when they changed. */
  cache?: PassCache;
}

/** What a long-running watcher keeps between passes; each entry is dropped when its file's stat changes. */
export class PassCache {
  records?: { stamp: string; list: UnlockRecord[] };
  awsConfig?: { stamp: string; doc: AwsConfigDoc };
}

/** Identity and times of a file or directory; a rename into a directory changes the directory's. */
const stamp = (path: string): string => statFingerprint(statSync(path, { bigint: true, throwIfNoEntry: false }));

async function unlockRecords(state: string, cache: PassCache | undefined): Promise<UnlockRecord[]> {
  const s = stamp(join(state, 'unlocked'));
  if (cache?.records && cache.records.stamp === s) return cache.records.list;
  const list = await listUnlockRecords(state);
  if (cache) cache.records = { stamp: s, list };
  return list;
}

async function awsConfig(runtime: Runtime, cache: PassCache | undefined): Promise<AwsConfigDoc> {
  const s = stamp(runtime.paths.awsConfig);
  if (cache?.awsConfig && cache.awsConfig.stamp === s) return cache.awsConfig.doc;
  const doc = await readAwsConfig(runtime.paths.awsConfig, { home: runtime.paths.home });
  if (cache) cache.awsConfig = { stamp: s, doc };
  return doc;
}

export interface SessionReport {
  sso: string;
  tokenKey: string;
  envs: string[];
  status: SessionStatus;
  probed: boolean;
  failures: number;
  tokenExpiresAt?: number;
  /** estimated, epoch ms */
  endsAt?: number;
  endsAtSource?: LoginSource;
  nextProbeAt?: number;
  error?: { reason: string; code: string; message: string };
}

export interface PushOutcome {
  sso: string;
  outcome: 'approved' | 'denied' | 'expired' | 'failed' | 'skipped';
  detail?: string;
}

export interface RunReport {
  at: number;
  sessions: SessionReport[];
  events: { event: string; subject: string; sent: boolean; suppressed: boolean }[];
  signals: { pending: number; cleared: number };
  /** problems that are not a session's (a profile missing from ~/.aws/config, …) */
  problems: string[];
  /** device-code pushes started in this pass (opt-in); the caller decides whether to wait for them */
  pushes: Promise<PushOutcome>[];
}

interface Watched {
  sso: SsoLogin;
  refs: { ref: AwsProfileRef; target: ProfileTarget; record: UnlockRecord }[];
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const span = (ms: number) => formatDuration(Math.max(0, Math.round(ms / 60_000)) * 60);
const live = (r: UnlockRecord, now: number) => r.until === undefined || r.until > now;

function refFor(record: UnlockRecord, key: string, profile: string): AwsProfileRef {
  return { kind: 'profile', env: record.env, key, profile, location: { file: record.file, line: 1, col: 1 } };
}

/** A context for the robot-safe AWS code: it needs the runtime, the log and a signal, not a keyrack.yml. */
/** The watcher's robot context: no keyrack.yml (sessions come from the unlock records). */
export function robotCtx(deps: WatchDeps): RobotContext {
  return { runtime: deps.runtime, file: { path: '(keyrack watch)', sso: {}, envs: {} }, log: deps.log, ...(deps.signal ? { signal: deps.signal } : {}) };
}

export function backoffMs(intervalMs: number, failures: number): number {
  return Math.min(intervalMs * 2 ** Math.max(0, failures - 1), Math.max(intervalMs, MAX_BACKOFF_MS));
}

export async function watchOnce(deps: WatchDeps): Promise<RunReport> {
  return pass(deps, deps.memo ?? new ProbeMemo());
}

async function pass(deps: WatchDeps, memo: ProbeMemo): Promise<RunReport> {
  const { runtime, config } = deps;
  const { paths, clock } = runtime;
  const state = paths.state;
  const now = clock.now();
  const report: RunReport = { at: now, sessions: [], events: [], signals: { pending: 0, cleared: 0 }, problems: [], pushes: [] };

  const notify = async (event: NotifyEvent, subject: string, key: string, cooldownMs?: number) => {
    const out = await deps.notifier.send(event, { dedupeKey: key, ...(cooldownMs !== undefined ? { cooldownMs } : {}) });
    report.events.push({ event: event.event, subject, sent: out.sent, suppressed: out.suppressed === 'cooldown' });
    // Every watcher event lands in the audit trail too (best effort; no secret in an event).
    await appendAudit(state, {
      time: new Date(clock.now()).toISOString(),
      command: 'watch',
      result: event.event === 'session-expired' || event.event === 'robot-blocked' || event.event === 'refresh-failing' ? 'refused' : 'ok',
      caller: currentCaller(runtime.cwd),
      detail: { event: event.event, subject, sent: out.sent, suppressed: out.suppressed === 'cooldown' },
    }).catch(() => undefined);
    return out.sent;
  };

  // 1. Unlock records: what is open now, and what changed since the last pass.
  const records = (await unlockRecords(state, deps.cache)).filter((r) => live(r, now));
  await unlockNotices(records, now, state, notify);

  // 2. The sessions behind them.
  let doc: AwsConfigDoc | undefined;
  try {
    doc = await awsConfig(runtime, deps.cache);
  } catch (e) {
    report.problems.push(toKeyrackError(e).message);
  }
  const watched = new Map<string, Watched>();
  for (const record of records) {
    for (const [key, k] of Object.entries(record.keys)) {
      if (!doc) continue;
      const ref = refFor(record, key, k.profile);
      try {
        // keyrack.yml is not at hand here; a keychain-mode (credential_process) profile resolves from unlock's record.
        const target = await resolveTargetOrRecorded(robotCtx(deps), doc, ref);
        const w = watched.get(target.sso.tokenKey) ?? { sso: target.sso, refs: [] };
        w.refs.push({ ref, target, record });
        watched.set(target.sso.tokenKey, w);
      } catch (e) {
        const err = toKeyrackError(e);
        report.problems.push(`${record.env}/${key}: ${err.message}`);
        await notify(
          makeEvent(now, { event: 'refresh-failing', title: `${record.env}/${key} cannot be checked`, message: `${err.message}${err.fix ? `. Fix: ${err.fix}` : ''}`, env: record.env, key }),
          `${record.env}/${key}`,
          dedupeKey('refresh-failing', `${record.env}/${key}`, err.code),
        );
      }
    }
  }

  // 3. Signals from refused robots: they also make their session due for a probe right now.
  const signals = await listLoginSignals(state);
  const targets = new Map<string, ProfileTarget | undefined>();
  for (const s of signals) {
    let t: ProfileTarget | undefined;
    for (const w of watched.values()) for (const r of w.refs) if (r.ref.env === s.env && r.ref.key === s.key) t = r.target;
    if (!t && doc) t = await resolveTargetOrRecorded(robotCtx(deps), doc, { kind: 'profile', env: s.env, key: s.key, profile: s.profile, location: { file: '(signal)', line: 1, col: 1 } }).catch(() => undefined);
    targets.set(s.id, t);
  }
  const signalTarget = (s: LoginSignal): ProfileTarget | undefined => targets.get(s.id);

  // 4. Probe the sessions that are due.
  const verdicts = new Map<string, SessionWatch>();
  for (const [tokenKey, w] of [...watched].sort(([a], [b]) => a.localeCompare(b))) {
    const newestSignal = Math.max(0, ...signals.filter((s) => signalTarget(s)?.sso.tokenKey === tokenKey).map((s) => s.timestamp));
    const envs = [...new Set(w.refs.map((r) => r.ref.env))].sort();
    let probed = false;
    let sw: SessionWatch;
    try {
      const disk = await readSessionWatch(state, tokenKey);
      const prev = await withRecordedLogin(state, disk ?? freshSessionWatch(tokenKey, w.sso.label, w.sso.session));
      const t = clock.now();
      const slack = config.watch.intervalMs * 0.2;
      // Due when its interval has passed, and at once when something happened since the last probe: a human
      // unlocked (or signed in: a recorded login clears nextProbeAt), or a robot was refused (unless AWS is down).
      const since = prev.lastProbeAt ?? 0;
      const unlockedSince = w.refs.some((r) => r.record.unlockedAt > since);
      const due = deps.force === true || prev.nextProbeAt === undefined || t >= prev.nextProbeAt - slack || unlockedSince || (newestSignal > since && prev.status !== 'failing');
      sw = due ? await probeSession(deps, memo, w, envs, prev, notify) : prev;
      probed = due;
      if (sw !== disk) await writeSessionWatch(state, sw);
    } catch (e) {
      const err = toKeyrackError(e);
      report.problems.push(`${w.sso.label}: ${err.message}`);
      continue;
    }
    verdicts.set(tokenKey, sw);

    // 5. Expiry warnings: local arithmetic, no AWS call, so they are on time even while AWS is down.
    const duration = ssoSettings(config, sw.ssoName).sessionDurationMs;
    const end = estimateSessionEnd(sw, duration);
    if (end && sw.status !== 'expired') {
      const due = dueWarning(end.endsAt, clock.now(), config.watch.warnBeforeMs, sw.warned);
      if (due) {
        const left = end.endsAt - clock.now();
        const sent = await notify(
          makeEvent(clock.now(), {
            event: 'session-expiring',
            title: `${w.sso.label} ends in ${span(left)}`,
            message: `The SSO session ${w.sso.label} ends at about ${iso(end.endsAt)} (login ${iso(end.loginAt)} + session_duration ${span(duration ?? 0)}). Robots using ${envs.join(', ')} stop then unless a human signs in again before.`,
            sso: w.sso.label,
            endsAt: new Date(end.endsAt).toISOString(),
            command: unlockCommand(envs[0] ?? 'ENV'),
          }),
          w.sso.label,
          dedupeKey('session-expiring', w.sso.label, `${end.loginAt}:${due.threshold}`),
        );
        if (sent) {
          sw = { ...sw, warned: [...new Set([...sw.warned, ...due.covers])] };
          await writeSessionWatch(state, sw);
        }
      }
    }
    report.sessions.push({
      sso: sw.sso,
      tokenKey,
      envs,
      status: sw.status,
      probed,
      failures: sw.failures,
      ...(sw.tokenExpiresAt !== undefined ? { tokenExpiresAt: sw.tokenExpiresAt } : {}),
      ...(end ? { endsAt: end.endsAt, endsAtSource: end.source } : {}),
      ...(sw.nextProbeAt !== undefined ? { nextProbeAt: sw.nextProbeAt } : {}),
      ...(sw.lastError && sw.status !== 'alive' ? { error: sw.lastError } : {}),
    });
  }

  // 6. Signals: clear the ones whose key works again, tell the human about the rest, push where opted in.
  const pushBySession = new Map<string, { sso: SsoLogin; ssoName: string; signals: LoginSignal[] }>();
  for (const s of signals) {
    const target = signalTarget(s);
    const sw = target ? verdicts.get(target.sso.tokenKey) : undefined;
    const record = records.find((r) => r.env === s.env);
    const unlocked = !!record && Object.hasOwn(record.keys, s.key);
    if (unlocked && sw?.status === 'alive' && sw.lastOkAt !== undefined && sw.lastOkAt >= s.timestamp) {
      if (await clearLoginSignal(runtime, s.env, s.key, sw.lastOkAt).catch(() => false)) report.signals.cleared++;
      continue;
    }
    report.signals.pending++;
    const subject = target?.sso.label ?? `env ${s.env}`;
    const why = s.reason === 'locked' ? `${s.env}/${s.key} is locked` : `the SSO session${target ? ` ${target.sso.label}` : ''} has expired`;
    await notify(
      makeEvent(clock.now(), {
        event: 'robot-blocked',
        title: `robot refused ${s.env}/${s.key} (${s.reason})`,
        message: `A robot was refused ${s.env}/${s.key}: ${why}. ${s.count} refusal(s) since ${iso(s.firstTimestamp)}; last by pid ${s.requester.pid} in ${s.requester.cwd} (${s.requester.command.join(' ')}).`,
        env: s.env,
        key: s.key,
        ...(target ? { sso: target.sso.label } : {}),
        command: unlockCommand(s.env),
        requester: { pid: s.requester.pid, cwd: s.requester.cwd, command: s.requester.command },
      }),
      subject,
      dedupeKey('robot-blocked', subject),
    );
    const ssoName = target?.sso.session;
    if (s.reason === 'expired' && unlocked && target && ssoName && sw?.status !== 'alive' && ssoSettings(config, ssoName).deviceCodePush && clock.now() >= s.nextAttemptAfter) {
      const p = pushBySession.get(target.sso.tokenKey) ?? { sso: target.sso, ssoName, signals: [] };
      p.signals.push(s);
      pushBySession.set(target.sso.tokenKey, p);
    }
  }
  for (const p of pushBySession.values()) {
    // Opt-in only, and loaded only now: the one login start outside `keyrack unlock`.
    report.pushes.push(import('./device-push.js').then((m) => m.pushDeviceCode(deps, p)));
  }
  return report;
}

type Notify = (event: NotifyEvent, subject: string, key: string, cooldownMs?: number) => Promise<boolean>;

async function probeSession(deps: WatchDeps, memo: ProbeMemo, w: Watched, envs: string[], prev: SessionWatch, notify: Notify): Promise<SessionWatch> {
  const { runtime, config, log } = deps;
  const clock = runtime.clock;
  const first = [...w.refs].sort((a, b) => a.ref.env.localeCompare(b.ref.env) || a.ref.key.localeCompare(b.ref.key))[0];
  if (!first) return prev;
  const ctx = withBudget(robotCtx(deps), networkFromEnv(runtime.env));
  const cmd = unlockCommand(first.ref.env);
  // The store this pass's user config names (legacy profiles: always the AWS CLI files).
  const storeKind = storeKindIn(config, w.sso);
  let next: SessionWatch = { ...prev, sso: w.sso.label, ...(w.sso.session ? { ssoName: w.sso.session } : {}) };
  try {
    const v = await probeWithAws(ctx, first.target, cmd, memo, prev.lastProvenAt, storeKind);
    const t = clock.now();
    if (v.sessionProven) next.lastProvenAt = t;
    // Seen dead before and alive now, with no login recorded since: someone signed in (keyrack unlock records
    // its logins; `aws sso login` does not). The unlock that followed the death dates it best.
    if (prev.lastDeadAt !== undefined && (prev.loginAt === undefined || prev.loginAt < prev.lastDeadAt)) {
      const unlockedAt = Math.max(0, ...w.refs.map((r) => r.record.unlockedAt).filter((u) => u > (prev.lastDeadAt ?? 0) && u <= t));
      next = withLogin(next, unlockedAt > 0 ? unlockedAt : t, 'observed');
      log.debug('watch: the session was signed in again', { sso: w.sso.label });
    }
    return { ...next, status: 'alive', lastProbeAt: t, lastOkAt: t, nextProbeAt: t + config.watch.intervalMs, failures: 0, failingNotified: false, tokenExpiresAt: v.tokenExpiresAt, expiredNotified: false };
  } catch (e) {
    const err = toKeyrackError(e);
    const t = clock.now();
    const lastError = { reason: err.reason, code: err.code, message: err.message };
    log.debug('watch: probe failed', { sso: w.sso.label, reason: err.reason, code: err.code });
    const view = await openTokenStore(runtime, storeKind).then((store) => inspectToken(ctx, w.sso, store)).catch(() => undefined);
    next = { ...next, lastProbeAt: t, lastError, ...(view?.expiresAt !== undefined ? { tokenExpiresAt: view.expiresAt } : {}) };
    if (err.reason === 'expired' || err.reason === 'locked') {
      next = { ...next, status: 'expired', lastDeadAt: t, failures: 0, nextProbeAt: t + config.watch.intervalMs };
      if (!prev.expiredNotified) {
        const sent = await notify(
          makeEvent(t, {
            event: 'session-expired',
            title: `${w.sso.label} has ended`,
            message: `The SSO session ${w.sso.label} has ended: ${err.message}. Robots using ${envs.join(', ')} are refused until a human signs in again.`,
            sso: w.sso.label,
            command: cmd,
          }),
          w.sso.label,
          dedupeKey('session-expired', w.sso.label, prev.loginAt ?? 'unknown'),
        );
        next.expiredNotified = sent;
      }
      return next;
    }
    const failures = prev.failures + 1;
    const transient = err.reason === 'unavailable';
    next = { ...next, status: 'failing', failures, failingSince: prev.failingSince !== undefined && prev.failures > 0 ? prev.failingSince : t, nextProbeAt: t + (transient ? backoffMs(config.watch.intervalMs, failures) : config.watch.intervalMs) };
    if (!prev.failingNotified && (!transient || failures >= config.watch.alertAfterFailures)) {
      const sent = await notify(
        makeEvent(t, {
          event: 'refresh-failing',
          title: transient ? `${w.sso.label}: AWS is not answering` : `${w.sso.label}: ${err.reason}`,
          message: transient
            ? `${failures} probes in a row since ${iso(next.failingSince ?? t)} got no answer from AWS (${err.message}). The session is kept; robots may be refused with "unavailable" while this lasts. Nothing to do if AWS is having an outage.`
            : `${err.message}.${err.fix ? ` Fix: ${err.fix}` : ''}`,
          sso: w.sso.label,
        }),
        w.sso.label,
        dedupeKey('refresh-failing', w.sso.label, err.reason),
      );
      next.failingNotified = sent;
    }
    return next;
  }
}

async function unlockNotices(records: UnlockRecord[], now: number, state: string, notify: Notify): Promise<void> {
  const prev = await readUnlockSnapshot(state);
  const current: UnlockSnapshot = { version: 1, envs: {} };
  for (const r of records) current.envs[r.env] = { unlockedAt: r.unlockedAt, ...(r.until !== undefined ? { until: r.until } : {}), keys: Object.keys(r.keys).sort() };
  if (prev) {
    for (const [env, c] of Object.entries(current.envs)) {
      const p = prev.envs[env];
      if (p && p.unlockedAt === c.unlockedAt) continue;
      await notify(
        makeEvent(now, { event: 'unlocked', title: `${env} unlocked`, message: `A human unlocked ${c.keys.join(', ')} in ${env} for robots, ${c.until !== undefined ? `until ${iso(c.until)}` : 'until it is locked or the SSO session ends'}.`, env }),
        env,
        dedupeKey('unlocked', env, c.unlockedAt),
      );
    }
    for (const [env, p] of Object.entries(prev.envs)) {
      if (current.envs[env]) continue;
      const ran = p.until !== undefined && p.until <= now;
      await notify(makeEvent(now, { event: 'locked', title: `${env} locked`, message: ran ? `The unlock of ${env} ran out; robots are refused it now.` : `${env} was locked; robots are refused it now.`, env }), env, dedupeKey('locked', env, p.unlockedAt));
    }
  }
  if (!prev || JSON.stringify(prev.envs) !== JSON.stringify(current.envs)) await writeUnlockSnapshot(state, current);
}

