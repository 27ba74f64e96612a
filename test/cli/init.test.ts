// keyrack init with flags (it needs no terminal unless it goes on to `add`); the guided form is in add.test.ts.
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseKeyrackFile } from '../../src/core/keyrack-file.js';
import { createSandbox, type Sandbox } from '../helpers/keyrack.js';

const CONFIG = `[sso-session acme]
sso_start_url = https://d-1234567890.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile acme.prep]
sso_session = acme
sso_account_id = 111122223333
sso_role_name = Developer

[profile acme.prod]
sso_session = acme
sso_account_id = 444455556666
sso_role_name = ReadOnly

# a legacy profile of the same portal
[profile old-prod]
sso_start_url = https://d-1234567890.awsapps.com/start
sso_region = us-east-1
sso_account_id = 444455556666
sso_role_name = Developer

[profile static]
aws_access_key_id = AKIDEXAMPLE
`;

describe('keyrack init', () => {
  let sb: Sandbox;
  const yml = () => join(sb.repo, 'keyrack.yml');
  before(async () => {
    sb = await createSandbox();
    await rm(yml());
    await mkdir(join(sb.home, '.aws'), { recursive: true });
    await writeFile(join(sb.home, '.aws', 'config'), CONFIG);
  });
  after(async () => sb.close());

  it('without a terminal it needs its flags', async () => {
    const r = await sb.run(['init']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--org is required when not at a terminal/);
    await assert.rejects(readFile(yml()));
  });

  it('--org --envs --import none: a scaffold naming the envs still waiting for a key', async () => {
    const r = await sb.run(['init', '--org', 'acme', '--envs', 'prep,prod', '--import', 'none']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /created .*keyrack\.yml \(org acme\)/);
    assert.match(r.stdout, /next: keyrack add aws --env prep/);
    const text = await readFile(yml(), 'utf8');
    assert.match(text, /^org: acme$/m);
    assert.match(text, /^# env\.prep: no keys yet; add one with: keyrack add aws --env prep$/m);
    assert.match(text, /^# env\.prod: no keys yet; add one with: keyrack add aws --env prod$/m);
  });

  it('refuses to overwrite an existing keyrack.yml unless --force', async () => {
    const before = await readFile(yml(), 'utf8');
    const r = await sb.run(['init', '--org', 'other', '--envs', 'dev', '--import', 'none']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /already exists/);
    assert.equal(await readFile(yml(), 'utf8'), before);
  });

  it('--import all brings in this machine\'s SSO profiles, env guessed from the name; a legacy one joins its portal\'s session', async () => {
    const r = await sb.run(['init', '--org', 'acme', '--envs', 'prep,prod', '--import', 'all', '--force', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { envs: Record<string, string[]>; imported: { env: string; key: string; profile: string }[]; pending: string[] };
    assert.deepEqual(j.envs, { prep: ['AWS_PROFILE'], prod: ['AWS_PROFILE', 'AWS_PROFILE_OLD_PROD'] });
    assert.deepEqual(j.pending, []);
    const f = parseKeyrackFile(await readFile(yml(), 'utf8'), yml());
    assert.equal(f.org, 'acme');
    assert.deepEqual(Object.keys(f.sso), ['acme']);
    assert.deepEqual(
      Object.values(f.envs).flatMap((k) => Object.values(k)).map((r) => (r.kind === 'profile' ? [r.env, r.key, r.profile, r.sso, r.account, r.role] : [])),
      [
        ['prep', 'AWS_PROFILE', 'acme.prep', 'acme', '111122223333', 'Developer'],
        ['prod', 'AWS_PROFILE', 'acme.prod', 'acme', '444455556666', 'ReadOnly'],
        ['prod', 'AWS_PROFILE_OLD_PROD', 'old-prod', 'acme', '444455556666', 'Developer'],
      ],
    );
    // Nothing to sync: every reference is this machine's own profile.
    const s = await sb.run(['sync', '--json']);
    assert.equal((JSON.parse(s.stdout) as { changed: boolean }).changed, false);
    // The file is complete and valid.
    assert.equal((await sb.run(['validate'])).code, 0);
  });

  it('--import p=env maps explicitly; an unknown or non-SSO profile is refused without writing', async () => {
    const before = await readFile(yml(), 'utf8');
    const bad = await sb.run(['init', '--org', 'acme', '--envs', 'prep', '--import', 'static=prep', '--force']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /"static" is not an SSO profile in ~\/\.aws\/config/);
    assert.equal(await readFile(yml(), 'utf8'), before);
    const r = await sb.run(['init', '--org', 'acme', '--envs', 'staging', '--import', 'acme.prod=staging', '--force']);
    assert.equal(r.code, 0, r.stderr);
    const f = parseKeyrackFile(await readFile(yml(), 'utf8'), yml());
    assert.equal(f.envs.staging?.AWS_PROFILE?.kind === 'profile' ? f.envs.staging.AWS_PROFILE.profile : '', 'acme.prod');
  });

  it('a scaffold becomes a complete file with keyrack add aws (flags), which keeps init\'s layout', async () => {
    await rm(yml());
    assert.equal((await sb.run(['init', '--org', 'acme', '--envs', 'prep,prod', '--import', 'none'])).code, 0);
    const r = await sb.run(['add', 'aws', '--device-code', '--env', 'prep', '--sso', 'acme', '--account', '111122223333', '--role', 'ReadOnly', '--profile', 'acme.prep-ro', '--yes'], { tty: true, human: true });
    assert.equal(r.code, 0, r.stdout);
    const text = await readFile(yml(), 'utf8');
    assert.match(text, /^org: acme\nsso:\n {2}acme:\n/m);
    assert.match(text, /^env\.prep:\n {2}AWS_PROFILE:\n {4}aws: \{ profile: acme\.prep-ro, sso: acme, account: "111122223333", role: ReadOnly \}\n# env\.prod: no keys yet/m);
    assert.equal((await sb.run(['validate'])).code, 0);
  });
});
