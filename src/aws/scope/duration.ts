// How long a scoped session lasts. The robot asks (--duration); keyrack.yml's max_duration, the one-hour cap
// STS puts on role chaining and STS's 15-minute minimum decide. Asking outside the range is not an error:
// the request is clamped and the clamp is reported, so a robot never fails for asking too much or too little.
import { formatDuration } from '../../core/duration.js';
import { KeyrackError } from '../../core/errors.js';

/** STS refuses DurationSeconds below 900. */
export const STS_MIN_DURATION_SECONDS = 900;
/** AssumeRole with credentials that are themselves an assumed role (SSO permission sets are) caps at 1 h. */
export const ROLE_CHAINING_MAX_SECONDS = 3600;

export type ClampReason = 'max_duration' | 'role-chaining' | 'sts-minimum';

export interface DurationChoice {
  /** What is sent as DurationSeconds. */
  seconds: number;
  /** What was asked for, when it was asked for and differs from `seconds`. */
  clampedFrom?: number;
  clampReason?: ClampReason;
  /** The longest this session could have been. */
  limit: number;
  limitReason: Exclude<ClampReason, 'sts-minimum'>;
}

/**
 * `requested` (seconds, from --duration) clamped into [900, min(max_duration, 3600 when chained)]. Without a
 * request, the longest allowed: keyrack.yml's author chose max_duration for this key.
 */
export function chooseDuration(requested: number | undefined, maxDurationSeconds: number, opts: { chained: boolean }): DurationChoice {
  if (requested !== undefined && (!Number.isSafeInteger(requested) || requested <= 0)) {
    throw new KeyrackError({
      code: 'scope.bad-duration',
      reason: 'invalid-input',
      message: '--duration must be a positive whole number of seconds',
      fix: 'pass e.g. --duration 15m',
    });
  }
  const chainCapBinds = opts.chained && ROLE_CHAINING_MAX_SECONDS < maxDurationSeconds;
  const limitReason = chainCapBinds ? 'role-chaining' : 'max_duration';
  const limit = Math.max(STS_MIN_DURATION_SECONDS, chainCapBinds ? ROLE_CHAINING_MAX_SECONDS : maxDurationSeconds);
  if (requested === undefined) return { seconds: limit, limit, limitReason };
  if (requested > limit) return { seconds: limit, clampedFrom: requested, clampReason: limitReason, limit, limitReason };
  if (requested < STS_MIN_DURATION_SECONDS) {
    return { seconds: STS_MIN_DURATION_SECONDS, clampedFrom: requested, clampReason: 'sts-minimum', limit, limitReason };
  }
  return { seconds: requested, limit, limitReason };
}

/** One line for humans, e.g. `2h asked, 1h granted: role chaining caps sessions at 1h`; undefined when unclamped. */
export function describeClamp(c: Pick<DurationChoice, 'seconds' | 'clampedFrom' | 'clampReason'>): string | undefined {
  if (c.clampedFrom === undefined || c.clampReason === undefined) return undefined;
  const why = {
    max_duration: `keyrack.yml's max_duration for this key is ${formatDuration(c.seconds)}`,
    'role-chaining': `STS caps sessions assumed by role chaining at ${formatDuration(ROLE_CHAINING_MAX_SECONDS)}`,
    'sts-minimum': `STS sessions last at least ${formatDuration(STS_MIN_DURATION_SECONDS)}`,
  }[c.clampReason];
  return `${formatDuration(c.clampedFrom)} asked, ${formatDuration(c.seconds)} granted: ${why}`;
}
