import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from '../../src/core/duration.js';
import { KeyrackError } from '../../src/core/errors.js';

test('parseDuration: accepted forms', () => {
  const cases: Array<[string, number]> = [
    ['30s', 30],
    ['15m', 900],
    ['12h', 43_200],
    ['90d', 7_776_000],
    ['1h30m', 5_400],
    ['1d2h3m4s', 93_784],
    ['0s', 0],
    [' 15m ', 900],
    ['90m', 5_400],
  ];
  for (const [input, seconds] of cases) assert.equal(parseDuration(input), seconds, input);
});

test('parseDuration: garbage is refused with a clear, stable error', () => {
  const bad = ['', '15', '15M', '1.5h', '-5m', '30m1h', '1h1h', 'h', '15 m', 'PT15M', '15min', '1h 30m', 'abc', '9'.repeat(40) + 'd'];
  for (const input of bad) {
    assert.throws(
      () => parseDuration(input, 'max_duration'),
      (e: unknown) =>
        e instanceof KeyrackError &&
        e.code === 'duration.invalid' &&
        e.reason === 'invalid-input' &&
        e.message.startsWith('max_duration is not a duration') &&
        typeof e.fix === 'string' &&
        e.fix.includes('1h30m'),
      JSON.stringify(input),
    );
  }
});

test('parseDuration: a bare number says a unit is required', () => {
  assert.throws(() => parseDuration('900'), /a unit is required/);
});

test('parseDuration: the input is never echoed (it may be a pasted secret)', () => {
  const planted = 'hunter2Xy9q';
  try {
    parseDuration(planted);
    assert.fail('expected a throw');
  } catch (e) {
    assert.ok(e instanceof KeyrackError);
    assert.ok(!e.message.includes(planted) && !(e.fix ?? '').includes(planted));
  }
});

test('formatDuration: largest units first, round-trips', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(30), '30s');
  assert.equal(formatDuration(900), '15m');
  assert.equal(formatDuration(5_400), '1h30m');
  assert.equal(formatDuration(43_200), '12h');
  assert.equal(formatDuration(7_776_000), '90d');
  assert.equal(formatDuration(93_784), '1d2h3m4s');
  assert.equal(formatDuration(59.9), '59s');
  for (const s of [1, 61, 3_599, 3_601, 86_399, 86_401, 1_000_000]) assert.equal(parseDuration(formatDuration(s)), s);
  assert.throws(() => formatDuration(-1), RangeError);
  assert.throws(() => formatDuration(Number.NaN), RangeError);
});
