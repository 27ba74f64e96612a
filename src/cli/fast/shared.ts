// What the fast paths share: synchronous reads of the few files they trust, the audit event they leave, and the
// caller it names. node:fs only (see ./index.ts for why).
import { closeSync, fstatSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { EnvVars } from '../../core/runtime.js';
import type { AuditEvent, Caller } from '../../store/audit.js';
import { readOwnFile } from '../../store/files.js';
import { statFingerprint } from '../../store/state.js';
import { sha256Hex as sha256 } from './sha256.js';

/** store/audit.ts's file and rotation size. Not imported: that module loads the file lock (async_hooks) with it. */
const AUDIT_FILE = 'audit.jsonl';
const AUDIT_MAX_BYTES = 5 * 1024 * 1024;

export interface FastIo {
  env: EnvVars;
  cwd: string;
  now(): number;
  write(text: string): void;
}

export function readIfExists(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** The recorded file as it was: same stat fingerprint, else same SHA-256 (null: there was no file). */
export function unchanged(path: string, stat: string | null, sha: string | null): boolean {
  if (stat !== null && statFingerprint(statSync(path, { bigint: true, throwIfNoEntry: false })) === stat) return true;
  const bytes = readIfExists(path);
  return bytes === undefined ? sha === null : sha256(bytes) === sha;
}

/** A secrets file as token-cache.ts's readPrivateFile accepts it (a regular file, ours, 0600 or stricter), else undefined. */
export function readPrivate(path: string): string | undefined {
  const read = readOwnFile(path);
  return read.kind === 'ok' ? read.bytes.toString('utf8') : undefined;
}

/**
 * store/audit.ts's currentCaller, without touching process.stdin: creating that stream costs 2–4 ms. A terminal is
 * always a character device, so anything else (pipe, file, socket) is `tty: false` for certain, and so is
 * /dev/null; for any other character device (maybe a terminal) this returns undefined and the full path answers.
 */
function caller(cwd: string): Caller | undefined {
  const stdin = fstatSync(0);
  if (stdin.isCharacterDevice() && stdin.rdev !== statSync('/dev/null').rdev) return undefined;
  let parent: string | undefined;
  try {
    parent = readFileSync(`/proc/${process.ppid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 300) || undefined;
  } catch {
    parent = undefined;
  }
  return { pid: process.pid, ppid: process.ppid, ...(parent ? { parent } : {}), cwd, tty: false };
}

/**
 * One write(2) on an O_APPEND descriptor, as store/audit.ts appends. False when the file is due for rotation,
 * which is the full path's job.
 */
function appendAuditSync(state: string, event: AuditEvent): boolean {
  const path = join(state, AUDIT_FILE);
  const line = Buffer.from(`${JSON.stringify(event)}\n`);
  if ((statSync(path, { throwIfNoEntry: false })?.size ?? 0) + line.length > AUDIT_MAX_BYTES) return false;
  const fd = openSync(path, 'a', 0o600);
  try {
    writeSync(fd, line);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Answer: the full path's audit event for the command (src/cli/record.ts) with `fast: true` in its detail, so the
 * trail shows which path answered, then the text on stdout. False (nothing written, nothing printed) when the
 * caller may be at a terminal or the audit log is due for rotation: the full path then answers.
 */
export function answer(io: FastIo, state: string, event: Omit<AuditEvent, 'time' | 'caller' | 'result'>, text: string): boolean {
  let who: Caller | undefined;
  try {
    who = caller(io.cwd);
  } catch {
    who = undefined;
  }
  if (!who) return false;
  try {
    if (!appendAuditSync(state, { time: new Date(io.now()).toISOString(), result: 'ok', ...event, detail: { ...event.detail, fast: true }, caller: who })) return false;
  } catch {
    // best effort, as on the full path
  }
  io.write(text);
  return true;
}
