// The parse cache (src/store/parse-cache.ts): an entry answers only for the same build, path and text; a failed
// parse is never kept; a damaged entry is a miss; entries are private files in a private directory.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cachedParse, type ParseCache } from '../../src/store/parse-cache.js';

describe('parse cache', () => {
  let root: string;
  let cache: ParseCache;
  let parses: string[];
  const parse = (text: string) => async () => {
    parses.push(text);
    if (text.includes('broken')) throw new Error('does not parse');
    return { upper: text.toUpperCase() };
  };
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'keyrack-parse-cache-'));
    cache = { dir: join(root, 'state', 'parsed'), build: 'build-1' };
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('parses once per text: the same path and text come from the cache, a new text is parsed', async () => {
    parses = [];
    assert.deepEqual(await cachedParse(cache, 'demo', '/repo/a.yml', 'one', parse('one')), { upper: 'ONE' });
    assert.deepEqual(await cachedParse(cache, 'demo', '/repo/a.yml', 'one', parse('one')), { upper: 'ONE' });
    assert.deepEqual(parses, ['one']);
    assert.deepEqual(await cachedParse(cache, 'demo', '/repo/a.yml', 'two', parse('two')), { upper: 'TWO' });
    assert.deepEqual(await cachedParse(cache, 'demo', '/repo/b.yml', 'two', parse('two')), { upper: 'TWO' });
    assert.deepEqual(parses, ['one', 'two', 'two'], 'another text, another path: parsed again');
    assert.equal((await stat(cache.dir)).mode & 0o777, 0o700);
    for (const n of await readdir(cache.dir)) assert.equal((await stat(join(cache.dir, n))).mode & 0o777, 0o600);
  });

  it('another build of keyrack parses again', async () => {
    parses = [];
    await cachedParse(cache, 'demo', '/repo/c.yml', 'three', parse('three'));
    await cachedParse({ ...cache, build: 'build-2' }, 'demo', '/repo/c.yml', 'three', parse('three'));
    assert.deepEqual(parses, ['three', 'three']);
  });

  it('a failed parse is not kept; a damaged entry is a miss; no cache at all just parses', async () => {
    parses = [];
    await assert.rejects(cachedParse(cache, 'demo', '/repo/d.yml', 'broken', parse('broken')), /does not parse/);
    await assert.rejects(cachedParse(cache, 'demo', '/repo/d.yml', 'broken', parse('broken')), /does not parse/);
    assert.deepEqual(parses, ['broken', 'broken']);
    await cachedParse(cache, 'demo', '/repo/e.yml', 'four', parse('four'));
    for (const n of await readdir(cache.dir)) await writeFile(join(cache.dir, n), '{not json');
    assert.deepEqual(await cachedParse(cache, 'demo', '/repo/e.yml', 'four', parse('four')), { upper: 'FOUR' });
    await cachedParse(undefined, 'demo', '/repo/e.yml', 'four', parse('four'));
    assert.deepEqual(parses, ['broken', 'broken', 'four', 'four', 'four']);
  });
});
