import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findKeyrackFile, selectRefs } from '../../src/core/keyrack-find.js';
import * as viaFile from '../../src/core/keyrack-file.js';
import { parseKeyrackFile } from '../../src/core/keyrack-file.js';
import { KeyrackError } from '../../src/core/errors.js';

/** A fake filesystem: the set of files that exist. */
const fs = (...files: string[]) => {
  const set = new Set(files.map((f) => resolve(f)));
  return (p: string) => set.has(p);
};
const isError = (code: string, check: (e: KeyrackError) => boolean = () => true) => (e: unknown) =>
  e instanceof KeyrackError && e.code === code && e.reason === 'invalid-input' && !!e.fix && check(e);

test('--file wins over KEYRACK_FILE and the search, relative to cwd', () => {
  const exists = fs('/repo/sub/keyrack.yml', '/repo/keyrack.yml', '/elsewhere/k.yml', '/repo/sub/custom.yml');
  assert.equal(findKeyrackFile({ cwd: '/repo/sub', explicit: 'custom.yml', env: { KEYRACK_FILE: '/elsewhere/k.yml' }, exists }), '/repo/sub/custom.yml');
  assert.equal(findKeyrackFile({ cwd: '/repo/sub', explicit: '/elsewhere/k.yml', env: {}, exists }), '/elsewhere/k.yml');
});

test('KEYRACK_FILE wins over the search', () => {
  const exists = fs('/repo/keyrack.yml', '/elsewhere/k.yml');
  assert.equal(findKeyrackFile({ cwd: '/repo', env: { KEYRACK_FILE: '/elsewhere/k.yml' }, exists }), '/elsewhere/k.yml');
  // An empty variable counts as unset, as shells commonly leave it.
  assert.equal(findKeyrackFile({ cwd: '/repo', env: { KEYRACK_FILE: '' }, exists }), '/repo/keyrack.yml');
});

test('an explicit path that does not exist is an error, not a fallback to searching', () => {
  const exists = fs('/repo/keyrack.yml');
  assert.throws(
    () => findKeyrackFile({ cwd: '/repo', explicit: 'nope.yml', env: {}, exists }),
    isError('keyrack-file.not-found', (e) => e.location === '/repo/nope.yml' && e.message.includes('--file')),
  );
  assert.throws(
    () => findKeyrackFile({ cwd: '/repo', env: { KEYRACK_FILE: '/gone.yml' }, exists }),
    isError('keyrack-file.not-found', (e) => e.message.includes('KEYRACK_FILE') && /unset it/.test(e.fix ?? '')),
  );
});

test('the search walks up from cwd like git and takes the nearest file', () => {
  const exists = fs('/repo/keyrack.yml', '/repo/packages/api/keyrack.yml');
  assert.equal(findKeyrackFile({ cwd: '/repo/packages/api/src/deep', env: {}, exists }), '/repo/packages/api/keyrack.yml');
  assert.equal(findKeyrackFile({ cwd: '/repo/packages/web', env: {}, exists }), '/repo/keyrack.yml');
  assert.equal(findKeyrackFile({ cwd: '/repo', env: {}, exists }), '/repo/keyrack.yml');
  assert.equal(findKeyrackFile({ cwd: '/', env: {}, exists: fs('/keyrack.yml') }), '/keyrack.yml');
});

test('the search stops at the filesystem root and says how to fix it', () => {
  const probed: string[] = [];
  const exists = (p: string) => {
    probed.push(p);
    return false;
  };
  assert.throws(
    () => findKeyrackFile({ cwd: '/a/b/c', env: {}, exists }),
    isError('keyrack-file.not-found', (e) => /--file/.test(e.fix ?? '') && /KEYRACK_FILE/.test(e.fix ?? '')),
  );
  assert.deepEqual(probed, ['/a/b/c/keyrack.yml', '/a/b/keyrack.yml', '/a/keyrack.yml', '/keyrack.yml']);
});

test('the default existence check finds real files and ignores directories of that name', () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'keyrack-find-')));
  try {
    mkdirSync(join(dir, 'repo', 'keyrack.yml'), { recursive: true }); // a directory, not the file
    mkdirSync(join(dir, 'repo', 'src'), { recursive: true });
    writeFileSync(join(dir, 'keyrack.yml'), 'env.prep: { K: { aws: { profile: p } } }\n');
    assert.equal(findKeyrackFile({ cwd: join(dir, 'repo', 'src'), env: {} }), join(dir, 'keyrack.yml'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('keyrack-file re-exports the discovery API', () => {
  assert.equal(viaFile.findKeyrackFile, findKeyrackFile);
  assert.equal(viaFile.selectRefs, selectRefs);
});

const TWO_ENVS = parseKeyrackFile(
  `env.prep:
  AWS_PROFILE: { aws: { profile: acme.prep } }
  AWS_OTHER: { aws: { profile: acme.other } }
env.prod:
  AWS_PROFILE: { aws: { profile: acme.prod } }
`,
  'keyrack.yml',
);
const ONE_ENV = parseKeyrackFile('env.dev:\n  AWS_PROFILE: { aws: { profile: dev } }\n', 'keyrack.yml');
const profiles = (refs: ReturnType<typeof selectRefs>) => refs.map((r) => (r.kind === 'profile' ? r.profile : r.roleArn));

test('selectRefs: one env, all its keys in file order, or one key', () => {
  assert.deepEqual(profiles(selectRefs(TWO_ENVS, { env: 'prep' })), ['acme.prep', 'acme.other']);
  assert.deepEqual(profiles(selectRefs(TWO_ENVS, { env: 'env.prod' })), ['acme.prod']);
  assert.deepEqual(profiles(selectRefs(TWO_ENVS, { env: 'prep', key: 'AWS_OTHER' })), ['acme.other']);
});

test('selectRefs: env may be omitted only when the file has a single env', () => {
  assert.deepEqual(profiles(selectRefs(ONE_ENV, {})), ['dev']);
  assert.deepEqual(profiles(selectRefs(ONE_ENV, { key: 'AWS_PROFILE' })), ['dev']);
  assert.throws(
    () => selectRefs(TWO_ENVS, {}),
    isError('keyrack-file.env-required', (e) => e.fix === 'pass --env with one of: prep, prod'),
  );
  assert.throws(() => selectRefs(TWO_ENVS, { key: 'AWS_PROFILE' }), isError('keyrack-file.env-required'));
});

test('selectRefs: unknown env or key names the known ones', () => {
  assert.throws(
    () => selectRefs(TWO_ENVS, { env: 'staging' }),
    isError('keyrack-file.unknown-env', (e) => e.message.includes('"staging"') && e.fix === 'use one of: prep, prod'),
  );
  assert.throws(
    () => selectRefs(TWO_ENVS, { env: 'prep', key: 'AWS_NOPE' }),
    isError('keyrack-file.unknown-key', (e) => e.message.includes('env.prep') && e.fix === 'use one of: AWS_PROFILE, AWS_OTHER'),
  );
  // Inherited object properties are not envs or keys.
  assert.throws(() => selectRefs(TWO_ENVS, { env: 'toString' }), isError('keyrack-file.unknown-env'));
  assert.throws(() => selectRefs(TWO_ENVS, { env: 'prep', key: 'constructor' }), isError('keyrack-file.unknown-key'));
});

test('selectRefs: a name that does not look like one is not echoed', () => {
  const pasted = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCY';
  assert.throws(
    () => selectRefs(TWO_ENVS, { env: pasted }),
    isError('keyrack-file.unknown-env', (e) => !e.message.includes(pasted)),
  );
});
