// The core loop end to end: the real keyrack binary, a sandboxed HOME, the in-process emulator.
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSandbox, tokenFile, type Sandbox } from '../helpers/keyrack.js';
import { tokenCacheKey } from '../../src/aws/cache-keys.js';


describe('core loop: unlock, grant, exec, list-roles, status, lock', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox();
  });
  after(async () => sb.close());

  it('grant before any unlock is refused as locked, exit 3, with the command to run', async () => {
    const r = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep']);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /locked/);
    assert.match(r.stderr, /^fix: a human runs: keyrack unlock aws --env prep$/m);
  });

  it('unlock refuses to run without an interactive terminal', async () => {
    const r = await sb.run(['unlock', 'aws', '--env', 'prep'], { human: false });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /interactive terminal/);
  });

  it('unlock in a terminal signs in with a device code, writes the profile and AWS-CLI caches, prints the tree', async () => {
    const t0 = Date.now();
    const r = await sb.unlock();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /enter the code: [A-Z]{4}-[A-Z]{4}/);
    assert.match(r.stdout, /unlocked env prep/);
    assert.match(r.stdout, /AWS_PROFILE → acme\.prep/);
    assert.match(r.stdout, /arn:aws:sts::111122223333:assumed-role\/AWSReservedSSO_Developer_[0-9a-f]{16}\/alice/);
    assert.match(r.stdout, /signed in \(device code\)/);
    const config = await readFile(join(sb.home, '.aws', 'config'), 'utf8');
    assert.match(config, /\[sso-session acme\]\nsso_start_url = https:\/\/d-1234567890\.awsapps\.com\/start\nsso_region = us-east-1/);
    assert.match(config, /\[profile acme\.prep\]\nsso_session = acme\nsso_account_id = 111122223333\nsso_role_name = Developer/);
    const st = await stat(tokenFile(sb));
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal((await stat(join(sb.home, '.aws', 'sso', 'cache'))).mode & 0o777, 0o700);
    const token = JSON.parse(await readFile(tokenFile(sb), 'utf8')) as Record<string, unknown>;
    for (const k of ['startUrl', 'region', 'accessToken', 'expiresAt', 'clientId', 'clientSecret', 'registrationExpiresAt', 'refreshToken']) assert.ok(k in token, k);
    assert.match(String(token.expiresAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // The sign-in time is recorded (no secret) so the watcher can warn ahead of the session's end.
    const { readLoginRecord } = await import('../../src/watch/state.js');
    const login = await readLoginRecord(join(sb.env.XDG_STATE_HOME ?? '', 'keyrack'), tokenCacheKey({ session: 'acme' }));
    assert.ok(login && t0 <= login.loginAt && login.loginAt <= Date.now(), 'signed in during this unlock');
    assert.equal(login.source, 'recorded');
  });

  it('grant prints the reference by default, so AWS_PROFILE=$(keyrack grant …) works', async () => {
    const r = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'acme.prep\n');
    assert.equal(r.stderr, '');
  });

  it('grant --format shell | dotenv | json', async () => {
    assert.equal((await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--format', 'shell'])).stdout, "export AWS_PROFILE='acme.prep'\n");
    assert.equal((await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--format', 'dotenv'])).stdout, 'AWS_PROFILE=acme.prep\n');
    const j = JSON.parse((await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--format', 'json'])).stdout) as { value: string; identity: { account: string; role: string } };
    assert.equal(j.value, 'acme.prep');
    assert.equal(j.identity.account, '111122223333');
    assert.equal(j.identity.role, 'Developer');
  });

  it('grant --credentials hands out short-lived role credentials (and nothing on stderr)', async () => {
    const r = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--credentials'], { secretsOnStdout: true });
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration: string } };
    assert.match(j.credentials.AccessKeyId, /^ASIA[A-Z0-9]{16}$/);
    assert.ok(Date.parse(j.credentials.Expiration) > Date.now() + 30 * 60_000);
    const sh = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--credentials', '--format', 'shell'], { secretsOnStdout: true });
    assert.match(sh.stdout, /^export AWS_ACCESS_KEY_ID='ASIA[A-Z0-9]{16}'$/m);
    assert.match(sh.stdout, /^export AWS_SESSION_TOKEN='[^']+'$/m);
  });

  it('exec runs the command with the profile set; the JS SDK in the child calls STS with it; exit code passes through', async () => {
    const script = `import('@aws-sdk/client-sts').then(async ({ STSClient, GetCallerIdentityCommand }) => { const { fromIni } = await import('@aws-sdk/credential-providers'); const c = new STSClient({ region: 'us-east-1', credentials: fromIni({ profile: process.env.AWS_PROFILE }) }); const o = await c.send(new GetCallerIdentityCommand({})); console.log(process.env.AWS_PROFILE, o.Arn); })`;
    const r = await sb.run(['exec', 'AWS_PROFILE', '--env', 'prep', '--', process.execPath, '-e', script], { cwd: process.cwd(), env: { KEYRACK_FILE: join(sb.repo, 'keyrack.yml') } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^acme\.prep arn:aws:sts::111122223333:assumed-role\/AWSReservedSSO_Developer_[0-9a-f]{16}\/alice$/m);
    const failing = await sb.run(['exec', 'AWS_PROFILE', '--env', 'prep', '--', process.execPath, '-e', 'process.exit(7)']);
    assert.equal(failing.code, 7);
  });

  it('list-roles lists every account and role, marking the referenced ones', async () => {
    const r = await sb.run(['list-roles', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { sso: string; accounts: { accountId: string; accountName: string; roles: string[]; referenced: { role: string; key: string }[] }[] };
    assert.equal(j.sso, 'acme');
    assert.deepEqual(j.accounts.map((a) => a.accountId).sort(), ['111122223333', '444455556666']);
    const prep = j.accounts.find((a) => a.accountId === '111122223333');
    assert.deepEqual(prep?.roles, ['Developer', 'ReadOnly']);
    assert.deepEqual(prep?.referenced.map((x) => x.role), ['Developer']);
    const text = await sb.run(['list-roles']);
    assert.match(text.stdout, /\* Developer\s+← prep\/AWS_PROFILE \(acme\.prep\)/);
  });

  it('status shows unlock and token state per key; --check validates with AWS', async () => {
    const r = await sb.run(['status', '--json', '--env', 'prep']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { keys: { key: string; unlocked: boolean; token: string; tokenExpiresAt: number }[] };
    assert.equal(j.keys[0]?.unlocked, true);
    assert.equal(j.keys[0]?.token, 'valid');
    const c = await sb.run(['status', '--check', '--env', 'prep', '--json']);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /"check":\{"ok":true/);
  });

  it('the other env stays locked: grant there exits 3 and --format json carries the reason', async () => {
    const r = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prod', '--format', 'json']);
    assert.equal(r.code, 3);
    const j = JSON.parse(r.stdout) as { error: { reason: string; fix: string } };
    assert.equal(j.error.reason, 'locked');
    assert.equal(j.error.fix, 'a human runs: keyrack unlock aws --env prod');
  });

  it('bad input exits 2: unknown key, missing --env, unknown format', async () => {
    assert.equal((await sb.run(['grant', 'NOPE', '--env', 'prep'])).code, 2);
    const noEnv = await sb.run(['grant', 'AWS_PROFILE']);
    assert.equal(noEnv.code, 2);
    assert.match(noEnv.stderr, /--env/);
    assert.equal((await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--format', 'yaml'])).code, 2);
  });

  it('lock closes the keys at once while the AWS session stays', async () => {
    const r = await sb.run(['lock', 'aws']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /locked: prep/);
    assert.equal((await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep'])).code, 3);
    await stat(tokenFile(sb)); // still there
    const again = await sb.unlock();
    assert.equal(again.code, 0, again.stdout);
    assert.match(again.stdout, /session reused/);
    assert.doesNotMatch(again.stdout, /enter the code/);
  });

  it('lock --logout ends the SSO session and deletes only its token and role-credential caches', async () => {
    const before = (await sb.emu.control.calls()).length;
    const r = await sb.run(['lock', 'aws', '--logout']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /logged out of acme/);
    await assert.rejects(stat(tokenFile(sb)));
    const calls = (await sb.emu.control.calls()).slice(before);
    assert.ok(calls.some((c) => c.operation === 'Logout' && c.status === 200));
    const g = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep']);
    assert.equal(g.code, 3);
  });
});

describe('validation failures map to the robot contract', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox();
  });
  after(async () => sb.close());

  it('a pinned account that differs is a mismatch (exit 5), and unlock says so', async () => {
    await sb.writeKeyrackYml(`sso:\n  acme:\n    start_url: https://d-1234567890.awsapps.com/start\n    region: us-east-1\nenv.prep:\n  AWS_PROFILE:\n    aws: { profile: acme.prep, sso: acme, account: "111122223333", role: Developer }\n  AWS_OTHER:\n    aws: { profile: acme.prep, account: "444455556666" }\n`);
    const u = await sb.unlock(['--env', 'prep']);
    assert.equal(u.code, 5, u.stdout);
    assert.match(u.stdout, /account 111122223333, keyrack\.yml pins 444455556666/);
  });

  it('a referenced profile missing from ~/.aws/config with no way to write it is misconfigured (exit 6)', async () => {
    await sb.writeKeyrackYml(`env.prep:\n  AWS_PROFILE:\n    aws: { profile: nowhere }\n`);
    const u = await sb.unlock(['--env', 'prep']);
    assert.equal(u.code, 6, u.stdout);
    assert.match(u.stdout, /profile "nowhere" does not exist/);
  });
});

describe('unlock recovers what a human can fix by signing in', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox();
  });
  after(async () => sb.close());

  it('a session revoked server-side (token file still looks valid) → unlock signs in again instead of looping', async () => {
    assert.equal((await sb.unlock()).code, 0);
    await sb.emu.control.revoke('alice');
    const g = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--format', 'json'], { env: { KEYRACK_VALIDATION_TTL: '0' } });
    assert.equal(g.code, 3, g.stderr);
    const u = await sb.unlock();
    assert.equal(u.code, 0, u.stdout);
    assert.match(u.stdout, /signed in \(device code\)/);
    assert.equal((await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep'])).code, 0);
  });

  it('a corrupt token file → grant says misconfigured (exit 6); unlock signs in and replaces it', async () => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(tokenFile(sb), '{"accessToken": "trunc', { mode: 0o600 });
    const g = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep'], { env: { KEYRACK_VALIDATION_TTL: '0' } });
    assert.equal(g.code, 6, g.stderr);
    assert.doesNotMatch(g.stderr, /trunc/);
    const u = await sb.unlock();
    assert.equal(u.code, 0, u.stdout);
    assert.equal((await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep'])).code, 0);
  });
});
