// Duration clamping: keyrack.yml's max_duration, the one-hour role-chaining cap, STS's 15-minute minimum.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KeyrackError } from '../../../src/core/errors.js';
import { chooseDuration, describeClamp } from '../../../src/aws/scope/duration.js';

const H = 3600;

describe('chooseDuration', () => {
  const table: { name: string; requested: number | undefined; max: number; chained: boolean; seconds: number; clampedFrom?: number; reason?: string }[] = [
    { name: 'no request: the declared max', requested: undefined, max: 30 * 60, chained: true, seconds: 1800 },
    { name: 'no request, max over the chaining cap: 1h', requested: undefined, max: 4 * H, chained: true, seconds: H },
    { name: 'no request, not chained: the declared max', requested: undefined, max: 4 * H, chained: false, seconds: 4 * H },
    { name: 'within range: as asked', requested: 1200, max: H, chained: true, seconds: 1200 },
    { name: 'exactly the max', requested: H, max: H, chained: true, seconds: H },
    { name: 'over max_duration', requested: 2 * H, max: 30 * 60, chained: true, seconds: 1800, clampedFrom: 2 * H, reason: 'max_duration' },
    { name: 'over the chaining cap', requested: 2 * H, max: 4 * H, chained: true, seconds: H, clampedFrom: 2 * H, reason: 'role-chaining' },
    { name: 'over max, chained, max equals the cap', requested: 2 * H, max: H, chained: true, seconds: H, clampedFrom: 2 * H, reason: 'max_duration' },
    { name: 'not chained: only max_duration applies', requested: 3 * H, max: 4 * H, chained: false, seconds: 3 * H },
    { name: 'under the STS minimum', requested: 60, max: H, chained: true, seconds: 900, clampedFrom: 60, reason: 'sts-minimum' },
    { name: 'exactly the minimum', requested: 900, max: H, chained: true, seconds: 900 },
  ];
  for (const c of table) {
    test(c.name, () => {
      const d = chooseDuration(c.requested, c.max, { chained: c.chained });
      assert.equal(d.seconds, c.seconds);
      assert.equal(d.clampedFrom, c.clampedFrom);
      assert.equal(d.clampReason, c.reason);
      assert.equal(describeClamp(d) === undefined, c.clampedFrom === undefined);
    });
  }
  test('clamp descriptions say what was asked, what was granted and why', () => {
    assert.equal(describeClamp(chooseDuration(2 * H, 4 * H, { chained: true })), '2h asked, 1h granted: STS caps sessions assumed by role chaining at 1h');
    assert.equal(describeClamp(chooseDuration(2 * H, 1800, { chained: true })), "2h asked, 30m granted: keyrack.yml's max_duration for this key is 30m");
    assert.equal(describeClamp(chooseDuration(300, H, { chained: true })), '5m asked, 15m granted: STS sessions last at least 15m');
  });
  test('nonsense durations are invalid input', () => {
    for (const bad of [0, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => chooseDuration(bad, H, { chained: true }), (e: unknown) => e instanceof KeyrackError && e.reason === 'invalid-input' && e.code === 'scope.bad-duration');
    }
  });
});
