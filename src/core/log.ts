// Debug logging that cannot leak: every secret keyrack handles is registered here, and every line written is
// scrubbed of registered values, of secret-named JSON fields and of token-shaped strings before it reaches stderr.
// Enabled by KEYRACK_DEBUG=1. Lines: `keyrack[debug] +<ms since start> <message> <json data>`.
import { performance } from 'node:perf_hooks';

const SECRET_SHAPES: RegExp[] = [
  /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g, // access key ids: not secret alone, but pair-identifying
  /\beyJ[\w-]+\.[\w-]+\.[\w-]*/g, // JWTs
  /\b(?:aoa|aor)[A-Za-z0-9+/=_-]{20,}/g, // SSO access / refresh tokens
  /[A-Za-z0-9+/=_.-]*EMUSECRET[A-Za-z0-9+/=_.-]*/g, // the emulator's marker, however it is wrapped
  /[A-Za-z0-9+/]{60,}={0,2}/g, // long base64 runs: session tokens, client secrets
];

/** A 40-character secret access key: mixed case (so SHA-1 hex file names, all lower case, are left alone). */
const SECRET_KEY_SHAPE = /(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/=])/g;

/** `"accessToken": "…"` and friends, in JSON or in `key=value` text, whatever the value looks like. */
const SECRET_FIELDS = /(["']?)(accessToken|refreshToken|clientSecret|secretAccessKey|SecretAccessKey|sessionToken|SessionToken|deviceCode|code_verifier|codeVerifier|authorizationCode)\1(\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,}&]+)/g;

export class Redactor {
  readonly #values = new Set<string>();

  /** Remember a secret value so it is scrubbed from anything logged or printed as a message. */
  register(value: string | undefined): void {
    if (value && value.length >= 8) this.#values.add(value);
  }

  redact(text: string): string {
    let out = text;
    for (const v of this.#values) out = out.split(v).join('[redacted]');
    out = out.replace(SECRET_FIELDS, (_m, q: string, name: string, sep: string) => `${q}${name}${q}${sep}"[redacted]"`);
    for (const re of SECRET_SHAPES) out = out.replace(re, '[redacted]');
    out = out.replace(SECRET_KEY_SHAPE, (m) => (/[A-Z]/.test(m) && /[a-z]/.test(m) ? '[redacted]' : m));
    return out;
  }
}

export interface Logger {
  debug(message: string, data?: Record<string, unknown>): void;
  readonly redactor: Redactor;
}

function serialise(data: Record<string, unknown>): string {
  try {
    return JSON.stringify(data, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v instanceof Error ? `[${v.name}]` : v));
  } catch {
    return '"[unserialisable]"';
  }
}

export function createLogger(opts: { enabled: boolean; write?: (line: string) => void; redactor?: Redactor }): Logger {
  const redactor = opts.redactor ?? new Redactor();
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  const start = performance.now();
  return {
    redactor,
    debug(message, data) {
      if (!opts.enabled) return;
      const tail = data ? ` ${serialise(data)}` : '';
      const ms = Math.round(performance.now() - start);
      write(`keyrack[debug] +${ms}ms ${redactor.redact(message + tail)}\n`);
    },
  };
}

export const silentLogger: Logger = createLogger({ enabled: false });
