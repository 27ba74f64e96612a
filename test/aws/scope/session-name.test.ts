// RoleSessionName / SourceIdentity: valid names pass unchanged; everything else becomes a valid, distinct name.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KeyrackError } from '../../../src/core/errors.js';
import { roleSessionName, SESSION_NAME_RE, sessionNameFromArn, sourceIdentity, tagValue } from '../../../src/aws/scope/session-name.js';

const HASHED = /^[A-Za-z0-9_+=,.@-]+-[0-9a-f]{10}$/;

describe('roleSessionName', () => {
  const unchanged = ['build-4711', 'ab', 'deploy@2025.01.02', 'a_b+c=d,e.f@g-h', 'x'.repeat(64)];
  for (const id of unchanged) {
    test(`valid as is: ${id.length > 20 ? `${id.slice(0, 10)}… (${id.length})` : id}`, () => {
      assert.deepEqual(roleSessionName(id), { value: id, changed: false, truncated: false });
    });
  }

  const table: { name: string; id: string; readable: string }[] = [
    { name: 'spaces and slashes', id: 'nightly run / shard 3', readable: 'nightly-run-shard-3' },
    { name: 'colons and hashes', id: 'gh:acme/app#1234', readable: 'gh-acme-app-1234' },
    { name: 'accents transliterated', id: 'tâche-été-Ørsted', readable: 'tache-ete-Orsted' },
    { name: 'ß, æ, ł', id: 'Straße æon łódź', readable: 'Strasse-aeon-lodz' },
    { name: 'full-width letters and ligatures', id: 'ＡＢＣ ﬁle', readable: 'ABC-file' },
    { name: 'emoji replaced', id: 'ship 🚀 it', readable: 'ship-it' },
    { name: 'leading and trailing junk trimmed', id: '  //task//  ', readable: 'task' },
    { name: 'one character padded by the hash', id: '7', readable: '7' },
    { name: 'nothing readable left', id: '日本語のタスク', readable: 'task' },
    { name: 'control characters', id: 'a\nb\tc\u0000d', readable: 'a-b-c-d' },
  ];
  for (const c of table) {
    test(`sanitised: ${c.name}`, () => {
      const r = roleSessionName(c.id);
      assert.equal(r.changed, true);
      assert.match(r.value, HASHED);
      assert.match(r.value, SESSION_NAME_RE);
      assert.equal(r.value.slice(0, -11), c.readable);
      assert.equal(roleSessionName(c.id).value, r.value, 'deterministic');
    });
  }

  test('long ids are truncated to 64 with a hash, and two long ids sharing a prefix stay distinct', () => {
    const prefix = 'pipeline-acme-monorepo-service-payments-stage-integration-tests-shard-';
    const a = roleSessionName(`${prefix}0001`);
    const b = roleSessionName(`${prefix}0002`);
    for (const r of [a, b]) {
      assert.equal(r.value.length, 64);
      assert.equal(r.truncated, true);
      assert.match(r.value, SESSION_NAME_RE);
      assert.ok(r.value.startsWith(prefix.slice(0, 40)));
    }
    assert.notEqual(a.value, b.value);
  });

  test('a 65-character valid id is truncated too', () => {
    const r = roleSessionName('y'.repeat(65));
    assert.equal(r.value.length, 64);
    assert.equal(r.truncated, true);
  });

  test('ids that sanitise to the same text stay distinct (the hash is of the original)', () => {
    const ids = ['a b', 'a/b', 'a:b', 'a  b', 'á b', 'a-b-'];
    const names = ids.map((id) => roleSessionName(id).value);
    assert.equal(new Set(names).size, ids.length, names.join(' '));
    assert.ok(!names.includes('a-b'), 'a valid id keeps its own name; changed ones never collide with it by text alone');
    assert.equal(roleSessionName('a-b').value, 'a-b');
  });

  test('NFC and NFD spellings of the same id are the same task', () => {
    assert.equal(roleSessionName('caf\u00e9').value, roleSessionName('cafe\u0301').value);
  });

  test('no truncation ever splits into an invalid trailing "-"', () => {
    const r = roleSessionName(`${'a'.repeat(52)}   b`);
    assert.match(r.value, /^a{52}-[0-9a-f]{10}$/);
  });

  test('an empty task id is invalid input', () => {
    for (const id of ['', '   ']) {
      assert.throws(() => roleSessionName(id), (e: unknown) => e instanceof KeyrackError && e.reason === 'invalid-input' && e.code === 'scope.empty-name');
    }
  });
});

describe('sourceIdentity', () => {
  test('SSO user names (often emails) pass unchanged', () => {
    assert.equal(sourceIdentity('alice').value, 'alice');
    assert.equal(sourceIdentity('alice.smith@example.com').value, 'alice.smith@example.com');
  });
  test('same rules: unicode, length; never starts with aws:', () => {
    assert.match(sourceIdentity('José Núñez').value, /^Jose-Nunez-[0-9a-f]{10}$/);
    const r = sourceIdentity('aws:admin');
    assert.ok(!r.value.toLowerCase().startsWith('aws:'));
    assert.match(r.value, SESSION_NAME_RE);
    assert.equal(sourceIdentity('u'.repeat(100)).value.length, 64);
    assert.match(sourceIdentity('李').value, /^user-[0-9a-f]{10}$/);
  });
  test('the session name part of an assumed-role ARN', () => {
    assert.equal(sessionNameFromArn('arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Developer_0123456789abcdef/alice@example.com'), 'alice@example.com');
    assert.equal(sessionNameFromArn('arn:aws:iam::111122223333:user/alice'), undefined);
  });
});

describe('tagValue', () => {
  test('keeps unicode letters and allowed punctuation, replaces the rest, caps at 256', () => {
    assert.equal(tagValue('tâche #12: ok/✓'), 'tâche _12: ok/_');
    assert.equal(tagValue('x'.repeat(300)).length, 256);
    assert.equal(tagValue('𝐀'.repeat(200)).length, 256, 'UTF-16 units, never half a character');
  });
});
