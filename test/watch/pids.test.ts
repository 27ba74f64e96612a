// The kill switch's list of running watchers (src/watch/pids.ts): a registered watcher is stopped; a pid that
// now belongs to another process (the watcher died and the pid was reused) is left alone and forgotten.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pidAlive } from '../../src/store/pid.js';
import { registerWatcher, stopRegisteredWatchers } from '../../src/watch/pids.js';

/** A long-lived child whose command line is not a keyrack watcher's. */
function sleeper() {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  return { child, pid: child.pid as number, exited };
}

describe('registered watchers (Linux: command lines from /proc)', () => {
  let state: string;
  before(async () => {
    state = await mkdtemp(join(tmpdir(), 'keyrack-pids-'));
  });
  after(() => rm(state, { recursive: true, force: true }));

  it('the process that registered is stopped, and its entry removed', async () => {
    const w = sleeper();
    await registerWatcher(state, { pid: w.pid, host: hostname(), startedAt: Date.now(), mode: 'foreground' });
    assert.deepEqual(await stopRegisteredWatchers(state, { graceMs: 2_000 }), [w.pid]);
    await w.exited;
    assert.deepEqual(await readdir(join(state, 'watch', 'pids')), []);
  });

  it('a pid now running another command line is left alone, and its entry forgotten', async () => {
    const other = sleeper();
    try {
      const entry = { pid: other.pid, host: hostname(), startedAt: Date.now(), mode: 'foreground', cmdline: `${process.execPath}\0/x/keyrack/dist/cli.cjs\0watch\0` };
      await writeFile(join(state, 'watch', 'pids', `${other.pid}.json`), JSON.stringify(entry));
      assert.deepEqual(await stopRegisteredWatchers(state, { graceMs: 200 }), []);
      assert.equal(pidAlive(other.pid), true, 'not signalled');
      assert.deepEqual(await readdir(join(state, 'watch', 'pids')), []);
    } finally {
      other.child.kill('SIGKILL');
      await other.exited;
    }
  });
});
