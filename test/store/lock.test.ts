import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, stat, utimes, writeFile, readdir } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyrackError } from '../../src/core/errors.js';
import { withFileLock, readLockHolder, type LockInfo } from '../../src/store/lock.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');

async function sandbox(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'keyrack-lock-'));
}

interface Child {
  proc: ChildProcess;
  stdout: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function spawnFixture(name: string, args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(FIXTURES, name), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal, stderr: err })),
  );
  return { proc, stdout: () => out, exited };
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A pid that existed a moment ago and is now dead. */
async function deadPid(): Promise<number> {
  const p = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => p.on('exit', r));
  assert.ok(p.pid);
  return p.pid;
}

function lockJson(info: Partial<LockInfo>): string {
  return JSON.stringify({ pid: 999_999, host: hostname(), createdAt: Date.now(), nonce: 'someone-else', ...info });
}

const fast = { timeoutMs: 5_000, staleMs: 60_000, pollMs: 5 };

test('20 processes x 10 read-increment-writes under the lock: exactly 200, no lost update', { timeout: 180_000 }, async () => {
  const dir = await sandbox();
  const lock = join(dir, 'state', 'counter.lock');
  const counter = join(dir, 'counter');
  const children = Array.from({ length: 20 }, () => spawnFixture('lock-counter.ts', [lock, counter, '10']));
  const results = await Promise.all(children.map((c) => c.exited));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(counter, 'utf8'), '200');
  // Nothing left behind: no lock, no guard, no stale copies.
  assert.deepEqual(await readdir(join(dir, 'state')), []);
  assert.equal((await stat(join(dir, 'state'))).mode & 0o777, 0o700);
});

test('a holder SIGKILLed while holding: the waiting processes recover (dead pid) well before staleMs', { timeout: 120_000 }, async () => {
  const dir = await sandbox();
  const lock = join(dir, 'k.lock');
  const counter = join(dir, 'counter');
  const holder = spawnFixture('lock-holder.ts', [lock]);
  await waitFor(() => holder.stdout().includes('held'), 30_000, 'holder');
  const held = await readLockHolder(lock);
  assert.equal(held?.pid, holder.proc.pid);

  // Several waiters race to break the same stale lock; each then increments once. staleMs is 10 minutes, so only
  // the dead-pid rule can free the lock in time.
  const waiters = Array.from({ length: 8 }, () => spawnFixture('lock-counter.ts', [lock, counter, '3', '600000']));
  await waitFor(() => waiters.every((w) => w.stdout().includes('waiting')), 60_000, 'waiters to start waiting');
  const killedAt = Date.now();
  holder.proc.kill('SIGKILL');
  const results = await Promise.all(waiters.map((w) => w.exited));
  const recovery = Date.now() - killedAt;
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(counter, 'utf8'), '24');
  assert.ok(recovery < 20_000, `recovery took ${recovery} ms`);
  assert.deepEqual((await readdir(dir)).sort(), ['counter']);
});

test('in-process: the next acquirer takes over a dead holder immediately', async () => {
  const dir = await sandbox();
  const lock = join(dir, 'k.lock');
  await writeFile(lock, lockJson({ pid: await deadPid() }), { mode: 0o600 });
  const started = Date.now();
  assert.equal(await withFileLock(lock, async () => 'ran', fast), 'ran');
  assert.ok(Date.now() - started < 2_000);
});

test('a lock older than staleMs is taken over, whoever holds it (other host, or a live pid)', async () => {
  const dir = await sandbox();
  const lock = join(dir, 'k.lock');
  await writeFile(lock, lockJson({ pid: 1, host: 'another-host', createdAt: Date.now() - 10_000 }), { mode: 0o600 });
  assert.equal(await withFileLock(lock, async () => 1, { ...fast, staleMs: 5_000 }), 1);
  // Injected clock: the same lock is fresh now, stale an hour later.
  await writeFile(lock, lockJson({ pid: process.ppid, createdAt: Date.now() }), { mode: 0o600 });
  const later = Date.now() + 3_600_000;
  let t = later;
  assert.equal(await withFileLock(lock, async () => 2, { ...fast, now: () => (t += 1) }), 2);
});

test('an empty lock file (holder died between create and write) is judged by its age', async () => {
  const dir = await sandbox();
  const lock = join(dir, 'k.lock');
  await writeFile(lock, '', { mode: 0o600 });
  await assert.rejects(withFileLock(lock, async () => 0, { ...fast, timeoutMs: 200, staleMs: 5_000 }), (e) => e instanceof KeyrackError && e.code === 'lock.timeout');
  const old = new Date(Date.now() - 60_000);
  await utimes(lock, old, old);
  assert.equal(await withFileLock(lock, async () => 3, { ...fast, staleMs: 5_000 }), 3);
});

