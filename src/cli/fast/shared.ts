// What the fast paths share: synchronous reads of the few files they trust, the audit event they leave, and the
// caller it names. node:fs only (see ./index.ts for why).
import { readFileSync, statSync } from 'node:fs';
import type { EnvVars } from '../../core/runtime.js';
import { appendAuditLine, auditLine, auditPath, currentCaller, DEFAULT_AUDIT_MAX_BYTES, type AuditEvent } from '../../store/audit-file.js';
import { readOwnFile } from '../../store/files.js';
import { statFingerprint } from '../../store/state.js';
import { sha256Hex as sha256 } from './sha256.js';

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

/** store/audit.ts's append; false when the file is due for rotation, which is the full path's job. */
function appendAuditSync(state: string, event: AuditEvent): boolean {
  const line = auditLine(event);
  if ((statSync(auditPath(state), { throwIfNoEntry: false })?.size ?? 0) + line.length > DEFAULT_AUDIT_MAX_BYTES) return false;
  appendAuditLine(state, line);
  return true;
}

/**
 * Answer: the full path's audit event for the command (src/cli/record.ts) with `fast: true` in its detail, so the
 * trail shows which path answered, then the text on stdout. False (nothing written, nothing printed) when the
 * audit log is due for rotation: the full path then answers.
 */
export function answer(io: FastIo, state: string, event: Omit<AuditEvent, 'time' | 'caller' | 'result'>, text: string): boolean {
  try {
    if (!appendAuditSync(state, { time: new Date(io.now()).toISOString(), result: 'ok', ...event, detail: { ...event.detail, fast: true }, caller: currentCaller(io.cwd) })) return false;
  } catch {
    // best effort, as on the full path
  }
  io.write(text);
  return true;
}
