// Typed errors: every failure keyrack reports has a stable `reason` (the robot contract) and an exit code.
// Messages are built here and nowhere else so that wording stays consistent and secret-free.

export type Reason =
  | 'invalid-input'
  | 'locked'
  | 'expired'
  | 'unavailable'
  | 'mismatch'
  | 'denied'
  | 'misconfigured'
  | 'drift'
  | 'internal';

/** Exit codes of the robot contract (README "Robot contract"). */
export const EXIT_CODES: Readonly<Record<Reason, number>> = {
  'invalid-input': 2,
  locked: 3,
  expired: 3,
  unavailable: 4,
  mismatch: 5,
  denied: 5,
  drift: 5,
  misconfigured: 6,
  internal: 1,
};

export interface KeyrackErrorInit {
  /** Stable machine code, e.g. `keyrack-file.unknown-field`, `sso.refresh-rejected`. */
  code: string;
  reason: Reason;
  /** One line, no secrets. */
  message: string;
  /** What the human (or robot) should do next, one line. */
  fix?: string;
  /** Where the problem is, e.g. `keyrack.yml:12:5`. */
  location?: string;
  cause?: unknown;
}

/**
 * Marks a KeyrackError whichever copy of this module made it: the robot commands and the parsers they load lazily
 * are separate bundles (scripts/build.mjs), each with its own class, and an error must stay a KeyrackError when it
 * crosses from one to another (`instanceof` below checks the mark, not the class).
 */
const BRAND = Symbol.for('keyrack-aws.KeyrackError');

export class KeyrackError extends Error {
  readonly code: string;
  readonly reason: Reason;
  readonly fix: string | undefined;
  readonly location: string | undefined;

  static override [Symbol.hasInstance](x: unknown): boolean {
    return typeof x === 'object' && x !== null && (x as { [BRAND]?: unknown })[BRAND] === true;
  }

  constructor(init: KeyrackErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    Object.defineProperty(this, BRAND, { value: true });
    this.name = 'KeyrackError';
    this.code = init.code;
    this.reason = init.reason;
    this.fix = init.fix;
    this.location = init.location;
  }

  get exitCode(): number {
    return EXIT_CODES[this.reason];
  }
}

export function isKeyrackError(e: unknown): e is KeyrackError {
  return e instanceof KeyrackError;
}

/** Any thrown value → KeyrackError, without leaking the original message (it may carry a token). */
export function toKeyrackError(e: unknown): KeyrackError {
  if (isKeyrackError(e)) return e;
  const name = e instanceof Error ? e.name : typeof e;
  return new KeyrackError({
    code: 'internal.unexpected',
    reason: 'internal',
    message: `unexpected ${name}`,
    fix: 'rerun with KEYRACK_DEBUG=1 and report the (redacted) log',
    cause: e,
  });
}

/** The human-readable form: `keyrack: <location: >message` and an optional `fix:` line. */
export function formatError(e: KeyrackError): string {
  const head = `keyrack: ${e.location ? `${e.location}: ` : ''}${e.message}`;
  return e.fix ? `${head}\nfix: ${e.fix}` : head;
}

/** The `--format json` form of a refusal. */
export function errorJson(e: KeyrackError): { error: { reason: Reason; code: string; message: string; fix?: string; location?: string } } {
  return {
    error: {
      reason: e.reason,
      code: e.code,
      message: e.message,
      ...(e.fix ? { fix: e.fix } : {}),
      ...(e.location ? { location: e.location } : {}),
    },
  };
}
