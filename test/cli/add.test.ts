// keyrack add aws, driven the way a person drives it: the real binary in a real terminal (tmux), keys sent with
// send-keys, the screen read with capture-pane, against the emulator. Plus the flag-only form and its refusals.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { normalizeFixture, defaultFixture } from '../../src/emulator/index.js';
import { parseKeyrackFile } from '../../src/core/keyrack-file.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { assertNoLeak, createSandbox, KEYRACK_BIN, type Sandbox } from '../helpers/keyrack.js';

const exec = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** One program in its own tmux server (own socket): type at it, read its screen, wait for it to end. */
class Terminal {
  private constructor(
    private readonly socket: string,
    private readonly exitFile: string,
  ) {}

  static async start(sb: Sandbox, args: string[], name: string): Promise<Terminal> {
    const script = join(sb.root, `${name}.sh`);
    const exitFile = join(sb.root, `${name}.exit`);
    const env = Object.entries(sb.env).map(([k, v]) => `export ${k}=${shq(v)}`).join('\n');
    // The wrapper shell ignores Ctrl-C's SIGINT so it survives to record the exit code (the program gets it).
    await writeFile(script, `#!/bin/sh\n${env}\ntrap 'true' INT\ncd ${shq(sb.repo)}\n${[process.execPath, KEYRACK_BIN, ...args].map(shq).join(' ')}\necho $? > ${shq(exitFile)}\nexec sleep 600\n`);
    await chmod(script, 0o755);
    // The server's socket lives in the sandbox, so nothing is left in /tmp/tmux-UID when the sandbox goes.
    const t = new Terminal(join(sb.root, `${name}.tmux`), exitFile);
    await t.tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'main', '-x', '160', '-y', '50', script);
    return t;
  }

  private async tmux(...args: string[]): Promise<string> {
    return (await exec('tmux', ['-S', this.socket, ...args])).stdout;
  }

  /** Everything on the screen and in the scrollback, as text. */
  screen(): Promise<string> {
    return this.tmux('capture-pane', '-p', '-J', '-S', '-500', '-t', 'main');
  }

  /** Polls the screen until it matches (a regex, or a predicate for states a regex says badly). */
  async waitFor(want: RegExp | ((screen: string) => boolean), timeoutMs = 30_000): Promise<string> {
    const until = Date.now() + timeoutMs;
    const ok = typeof want === 'function' ? want : (s: string) => want.test(s);
    let last = '';
    while (Date.now() < until) {
      last = await this.screen();
      if (ok(last)) return last;
      await sleep(100);
    }
    throw new Error(`terminal never showed ${String(want)}; last screen:\n${last}`);
  }

  /** Named keys (Enter, Down, C-c …). */
  keys(...keys: string[]): Promise<string> {
    return this.tmux('send-keys', '-t', 'main', ...keys);
  }

  /** Literal text, as typed. */
  type(text: string): Promise<string> {
    return this.tmux('send-keys', '-t', 'main', '-l', text);
  }

  async exitCode(timeoutMs = 30_000): Promise<number> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const text = await readFile(this.exitFile, 'utf8').catch(() => '');
      if (text.trim() !== '') return Number(text.trim());
      await sleep(100);
    }
    throw new Error(`the program did not end; last screen:\n${await this.screen()}`);
  }

  async close(): Promise<void> {
    await this.tmux('kill-server').catch(() => undefined);
  }
}

/** A hand-kept config: both comment kinds, tabs, odd spacing, CRLF lines, sub-sections, no final newline. */
const MESSY_CONFIG = [
  '# ~/.aws/config, kept by hand since 2019',
  '; work profiles below',
  '[default]',
  'region=eu-west-1',
  'output\t=\tjson',
  '',
  '[profile tools]   ',
  'region    =     eu-central-1',
  's3 =',
  '  max_concurrent_requests = 20',
  '\tmultipart_threshold = 64MB',
  '[sso-session corp]\r',
  'sso_start_url = https://corp.awsapps.com/start\r',
  'sso_region = eu-west-1\r',
  'sso_registration_scopes = sso:account:access\r',
  '\r',
  '[profile corp-dev]',
  'sso_session = corp',
  'sso_account_id = 123412341234',
  'sso_role_name = Dev ; trailing comment the CLI keeps',
  '',
  '# last line, no newline',
].join('\n');

