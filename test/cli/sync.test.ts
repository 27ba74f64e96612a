// keyrack sync / unlock --write-profiles: a teammate with only the repo's keyrack.yml gets working profiles, and
// a real, messy ~/.aws/config keeps every byte outside the sections keyrack wrote.
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSandbox, type Sandbox } from '../helpers/keyrack.js';

/** A config as people have them: both comment kinds, tabs, odd spacing, CRLF lines, sub-sections, no final newline. */
export const MESSY_CONFIG = [
  '# ~/.aws/config: partly hand-written, partly tool-written',
  '; semicolon comment',
  '',
  '[default]',
  'region=us-west-2',
  'output\t=\tjson',
  '',
  '[profile legacy-admin]   ',
  '  # indented comment',
  'sso_start_url = https://d-1234567890.awsapps.com/start',
  'sso_region = us-east-1',
  'sso_account_id = 111122223333',
  'sso_role_name = ReadOnly',
  '[profile tools]',
  'region    =     eu-central-1',
  's3 =',
  '  max_concurrent_requests = 20',
  '\tmultipart_threshold = 64MB',
  '[sso-session corp]\r',
  'sso_start_url = https://corp.awsapps.com/start\r',
  'sso_region = eu-west-1\r',
  '\r',
  '[services local]',
  'sts =',
  '  endpoint_url = http://localhost:4566',
  '',
  '',
  '# the end, no newline after this line',
].join('\n');

