// The launcher's V8 code cache (src/cli/code-cache.ts) through the installed command: a cold grant leaves one cache
// file per bundle it loaded (0600 in a 0700 directory), a later start accepts it and leaves it alone, and a cache
// that is damaged, not private, or from another build is never a reason to fail: it is replaced. Whether V8
// accepted a file is read from the file itself (left alone, or rewritten), never from timing.
import assert from 'node:assert/strict';
import { chmod, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createSandbox, type Sandbox } from '../helpers/keyrack.js';

const cacheDir = (sb: Sandbox) => join(sb.home, '.cache', 'keyrack', 'code-cache');
const COLD = { KEYRACK_VALIDATION_TTL: '0' };

async function grant(sb: Sandbox, env: Record<string, string> = {}): Promise<string> {
  const r = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep'], { env: { ...COLD, ...env } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  return r.stdout;
}

/** The token, client secret and role credentials this sandbox's session holds. */
async function issuedSecrets(sb: Sandbox): Promise<string[]> {
  const out: string[] = [];
  for (const dir of [join(sb.home, '.aws', 'sso', 'cache'), join(sb.home, '.aws', 'cli', 'cache')]) {
    for (const n of await readdir(dir)) {
      const o = JSON.parse(await readFile(join(dir, n), 'utf8')) as { accessToken?: string; refreshToken?: string; clientSecret?: string; Credentials?: { SecretAccessKey?: string; SessionToken?: string } };
      for (const v of [o.accessToken, o.refreshToken, o.clientSecret, o.Credentials?.SecretAccessKey, o.Credentials?.SessionToken]) if (v) out.push(v);
    }
  }
  return out;
}

const grantFile = async (sb: Sandbox) => {
  const name = (await readdir(cacheDir(sb))).find((n) => n.endsWith('-grant.cjs.bin'));
  assert.ok(name, 'a cache file for the grant bundle');
  return join(cacheDir(sb), name);
};

