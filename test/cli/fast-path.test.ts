// The grant fast path (src/cli/fast/grant.ts): a validation-cache hit answered before citty, YAML or the SDK load.
// It must print exactly what the full path prints for the same hit, and step aside (the full path answering, with
// its own checks and refusals) whenever anything it vouches for may have changed. Which path answered is read from
// the audit trail (`detail.fast`), never from timing. Also here: the hand-built AWS requests' building blocks.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { signV4 } from '../../src/aws/sts.js';
import { sha256Hex } from '../../src/cli/fast/sha256.js';
import { readAudit } from '../../src/store/audit.js';
import { createSandbox, KEYRACK_BIN, lastSeq, tokenFile, type RunResult, type Sandbox } from '../helpers/keyrack.js';

const stateDir = (sb: Sandbox) => join(sb.home, '.local', 'state', 'keyrack');
const roleDir = (sb: Sandbox) => join(sb.home, '.aws', 'cli', 'cache');
const configPath = (sb: Sandbox) => join(sb.home, '.aws', 'config');
const userConfig = (sb: Sandbox) => join(sb.home, '.config', 'keyrack', 'config.yml');

const FAST_OFF = { KEYRACK_FAST_PATH: '0' };

interface Answer extends RunResult {
  /** true: the fast path answered; false: the full path did; undefined: no grant was audited */
  fast?: boolean;
}

async function grant(sb: Sandbox, extra: string[] = [], env: Record<string, string | undefined> = {}): Promise<Answer> {
  const before = (await readAudit(stateDir(sb))).length;
  const r = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', ...extra], { env, secretsOnStdout: extra.includes('--credentials') });
  const events = (await readAudit(stateDir(sb))).slice(before).filter((e) => e.command === 'grant' && e.result === 'ok');
  const last = events.at(-1);
  return { ...r, ...(last ? { fast: last.detail?.fast === true } : {}) };
}

/** A full-path grant that validated or hit the cache leaves the record the fast path needs. */
async function prime(sb: Sandbox, extra: string[] = []): Promise<void> {
  const r = await grant(sb, extra, FAST_OFF);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.fast, false);
}