/** alice can reach six accounts, so the search has something to search. */
const FIXTURE = normalizeFixture({
  accounts: [
    ...defaultFixture.accounts,
    { id: '666677778888', name: 'acme-prod-legacy', email: 'aws-legacy@example.com' },
    { id: '555566667777', name: 'acme-data', email: 'data@example.com' },
    { id: '222233334444', name: 'security-audit', email: 'audit@example.com' },
    { id: '777788889999', name: 'sandbox', email: 'sandbox@example.com' },
  ],
  users: [
    {
      name: 'alice',
      email: 'alice@example.com',
      assignments: [
        ...(defaultFixture.users[0]?.assignments ?? []),
        { accountId: '666677778888', roleName: 'ReadOnly' },
        { accountId: '555566667777', roleName: 'DataEngineer' },
        { accountId: '222233334444', roleName: 'Auditor' },
        { accountId: '777788889999', roleName: 'Admin' },
      ],
    },
  ],
});

const KEYRACK_YML = `# acme's keys. References only.
org: acme   # profiles are acme.<env>

sso:
  acme:
    start_url: https://d-1234567890.awsapps.com/start
    region: us-east-1

env.prep:
  AWS_PROFILE:
    aws: { profile: acme.prep, sso: acme, account: "111122223333", role: Developer }   # devs
# env.prod: no keys yet; add one with: keyrack add aws --env prod
`;

