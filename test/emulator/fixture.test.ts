// Fixture loading and validation, the built-in default, and the `keyrack emulator` command (built binary).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { defaultFixture, loadFixture, normalizeFixture, parseDuration, SECRET_MARKER } from '../../src/emulator/index.js';
import { ControlClient, START_URL, startTestEmulator } from '../helpers/emulator.js';

const YAML_FIXTURE = `# a two-person org
startUrl: https://d-9876543210.awsapps.com/start
region: eu-west-1
sessionDuration: 12h
lifetimes:
  accessToken: 15m
  roleCredentials: 2h
deviceInterval: 2
accounts:
  - { id: 210987654321, name: lab, email: lab@example.org }
users:
  - name: carol
    assignments:
      - { accountId: 210987654321, roleName: Admin }
roles:
  - arn: arn:aws:iam::210987654321:role/deploy
    maxSessionDuration: 4h
    trust: { principals: [sso, "210987654321"] }
`;

describe('fixture', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keyrack-fixture-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('durations: seconds, 90d, 1h, 15m, 30s, combinations', () => {
    assert.equal(parseDuration(3600), 3600);
    assert.equal(parseDuration('3600'), 3600);
    assert.equal(parseDuration('90d'), 90 * 86400);
    assert.equal(parseDuration('1h'), 3600);
    assert.equal(parseDuration('15m'), 900);
    assert.equal(parseDuration('30s'), 30);
    assert.equal(parseDuration('1h30m'), 5400);
    assert.equal(parseDuration('1.5h'), undefined);
    assert.equal(parseDuration('soon'), undefined);
    assert.equal(parseDuration(-1), undefined);
  });

  test('the built-in fixture', () => {
    assert.equal(defaultFixture.startUrl, START_URL);
    assert.equal(defaultFixture.region, 'us-east-1');
    assert.equal(defaultFixture.sessionDuration, 8 * 3600);
    assert.deepEqual(defaultFixture.lifetimes, { accessToken: 3600, registration: 90 * 86400, roleCredentials: 3600, deviceCode: 600, authCode: 300 });
    assert.equal(defaultFixture.deviceInterval, 1);
    assert.deepEqual(defaultFixture.accounts.map((a) => `${a.id}:${a.name}`), ['111122223333:acme-prep', '444455556666:acme-prod']);
    assert.deepEqual(normalizeFixture(defaultFixture), defaultFixture, 'a valid fixture normalises to itself');
  });

  test('YAML file: durations, numeric account ids, defaults for the rest', async () => {
    const path = join(dir, 'org.yaml');
    await writeFile(path, YAML_FIXTURE);
    const f = await loadFixture(path);
    assert.equal(f.region, 'eu-west-1');
    assert.equal(f.sessionDuration, 12 * 3600);
    assert.equal(f.lifetimes.accessToken, 900);
    assert.equal(f.lifetimes.registration, 90 * 86400, 'unset lifetimes keep their default');
    assert.equal(f.accounts[0]?.id, '210987654321');
    assert.equal(f.users[0]?.email, 'carol@example.com');
    assert.deepEqual(f.roles[0]?.trust, { principals: ['sso', '210987654321'], webIdentity: [] });
    assert.equal(f.roles[0]?.maxSessionDuration, 4 * 3600);
    const json = join(dir, 'org.json');
    await writeFile(json, JSON.stringify({ users: [{ name: 'dave', email: 'd@example.com', assignments: [] }] }));
    assert.deepEqual((await loadFixture(json)).users.map((u) => u.name), ['dave']);
  });

  test('invalid fixtures fail with the offending field named', async () => {
    const cases: [unknown, RegExp][] = [
      ['just a string', /\(root\): must be a mapping/],
      [{ starturl: 'x' }, /starturl: unknown field/],
      [{ startUrl: 'http://insecure/start' }, /startUrl: .* is not an https URL/],
      [{ region: 'mars' }, /region: /],
      [{ sessionDuration: 'forever' }, /sessionDuration: "forever" is not a duration/],
      [{ sessionDuration: '91d' }, /sessionDuration: must be between/],
      [{ lifetimes: { acessToken: '1h' } }, /lifetimes\.acessToken: unknown field/],
      [{ users: [{ name: 'eve', assignments: [{ accountId: '999999999999', roleName: 'X' }] }] }, /users\[0\]\.assignments\[0\]\.accountId: unknown account 999999999999/],
      [{ users: [{ name: 'eve' }, { name: 'eve' }] }, /users\[1\]\.name: duplicate user eve/],
      [{ accounts: [{ id: '12', name: 'x', email: 'x@y' }] }, /accounts\[0\]\.id: "12" is not a 12-digit account id/],
      [{ roles: [{ arn: 'arn:aws:iam::111122223333:user/bob' }] }, /roles\[0\]\.arn: .* is not an IAM role ARN/],
      [{ roles: [{ arn: 'arn:aws:iam::111122223333:role/r', trust: { principals: ['everyone'] } }] }, /roles\[0\]\.trust\.principals\[0\]/],
      [{ roles: [{ arn: 'arn:aws:iam::111122223333:role/r', trust: { webIdentity: [{ issuer: 'https://x.example' }] } }] }, /roles\[0\]\.trust\.webIdentity\[0\]\.issuer: unknown issuer/],
      [{ webIdentityProviders: [{ issuer: 'https://x.example', audiences: ['a'], jwks: { keys: [{ kty: 'oct', k: 'x' }] } }] }, /webIdentityProviders\[0\]\.jwks\.keys\[0\]\.kty/],
    ];
    for (const [input, message] of cases) {
      assert.throws(() => normalizeFixture(input, 'f.yaml'), (e: Error & { code?: string; location?: string }) => {
        assert.match(e.message, message);
        assert.equal(e.code, 'emulator.fixture-invalid');
        assert.equal(e.location, 'f.yaml');
        return true;
      });
    }
    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, 'users: [unclosed');
    await assert.rejects(loadFixture(broken), /not valid YAML\/JSON/);
    await assert.rejects(loadFixture(join(dir, 'missing.yaml')), /cannot read/);
  });

  test('a loaded fixture drives the emulator', async () => {
    const path = join(dir, 'org2.yaml');
    await writeFile(path, YAML_FIXTURE);
    const emu = await startTestEmulator({ fixture: await loadFixture(path) });
    try {
      const f = await emu.control.fixture();
      assert.equal(f.startUrl, 'https://d-9876543210.awsapps.com/start');
      assert.deepEqual(f.users[0]?.assignments, [{ accountId: '210987654321', accountName: 'lab', roleName: 'Admin' }]);
    } finally {
      await emu.close();
    }
  });

  test('keyrack emulator: one "listening on" line, serves the fixture, stops on SIGTERM', async () => {
    const path = join(dir, 'cli.yaml');
    await writeFile(path, YAML_FIXTURE);
    const child = spawn(process.execPath, ['bin/keyrack.cjs', 'emulator', '--fixture', path, '--auto-approve', 'carol'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = new Promise<number | null>((r) => child.on('close', r));
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no listening line; stderr: ${stderr}`)), 10_000);
      child.stdout.setEncoding('utf8').on('data', (c: string) => {
        stdout += c;
        const m = /^listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(stdout);
        if (m?.[1]) {
          clearTimeout(t);
          resolve(m[1]);
        }
      });
      child.on('close', () => reject(new Error(`exited early; stderr: ${stderr}`)));
    });
    const f = await new ControlClient(url).fixture();
    assert.equal(f.region, 'eu-west-1');
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.equal(stdout, `listening on ${url}\n`);
    assert.ok(!stdout.includes(SECRET_MARKER) && !stderr.includes(SECRET_MARKER), 'no secret printed');

    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'users:\n  - name: x\n    assignments: [{ accountId: 999999999999, roleName: A }]\n');
    const fail = spawn(process.execPath, ['bin/keyrack.cjs', 'emulator', '--fixture', bad], { stdio: ['ignore', 'pipe', 'pipe'] });
    let failErr = '';
    fail.stderr.setEncoding('utf8').on('data', (c: string) => (failErr += c));
    assert.equal(await new Promise((r) => fail.on('close', r)), 2);
    assert.match(failErr, /users\[0\]\.assignments\[0\]\.accountId: unknown account 999999999999/);
  });
});