describe('keyrack sync', () => {
  let sb: Sandbox;
  const config = () => join(sb.home, '.aws', 'config');
  before(async () => {
    sb = await createSandbox();
  });
  after(async () => sb.close());

  it('writes every referenced profile the machine lacks (sessions once), reports it, and never logs in', async () => {
    const r = await sb.run(['sync']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\+ wrote \[sso-session acme\] to ~\/\.aws\/config/);
    assert.match(r.stdout, /\+ wrote \[profile acme\.prep\] to ~\/\.aws\/config {2}\(prep\/AWS_PROFILE\)/);
    assert.match(r.stdout, /\+ wrote \[profile acme\.prod\] to ~\/\.aws\/config {2}\(prod\/AWS_PROFILE\)/);
    const text = await readFile(config(), 'utf8');
    assert.equal(
      text,
      '[sso-session acme]\nsso_start_url = https://d-1234567890.awsapps.com/start\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n\n' +
        '[profile acme.prep]\nsso_session = acme\nsso_account_id = 111122223333\nsso_role_name = Developer\nregion = us-east-1\n\n' +
        '[profile acme.prod]\nsso_session = acme\nsso_account_id = 444455556666\nsso_role_name = ReadOnly\nregion = us-east-1\n',
    );
    // The AWS CLI reads what keyrack wrote.
    const aws = await sb.aws(['configure', 'get', 'sso_account_id', '--profile', 'acme.prod']);
    assert.equal(aws.stdout.trim(), '444455556666');
  });

  it('a second run changes nothing and says so (--json)', async () => {
    const before = await readFile(config(), 'utf8');
    const r = await sb.run(['sync', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { changed: boolean; written: string[]; items: { profile: string; status: string }[] };
    assert.equal(j.changed, false);
    assert.deepEqual(j.written, []);
    assert.deepEqual(j.items.map((i) => i.status), ['present', 'present']);
    assert.equal(await readFile(config(), 'utf8'), before);
  });

  it('a messy real config is byte-identical outside the sections keyrack appended', async () => {
    await writeFile(config(), MESSY_CONFIG);
    const r = await sb.run(['sync', '--env', 'prep']);
    assert.equal(r.code, 0, r.stderr);
    const text = await readFile(config(), 'utf8');
    assert.equal(
      text,
      `${MESSY_CONFIG}\n\n[sso-session acme]\nsso_start_url = https://d-1234567890.awsapps.com/start\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n\n[profile acme.prep]\nsso_session = acme\nsso_account_id = 111122223333\nsso_role_name = Developer\nregion = us-east-1`,
    );
  });

  it('--dry-run shows what would be written and writes nothing', async () => {
    const before = await readFile(config(), 'utf8');
    const r = await sb.run(['sync', '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /would write \[profile acme\.prod\]/);
    assert.equal(await readFile(config(), 'utf8'), before);
  });

  it('a profile of the same name but another definition is left alone (exit 6) unless --force, which changes only its differing lines', async () => {
    const custom = '# mine\n[profile acme.prod]\nsso_session = acme\nsso_account_id = 444455556666\nsso_role_name = Admin   \nregion = eu-west-1\noutput = json\n\n[sso-session acme]\nsso_start_url = https://d-1234567890.awsapps.com/start\nsso_region = us-east-1\n';
    await writeFile(config(), custom);
    const r = await sb.run(['sync', '--env', 'prod']);
    assert.equal(r.code, 6, r.stdout + r.stderr);
    assert.match(r.stdout, /prod\/AWS_PROFILE → acme\.prod: differs, left alone: \[profile acme\.prod\] is role Admin, not ReadOnly/);
    assert.match(r.stderr, /--force/);
    assert.equal(await readFile(config(), 'utf8'), custom);
    const f = await sb.run(['sync', '--env', 'prod', '--force']);
    assert.equal(f.code, 0, f.stdout + f.stderr);
    assert.match(f.stdout, /updated \[profile acme\.prod\]/);
    assert.equal(await readFile(config(), 'utf8'), custom.replace('sso_role_name = Admin   ', 'sso_role_name = ReadOnly'));
  });

  it('a reference without sso/account/role cannot be written: reported, exit 6, the others still written', async () => {
    await rm(config(), { force: true });
    await sb.writeKeyrackYml(`sso:\n  acme:\n    start_url: https://d-1234567890.awsapps.com/start\n    region: us-east-1\nenv.prep:\n  AWS_PROFILE:\n    aws: { profile: acme.prep, sso: acme, account: "111122223333", role: Developer }\n  OTHER:\n    aws: { profile: nowhere }\n`);
    const r = await sb.run(['sync']);
    assert.equal(r.code, 6);
    assert.match(r.stdout, /prep\/OTHER → nowhere: not written: profile "nowhere" does not exist/);
    assert.match(await readFile(config(), 'utf8'), /\[profile acme\.prep\]/);
  });
});

describe('teammate bootstrap: a fresh HOME with only the repo\'s keyrack.yml', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox();
  });
  after(async () => sb.close());

  it('keyrack unlock --write-profiles writes the profiles, signs in, unlocks; keyrack grant then succeeds', async () => {
    await rm(join(sb.home, '.aws'), { recursive: true, force: true });
    const u = await sb.unlock(['--env', 'prep', '--write-profiles']);
    assert.equal(u.code, 0, u.stdout);
    assert.match(u.stdout, /wrote \[profile acme\.prep\]/);
    assert.match(u.stdout, /wrote \[profile acme\.prod\]/); // every reference, not only this env's
    assert.match(u.stdout, /unlocked env prep/);
    const g = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep']);
    assert.equal(g.code, 0, g.stderr);
    assert.equal(g.stdout, 'acme.prep\n');
    // The AWS CLI in the same HOME uses the profile and the session keyrack made.
    const id = await sb.aws(['sts', 'get-caller-identity', '--profile', 'acme.prod', '--query', 'Account', '--output', 'text']);
    assert.equal(id.stdout.trim(), '444455556666', id.stderr);
  });

  it('without the flag, unlock still writes the missing profiles this env needs, and reports them', async () => {
    await rm(join(sb.home, '.aws', 'config'), { force: true });
    await mkdir(join(sb.home, '.aws'), { recursive: true });
    const u = await sb.unlock(['--env', 'prod']);
    assert.equal(u.code, 0, u.stdout);
    assert.match(u.stdout, /wrote profile acme\.prod to ~\/\.aws\/config/);
    assert.doesNotMatch(await readFile(join(sb.home, '.aws', 'config'), 'utf8'), /acme\.prep/);
  });

  it('unlock --json reports what was written and what was proven', async () => {
    await rm(join(sb.home, '.aws', 'config'), { force: true });
    const u = await sb.unlock(['--env', 'prep', '--write-profiles', '--json']);
    assert.equal(u.code, 0, u.stdout);
    const j = JSON.parse(u.stdout.slice(u.stdout.indexOf('{'))) as { env: string; profilesWritten: string[]; validated: { profile: string; identity: { account: string } }[] };
    assert.equal(j.env, 'prep');
    assert.deepEqual(j.profilesWritten.sort(), ['acme.prep', 'acme.prod']);
    assert.equal(j.validated[0]?.identity.account, '111122223333');
  });
});