describe('grant fast path', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox();
    assert.equal((await sb.unlock()).code, 0);
  });
  after(async () => sb.close());
  beforeEach(async () => {
    await rm(join(stateDir(sb), 'validated'), { recursive: true, force: true });
    await rm(join(stateDir(sb), 'fast'), { recursive: true, force: true });
    await rm(userConfig(sb), { force: true });
  });

  it('prints byte for byte what the full path prints for the same hit, in every format, calling no AWS', async () => {
    await prime(sb, ['--credentials']);
    const since = await lastSeq(sb);
    const cases: string[][] = [[], ['--format', 'value'], ['--format', 'json'], ['--format', 'shell'], ['--format', 'dotenv'], ['--credentials'], ['--credentials', '--format', 'shell'], ['--credentials', '--format', 'dotenv'], ['--format=json', '--credentials']];
    for (const extra of cases) {
      const fast = await grant(sb, extra);
      const full = await grant(sb, extra, FAST_OFF);
      assert.equal(fast.code, 0, fast.stderr);
      assert.equal(full.code, 0, full.stderr);
      assert.equal(fast.fast, true, `fast path for ${extra.join(' ')}`);
      assert.equal(full.fast, false);
      assert.equal(fast.stdout, full.stdout, `same output for ${extra.join(' ') || '(default)'}`);
      assert.equal(fast.stderr, '');
      assert.equal(full.stderr, '');
    }
    assert.deepEqual(await sb.emu.control.calls(since), [], 'every answer came from the validation cache');
    const json = JSON.parse((await grant(sb, ['--format', 'json'])).stdout) as { cached: boolean; value: string };
    assert.equal(json.cached, true);
    assert.equal(json.value, 'acme.prep');
  });

  it('leaves the audit event of the full path, marked fast', async () => {
    await prime(sb);
    assert.equal((await grant(sb, [], FAST_OFF)).fast, false); // a hit on the full path
    assert.equal((await grant(sb)).fast, true);
    const [full, fast] = (await readAudit(stateDir(sb))).filter((e) => e.command === 'grant').slice(-2);
    assert.ok(full && fast);
    const strip = (e: typeof full) => ({ ...e, time: '', caller: { ...e.caller, pid: 0, ppid: 0, parent: '' }, detail: { ...e.detail, fast: false } });
    assert.deepEqual(strip(fast), strip(full));
  });

  it('an edited keyrack.yml takes the full path: a changed pin is refused there, a harmless edit is served and re-recorded', async () => {
    await prime(sb);
    const yml = await readFile(join(sb.repo, 'keyrack.yml'), 'utf8');
    try {
      await sb.writeKeyrackYml(yml.replace('account: "111122223333"', 'account: "444455556666"'));
      const pinned = await grant(sb, ['--format', 'json']);
      assert.equal(pinned.code, 5, pinned.stderr);
      assert.equal((JSON.parse(pinned.stdout) as { error: { reason: string } }).error.reason, 'mismatch');
      await sb.writeKeyrackYml(`${yml}# a secret must still be refused: aws_secret_access_key = wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n`);
      assert.equal((await grant(sb)).code, 2);
      await sb.writeKeyrackYml(`# edited\n${yml}`);
      await prime(sb);
      const again = await grant(sb);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.fast, true, 'the full path vouched for the edited file');
    } finally {
      await sb.writeKeyrackYml(yml);
    }
  });

  it('an unlock that ran out, or a lock, is refused by the full path (exit 3)', async () => {
    await prime(sb);
    const recordPath = join(stateDir(sb), 'unlocked', 'prep.json');
    const record = await readFile(recordPath, 'utf8');
    try {
      await writeFile(recordPath, JSON.stringify({ ...(JSON.parse(record) as object), until: Date.now() - 1_000 }));
      const ended = await grant(sb, ['--format', 'json']);
      assert.equal(ended.code, 3);
      assert.equal((JSON.parse(ended.stdout) as { error: { code: string } }).error.code, 'unlock.ended');
    } finally {
      await writeFile(recordPath, record);
    }
    assert.equal((await grant(sb)).fast, true);
    assert.equal((await sb.run(['lock', 'aws'])).code, 0);
    assert.equal((await grant(sb)).code, 3);
    assert.equal((await sb.unlock()).code, 0);
  });

  it('a missing SSO token file (aws sso logout) is seen at once: the full path refuses', async () => {
    await prime(sb);
    const token = await readFile(tokenFile(sb), 'utf8');
    try {
      await rm(tokenFile(sb));
      const r = await grant(sb, ['--format', 'json']);
      assert.equal(r.code, 3, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { error: { reason: string } }).error.reason, 'expired');
    } finally {
      await writeFile(tokenFile(sb), token, { mode: 0o600 });
    }
    // The refusal dropped the validation (as any failed validation does): validated again, then fast again.
    assert.equal((await grant(sb)).fast, false);
    assert.equal((await grant(sb)).fast, true);
  });

  it('--credentials: role credentials that are not the validated ones take the full path, which fetches new ones', async () => {
    await prime(sb, ['--credentials']);
    assert.equal((await grant(sb, ['--credentials'])).fast, true);
    await rm(roleDir(sb), { recursive: true, force: true });
    const since = await lastSeq(sb);
    const r = await grant(sb, ['--credentials', '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.fast, false);
    assert.equal((JSON.parse(r.stdout) as { cached: boolean }).cached, false);
    assert.ok((await sb.emu.control.calls(since)).some((c) => c.operation === 'GetRoleCredentials'));
    assert.equal((await grant(sb, ['--credentials'])).fast, true, 'and vouched for the new validation');
  });

  it('a changed ~/.aws/config, user config or TTL setting takes the full path', async () => {
    await prime(sb);
    const config = await readFile(configPath(sb), 'utf8');
    try {
      await writeFile(configPath(sb), `${config}\n[profile unrelated]\nregion = eu-west-1\n`);
      assert.equal((await grant(sb)).fast, false);
      assert.equal((await grant(sb)).fast, true, 'vouched for by the full path that just answered');
    } finally {
      await writeFile(configPath(sb), config);
    }
    await prime(sb);
    await mkdir(join(sb.home, '.config', 'keyrack'), { recursive: true });
    await writeFile(userConfig(sb), 'grant:\n  validation_ttl: 45s\n');
    assert.equal((await grant(sb)).fast, false);
    assert.equal((await grant(sb)).fast, true);
    assert.equal((await grant(sb, [], { KEYRACK_VALIDATION_TTL: '40s' })).fast, false, 'the environment variable differs');
    await writeFile(userConfig(sb), 'sso:\n  acme:\n    token_store: aws-cli\n');
    assert.equal((await grant(sb)).fast, false);
    assert.equal((await grant(sb)).fast, false, 'a session with a named token store is never served by the fast path');
  });

  it('answers at a terminal too (the AWS CLI hands credential_process the user’s), and the audit says tty', async () => {
    await prime(sb);
    const out = join(sb.root, 'tty-grant.out');
    const env = Object.entries(sb.env).map(([k, v]) => `'${k}=${v}'`).join(' ');
    const session = `keyrack-fast-tty-${process.pid}`;
    const cmd = `cd ${sb.repo} && env ${env} ${process.execPath} ${KEYRACK_BIN} grant AWS_PROFILE --env prep > ${out}.tmp 2>&1; echo "exit=$?" >> ${out}.tmp; mv ${out}.tmp ${out}`;
    const before = (await readAudit(stateDir(sb))).length;
    assert.equal(spawnSync('tmux', ['new-session', '-d', '-s', session, '-x', '120', '-y', '20', cmd]).status, 0);
    try {
      let text: string | undefined;
      for (let i = 0; i < 300 && text === undefined; i++) {
        text = await readFile(out, 'utf8').catch(() => undefined);
        if (text === undefined) await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(text, 'acme.prep\nexit=0\n');
    } finally {
      spawnSync('tmux', ['kill-session', '-t', session]);
    }
    const events = (await readAudit(stateDir(sb))).slice(before).filter((e) => e.command === 'grant');
    assert.equal(events.length, 1, 'one audit event for the grant at the terminal');
    assert.equal(events[0]?.detail?.fast, true, 'the fast path answered');
    assert.equal(events[0]?.caller.tty, true, 'stdin was the terminal');
    assert.equal((await grant(sb)).fast, true);
    assert.equal((await readAudit(stateDir(sb))).at(-1)?.caller.tty, false, 'and a pipe is not one');
  });

  it('steps aside for debug logging, other flags and the switch, and the full path answers', async () => {
    await prime(sb);
    const debug = await grant(sb, [], { KEYRACK_DEBUG: '1' });
    assert.equal(debug.fast, false);
    assert.match(debug.stderr, /validation cache: hit/);
    assert.equal((await grant(sb, ['--wait', '1m'])).fast, true, 'on a hit --wait has nothing to wait for');
    const badWait = await grant(sb, ['--wait', 'soon']);
    assert.equal(badWait.code, 2, 'an invalid --wait is the full path’s error');
    assert.equal((await grant(sb, ['--format', 'value', '--credentials'])).code, 2);
    assert.equal((await grant(sb, ['--format', 'yaml'])).code, 2);
    assert.equal((await grant(sb, ['--env', 'prod'])).code, 3, 'another env: no record, the full path refuses');
    assert.equal((await grant(sb, [], { KEYRACK_VALIDATION_TTL: '0' })).fast, false);
  });

  it('bin/keyrack.cjs (the path credential_process lines name) answers as the installed command does, on both paths', async () => {
    await prime(sb, ['--credentials']);
    const cjs = (extra: string[], env: Record<string, string> = {}) =>
      spawnSync(process.execPath, [resolve('bin/keyrack.cjs'), 'grant', 'AWS_PROFILE', '--env', 'prep', ...extra], { cwd: sb.repo, env: { ...sb.env, ...env }, encoding: 'utf8' });
    for (const extra of [['--format', 'json'], ['--credentials', '--format', 'shell']]) {
      const viaBin = await grant(sb, extra);
      const lastGrant = async () => (await readAudit(stateDir(sb))).filter((e) => e.command === 'grant').at(-1);
      const fast = cjs(extra);
      assert.equal((await lastGrant())?.detail?.fast, true, 'the fast path answered');
      const full = cjs(extra, FAST_OFF);
      assert.equal((await lastGrant())?.detail?.fast, undefined, 'the full path answered');
      assert.equal(fast.status, 0, fast.stderr);
      assert.equal(full.status, 0, full.stderr);
      assert.equal(fast.stdout, viaBin.stdout);
      assert.equal(full.stdout, viaBin.stdout);
    }
    const refused = cjs(['--env', 'prod', '--format', 'json']);
    assert.equal(refused.status, 3);
    assert.equal((JSON.parse(refused.stdout) as { error: { reason: string } }).error.reason, 'locked');
  });

  it('a damaged record or validation entry only means the full path', async () => {
    await prime(sb);
    assert.equal((await grant(sb)).fast, true, 'answered by the fast path before the damage');
    for (const dir of ['fast', 'validated']) {
      const names = await readdir(join(stateDir(sb), dir));
      assert.ok(names.length > 0, `something in ${dir} to damage`);
      for (const name of names) await writeFile(join(stateDir(sb), dir, name), '{"version":1,');
    }
    const r = await grant(sb);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.fast, false);
  });
});

describe('the hand-built requests’ building blocks', () => {
  it('sha256Hex (the fast path’s SHA-256) agrees with node:crypto', () => {
    for (let n = 0; n < 200; n++) {
      const b = randomBytes(n);
      assert.equal(sha256Hex(b), createHash('sha256').update(b).digest('hex'));
    }
    for (const s of ['', 'abc', 'é☃😀', 'x'.repeat(10_000)]) assert.equal(sha256Hex(s), createHash('sha256').update(s, 'utf8').digest('hex'));
  });

  it('signV4 reproduces AWS’s published Signature Version 4 example', () => {
    const h = signV4({
      method: 'GET',
      url: new URL('https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08'),
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: '',
      region: 'us-east-1',
      service: 'iam',
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      now: new Date('2015-08-30T12:36:00Z'),
    });
    assert.equal(h['x-amz-date'], '20150830T123600Z');
    assert.equal(
      h.authorization,
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7',
    );
  });
});
