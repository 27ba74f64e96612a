// KeyrackError across bundles: the robot commands and the parsers they load lazily are separate builds with their
// own copy of src/core/errors.ts (scripts/build.mjs). An error made by one copy must be a KeyrackError to every
// other copy, or it would be reported as an unexpected internal error (exit 1) instead of its own exit code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyrackError, toKeyrackError } from '../../src/core/errors.js';

describe('KeyrackError', () => {
  it('is recognised across copies of the module, keeping its reason and exit code', async () => {
    // A second instance of the same source file, as a second bundle would have.
    const other = (await import(`../../src/core/errors.ts?copy=${Date.now()}`)) as typeof import('../../src/core/errors.js');
    assert.notEqual(other.KeyrackError, KeyrackError, 'really another class');
    const foreign = new other.KeyrackError({ code: 'keyrack-file.secret', reason: 'invalid-input', message: 'a secret is written in keyrack.yml' });
    assert.ok(foreign instanceof KeyrackError);
    const mine = toKeyrackError(foreign);
    assert.equal(mine, foreign, 'passed through, not wrapped as internal');
    assert.equal(mine.exitCode, 2);
    assert.ok(new KeyrackError({ code: 'x', reason: 'locked', message: 'm' }) instanceof other.KeyrackError);
  });

  it('anything else is not one', () => {
    const look = Object.assign(new Error('m'), { name: 'KeyrackError', code: 'x', reason: 'locked' });
    assert.equal(look instanceof KeyrackError, false, 'a look-alike is not enough');
    assert.equal(toKeyrackError(look).reason, 'internal');
    assert.equal((null as unknown) instanceof KeyrackError, false);
  });
});
