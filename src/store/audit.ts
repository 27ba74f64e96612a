// The audit trail: one JSON object per line, appended with a single write(2) on an O_APPEND descriptor so
// concurrent writers never interleave inside a line. No secrets: identities, references and outcomes only.
// Size-bounded: past the limit the file is rotated once (audit.jsonl → audit.jsonl.1) under a lock.
import { statSync } from 'node:fs';
import { readFile, rename, stat } from 'node:fs/promises';
import { appendAuditLine, auditLine, auditPath, DEFAULT_AUDIT_MAX_BYTES, type AuditEvent } from './audit-file.js';
import { ensurePrivateDir } from './files.js';
import { withFileLock } from './lock.js';

export { AUDIT_FILE, auditPath, currentCaller, DEFAULT_AUDIT_MAX_BYTES, type AuditEvent, type Caller } from './audit-file.js';

export async function appendAudit(stateDir: string, event: AuditEvent, maxBytes = DEFAULT_AUDIT_MAX_BYTES): Promise<void> {
  await ensurePrivateDir(stateDir);
  appendAuditLine(stateDir, auditLine(event));
  const path = auditPath(stateDir);
  if ((statSync(path, { throwIfNoEntry: false })?.size ?? 0) > maxBytes) {
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
