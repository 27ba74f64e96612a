// The watcher's AWS calls are the robots' hand-built requests (no SDK client is kept or built); KEYRACK_AWS_SDK=1
// sends them through the SDK instead. Either way a pass refreshes, fetches role credentials, proves with STS and
// comes out alive, with the same calls on the wire.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PassCache, watchOnce } from '../../src/watch/probe.js';
import { createHarness, type Harness } from './harness.js';

const WANT = ['CreateToken', 'GetCallerIdentity', 'GetRoleCredentials'];

describe('watch pass: hand-built AWS calls, and the SDK with KEYRACK_AWS_SDK=1', () => {
  const harnesses: Harness[] = [];
  after(async () => {
    for (const h of harnesses) await h.close();
  });

  const pass = async (env: Record<string, string>) => {
    // 20-minute tokens: the first pass is inside the 15-minute refresh window after a 10-minute wait.
    const h = await createHarness({ fixture: { lifetimes: { accessToken: '20m' } }, env });
    harnesses.push(h);
    const at = await h.login();
    await h.unlock(at);
    await h.advance(10 * 60);
    const since = Math.max(0, ...(await h.emu.control.calls()).map((c) => c.seq));
    const report = await watchOnce({ runtime: h.runtime, log: h.log, config: h.config, notifier: h.notifier, cache: new PassCache(), force: true });
    const calls = await h.emu.control.calls(since);
    return { report, ops: calls.map((c) => c.operation).sort(), agents: new Set(calls.map((c) => c.agent?.split('/')[0])) };
  };

  let hand: Awaited<ReturnType<typeof pass>>;
  let sdk: Awaited<ReturnType<typeof pass>>;
  before(async () => {
    hand = await pass({});
    sdk = await pass({ KEYRACK_AWS_SDK: '1' });
  });

  it('both come out alive after a refresh, with the same calls', () => {
    for (const r of [hand, sdk]) {
      assert.equal(r.report.sessions[0]?.status, 'alive', JSON.stringify(r.report));
      assert.deepEqual(r.ops, WANT);
    }
  });

  it('by default every call is keyrack\'s own request; with KEYRACK_AWS_SDK=1 every call is the SDK\'s', () => {
    assert.deepEqual([...hand.agents], ['keyrack-aws']);
    assert.deepEqual([...sdk.agents], ['aws-sdk-js']);
  });
});
