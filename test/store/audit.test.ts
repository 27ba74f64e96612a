import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { appendAudit, auditPath, currentCaller, readAudit } from '../../src/store/audit.js';

const writer = (dir: string, id: number, count: number, maxBytes: number) =>
  new Promise<number | null>((resolve) => {
    const c = spawn(process.execPath, ['--import', 'tsx', 'test/store/fixtures/audit-writer.ts', dir, String(id), String(count), String(maxBytes)], { stdio: 'inherit' });
    c.on('close', resolve);
  });

describe('audit log', () => {
  it('12 concurrent writer processes × 40 events: every line whole, none lost', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keyrack-audit-'));
    try {
      const codes = await Promise.all(Array.from({ length: 12 }, (_, i) => writer(dir, i, 40, 1 << 30)));
      assert.deepEqual(codes, Array(12).fill(0));
      const lines = (await readFile(auditPath(dir), 'utf8')).split('\n').filter(Boolean);
      assert.equal(lines.length, 480);
      for (const l of lines) JSON.parse(l); // throws on a torn line
      const perWriter = new Map<string, number>();
      for (const e of await readAudit(dir)) perWriter.set(e.key ?? '', (perWriter.get(e.key ?? '') ?? 0) + 1);
      assert.deepEqual([...perWriter.values()], Array(12).fill(40));
      assert.equal((await stat(auditPath(dir))).mode & 0o777, 0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rotates once past the size bound and still reads both files; filters by time and key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keyrack-audit-'));
    try {
      const caller = currentCaller(dir);
      for (let i = 0; i < 30; i++) {
        await appendAudit(dir, { time: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(), command: 'grant', result: 'ok', key: i % 2 ? 'A' : 'B', caller }, 2000);
      }
      // The last append may itself have rotated the file away.
      assert.ok((await stat(auditPath(dir)).then((s) => s.size, () => 0)) <= 2000 + 400);
      await stat(`${auditPath(dir)}.1`);
      const all = await readAudit(dir);
      assert.ok(all.length > 0 && all.length <= 30);
      assert.ok(all.every((e, i) => i === 0 || e.time >= (all[i - 1]?.time ?? '')), 'oldest first');
      const onlyA = await readAudit(dir, { key: 'A' });
      assert.ok(onlyA.length > 0 && onlyA.every((e) => e.key === 'A'));
      const late = await readAudit(dir, { since: Date.UTC(2026, 0, 1, 0, 25) });
      assert.ok(late.every((e) => Date.parse(e.time) >= Date.UTC(2026, 0, 1, 0, 25)));
      assert.equal(late.length, 5);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
