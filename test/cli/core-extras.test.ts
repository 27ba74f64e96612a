// The rest of the core loop's promises: validate, unlock --for, legacy profiles, logout scope, all pages.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tokenCacheKey } from '../../src/aws/cache-keys.js';
import { listAccountsWithRoles } from '../../src/aws/portal.js';
import { DEFAULT_NETWORK } from '../../src/aws/clients.js';
import { defaultFixture, normalizeFixture } from '../../src/emulator/index.js';
import { createSandbox, type Sandbox } from '../helpers/keyrack.js';
import { deviceLogin, startTestEmulator } from '../helpers/emulator.js';

const START = 'https://d-1234567890.awsapps.com/start';

describe('keyrack validate', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox();
  });
  after(async () => sb.close());

  it('exits 0 for a good file and 2 with file:line:col and the fix for a bad one, never echoing a secret', async () => {
    const ok = await sb.run(['validate']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /ok \(2 env\(s\), 2 key\(s\)\)/);
    await sb.writeKeyrackYml('env.prep:\n  AWS_PROFILE:\n    aws: { profile: acme.prep, acount: "111122223333" }\n');
    const bad = await sb.run(['validate']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /keyrack\.yml:3:\d+: .*acount/);
    assert.match(bad.stderr, /^fix: .*account/m);
    await sb.writeKeyrackYml('env.prep:\n  AWS_PROFILE:\n    aws: { profile: acme.prep }  # AKIAIOSFODNN7EXAMPLE\n');
    const secret = await sb.run(['validate']);
    assert.equal(secret.code, 2);
    assert.match(secret.stderr, /keyrack\.yml:3/);
    assert.match(secret.stderr, /references only/);
    assert.doesNotMatch(secret.stderr + secret.stdout, /AKIAIOSFODNN7EXAMPLE/);
  });
});

describe('unlock --for, legacy profiles, logout scope', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox();
  });
  after(async () => sb.close());

  it('unlock --for DURATION closes the keys when it runs out', async () => {
    const t0 = Date.now();
    const u = await sb.unlock(['--env', 'prep', '--for', '1h']);
    assert.equal(u.code, 0, u.stdout);
    assert.match(u.stdout, /unlocked env prep until \S+Z/);
    const recordFile = join(sb.env.XDG_STATE_HOME ?? '', 'keyrack', 'unlocked', 'prep.json');
    const record = JSON.parse(await readFile(recordFile, 'utf8')) as { until: number };
    assert.ok(t0 + 3_600_000 <= record.until && record.until <= Date.now() + 3_600_000, 'an hour from the unlock');
    assert.equal((await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep'])).code, 0);
    // The hour runs out (the record's end moves into the past, no waiting on the wall clock).
    await writeFile(recordFile, JSON.stringify({ ...record, until: Date.now() - 1_000 }), { mode: 0o600 });
    const g = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep']);
    assert.equal(g.code, 3);
    assert.match(g.stderr, /unlock ran out/);
  });

  it('a legacy profile (sso_start_url in the profile) works: device login, token named by SHA-1 of the start URL', async () => {
    await mkdir(join(sb.home, '.aws'), { recursive: true });
    const { appendFile } = await import('node:fs/promises');
    await appendFile(join(sb.home, '.aws', 'config'), `\n[profile legacy.prep]\nsso_start_url = ${START}\nsso_region = us-east-1\nsso_account_id = 111122223333\nsso_role_name = ReadOnly\n`);
    await sb.writeKeyrackYml('env.prep:\n  AWS_RO:\n    aws: { profile: legacy.prep, account: "111122223333", role: ReadOnly }\n');
    const u = await sb.unlock(['--env', 'prep']);
    assert.equal(u.code, 0, u.stdout);
    await stat(join(sb.home, '.aws', 'sso', 'cache', `${tokenCacheKey({ startUrl: START })}.json`));
    assert.equal((await sb.run(['grant', 'AWS_RO'])).stdout, 'legacy.prep\n');
    const cli = await sb.aws(['sts', 'get-caller-identity', '--profile', 'legacy.prep']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /AWSReservedSSO_ReadOnly_/);
  });

  it('lock --logout deletes only the selected sessions’ files; other sessions stay', async () => {
    const other = join(sb.home, '.aws', 'sso', 'cache', `${tokenCacheKey({ session: 'someone-else' })}.json`);
    await writeFile(other, JSON.stringify({ accessToken: 'x', expiresAt: '2099-01-01T00:00:00Z' }), { mode: 0o600 });
    const r = await sb.run(['lock', '--logout']);
    assert.equal(r.code, 0, r.stderr);
    await stat(other);
    const left = await readdir(join(sb.home, '.aws', 'sso', 'cache'));
    assert.ok(!left.includes(`${tokenCacheKey({ startUrl: START })}.json`));
  });
});

describe('list-roles follows every page', () => {
  it('120 accounts across pages of the portal listing all come back, with their roles', async () => {
    const accounts = Array.from({ length: 120 }, (_, i) => ({ id: String(100000000000 + i), name: `acct-${String(i).padStart(3, '0')}`, email: `a${i}@example.com` }));
    const fixture = normalizeFixture({
      ...defaultFixture,
      accounts: [...defaultFixture.accounts, ...accounts],
      users: [{ name: 'carol', email: 'carol@example.com', assignments: accounts.flatMap((a) => [{ accountId: a.id, roleName: 'Developer' }, { accountId: a.id, roleName: 'ReadOnly' }]) }],
    });
    const emu = await startTestEmulator({ fixture });
    try {
      const { accessToken } = await deviceLogin(emu, 'carol');
      const list = await listAccountsWithRoles({ region: 'us-east-1', endpoints: { sso: emu.url }, net: DEFAULT_NETWORK, accessToken }, { subject: 'test', unlockCommand: 'x' });
      assert.equal(list.length, 120);
      assert.ok(list.every((a) => a.roles.join(',') === 'Developer,ReadOnly'));
      const pages = (await emu.control.calls()).filter((c) => c.operation === 'ListAccounts').length;
      assert.ok(pages >= 2, `the listing took ${pages} page(s)`);
    } finally {
      await emu.close();
    }
  });
});
