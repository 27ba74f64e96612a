// Terminal presentation for the human commands: colours that switch off for NO_COLOR, TERM=dumb and anything that
// is not a terminal; a spinner while waiting on AWS; and one way to leave cleanly when a person presses Ctrl-C.
// Nothing here decides anything: commands call it to show what they are doing.
import type { EnvVars } from '../core/runtime.js';

export interface Style {
  readonly enabled: boolean;
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

type Stream = { isTTY?: boolean; write(chunk: string): unknown };

/**
 * Colour on only when the stream is a terminal and the user has not opted out. NO_COLOR (any non-empty value,
 * no-color.org) and TERM=dumb always win; FORCE_COLOR=1..3 turns colour on for a non-terminal (e.g. a CI log).
 */
export function colorEnabled(stream: Stream, env: EnvVars): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

const sgr = (on: number, off: number) => (s: string) => `\x1b[${on}m${s}\x1b[${off}m`;
const plain = (s: string) => s;

export function createStyle(stream: Stream, env: EnvVars): Style {
  const enabled = colorEnabled(stream, env);
  const pick = (f: (s: string) => string) => (enabled ? f : plain);
  return {
    enabled,
    bold: pick(sgr(1, 22)),
    dim: pick(sgr(2, 22)),
    red: pick(sgr(31, 39)),
    green: pick(sgr(32, 39)),
    yellow: pick(sgr(33, 39)),
    cyan: pick(sgr(36, 39)),
  };
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface Spinner {
  /** Change the text while it spins. */
  update(text: string): void;
  /** Stop; with `final`, leave that line behind (e.g. "✔ 3 accounts"). */
  stop(final?: string): void;
}

/**
 * A spinner on `stream` (stderr by default, so stdout stays data). Off a terminal it draws nothing: logs and pipes
 * get only the final lines, never carriage-return noise.
 */
export function startSpinner(text: string, opts: { stream?: Stream; style?: Style; intervalMs?: number } = {}): Spinner {
  const out = opts.stream ?? process.stderr;
  const tty = out.isTTY === true;
  let current = text;
  let frame = 0;
  const draw = () => {
    const f = FRAMES[frame++ % FRAMES.length] ?? '-';
    out.write(`\r\x1b[2K${opts.style ? opts.style.cyan(f) : f} ${current}`);
  };
  const timer = tty ? setInterval(draw, opts.intervalMs ?? 80) : undefined;
  timer?.unref();
  if (tty) draw();
  let stopped = false;
  return {
    update(t) {
      current = t;
    },
    stop(final) {
      if (stopped) return;
      stopped = true;
      if (timer) clearInterval(timer);
      if (tty) out.write('\r\x1b[2K');
      if (final !== undefined) out.write(`${final}\n`);
    },
  };
}

/** Run `fn` under a spinner; the spinner goes away whether it succeeds or throws. */
export async function withSpinner<T>(text: string, fn: () => Promise<T>, opts: { stream?: Stream; style?: Style; done?: (v: T) => string } = {}): Promise<T> {
  const s = startSpinner(text, opts);
  try {
    const v = await fn();
    s.stop(opts.done ? opts.done(v) : undefined);
    return v;
  } catch (e) {
    s.stop();
    throw e;
  }
}

/** @inquirer/prompts rejects with ExitPromptError on Ctrl-C (and AbortPromptError when its signal fires). */
export function isPromptCancel(e: unknown): boolean {
  return e instanceof Error && (e.name === 'ExitPromptError' || e.name === 'AbortPromptError' || e.name === 'CancelPromptError');
}

/** Exit status for "stopped by the person", as shells report SIGINT. */
export const CANCEL_EXIT_CODE = 130;

/** Leave after Ctrl-C at a prompt: nothing was written, say so, exit 130. */
export function exitCancelled(out: Stream = process.stderr): never {
  out.write('\ncancelled; nothing was changed\n');
  process.exit(CANCEL_EXIT_CODE);
}

// ---- prompts ----------------------------------------------------------------------------------------------------

export interface Choice<T> {
  name: string;
  value: T;
  description?: string;
}

/** The prompts guided setup uses, drawn on `output` (stderr: stdout stays for the result and --json). */
export interface Prompts {
  select<T>(message: string, choices: Choice<T>[], initial?: T): Promise<T>;
  /** Type to filter; `source` is asked again on every keystroke. */
  search<T>(message: string, source: (term: string | undefined) => Choice<T>[]): Promise<T>;
  input(message: string, opts?: { default?: string; validate?: (v: string) => true | string }): Promise<string>;
  confirm(message: string, initial: boolean): Promise<boolean>;
  checkbox<T>(message: string, choices: (Choice<T> & { checked?: boolean })[]): Promise<T[]>;
}

/** Loaded on demand so robot commands never pay for the prompt library. */
export async function loadPrompts(output: NodeJS.WritableStream = process.stderr): Promise<Prompts> {
  const p = await import('@inquirer/prompts');
  const ctx = { output, clearPromptOnDone: false };
  return {
    select: <T>(message: string, choices: Choice<T>[], initial?: T) =>
      p.select<T>({ message, choices, pageSize: 12, loop: false, ...(initial !== undefined ? { default: initial } : {}) }, ctx),
    search: <T>(message: string, source: (term: string | undefined) => Choice<T>[]) => p.search<T>({ message, source: (term) => source(term), pageSize: 10 }, ctx),
    input: (message, opts = {}) =>
      p.input({ message, required: true, ...(opts.default !== undefined ? { default: opts.default } : {}), ...(opts.validate ? { validate: opts.validate } : {}) }, ctx),
    confirm: (message, initial) => p.confirm({ message, default: initial }, ctx),
    checkbox: <T>(message: string, choices: (Choice<T> & { checked?: boolean })[]) => p.checkbox<T>({ message, choices, pageSize: 12, loop: false }, ctx),
  };
}

/** A person said no at a confirmation: treated like Ctrl-C (nothing written, exit 130). */
export function declined(): Error {
  const e = new Error('declined');
  e.name = 'CancelPromptError';
  return e;
}
