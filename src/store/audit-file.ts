// The audit trail's file and line format, who is asking, and the one-write append, without the rotation
// (store/audit.ts), which takes the file lock: the fast paths (src/cli/fast) append through this module alone, so
// they load neither the lock nor async_hooks.
import { closeSync, fstatSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Reason } from '../core/errors.js';

export const AUDIT_FILE = 'audit.jsonl';
export const DEFAULT_AUDIT_MAX_BYTES = 5 * 1024 * 1024;

export interface Caller {
  pid: number;
  ppid: number;
  /** The parent's command line, when the OS tells (Linux /proc). */
  parent?: string;
  cwd: string;
  tty: boolean;
}

export interface AuditEvent {
  /** ISO 8601 */
  time: string;
  command: string;
  result: 'ok' | 'refused' | 'error';
  reason?: Reason;
  code?: string;
  env?: string;
  key?: string;
  profile?: string;
  arn?: string;
  caller: Caller;
  /** Extra, non-secret facts (e.g. `cached: true`, `how: 'refreshed'`). */
  detail?: Record<string, string | number | boolean>;
}

export function auditPath(stateDir: string): string {
  return join(stateDir, AUDIT_FILE);
}

/** The command line of the program that started this process (Linux /proc), at most 300 characters. */
function parentCommand(): string | undefined {
  try {
    return readFileSync(`/proc/${process.ppid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 300) || undefined;
  } catch {
    return undefined;
  }
}

/** Who is asking: this process and, where the OS exposes it, the program that started it. */
export function currentCaller(cwd: string): Caller {
  const parent = parentCommand();
  return { pid: process.pid, ppid: process.ppid, ...(parent ? { parent } : {}), cwd, tty: stdinIsTerminal() };
}

/**
 * Whether stdin is a terminal (the audit's `tty`), without creating process.stdin, which costs 2–4 ms: only a
 * character device other than /dev/null can be one, and only then is node:tty loaded to ask. A robot's stdin
 * (pipe, file, socket, /dev/null) costs one fstat; the AWS CLI's credential_process call, whose stdin is the
 * user's terminal, costs node:tty as well.
 */
function stdinIsTerminal(): boolean {
  let st;
  try {
    st = fstatSync(0);
  } catch {
    return false; // no stdin at all
  }
  if (!st.isCharacterDevice() || st.rdev === statSync('/dev/null').rdev) return false;
  // A built-in resolves from any base path; the launcher (CommonJS) has no import.meta to make one from.
  return (createRequire(process.execPath)('node:tty') as typeof import('node:tty')).isatty(0);
}

/** Append one line (auditLine) as one write(2) on an O_APPEND descriptor: concurrent writers never interleave in it. */
export function appendAuditLine(stateDir: string, line: Buffer): void {
  const fd = openSync(auditPath(stateDir), 'a', 0o600);
  try {
    writeSync(fd, line);
  } finally {
    closeSync(fd);
  }
}

export const auditLine = (event: AuditEvent): Buffer => Buffer.from(`${JSON.stringify(event)}\n`);