describe('keyrack add aws in a real terminal', () => {
  let emu: TestEmulator;
  let sb: Sandbox;
  const config = () => join(sb.home, '.aws', 'config');
  before(async () => {
    emu = await startTestEmulator({ fixture: FIXTURE, autoApprove: 'alice', autoApproveDelayMs: 50 });
    sb = await createSandbox({ emulator: emu, keyrackYml: KEYRACK_YML });
    await exec('mkdir', ['-p', join(sb.home, '.aws')]);
    await writeFile(config(), MESSY_CONFIG);
  });
  after(async () => {
    await sb.close();
    await emu.close();
  });

  it('picks env, a new start URL, signs in, searches accounts and chooses account and role with the keyboard', async () => {
    const t = await Terminal.start(sb, ['add', 'aws', '--device-code'], 'add');
    try {
      await t.waitFor(/Which env gets the key\?[\s\S]*❯ prod {2}\(no keys yet\)/);
      await t.keys('Enter');
      // The session picker lists ~/.aws/config's corp and keyrack.yml's acme; a new URL is also offered.
      await t.waitFor(/Which IAM Identity Center \(SSO\) session\?[\s\S]*corp {2}https:\/\/corp\.awsapps\.com\/start[\s\S]*a new start URL/);
      const screen = await t.screen();
      assert.match(screen, /acme {2}https:\/\/d-1234567890\.awsapps\.com\/start \(us-east-1\)/);
      // Down to "a new start URL…" and type it (as if acme's session were not known).
      await t.keys('Down', 'Down', 'Enter');
      await t.waitFor(/AWS access portal URL/);
      await t.type('not a url');
      await t.keys('Enter');
      await t.waitFor(/that is not an https URL/);
      await t.keys('C-u');
      await t.type('https://d-1234567890.awsapps.com/start');
      await t.keys('Enter');
      await t.waitFor(/IAM Identity Center region \(us-east-1\)/);
      await t.keys('Enter');
      // Same portal and region as keyrack.yml's acme: reused, no name asked. Then the device-code sign-in.
      await t.waitFor(/enter the code: [A-Z]{4}-[A-Z]{4}/);
      await t.waitFor(/✔ sso acme: signed in \(device code\)/);
      await t.waitFor(/Which AWS account\? \(type to search by name, id or email\)/);
      await t.waitFor(/sandbox {2}777788889999/);
      await t.type('prod');
      // The list narrows to the two matches (the search re-runs as the term changes).
      const prompt = (screen: string) => screen.slice(screen.lastIndexOf('Which AWS account'));
      const filtered = await t.waitFor((sc) => /\) prod\n❯ acme-prod {2}444455556666/.test(prompt(sc)) && !/sandbox/.test(prompt(sc)));
      assert.match(prompt(filtered), /acme-prod-legacy {2}666677778888/);
      assert.doesNotMatch(prompt(filtered), /acme-data|security-audit|acme-prep/);
      await t.keys('Down');
      await t.waitFor((sc) => /❯ acme-prod-legacy/.test(prompt(sc)));
      await t.keys('Up');
      await t.waitFor((sc) => /❯ acme-prod {2}/.test(prompt(sc)));
      await t.keys('Enter');
      await t.waitFor(/Which role in acme-prod\?[\s\S]*❯ Developer[\s\S]*ReadOnly/);
      await t.keys('Down', 'Enter');
      await t.waitFor(/AWS profile name \(acme\.prod\)/);
      await t.keys('Enter');
      await t.waitFor(/prod\/AWS_PROFILE → acme\.prod {2}account 444455556666 \(acme-prod\), role ReadOnly[\s\S]*add \[profile acme\.prod\][\s\S]*keyrack\.yml: add env\.prod\.AWS_PROFILE[\s\S]*Write these changes\?/);
      await t.keys('Enter');
      assert.equal(await t.exitCode(), 0, await t.screen());
      const done = await t.screen();
      assertNoLeak('add screen', done);
      assert.match(done, /✔ STS: arn:aws:sts::444455556666:assumed-role\/AWSReservedSSO_ReadOnly_[0-9a-f]{16}\/alice/);
      assert.match(done, /added prod\/AWS_PROFILE → acme\.prod/);
    } finally {
      await t.close();
    }

    // keyrack.yml: the placeholder became the env; every other byte is the original's.
    const yml = await readFile(join(sb.repo, 'keyrack.yml'), 'utf8');
    assert.equal(yml, KEYRACK_YML.replace('# env.prod: no keys yet; add one with: keyrack add aws --env prod\n', '\nenv.prod:\n  AWS_PROFILE:\n    aws: { profile: acme.prod, sso: acme, account: "444455556666", role: ReadOnly }\n'));
    const f = parseKeyrackFile(yml, 'keyrack.yml');
    assert.deepEqual(f.envs.prod?.AWS_PROFILE, { ...f.envs.prod?.AWS_PROFILE, profile: 'acme.prod', sso: 'acme', account: '444455556666', role: 'ReadOnly' });

    // ~/.aws/config: byte-identical up to where keyrack appended its two sections.
    const text = await readFile(config(), 'utf8');
    assert.equal(
      text,
      `${MESSY_CONFIG}\n\n[sso-session acme]\nsso_start_url = https://d-1234567890.awsapps.com/start\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n\n[profile acme.prod]\nsso_session = acme\nsso_account_id = 444455556666\nsso_role_name = ReadOnly\nregion = us-east-1`,
    );
    // A valid profile: the real AWS CLI uses it with the session add signed in.
    const id = await sb.aws(['sts', 'get-caller-identity', '--profile', 'acme.prod', '--query', 'Arn', '--output', 'text']);
    assert.match(id.stdout, /^arn:aws:sts::444455556666:assumed-role\/AWSReservedSSO_ReadOnly_[0-9a-f]{16}\/alice$/m, id.stderr);
    // And keyrack itself can unlock and grant it.
    const u = await sb.unlock(['--env', 'prod']);
    assert.equal(u.code, 0, u.stdout);
    assert.match(u.stdout, /session reused/);
    assert.equal((await sb.run(['grant', 'AWS_PROFILE', '--env', 'prod'])).stdout, 'acme.prod\n');
  });

  it('Ctrl-C at a prompt exits 130 and leaves both files exactly as they were', async () => {
    const ymlBefore = await readFile(join(sb.repo, 'keyrack.yml'), 'utf8');
    const configBefore = await readFile(config(), 'utf8');
    const t = await Terminal.start(sb, ['add', 'aws', '--env', 'prep', '--key', 'DATA_PROFILE', '--sso', 'acme'], 'cancel');
    try {
      await t.waitFor(/Which AWS account\?[\s\S]*security-audit/);
      await t.type('data');
      await t.waitFor((sc) => /\) data\n❯ acme-data {2}555566667777/.test(sc.slice(sc.lastIndexOf('Which AWS account'))));
      await t.keys('C-c');
      assert.equal(await t.exitCode(), 130);
      assert.match(await t.screen(), /cancelled; nothing was changed/);
    } finally {
      await t.close();
    }
    assert.equal(await readFile(join(sb.repo, 'keyrack.yml'), 'utf8'), ymlBefore);
    assert.equal(await readFile(config(), 'utf8'), configBefore);
  });

  it('Ctrl-C at the final confirmation also writes nothing', async () => {
    const ymlBefore = await readFile(join(sb.repo, 'keyrack.yml'), 'utf8');
    const configBefore = await readFile(config(), 'utf8');
    const t = await Terminal.start(sb, ['add', 'aws', '--env', 'data', '--sso', 'acme', '--account', '555566667777', '--profile', 'acme.data'], 'confirm');
    try {
      await t.waitFor(/role DataEngineer \(the only one you have there\)[\s\S]*Write these changes\?/);
      await t.keys('C-c');
      assert.equal(await t.exitCode(), 130);
    } finally {
      await t.close();
    }
    assert.equal(await readFile(join(sb.repo, 'keyrack.yml'), 'utf8'), ymlBefore);
    assert.equal(await readFile(config(), 'utf8'), configBefore);
  });
});

