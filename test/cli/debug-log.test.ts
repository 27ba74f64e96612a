// KEYRACK_DEBUG=1: one line per AWS call (operation, outcome, attempts, duration), per lock wait and per cache
// decision, all through the redactor. The sandbox helper fails any run whose stderr carries the emulator's secret
// marker; these tests also look for the exact secrets on disk, and unit-test the redactor on its own.
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { tokenCacheKey } from '../../src/aws/cache-keys.js';
import { createLogger, Redactor } from '../../src/core/log.js';
import { createSandbox, tokenFile, type RunResult, type Sandbox } from '../helpers/keyrack.js';

const KEY = tokenCacheKey({ session: 'acme' });
const lockPath = (sb: Sandbox) => join(sb.home, '.local', 'state', 'keyrack', 'locks', `sso-${KEY}.lock`);
const DEBUG = { KEYRACK_DEBUG: '1' };

/** Every secret keyrack holds on disk right now: none may appear in a debug log. */
async function secretsOnDisk(sb: Sandbox): Promise<string[]> {
  const t = JSON.parse(await readFile(tokenFile(sb), 'utf8')) as Record<string, string>;
  const out = [t.accessToken, t.refreshToken, t.clientSecret].filter((x): x is string => !!x);
  const dir = join(sb.home, '.aws', 'cli', 'cache');
  for (const n of await readdir(dir).catch(() => [] as string[])) {
    const c = (JSON.parse(await readFile(join(dir, n), 'utf8')) as { Credentials: Record<string, string> }).Credentials;
    out.push(c.SecretAccessKey ?? '', c.SessionToken ?? '', c.AccessKeyId ?? '');
  }
  return out.filter(Boolean);
}

function debugLines(r: RunResult): string[] {
  return r.stderr.split('\n').filter((l) => l.startsWith('keyrack[debug]'));
}

