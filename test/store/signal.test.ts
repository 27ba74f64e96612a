import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Clock } from '../../src/core/runtime.js';
import {
  clearAllLoginSignals,
  clearLoginSignal,
  deferLoginSignal,
  describeRequester,
  listLoginSignals,
  readLoginSignal,
  recordLoginRequired,
  signalDir,
  signalPath,
} from '../../src/store/signal.js';

class FakeClock implements Clock {
  constructor(public t: number) {}
  now() {
    return this.t;
  }
}

const requester = describeRequester({ pid: 4242, ppid: 1, cwd: '/srv/agent', argv: ['/usr/bin/keyrack', 'grant', 'AWS_PROFILE', '--env', 'prep'] });
const req = (over: Partial<Parameters<typeof recordLoginRequired>[1]> = {}) => ({ env: 'prep', key: 'AWS_PROFILE', profile: 'acme.prep', reason: 'expired' as const, code: 'sso.expired.CreateToken', requester, ...over });

describe('store/signal: robot → human login-required signal', () => {
  let root: string;
  let state: string;
  const clock = new FakeClock(1_000_000);
  const rt = () => ({ paths: { state }, clock }) as unknown as Parameters<typeof recordLoginRequired>[0];
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'keyrack-signal-'));
    state = join(root, 'state', 'keyrack');
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('describeRequester stops at --, shortens and redacts what a robot ran', () => {
    const r = describeRequester({ pid: 1, cwd: '/w', argv: ['keyrack', 'exec', 'K', `--note=${'x'.repeat(300)}`, 'AKIAABCDEFGHIJKLMNOP', '--', 'curl', '-H', 'secret-header'] });
    assert.deepEqual(r.command.slice(0, 3), ['keyrack', 'exec', 'K']);
    assert.ok((r.command[3] ?? '').length <= 121);
    assert.equal(r.command[4], '[redacted]');
    assert.equal(r.command.length, 5);
    assert.ok(!JSON.stringify(r).includes('secret-header'));
  });

  it('the first refusal writes the signal atomically (0600 in 0700), with every field', async () => {
    assert.equal(await recordLoginRequired(rt(), req()), true);
    const path = signalPath(state, 'prep', 'AWS_PROFILE');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(signalDir(state))).mode & 0o777, 0o700);
    const s = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(s).sort(), ['code', 'count', 'env', 'firstTimestamp', 'id', 'key', 'nextAttemptAfter', 'profile', 'reason', 'requester', 'timestamp', 'version'].sort());
    assert.equal(s.timestamp, 1_000_000);
    assert.equal(s.nextAttemptAfter, 1_000_000);
    assert.deepEqual(s.requester, { pid: 4242, ppid: 1, cwd: '/srv/agent', command: ['/usr/bin/keyrack', 'grant', 'AWS_PROFILE', '--env', 'prep'] });
  });

  it('a later refusal updates it: count, timestamp and requester move, the first time and the push schedule stay', async () => {
    await deferLoginSignal(rt(), 'prep', 'AWS_PROFILE', 5_000_000, 'denied');
    clock.t = 2_000_000;
    await recordLoginRequired(rt(), req({ reason: 'locked', code: 'unlock.none', requester: { ...requester, pid: 7 } }));
    const s = await readLoginSignal(state, 'prep', 'AWS_PROFILE');
    assert.equal(s?.count, 2);
    assert.equal(s?.timestamp, 2_000_000);
    assert.equal(s?.firstTimestamp, 1_000_000);
    assert.equal(s?.reason, 'locked');
    assert.equal(s?.requester.pid, 7);
    assert.equal(s?.nextAttemptAfter, 5_000_000, 'a robot never brings the next push forward');
    assert.deepEqual(s?.lastAttempt, { at: 1_000_000, outcome: 'denied' });
  });

  it('refusals at the same moment lose no update (12 in this process, 4 other processes)', async () => {
    const before = (await readLoginSignal(state, 'prep', 'AWS_PROFILE'))?.count ?? 0;
    // Each call gives up after about a second by design (a refused robot must not wait on bookkeeping), so on a
    // loaded machine some may report false; what must never happen is a reported write that is not counted.
    const here = await Promise.all(Array.from({ length: 12 }, () => recordLoginRequired(rt(), req())));
    const script = `import('./src/store/signal.ts').then(async (m) => { const ok = await m.recordLoginRequired({ paths: { state: process.argv[1] }, clock: { now: () => Date.now() } }, { env: 'prep', key: 'AWS_PROFILE', profile: 'acme.prep', reason: 'expired', requester: m.describeRequester({ pid: process.pid, cwd: process.cwd(), argv: ['keyrack', 'grant'] }) }); process.exit(ok ? 0 : 1); })`;
    const codes = await Promise.all(
      Array.from({ length: 4 }, () => new Promise<number | null>((res) => spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, state], { stdio: 'ignore' }).on('close', res))),
    );
    const written = here.filter(Boolean).length + codes.filter((c) => c === 0).length;
    assert.ok(here.some(Boolean) && codes.includes(0), 'writes from this process and from another one were recorded');
    assert.equal((await readLoginSignal(state, 'prep', 'AWS_PROFILE'))?.count, before + written);
  });

  it('clearing honours "as of": a refusal newer than the verdict survives, an older one is removed', async () => {
    clock.t = 3_000_000;
    await recordLoginRequired(rt(), req());
    assert.equal(await clearLoginSignal(rt(), 'prep', 'AWS_PROFILE', 2_999_999), false);
    assert.ok(await readLoginSignal(state, 'prep', 'AWS_PROFILE'));
    assert.equal(await clearLoginSignal(rt(), 'prep', 'AWS_PROFILE', 3_000_000), true);
    assert.equal(await readLoginSignal(state, 'prep', 'AWS_PROFILE'), undefined);
    assert.equal(await clearLoginSignal(rt(), 'prep', 'AWS_PROFILE', 9e15), false);
  });

  it('a new episode after clearing starts fresh', async () => {
    clock.t = 4_000_000;
    await recordLoginRequired(rt(), req());
    const s = await readLoginSignal(state, 'prep', 'AWS_PROFILE');
    assert.equal(s?.count, 1);
    assert.equal(s?.firstTimestamp, 4_000_000);
    assert.equal(s?.lastAttempt, undefined);
  });

  it('listing skips damaged files; clearAll removes everything', async () => {
    await recordLoginRequired(rt(), req({ env: 'prod' }));
    await writeFile(join(signalDir(state), 'login-required-0000000000000000.json'), '{not json');
    const list = await listLoginSignals(state);
    assert.deepEqual(list.map((s) => s.env), ['prep', 'prod']);
    assert.equal(await clearAllLoginSignals(state), 2);
    assert.deepEqual(await listLoginSignals(state), []);
  });

  it('never throws: an unusable state dir only means no signal', async () => {
    const file = join(root, 'not-a-dir');
    await mkdir(root, { recursive: true });
    await writeFile(file, 'x');
    const r = await recordLoginRequired({ paths: { state: join(file, 'keyrack') }, clock } as unknown as Parameters<typeof recordLoginRequired>[0], req());
    assert.equal(r, false);
  });
});
