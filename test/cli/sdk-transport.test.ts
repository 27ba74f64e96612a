// The two hot robot calls are hand-built for start-up speed; KEYRACK_AWS_SDK=1 sends them through the AWS SDK
// clients instead. Both transports must give the same answers and the same failure classification.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSandbox, lastSeq, type Sandbox } from '../helpers/keyrack.js';

describe('AWS transport: hand-built requests and the SDK agree', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox();
    assert.equal((await sb.unlock()).code, 0);
  });
  after(async () => sb.close());

  const cold = async (env: Record<string, string>) => {
    await rm(join(sb.home, '.aws', 'cli', 'cache'), { recursive: true, force: true });
    const since = await lastSeq(sb);
    const r = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--format', 'json'], { env: { KEYRACK_VALIDATION_TTL: '0', KEYRACK_FAST_PATH: '0', ...env } });
    const calls = await sb.emu.control.calls(since);
    return { r, ops: calls.map((c) => c.operation), agents: new Set(calls.map((c) => (c as { agent?: string }).agent?.split('/')[0])) };
  };

  it('same identity and the same AWS calls either way', async () => {
    const hand = await cold({});
    const sdk = await cold({ KEYRACK_AWS_SDK: '1' });
    assert.equal(hand.r.code, 0, hand.r.stderr);
    assert.equal(sdk.r.code, 0, sdk.r.stderr);
    const id = (s: string) => (JSON.parse(s) as { identity: { arn: string } }).identity.arn;
    assert.equal(id(sdk.r.stdout), id(hand.r.stdout));
    assert.deepEqual([...sdk.ops].sort(), [...hand.ops].sort());
    assert.ok(sdk.ops.includes('GetRoleCredentials') && sdk.ops.includes('GetCallerIdentity'));
    // And they really were different clients on the wire.
    assert.ok(hand.agents.has('keyrack-aws'), [...hand.agents].join(','));
    assert.ok(!sdk.agents.has('keyrack-aws') && sdk.agents.has('aws-sdk-js'), [...sdk.agents].join(','));
  });

  it('an outage is unavailable (exit 4) through the SDK too', async () => {
    await sb.emu.control.fault({ operation: 'GetRoleCredentials', count: 10, status: 503, errorType: 'ServiceUnavailableException' });
    try {
      const { r } = await cold({ KEYRACK_AWS_SDK: '1' });
      assert.equal(r.code, 4, r.stderr);
    } finally {
      await sb.emu.control.clearFaults();
    }
  });
});