async function expireLocally(sb: Sandbox): Promise<void> {
  const t = JSON.parse(await readFile(tokenFile(sb), 'utf8')) as Record<string, string>;
  t.expiresAt = new Date(Date.now() - 1_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  await writeFile(tokenFile(sb), JSON.stringify(t), { mode: 0o600 });
}

describe('the redactor', () => {
  it('scrubs registered values, token shapes, secret-named fields; leaves ids, hashes and paths', () => {
    const r = new Redactor();
    r.register('my-registered-secret-value');
    r.register('short'); // too short to register safely: would scrub ordinary words
    const secretKey = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const text = [
      'registered my-registered-secret-value here',
      'keys AKIAIOSFODNN7EXAMPLE ASIAZZZZZZZZZZZZZZZZ',
      `secret ${secretKey}`,
      'jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-nature',
      'sso aoaAAAAAAAAAAAAAAAAAAAAAAAAAAA aorBBBBBBBBBBBBBBBBBBBBBBBBB',
      'marker xEMUSECRETy',
      `b64 ${'A1b2'.repeat(20)}`,
      '{"accessToken": "plain", "clientSecret":"x y z", "other": "kept"}',
      'form refreshToken=abc&x=1',
      'file 3bb1ad0606315a2d0327168fa7674d716cba411a.json short stays',
    ].join('\n');
    const out = r.redact(text);
    for (const gone of ['my-registered-secret-value', 'AKIAIOSFODNN7EXAMPLE', 'ASIAZZZZ', secretKey, 'eyJhbGci', 'aoaAAAA', 'aorBBBB', 'EMUSECRET', 'A1b2A1b2', 'plain', 'x y z', 'abc&']) {
      assert.ok(!out.includes(gone), `${gone} survived:\n${out}`);
    }
    for (const kept of ['"other": "kept"', '3bb1ad0606315a2d0327168fa7674d716cba411a.json', 'short stays', 'registered', 'x=1']) assert.ok(out.includes(kept), `${kept} lost:\n${out}`);
  });

  it('the logger writes nothing unless enabled; lines are prefixed, data is JSON, nothing throws', () => {
    const lines: string[] = [];
    createLogger({ enabled: false, write: (l) => lines.push(l) }).debug('hidden', { a: 1 });
    assert.equal(lines.length, 0);
    const log = createLogger({ enabled: true, write: (l) => lines.push(l) });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    log.debug('shown', { n: 1, token: 'aoaCCCCCCCCCCCCCCCCCCCCCCCCCCCC' });
    log.debug('odd', circular);
    log.debug('error', { e: new Error('aoaDDDDDDDDDDDDDDDDDDDDDDDD leaked in a message') });
    assert.match(lines[0] ?? '', /^keyrack\[debug\] \+\d+ms shown \{"n":1,"token":"\[redacted\]"\}\n$/);
    assert.match(lines[1] ?? '', /unserialisable/);
    assert.match(lines[2] ?? '', /\{"e":"\[Error\]"\}/);
  });
});

describe('KEYRACK_DEBUG=1 grant', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox();
    assert.equal((await sb.unlock()).code, 0);
  });
  after(async () => sb.close());

  it('a validation logs token state, each AWS call (operation, outcome, attempts, duration) and the result', async () => {
    const r = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep'], { env: DEBUG });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'acme.prep\n', 'debug output never goes to stdout');
    const lines = debugLines(r);
    assert.equal(lines.length, r.stderr.trimEnd().split('\n').length, 'stderr holds debug lines only');
    assert.ok(lines.some((l) => /validation cache: miss \(none\)/.test(l)));
    assert.ok(lines.some((l) => /sso token: valid \{"sso":"acme","left":"\d/.test(l)));
    assert.ok(lines.some((l) => /aws ListAccounts ok \{"http":200,"attempts":1,"retryDelayMs":0,"took":"\d+ms"\}/.test(l)));
    assert.ok(lines.some((l) => /aws GetCallerIdentity ok \{"http":200,"attempts":1/.test(l)));
    assert.ok(lines.some((l) => /grant: validated with AWS/.test(l)));
    const secrets = await secretsOnDisk(sb);
    for (const s of secrets) assert.ok(!r.stderr.includes(s), 'a secret from disk is in the debug log');
  });

  it('a cache hit says so and makes no call', async () => {
    const r = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep'], { env: DEBUG });
    const lines = debugLines(r);
    assert.ok(lines.some((l) => /validation cache: hit \{"env":"prep","key":"AWS_PROFILE","ageMs":\d+,"ttlMs":30000\}/.test(l)), r.stderr);
    assert.ok(!lines.some((l) => l.includes(' aws ')));
  });

  it('a failing call logs the error name, HTTP status and the retries, never the body', async () => {
    await sb.emu.control.fault({ operation: 'GetCallerIdentity', status: 503, errorType: 'ServiceUnavailable', message: 'body text aoaEEEEEEEEEEEEEEEEEEEEEEE', count: 10 });
    try {
      const r = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep'], { env: { ...DEBUG, KEYRACK_VALIDATION_TTL: '0' } });
      assert.equal(r.code, 4);
      assert.ok(debugLines(r).some((l) => /aws GetCallerIdentity failed \{"error":"ServiceUnavailable","http":503,"attempts":3,"retryDelayMs":\d+,"took":"\d+ms"\}/.test(l)), r.stderr);
      assert.ok(!r.stderr.includes('body text'));
      assert.ok(debugLines(r).some((l) => /grant refused \{"reason":"unavailable"/.test(l)));
    } finally {
      await sb.emu.control.clearFaults();
    }
  });

  it('a refresh, and a second process waiting on the refresh lock, are logged; --credentials stays off stderr', async () => {
    await expireLocally(sb);
    // The holder's refresh is slowed so the second grant surely finds the lock taken.
    await sb.emu.control.fault({ operation: 'CreateToken', delayMs: 1_500, count: 1 });
    const holder = sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--credentials'], { env: { ...DEBUG, KEYRACK_VALIDATION_TTL: '0' }, secretsOnStdout: true });
    for (let i = 0; i < 400; i++) {
      if (await readFile(lockPath(sb), 'utf8').then((t) => t.length > 0, () => false)) break;
      await sleep(10);
    }
    const waiter = sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--credentials'], { env: { ...DEBUG, KEYRACK_VALIDATION_TTL: '0' }, secretsOnStdout: true });
    const [h, w] = await Promise.all([holder, waiter]);
    assert.equal(h.code, 0, h.stderr);
    assert.equal(w.code, 0, w.stderr);
    const hl = debugLines(h);
    assert.ok(hl.some((l) => /sso token: due for refresh/.test(l)));
    assert.ok(hl.some((l) => /aws CreateToken ok \{"http":200,"attempts":1/.test(l)), h.stderr);
    assert.ok(hl.some((l) => /sso token refreshed and written/.test(l)));
    assert.ok(hl.some((l) => /role credentials: from the AWS CLI cache/.test(l)));
    const wl = debugLines(w);
    assert.ok(wl.some((l) => /waiting for the refresh lock \{"sso":"acme","lock":".*\.lock"\}/.test(l)), w.stderr);
    assert.ok(wl.some((l) => /refresh lock acquired \{"sso":"acme","waitedMs":\d+\}/.test(l)));
    assert.ok(wl.some((l) => /refreshed by another process meanwhile/.test(l)));
    assert.ok(!wl.some((l) => l.includes('aws CreateToken')), 'the waiter did not refresh');
    const secrets = await secretsOnDisk(sb);
    for (const r of [h, w]) {
      for (const s of secrets) assert.ok(!r.stderr.includes(s), 'a secret from disk is in the debug log');
      assert.ok(r.stdout.includes('SecretAccessKey'), 'the credentials went to stdout, as asked');
    }
  });
});