describe('keyrack add aws: Ctrl-C while waiting for the sign-in', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox({ autoApprove: null, keyrackYml: 'org: acme\n' });
  });
  after(async () => sb.close());

  it('exits 130, writes no ~/.aws/config and leaves keyrack.yml as it was', async () => {
    const t = await Terminal.start(sb, ['add', 'aws', '--env', 'prep', '--device-code', '--start-url', 'https://d-1234567890.awsapps.com/start', '--region', 'us-east-1', '--sso', 'acme'], 'signin');
    try {
      await t.waitFor(/enter the code: [A-Z]{4}-[A-Z]{4}[\s\S]*waiting for approval/);
      await t.keys('C-c');
      assert.equal(await t.exitCode(), 130, await t.screen());
      assert.match(await t.screen(), /cancelled; nothing was changed/);
    } finally {
      await t.close();
    }
    await assert.rejects(readFile(join(sb.home, '.aws', 'config')));
    assert.equal(await readFile(join(sb.repo, 'keyrack.yml'), 'utf8'), 'org: acme\n');
  });
});

describe('keyrack add aws with flags (no prompts)', () => {
  let emu: TestEmulator;
  let sb: Sandbox;
  before(async () => {
    emu = await startTestEmulator({ fixture: FIXTURE, autoApprove: 'alice', autoApproveDelayMs: 50 });
    sb = await createSandbox({ emulator: emu, keyrackYml: KEYRACK_YML });
  });
  after(async () => {
    await sb.close();
    await emu.close();
  });

  const add = (args: string[]) => sb.run(['add', 'aws', '--device-code', ...args], { tty: true, human: true });

  it('refuses to run without an interactive terminal (it may log in), exit 3', async () => {
    const r = await sb.run(['add', 'aws', '--env', 'prod', '--sso', 'acme', '--account', '444455556666', '--role', 'ReadOnly', '--yes']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /interactive terminal/);
  });

  it('every prompt has a flag: --sso --account --role --profile --yes writes both files, --json reports it', async () => {
    const r = await add(['--env', 'prod', '--sso', 'acme', '--account', 'acme-prod', '--role', 'ReadOnly', '--profile', 'acme.prod', '--yes', '--json']);
    assert.equal(r.code, 0, r.stdout);
    assert.doesNotMatch(r.stdout, /Which|\? /); // nothing was asked
    const j = JSON.parse(r.stdout.slice(r.stdout.lastIndexOf('\n{') + 1)) as { env: string; profile: string; account: { id: string }; identity: { arn: string }; awsConfig: { session: string; profile: string } };
    assert.equal(j.profile, 'acme.prod');
    assert.equal(j.account.id, '444455556666');
    assert.deepEqual([j.awsConfig.session, j.awsConfig.profile], ['added', 'added']);
    assert.match(j.identity.arn, /AWSReservedSSO_ReadOnly_/);
    assert.equal(parseKeyrackFile(await readFile(join(sb.repo, 'keyrack.yml'), 'utf8'), 'k').envs.prod?.AWS_PROFILE?.kind, 'profile');
  });

  it('the same add again changes nothing', async () => {
    const before = await readFile(join(sb.repo, 'keyrack.yml'), 'utf8');
    const r = await add(['--env', 'prod', '--sso', 'acme', '--account', '444455556666', '--role', 'ReadOnly', '--profile', 'acme.prod', '--yes']);
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /\[profile acme\.prod\] unchanged/);
    assert.equal(await readFile(join(sb.repo, 'keyrack.yml'), 'utf8'), before);
  });

  it('a profile of that name with another definition is never overwritten without --force', async () => {
    const configBefore = await readFile(join(sb.home, '.aws', 'config'), 'utf8');
    const ymlBefore = await readFile(join(sb.repo, 'keyrack.yml'), 'utf8');
    const r = await add(['--env', 'audit', '--sso', 'acme', '--account', '222233334444', '--role', 'Auditor', '--profile', 'acme.prod', '--yes']);
    assert.equal(r.code, 6, r.stdout);
    assert.match(r.stdout, /\[profile acme\.prod\] is account 444455556666, not 222233334444; keyrack will not overwrite it/);
    assert.equal(await readFile(join(sb.home, '.aws', 'config'), 'utf8'), configBefore);
    assert.equal(await readFile(join(sb.repo, 'keyrack.yml'), 'utf8'), ymlBefore);
  });

  it('an existing key is not replaced without --force; with it, only the differing lines change', async () => {
    const r = await add(['--env', 'prod', '--sso', 'acme', '--account', '444455556666', '--role', 'Developer', '--profile', 'acme.prod', '--yes']);
    assert.equal(r.code, 6, r.stdout);
    const ymlBefore = await readFile(join(sb.repo, 'keyrack.yml'), 'utf8');
    const configBefore = await readFile(join(sb.home, '.aws', 'config'), 'utf8');
    const f = await add(['--env', 'prod', '--sso', 'acme', '--account', '444455556666', '--role', 'Developer', '--profile', 'acme.prod', '--yes', '--force']);
    assert.equal(f.code, 0, f.stdout);
    assert.equal(await readFile(join(sb.repo, 'keyrack.yml'), 'utf8'), ymlBefore.replace('account: "444455556666", role: ReadOnly', 'account: "444455556666", role: Developer'));
    assert.equal(await readFile(join(sb.home, '.aws', 'config'), 'utf8'), configBefore.replace(/(\[profile acme\.prod\][\s\S]*?sso_role_name = )ReadOnly/, '$1Developer'));
  });

  it('an account or role the user does not have is refused before anything is written', async () => {
    const before = await readFile(join(sb.repo, 'keyrack.yml'), 'utf8');
    const r = await add(['--env', 'x', '--sso', 'acme', '--account', '999999999999', '--role', 'Admin', '--yes']);
    assert.equal(r.code, 5, r.stdout);
    assert.match(r.stdout, /no account with that id or name is assigned to you/);
    const role = await add(['--env', 'x', '--sso', 'acme', '--account', '111122223333', '--role', 'Admin', '--yes']);
    assert.equal(role.code, 5, role.stdout);
    assert.match(role.stdout, /pass --role with one of: Developer, ReadOnly/);
    assert.equal(await readFile(join(sb.repo, 'keyrack.yml'), 'utf8'), before);
  });

  it('without a keyrack.yml it points at keyrack init', async () => {
    await rm(join(sb.repo, 'keyrack.yml'));
    const r = await add(['--env', 'prod', '--yes']);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stdout, /fix: create one first: keyrack init/);
  });
});

