// The audit trail: one JSON object per line, appended with a single write(2) on an O_APPEND descriptor so
// concurrent writers never interleave inside a line. No secrets: identities, references and outcomes only.
// Size-bounded: past the limit the file is rotated once (audit.jsonl → audit.jsonl.1) under a lock.
import { readFile, rename, stat } from 'node:fs/promises';
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Reason } from '../core/errors.js';
import { ensurePrivateDir } from './files.js';
import { withFileLock } from './lock.js';

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

/** Who is asking: this process and, where the OS exposes it, the program that started it. */
export function currentCaller(cwd: string): Caller {
  let parent: string | undefined;
  try {
    parent = readFileSync(`/proc/${process.ppid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 300) || undefined;
  } catch {
    parent = undefined;
  }
  return { pid: process.pid, ppid: process.ppid, ...(parent ? { parent } : {}), cwd, tty: Boolean(process.stdin.isTTY) };
}

export function auditPath(stateDir: string): string {
  return join(stateDir, AUDIT_FILE);
}

export async function appendAudit(stateDir: string, event: AuditEvent, maxBytes = DEFAULT_AUDIT_MAX_BYTES): Promise<void> {
  await ensurePrivateDir(stateDir);
  const path = auditPath(stateDir);
  const line = Buffer.from(`${JSON.stringify(event)}\n`);
  // Synchronous, as store/files.ts explains.
  const fd = openSync(path, 'a', 0o600);
  try {
    writeSync(fd, line);
  } finally {
    closeSync(fd);
  }
  const size = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
  if (size > maxBytes) {
    await withFileLock(`${path}.lock`, async () => {
      // Re-check under the lock: another writer may have rotated already.
      const now = await stat(path).then((s) => s.size, () => 0);
      if (now > maxBytes) await rename(path, `${path}.1`);
    }, { timeoutMs: 2000, staleMs: 10_000 });
  }
}

export interface AuditQuery {
  /** epoch ms */
  since?: number;
  key?: string;
}

/** Events oldest first, from the rotated file then the current one; torn or foreign lines are skipped. */
export async function readAudit(stateDir: string, q: AuditQuery = {}): Promise<AuditEvent[]> {
  const path = auditPath(stateDir);
  const texts = await Promise.all([`${path}.1`, path].map((p) => readFile(p, 'utf8').catch(() => '')));
  const out: AuditEvent[] = [];
  for (const line of texts.join('').split('\n')) {
    if (!line) continue;
    let e: AuditEvent;
    try {
      e = JSON.parse(line) as AuditEvent;
    } catch {
      continue;
    }
    if (q.since !== undefined && Date.parse(e.time) < q.since) continue;
    if (q.key !== undefined && e.key !== q.key) continue;
    out.push(e);
  }
  return out;
}