describe('code cache of the command bundles', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox();
    assert.equal((await sb.unlock()).code, 0);
  });
  after(async () => sb.close());
  beforeEach(async () => {
    // No cache, and no validation a grant could answer from without loading the bundles.
    for (const dir of [join(sb.home, '.cache'), join(sb.home, '.local', 'state', 'keyrack', 'validated'), join(sb.home, '.local', 'state', 'keyrack', 'fast')]) await rm(dir, { recursive: true, force: true });
  });

  it('is written by a cold grant, private, and then used as it is', async () => {
    const out = await grant(sb);
    const names = (await readdir(cacheDir(sb))).sort();
    assert.ok(names.some((n) => n.endsWith('-citty.cjs.bin')), names.join(' '));
    assert.ok(names.every((n) => n.startsWith(names[0]!.split('-v')[0]!) && n.includes(`-${process.version}-${process.arch}-`)), `one build, this Node: ${names.join(' ')}`);
    assert.equal((await stat(cacheDir(sb))).mode & 0o777, 0o700);
    const file = await grantFile(sb);
    const first = await stat(file);
    assert.equal(first.mode & 0o777, 0o600);
    assert.ok(first.size > 10_000, 'V8 wrote compiled code');
    // Compiled code and the source's constants only (the source names the emulator's marker in a redaction
    // pattern), never a value the run handled.
    const secrets = await issuedSecrets(sb);
    assert.ok(secrets.length >= 4);
    for (const n of names) {
      const bytes = (await readFile(join(cacheDir(sb), n))).toString('latin1');
      for (const value of secrets) assert.ok(!bytes.includes(value), `${n} holds a secret of this run`);
    }

    assert.equal(await grant(sb), out, 'same answer with the cache');
    const second = await stat(file);
    assert.equal(second.ino, first.ino, 'an accepted cache is not rewritten');
    assert.equal(second.mtimeMs, first.mtimeMs);
  });

  it('grows to the paths taken: a cache made on a validation-cache hit gains the validation when one runs', async () => {
    const validated = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep']); // leaves a validation to hit
    assert.equal(validated.code, 0, validated.stderr);
    await rm(join(sb.home, '.cache'), { recursive: true, force: true });
    const hit = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep'], { env: { KEYRACK_FAST_PATH: '0' } });
    assert.equal(hit.code, 0, hit.stderr);
    const file = await grantFile(sb);
    const small = await stat(file);
    await grant(sb); // validates with AWS: functions the hit never ran
    const grown = await stat(file);
    assert.ok(grown.size > small.size + 1024, `grew from ${small.size} to ${grown.size} bytes`);
    await assert.rejects(stat(`${file}.settled`), { code: 'ENOENT' }, 'still growing: checked at every exit');
    await grant(sb);
    assert.equal((await stat(file)).ino, grown.ino, 'the same path again adds nothing: not rewritten');
    await stat(`${file}.settled`); // and from now on it is not checked
    await writeFile(file, Buffer.alloc(4096, 7), { mode: 0o600 });
    await grant(sb);
    assert.ok((await stat(file)).size > 10_000, 'a damaged cache is made again');
    await assert.rejects(stat(`${file}.settled`), { code: 'ENOENT' }, 'a new cache grows again');
  });

  it('a settled cache is not checked again for a day; then a path first taken meanwhile joins it', async () => {
    const validated = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep']); // leaves a validation to hit
    assert.equal(validated.code, 0, validated.stderr);
    await rm(join(sb.home, '.cache'), { recursive: true, force: true });
    const hit = () => sb.run(['grant', 'AWS_PROFILE', '--env', 'prep'], { env: { KEYRACK_FAST_PATH: '0' } });
    assert.equal((await hit()).code, 0);
    assert.equal((await hit()).code, 0); // the same path again: settled
    const file = await grantFile(sb);
    const settled = await stat(file);
    await stat(`${file}.settled`);
    await grant(sb); // validates: new functions, but a settled cache is not checked
    assert.equal((await stat(file)).mtimeMs, settled.mtimeMs, 'not checked within the day');
    const dayAgo = new Date(Date.now() - 25 * 3600_000);
    await utimes(`${file}.settled`, dayAgo, dayAgo);
    await grant(sb);
    assert.ok((await stat(file)).size > settled.size + 1024, 'checked again after a day: the validation joined the cache');
    await assert.rejects(stat(`${file}.settled`), { code: 'ENOENT' });
  });

  it('replaces a damaged cache and still answers the same', async () => {
    const out = await grant(sb);
    const file = await grantFile(sb);
    const junk = Buffer.alloc(4096, 7);
    await writeFile(file, junk, { mode: 0o600 });
    assert.equal(await grant(sb), out);
    assert.notDeepEqual(await readFile(file), junk, 'V8 rejected it, so it was written again');
  });

  it('ignores a cache file others may write, and replaces it with a private one', async () => {
    await grant(sb);
    const file = await grantFile(sb);
    await chmod(file, 0o666);
    const before = await stat(file);
    await grant(sb);
    const after = await stat(file);
    assert.notEqual(after.ino, before.ino, 'not used: replaced');
    assert.equal(after.mode & 0o777, 0o600);
    assert.ok((await readFile(file)).length > 10_000);
  });

  it('removes files of other builds when it writes', async () => {
    await grant(sb);
    const old = join(cacheDir(sb), 'feedface-v0.0.0-x64-grant.cjs.bin');
    await writeFile(old, 'old build', { mode: 0o600 });
    await rm(await grantFile(sb));
    await grant(sb);
    await assert.rejects(stat(old), { code: 'ENOENT' });
    await grantFile(sb);
  });

  it('is off with KEYRACK_CODE_CACHE=0, and a warm grant (the fast path) never touches it', async () => {
    await grant(sb, { KEYRACK_CODE_CACHE: '0' });
    await assert.rejects(stat(join(sb.home, '.cache', 'keyrack')), { code: 'ENOENT' });
    const validated = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep']); // full path: leaves the fast path's record
    assert.equal(validated.code, 0, validated.stderr);
    await grantFile(sb);
    await rm(join(sb.home, '.cache'), { recursive: true, force: true });
    const again = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep']);
    assert.equal(again.code, 0, again.stderr);
    await assert.rejects(stat(join(sb.home, '.cache', 'keyrack')), { code: 'ENOENT' }, 'the fast path answered without loading a bundle');
  });
});