describe('keyrack init at a terminal: one guided command from nothing to a complete keyrack.yml', () => {
  let emu: TestEmulator;
  let sb: Sandbox;
  const yml = () => join(sb.repo, 'keyrack.yml');
  before(async () => {
    emu = await startTestEmulator({ fixture: FIXTURE, autoApprove: 'alice', autoApproveDelayMs: 50 });
    sb = await createSandbox({ emulator: emu });
    await rm(yml());
    await exec('mkdir', ['-p', join(sb.home, '.aws')]);
    await writeFile(join(sb.home, '.aws', 'config'), '[sso-session acme]\nsso_start_url = https://d-1234567890.awsapps.com/start\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n\n[profile acme.prep]\nsso_session = acme\nsso_account_id = 111122223333\nsso_role_name = Developer\n');
  });
  after(async () => {
    await sb.close();
    await emu.close();
  });

  it('Ctrl-C at the first prompt leaves no file behind', async () => {
    const t = await Terminal.start(sb, ['init'], 'init-cancel');
    try {
      await t.waitFor(/Organization name/);
      await t.keys('C-c');
      assert.equal(await t.exitCode(), 130);
    } finally {
      await t.close();
    }
    await assert.rejects(readFile(yml()));
  });

  it('org and envs, import of an existing profile, then the guided add for the env still without a key', async () => {
    const t = await Terminal.start(sb, ['init', '--device-code'], 'init');
    try {
      await t.waitFor(/Organization name \(profiles are named <org>\.<env>\) \(acme\)/);
      await t.keys('Enter');
      await t.waitFor(/Envs \(comma-separated\) \(prep,prod\)/);
      await t.keys('Enter');
      await t.waitFor(/Import SSO profiles from ~\/\.aws\/config[\s\S]*◉ acme\.prep {2}account 111122223333, role Developer, sso acme/);
      await t.keys('Enter');
      await t.waitFor(/Which env is profile acme\.prep for\?[\s\S]*❯ prep/);
      await t.keys('Enter');
      await t.waitFor(/Add an AWS key to env prod now\?/);
      await t.keys('Enter');
      await t.waitFor(/Which IAM Identity Center \(SSO\) session\?[\s\S]*❯ acme/);
      await t.keys('Enter');
      await t.waitFor(/Which AWS account\?[\s\S]*security-audit/);
      await t.type('aws-prod@');
      await t.waitFor((sc) => /\) aws-prod@\n❯ acme-prod {2}444455556666/.test(sc.slice(sc.lastIndexOf('Which AWS account'))));
      await t.keys('Enter');
      await t.waitFor(/Which role in acme-prod\?/);
      await t.keys('Enter');
      await t.waitFor(/AWS profile name \(acme\.prod\)/);
      await t.keys('Enter');
      await t.waitFor(/Write these changes\?/);
      await t.keys('Enter');
      assert.equal(await t.exitCode(), 0, await t.screen());
      assert.match(await t.screen(), /env\.prep: AWS_PROFILE → acme\.prep\n {2}env\.prod: AWS_PROFILE → acme\.prod/);
    } finally {
      await t.close();
    }
    const f = parseKeyrackFile(await readFile(yml(), 'utf8'), yml());
    assert.equal(f.org, 'acme');
    assert.deepEqual(Object.keys(f.envs), ['prep', 'prod']);
    assert.equal(f.envs.prod?.AWS_PROFILE?.kind === 'profile' ? f.envs.prod.AWS_PROFILE.role : '', 'Developer');
    assert.match(await readFile(join(sb.home, '.aws', 'config'), 'utf8'), /\[profile acme\.prod\]\nsso_session = acme\nsso_account_id = 444455556666\nsso_role_name = Developer\n/);
    assert.equal((await sb.unlock(['--env', 'prod'])).code, 0);
    assert.equal((await sb.run(['grant', 'AWS_PROFILE', '--env', 'prod'])).stdout, 'acme.prod\n');
  });
});

