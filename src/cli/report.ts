// The one place a failure becomes stderr text (or JSON) and an exit code.
import { errorJson, formatError, KeyrackError, toKeyrackError } from '../core/errors.js';

/** citty throws CLIError for bad flags / unknown commands: those are `invalid-input`. */
function fromCitty(e: unknown): KeyrackError | undefined {
  if (e instanceof Error && e.name === 'CLIError') {
    return new KeyrackError({ code: 'cli.usage', reason: 'invalid-input', message: e.message, fix: 'see keyrack --help' });
  }
  return undefined;
}

export function reportAndExit(e: unknown, opts: { json?: boolean } = {}): never {
  const err = fromCitty(e) ?? toKeyrackError(e);
  if (opts.json) process.stdout.write(`${JSON.stringify(errorJson(err))}\n`);
  process.stderr.write(`${formatError(err)}\n`);
  if (process.env.KEYRACK_DEBUG === '1' && err.reason === 'internal' && err.cause instanceof Error) {
    // Stack only: an unexpected error's message could carry data we did not write ourselves.
    process.stderr.write(`${err.cause.stack?.split('\n').slice(1).join('\n') ?? ''}\n`);
  }
  process.exit(err.exitCode);
}
