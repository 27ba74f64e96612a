// Debug logging that cannot leak: every secret keyrack handles is registered here, and every line written is
// scrubbed of registered values and of token-shaped strings before it reaches stderr.

const SECRET_SHAPES: RegExp[] = [
  /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g, // access key ids: not secret alone, but pair-identifying
  /\beyJ[\w-]+\.[\w-]+\.[\w-]*/g, // JWTs
  /\b(?:aoa|aor)[A-Za-z0-9+/=_-]{20,}/g, // SSO access / refresh tokens
  /[A-Za-z0-9+/=_-]*EMUSECRET[A-Za-z0-9+/=_-]*/g, // the emulator's marker, however it is wrapped
  /[A-Za-z0-9+/]{60,}={0,2}/g, // long base64 runs: session tokens, client secrets
];

export class Redactor {
  readonly #values = new Set<string>();

  /** Remember a secret value so it is scrubbed from anything logged or printed as a message. */
  register(value: string | undefined): void {
    if (value && value.length >= 8) this.#values.add(value);
  }

  redact(text: string): string {
    let out = text;
    for (const v of this.#values) out = out.split(v).join('[redacted]');
    for (const re of SECRET_SHAPES) out = out.replace(re, '[redacted]');
    return out;
  }
}

export interface Logger {
  debug(message: string, data?: Record<string, unknown>): void;
  readonly redactor: Redactor;
}

export function createLogger(opts: { enabled: boolean; write?: (line: string) => void; redactor?: Redactor }): Logger {
  const redactor = opts.redactor ?? new Redactor();
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  return {
    redactor,
    debug(message, data) {
      if (!opts.enabled) return;
      const tail = data ? ` ${JSON.stringify(data)}` : '';
      write(`keyrack[debug] ${redactor.redact(message + tail)}\n`);
    },
  };
}

export const silentLogger: Logger = createLogger({ enabled: false });