test('a lock with our own pid but a nonce we do not hold was left by a dead process whose pid we reuse', async () => {
  const dir = await sandbox();
  const lock = join(dir, 'k.lock');
  await writeFile(lock, lockJson({ pid: process.pid }), { mode: 0o600 });
  assert.equal(await withFileLock(lock, async () => 4, fast), 4);
});

test('timeout: KeyrackError unavailable / lock.timeout naming the lock file and the holder pid', { timeout: 60_000 }, async () => {
  const dir = await sandbox();
  const lock = join(dir, 'k.lock');
  const holder = spawnFixture('lock-holder.ts', [lock]);
  try {
    await waitFor(() => holder.stdout().includes('held'), 30_000, 'holder');
    let waited = 0;
    const started = Date.now();
    await assert.rejects(withFileLock(lock, async () => 'never', { timeoutMs: 300, staleMs: 60_000, onWait: () => waited++ }), (e) => {
      assert.ok(e instanceof KeyrackError);
      assert.equal(e.code, 'lock.timeout');
      assert.equal(e.reason, 'unavailable');
      assert.equal(e.exitCode, 4);
      assert.ok(e.message.includes(lock), e.message);
      assert.ok(e.message.includes(`pid ${holder.proc.pid}`), e.message);
      assert.ok(e.fix?.includes(String(holder.proc.pid)));
      return true;
    });
    assert.equal(waited, 1);
    assert.ok(Date.now() - started < 3_000);
    assert.equal((await readLockHolder(lock))?.pid, holder.proc.pid, 'the holder keeps its lock');
  } finally {
    holder.proc.kill('SIGKILL');
    await holder.exited;
  }
});

test('release never deletes a lock that is no longer ours', async () => {
  const dir = await sandbox();
  const lock = join(dir, 'k.lock');
  const theirs = lockJson({ pid: process.ppid, nonce: 'the-new-holder' });
  await withFileLock(
    lock,
    async () => {
      assert.equal((await stat(lock)).mode & 0o777, 0o600);
      // Someone judged us stale and took over while we were running.
      await writeFile(lock, theirs);
    },
    fast,
  );
  assert.equal(await readFile(lock, 'utf8'), theirs);
  // And on error too.
  await writeFile(lock, '', { mode: 0o600 });
  const old = new Date(Date.now() - 120_000);
  await utimes(lock, old, old);
  await assert.rejects(
    withFileLock(
      lock,
      async () => {
        await writeFile(lock, theirs);
        throw new Error('boom');
      },
      fast,
    ),
    /boom/,
  );
  assert.equal(await readFile(lock, 'utf8'), theirs);
});

test('released on success and on error; the value and the error pass through', async () => {
  const dir = await sandbox();
  const lock = join(dir, 'k.lock');
  assert.equal(await withFileLock(lock, async () => 42, fast), 42);
  await assert.rejects(withFileLock(lock, async () => Promise.reject(new Error('inner')), fast), /inner/);
  assert.deepEqual(await readdir(dir), []);
});

test('same process: concurrent callers are serialised, a nested call is refused', async () => {
  const dir = await sandbox();
  const lock = join(dir, 'k.lock');
  let inside = 0;
  let maxInside = 0;
  let count = 0;
  await Promise.all(
    Array.from({ length: 10 }, () =>
      withFileLock(
        lock,
        async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          await sleep(2);
          count++;
          inside--;
        },
        fast,
      ),
    ),
  );
  assert.equal(count, 10);
  assert.equal(maxInside, 1);
  await assert.rejects(
    withFileLock(lock, () => withFileLock(lock, async () => 0, fast), fast),
    (e) => e instanceof KeyrackError && e.code === 'lock.reentrant',
  );
  assert.equal(await withFileLock(join(dir, 'a.lock'), () => withFileLock(join(dir, 'b.lock'), async () => 'nested, different files', fast), fast), 'nested, different files');
});

test('a guard left behind by a crashed process does not wedge the lock', async () => {
  const dir = await sandbox();
  const lock = join(dir, 'k.lock');
  const dead = await deadPid();
  await writeFile(`${lock}.guard`, lockJson({ pid: dead, nonce: 'dead-guard' }), { mode: 0o600 });
  await writeFile(lock, lockJson({ pid: dead, nonce: 'dead-lock' }), { mode: 0o600 });
  assert.equal(await withFileLock(lock, async () => 5, fast), 5);
  assert.deepEqual(await readdir(dir), []);
});
