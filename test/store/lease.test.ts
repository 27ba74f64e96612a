// The validation lease (src/store/lease.ts): one holder per file while its process lives, private files, a dead
// holder's lease counts as gone, waiters return when it goes or at their deadline. Holders are real processes.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { leaseHeld, releaseLease, takeLease, waitForLease } from '../../src/store/lease.js';

const LEASE_MODULE = resolve('src/store/lease.ts');
const STALE = 30_000;

/** A child process that takes the lease at `path`, prints whether it got it, then lives `lifeMs`. */
function holder(path: string, lifeMs: number) {
  const code = `import { takeLease } from ${JSON.stringify(LEASE_MODULE)}; process.stdout.write(String(takeLease(${JSON.stringify(path)}, Date.now(), ${STALE})) + '\\n'); setTimeout(() => {}, ${lifeMs});`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const took = new Promise<string>((res) => child.stdout.setEncoding('utf8').once('data', (d: string) => res(d.trim())));
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  return { child, took, exited };
}

describe('validation lease', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keyrack-lease-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('one holder at a time; private file in a private directory; removed when the holder exits', async () => {
    const path = join(dir, 'locks', 'lease-a');
    const h = holder(path, 60_000);
    assert.equal(await h.took, 'true');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'locks'))).mode & 0o777, 0o700);
    assert.equal(leaseHeld(path, Date.now(), STALE), true);
    assert.equal(takeLease(path, Date.now(), STALE), false, 'held by a live process');
    h.child.kill('SIGTERM');
    await h.exited;
    // SIGTERM ends node without running exit hooks: the file stays, but its holder is dead, so it counts as gone.
    assert.equal(leaseHeld(path, Date.now(), STALE), false);
  });

  it('a normal exit removes the lease', async () => {
    const path = join(dir, 'locks', 'lease-b');
    const h = holder(path, 10);
    assert.equal(await h.took, 'true');
    await h.exited;
    await assert.rejects(stat(path), /ENOENT/);
  });

  it('its holder lets go before exiting; nobody else can release it, and the exit hook then leaves a successor alone', async () => {
    const path = join(dir, 'locks', 'lease-early');
    const other = { pid: process.pid + 1, host: hostname(), createdAt: Date.now() };
    await writeFile(path, JSON.stringify(other), { mode: 0o600 });
    releaseLease(path);
    assert.equal(JSON.parse(await readFile(path, 'utf8')).pid, other.pid, "another process's lease is not released");
    await rm(path);
    assert.equal(takeLease(path, Date.now(), STALE), true);
    releaseLease(path);
    await assert.rejects(stat(path), { code: 'ENOENT' }, 'released at once');
    // A successor took it (possibly on the same inode number); this process's exit hook must not remove it.
    const code = `import { takeLease, releaseLease } from ${JSON.stringify(LEASE_MODULE)}; const p = ${JSON.stringify(path)}; takeLease(p, Date.now(), ${STALE}); releaseLease(p); (await import('node:fs')).writeFileSync(p, JSON.stringify(${JSON.stringify(other)}));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(await readFile(path, 'utf8')).pid, other.pid, "the successor's lease survives the first holder's exit");
    await rm(path);
  });

  it("a dead holder's lease, or one older than the stale age, is taken over", async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const path = join(dir, 'locks', 'lease-c');
    await writeFile(path, JSON.stringify({ pid: Number(dead.stdout), host: hostname(), createdAt: Date.now() }), { mode: 0o600 });
    assert.equal(leaseHeld(path, Date.now(), STALE), false);
    assert.equal(takeLease(path, Date.now(), STALE), true);
    assert.equal(JSON.parse(await readFile(path, 'utf8')).pid, process.pid);

    const old = join(dir, 'locks', 'lease-d');
    await writeFile(old, JSON.stringify({ pid: process.ppid, host: hostname(), createdAt: Date.now() - STALE - 1 }), { mode: 0o600 });
    assert.equal(leaseHeld(old, Date.now(), STALE), false, 'too old, though its holder lives');
  });

  it('a waiter returns true once the holder exits, false at its deadline while the holder lives', async () => {
    const path = join(dir, 'locks', 'lease-e');
    const h = holder(path, 60_000);
    assert.equal(await h.took, 'true');
    assert.equal(await waitForLease(path, { now: () => Date.now(), deadline: Date.now() + 50, staleMs: STALE }), false);
    const waiting = waitForLease(path, { now: () => Date.now(), deadline: Date.now() + 60_000, staleMs: STALE });
    h.child.kill('SIGTERM');
    assert.equal(await waiting, true);
  });
});
