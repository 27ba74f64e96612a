// Durations as people write them in keyrack.yml and on the command line: `90d`, `12h`, `15m`, `30s`, `1h30m`.
// Units must appear largest first and at most once, so a typo like `30m1h` or `15M` is an error, never a guess.
import { KeyrackError } from './errors.js';

const UNIT_SECONDS = { d: 86_400, h: 3_600, m: 60, s: 1 } as const;
type Unit = keyof typeof UNIT_SECONDS;
const UNITS: readonly Unit[] = ['d', 'h', 'm', 's'];

/** `<digits><unit>` parts, units in d,h,m,s order, each used once (also used by schema/keyrack.schema.json). */
export const DURATION_PATTERN = '^(\\d+d)?(\\d+h)?(\\d+m)?(\\d+s)?$';
const DURATION_RE = new RegExp(DURATION_PATTERN);

/**
 * `1h30m` → 5400. Throws `duration.invalid` (invalid-input) for anything else.
 * `what` names the input in the message, e.g. `--ttl` or `scope.max_duration`.
 */
export function parseDuration(input: string, what = 'value'): number {
  const text = input.trim();
  const m = text === '' ? null : DURATION_RE.exec(text);
  if (!m) throw invalid(text, what);
  let seconds = 0;
  UNITS.forEach((unit, i) => {
    const digits = m[i + 1]?.slice(0, -1);
    if (digits !== undefined) seconds += Number(digits) * UNIT_SECONDS[unit];
  });
  if (!Number.isSafeInteger(seconds)) throw invalid(text, what);
  return seconds;
}

/** 5400 → `1h30m`; 0 → `0s`. The inverse of parseDuration for whole seconds. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError('formatDuration: seconds must be >= 0');
  let rest = Math.floor(seconds);
  let out = '';
  for (const unit of UNITS) {
    const n = Math.floor(rest / UNIT_SECONDS[unit]);
    rest -= n * UNIT_SECONDS[unit];
    if (n > 0) out += `${n}${unit}`;
  }
  return out || '0s';
}

function invalid(text: string, what: string): KeyrackError {
  // The input is never echoed: on a command line it may be a mistyped or pasted secret.
  const hint = text === '' ? ' (it is empty)' : /^\d+$/.test(text) ? ' (a unit is required)' : '';
  return new KeyrackError({
    code: 'duration.invalid',
    reason: 'invalid-input',
    message: `${what} is not a duration${hint}`,
    fix: 'write it as <number><unit> with units d, h, m, s largest first, e.g. 15m, 12h, 1h30m, 90d',
  });
}