describe('cli/ui: colour only for terminals, never against NO_COLOR; spinners only on terminals', () => {
  it('NO_COLOR and TERM=dumb win; FORCE_COLOR turns colour on off a terminal; otherwise it follows isTTY', async () => {
    const { colorEnabled, createStyle } = await import('../../src/cli/ui.js');
    const tty = { isTTY: true, write: () => true };
    const pipe = { isTTY: false, write: () => true };
    assert.equal(colorEnabled(tty, {}), true);
    assert.equal(colorEnabled(pipe, {}), false);
    assert.equal(colorEnabled(tty, { NO_COLOR: '1' }), false);
    assert.equal(colorEnabled(tty, { NO_COLOR: '' }), true, 'an empty NO_COLOR does not count (no-color.org)');
    assert.equal(colorEnabled(tty, { TERM: 'dumb' }), false);
    assert.equal(colorEnabled(pipe, { FORCE_COLOR: '1' }), true);
    assert.equal(colorEnabled(tty, { FORCE_COLOR: '1', NO_COLOR: '1' }), false);
    assert.equal(createStyle(tty, {}).green('ok'), '\x1b[32mok\x1b[39m');
    assert.equal(createStyle(pipe, {}).green('ok'), 'ok');
  });

  it('a spinner off a terminal draws nothing but its final line', async () => {
    const { withSpinner } = await import('../../src/cli/ui.js');
    let out = '';
    const stream = { isTTY: false, write: (s: string) => (out += s) };
    const v = await withSpinner('working…', async () => 42, { stream, done: (n) => `done ${n}` });
    assert.equal(v, 42);
    assert.equal(out, 'done 42\n');
    let tty = '';
    await withSpinner('working…', async () => undefined, { stream: { isTTY: true, write: (s: string) => (tty += s) } });
    assert.match(tty, /working…/);
    assert.ok(tty.endsWith('\r\x1b[2K'), 'the spinner line is cleared');
  });
});
