import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, readFile, stat, chmod, symlink, lstat, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadSharedConfigFiles } from '@smithy/core/config';
import { KeyrackError } from '../../src/core/errors.js';
import {
  parseAwsConfig,
  readAwsConfig,
  writeAwsConfig,
  resolveProfile,
  resolveSsoSession,
  listProfiles,
  listSsoSessions,
  upsertSection,
  setKey,
  removeKey,
  displayPathFor,
  type AwsConfigDoc,
} from '../../src/aws/config-file.js';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const hasBotocore = existsSync(PYTHON) && existsSync('/usr/lib/python3/dist-packages/awscli/botocore/configloader.py');

async function sandbox(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'keyrack-config-'));
}

// A config as people really have them: comments of both kinds, odd spacing, tabs, CRLF lines mixed in,
// sub-sections, services sections, sections keyrack knows nothing about, no blank line before some headers.
const REALISTIC = [
  '# ~/.aws/config, partly hand-written, partly tool-written\n',
  '; a semicolon comment\n',
  '\n',
  '[default]\n',
  'region = us-east-1\n',
  'output\t=\tjson\n',
  'cli_pager =\n',
  '\n',
  '[profile dev]   \n',
  'sso_session = acme\n',
  'sso_account_id = 111122223333\n',
  'sso_role_name = Developer\n',
  'region = eu-west-1   # the SDK strips this comment, the CLI does not\n',
  's3 =\n',
  '  max_concurrent_requests = 20\n',
  '\tmultipart_threshold = 64MB\n',
  'output=text\n',
  '[sso-session acme]\r\n',
  'sso_start_url = https://d-1234567890.awsapps.com/start\r\n',
  'sso_region = us-east-1\r\n',
  'sso_registration_scopes = sso:account:access\r\n',
  '\r\n',
  "[profile 'quoted']\n",
  'sso_start_url = https://d-1234567890.awsapps.com/start/\n',
  'sso_region     =     us-west-2\n',
  'sso_account_id = 444455556666\n',
  'sso_role_name = ReadOnly\n',
  '  # an indented comment\n',
  '\n',
  '[profile bridge]\n',
  'credential_process = /usr/local/bin/keyrack credential-process --profile dev\n',
  '\n',
  '[profile assumed]\n',
  'role_arn = arn:aws:iam::777788889999:role/Ops\n',
  'source_profile = dev\n',
  '\n',
  '[services local-emulator]\n',
  'sso_oidc =\n',
  '  endpoint_url = http://127.0.0.1:4566/oidc\n',
  'sso =\n',
  '\tendpoint_url = http://127.0.0.1:4566/portal\n',
  '\n',
  '[preview]\n',
  'cloudfront = true\n',
  '\n',
  '[plugins]\n',
  'cli_legacy_plugin_path = /opt/plugins\n',
  '# trailing comment\n',
].join('');

/** What the JS SDK reads: { 'dev': {...}, 'sso-session.acme': {...}, 'services.x': {...} }. */
async function sdkView(path: string): Promise<Record<string, Record<string, string>>> {
  const { configFile } = await loadSharedConfigFiles({ configFilepath: path, filepath: join(path, '..', 'nonexistent-credentials'), ignoreCache: true });
  return configFile as Record<string, Record<string, string>>;
}

/** What the AWS CLI's own botocore reads (nested dicts flattened to parent.key). */
async function botocoreView(path: string): Promise<{ profiles: Record<string, Record<string, string>>; sso_sessions: Record<string, Record<string, string>>; [k: string]: Record<string, Record<string, string>> }> {
  const script = [
    'import json, sys',
    'from awscli.botocore.configloader import load_config',
    'c = load_config(sys.argv[1])',
    'def flat(d):',
    '    out = {}',
    '    for k, v in d.items():',
    '        if isinstance(v, dict):',
    '            for k2, v2 in v.items(): out[k + "." + k2] = v2',
    '        else: out[k] = v',
    '    return out',
    'print(json.dumps({k: ({n: flat(s) for n, s in v.items()} if k in ("profiles", "sso_sessions") else flat(v)) for k, v in c.items()}))',
  ].join('\n');
  const { stdout } = await run(PYTHON, ['-c', script, path]);
  return JSON.parse(stdout);
}

function entriesOf(doc: AwsConfigDoc, kind: string, name: string): Record<string, string> {
  const s = doc.sections.find((x) => x.kind === kind && x.name === name);
  assert.ok(s, `${kind} ${name}`);
  return Object.fromEntries([...s.entries.values()].map((e) => [e.key, e.value]));
}

function nonDivergent(doc: AwsConfigDoc, kind: string, name: string): Record<string, string> {
  const s = doc.sections.find((x) => x.kind === kind && x.name === name);
  assert.ok(s);
  return Object.fromEntries([...s.entries.values()].filter((e) => !e.divergence).map((e) => [e.key, e.value]));
}

function assertKeyrackError(e: unknown, code: string, reason = 'misconfigured'): KeyrackError {
  assert.ok(e instanceof KeyrackError, `expected KeyrackError, got ${String(e)}`);
  assert.equal(e.code, code);
  assert.equal(e.reason, reason);
  return e;
}

test('parses sections, names, sub-sections and comments as the JS SDK does', async () => {
  const dir = await sandbox();
  const path = join(dir, 'config');
  await writeFile(path, REALISTIC);
  const doc = parseAwsConfig(REALISTIC);

  assert.deepEqual(
    doc.sections.map((s) => [s.kind, s.name]),
    [
      ['default', 'default'],
      ['profile', 'dev'],
      ['sso-session', 'acme'],
      ['profile', 'quoted'],
      ['profile', 'bridge'],
      ['profile', 'assumed'],
      ['services', 'local-emulator'],
      ['other', 'preview'],
      ['other', 'plugins'],
    ],
  );
  const sdk = await sdkView(path);
  assert.deepEqual(entriesOf(doc, 'default', 'default'), sdk.default);
  assert.deepEqual(entriesOf(doc, 'profile', 'dev'), sdk.dev);
  assert.deepEqual(entriesOf(doc, 'profile', 'quoted'), sdk.quoted);
  assert.deepEqual(entriesOf(doc, 'sso-session', 'acme'), sdk['sso-session.acme']);
  assert.deepEqual(entriesOf(doc, 'services', 'local-emulator'), sdk['services.local-emulator']);
  assert.equal(entriesOf(doc, 'profile', 'dev').region, 'eu-west-1');

  const dev = doc.sections[1];
  assert.equal(dev?.header, '[profile dev]   ');
  assert.equal(dev?.line, 9);
  assert.equal(dev?.entries.get('sso_session')?.line, 10);
  assert.equal(dev?.entries.get('s3.multipart_threshold')?.line, 16);
  assert.match(dev?.entries.get('region')?.divergence ?? '', /inline comment/);
  assert.equal(listProfiles(doc).join(','), 'default,dev,quoted,bridge,assumed');
  assert.deepEqual(listSsoSessions(doc), [
    { name: 'acme', line: 18, startUrl: 'https://d-1234567890.awsapps.com/start', region: 'us-east-1', registrationScopes: ['sso:account:access'] },
  ]);
});

test('non-divergent values are exactly what the AWS CLI (botocore) reads', { skip: !hasBotocore && 'no /usr/bin/python3 with awscli' }, async () => {
  const dir = await sandbox();
  const path = join(dir, 'config');
  await writeFile(path, REALISTIC);
  const doc = parseAwsConfig(REALISTIC);
  const py = await botocoreView(path);
  for (const name of ['default', 'dev', 'quoted', 'bridge', 'assumed']) {
    const kind = name === 'default' ? 'default' : 'profile';
    const ours = nonDivergent(doc, kind, name);
    for (const [k, v] of Object.entries(ours)) assert.equal(py.profiles[name]?.[k], v, `${name}.${k}`);
  }
  assert.deepEqual(nonDivergent(doc, 'sso-session', 'acme'), py.sso_sessions.acme);
  // The divergence we flag is real: the CLI keeps the comment in the value.
  assert.match(py.profiles.dev?.region ?? '', /# the SDK strips/);
});

test('resolveProfile: sso-session, legacy, credential_process and other profiles', () => {
  const doc = parseAwsConfig(REALISTIC.replace('region = eu-west-1   # the SDK strips this comment, the CLI does not\n', 'region = eu-west-1\n'));
  assert.deepEqual(resolveProfile(doc, 'dev'), {
    kind: 'sso-session',
    profile: 'dev',
    session: 'acme',
    startUrl: 'https://d-1234567890.awsapps.com/start',
    region: 'us-east-1',
    accountId: '111122223333',
    roleName: 'Developer',
    registrationScopes: ['sso:account:access'],
  });
  assert.deepEqual(resolveProfile(doc, 'quoted'), {
    kind: 'legacy',
    profile: 'quoted',
    startUrl: 'https://d-1234567890.awsapps.com/start/',
    region: 'us-west-2',
    accountId: '444455556666',
    roleName: 'ReadOnly',
  });
  assert.deepEqual(resolveProfile(doc, 'bridge'), { kind: 'credential-process', profile: 'bridge', command: '/usr/local/bin/keyrack credential-process --profile dev' });
  assert.deepEqual(resolveProfile(doc, 'assumed'), { kind: 'other', profile: 'assumed' });
  assert.deepEqual(resolveProfile(doc, 'default'), { kind: 'other', profile: 'default' });
  assert.deepEqual(resolveSsoSession(doc, 'acme'), {
    session: 'acme',
    startUrl: 'https://d-1234567890.awsapps.com/start',
    region: 'us-east-1',
    registrationScopes: ['sso:account:access'],
  });
});

test('resolveProfile: a profile with both sso_session and credential_process reports both', () => {
  const doc = parseAwsConfig(
    '[profile p]\nsso_session = s\nsso_account_id = 111122223333\nsso_role_name = R\ncredential_process = keyrack cp p\n[sso-session s]\nsso_start_url = https://x.example/start\nsso_region = eu-central-1\nsso_registration_scopes = a, ,b,\n',
  );
  const r = resolveProfile(doc, 'p');
  assert.equal(r.kind, 'sso-session');
  assert.ok(r.kind === 'sso-session');
  assert.equal(r.credentialProcess, 'keyrack cp p');
  assert.deepEqual(r.registrationScopes, ['a', 'b']);
});

test('resolveProfile refuses misconfigurations with file:line and a fix', () => {
  const base = '[profile p]\nsso_session = acme\nsso_account_id = 111122223333\nsso_role_name = R\n';
  const session = '\n[sso-session acme]\nsso_start_url = https://d-1.awsapps.com/start\nsso_region = us-east-1\n';
  const cases: Array<[string, string, string, string | RegExp]> = [
    // [text, profile, code, location]
    [base + session, 'nope', 'aws-config.profile-missing', '~/.aws/config'],
    [base, 'p', 'aws-config.sso-session-missing', '~/.aws/config:2'],
    ['[profile p]\nsso_session = acme\nsso_account_id = 111122223333\n' + session, 'p', 'aws-config.missing-key', '~/.aws/config:1'],
    [base + '\n[sso-session acme]\nsso_region = us-east-1\n', 'p', 'aws-config.missing-key', '~/.aws/config:6'],
    [base + 'sso_region = eu-west-1\n' + session, 'p', 'aws-config.inconsistent', '~/.aws/config:5'],
    ['[profile p]\nsso_start_url = https://d-1.awsapps.com/start\nsso_region = us-east-1\nsso_role_name = R\n', 'p', 'aws-config.missing-key', '~/.aws/config:1'],
    [base.replace('sso_role_name = R', 'sso_role_name = R ; admin') + session, 'p', 'aws-config.divergent', '~/.aws/config:4'],
    [base.replace('sso_role_name = R', 'SSO_ROLE_NAME = R') + session, 'p', 'aws-config.divergent', '~/.aws/config:4'],
    [base.replace('sso_account_id = 111122223333', 'sso_account_id = 1111') + session, 'p', 'aws-config.invalid-value', '~/.aws/config:3'],
    [base + session.replace('https://d-1.awsapps.com/start', 'd-1.awsapps.com'), 'p', 'aws-config.invalid-value', '~/.aws/config:7'],
    [base + session.replace('sso_region = us-east-1', 'sso_region = US East'), 'p', 'aws-config.invalid-value', '~/.aws/config:8'],
    [base.replace('sso_role_name = R', 'sso_role_name = R\n  Admin') + session, 'p', 'aws-config.divergent', '~/.aws/config:4'],
  ];
  for (const [text, profile, code, location] of cases) {
    const doc = parseAwsConfig(text);
    assert.throws(
      () => resolveProfile(doc, profile),
      (e) => {
        const k = assertKeyrackError(e, code);
        assert.equal(k.location, location, `${code}: ${text}`);
        assert.ok(k.fix && k.fix.length > 0);
        return true;
      },
      code,
    );
  }
  assert.throws(
    () => resolveProfile(parseAwsConfig(base), 'p'),
    (e) => assertKeyrackError(e, 'aws-config.sso-session-missing').fix === 'add [sso-session acme] with sso_start_url and sso_region, or run keyrack unlock with `sso:` in keyrack.yml',
  );
});

test('syntax errors the AWS CLI refuses the whole file for are refused with the line', () => {
  const cases: Array<[string, number]> = [
    ['[profile x\nregion = us-east-1\n', 1],
    ['region = us-east-1\n[profile x]\n', 1],
    ['[profile x]\nregion = a\nregion = b\n', 3],
    ['[profile x]\nregion = a\nREGION = b\n', 3],
    ['[profile x]\n\n[profile y]\n[profile x]\n', 4],
    ['[profile x]\nregion = a\njust words\n', 3],
    ['[profile x]\n= value\n', 2],
    ['[profile x]\ns3 =\n  no equals here\n', 3],
    ['[profile x] trailing\n', 1],
    ['\uFEFF[profile x]\n', 1],
    ['[profile __proto__]\n', 1],
  ];
  for (const [text, line] of cases) {
    assert.throws(
      () => parseAwsConfig(text, '~/.aws/config'),
      (e) => assertKeyrackError(e, 'aws-config.syntax').location === `~/.aws/config:${line}`,
      JSON.stringify(text),
    );
  }
});

test('the syntax errors we report are ones the AWS CLI itself rejects', { skip: !hasBotocore && 'no /usr/bin/python3 with awscli' }, async () => {
  const dir = await sandbox();
  for (const text of ['[profile x\n', 'k = v\n[default]\n', '[default]\na = 1\na = 2\n', '[default]\nwords\n', '[default]\n[default]\n', '\uFEFF[default]\n']) {
    const path = join(dir, 'config');
    await writeFile(path, text);
    await assert.rejects(botocoreView(path), JSON.stringify(text));
    assert.throws(() => parseAwsConfig(text));
  }
});

test('readAwsConfig: missing file is empty, invalid UTF-8 is refused with its line, locations use ~', async () => {
  const home = await sandbox();
  const path = join(home, '.aws', 'config');
  const empty = await readAwsConfig(path, { home });
  assert.equal(empty.exists, false);
  assert.equal(empty.sections.length, 0);
  assert.equal(empty.displayPath, '~/.aws/config');
  await writeAwsConfig(path, '[default]\nregion = us-east-1\n');
  await writeFile(path, Buffer.concat([Buffer.from('[default]\nregion = us-east-1\n# caf'), Buffer.from([0xff, 0xfe]), Buffer.from('\n')]));
  await assert.rejects(readAwsConfig(path, { home }), (e) => assertKeyrackError(e, 'aws-config.syntax').location === '~/.aws/config:3');
  assert.equal(displayPathFor('/elsewhere/config', home), '/elsewhere/config');
});

test('writeAwsConfig: atomic, 0600 in a 0700 directory, keeps an existing mode and a symlink', async () => {
  const home = await sandbox();
  const path = join(home, '.aws', 'config');
  await writeAwsConfig(path, '[default]\n');
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.equal((await stat(join(home, '.aws'))).mode & 0o777, 0o700);
  await chmod(path, 0o644);
  await writeAwsConfig(path, '[default]\nregion = us-east-1\n');
  assert.equal((await stat(path)).mode & 0o777, 0o644);

  const real = join(home, 'dotfiles-config');
  await writeFile(real, '[default]\n', { mode: 0o600 });
  const linked = join(home, 'linked-config');
  await symlink(real, linked);
  await writeAwsConfig(linked, '[profile z]\n');
  assert.ok((await lstat(linked)).isSymbolicLink());
  assert.equal(await readFile(real, 'utf8'), '[profile z]\n');

  await assert.rejects(writeAwsConfig(path, 'x', { expected: 'not what is there' }), (e) => assertKeyrackError(e, 'aws-config.changed', 'unavailable') !== undefined);
  await rm(home, { recursive: true, force: true });
});

test('upsertSection appends a new section and leaves every existing byte alone', () => {
  const r = upsertSection(REALISTIC, { kind: 'sso-session', name: 'beta' }, [
    ['sso_start_url', 'https://d-9.awsapps.com/start'],
    ['sso_region', 'eu-west-1'],
    ['sso_registration_scopes', 'sso:account:access'],
  ]);
  assert.equal(r.changed, 'added');
  assert.equal(r.text, `${REALISTIC}\n[sso-session beta]\nsso_start_url = https://d-9.awsapps.com/start\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n`);

  const p = upsertSection(r.text, { kind: 'profile', name: 'beta-admin' }, [
    ['sso_session', 'beta'],
    ['sso_account_id', '123456789012'],
    ['sso_role_name', 'Admin'],
  ]);
  assert.ok(p.text.startsWith(r.text));
  assert.deepEqual(resolveProfile(parseAwsConfig(p.text), 'beta-admin'), {
    kind: 'sso-session',
    profile: 'beta-admin',
    session: 'beta',
    startUrl: 'https://d-9.awsapps.com/start',
    region: 'eu-west-1',
    accountId: '123456789012',
    roleName: 'Admin',
    registrationScopes: ['sso:account:access'],
  });
});

test('upsertSection: newline conventions (none, CRLF, trailing blank lines, empty file)', () => {
  const entries = [['region', 'us-east-1']] as const;
  assert.equal(upsertSection('', { kind: 'profile', name: 'a' }, entries).text, '[profile a]\nregion = us-east-1\n');
  assert.equal(upsertSection('[default]\noutput = json', { kind: 'profile', name: 'a' }, entries).text, '[default]\noutput = json\n\n[profile a]\nregion = us-east-1');
  assert.equal(upsertSection('[default]\r\noutput = json\r\n', { kind: 'profile', name: 'a' }, entries).text, '[default]\r\noutput = json\r\n\r\n[profile a]\r\nregion = us-east-1\r\n');
  assert.equal(upsertSection('[default]\noutput = json\n\n\n', { kind: 'profile', name: 'a' }, entries).text, '[default]\noutput = json\n\n\n[profile a]\nregion = us-east-1\n');
  assert.equal(upsertSection('# only a comment\n', { kind: 'default', name: 'default' }, entries).text, '# only a comment\n\n[default]\nregion = us-east-1\n');
});

test('upsertSection: identical is unchanged, different is a conflict, force edits only that section', () => {
  const same = upsertSection(REALISTIC, { kind: 'sso-session', name: 'acme' }, [
    ['sso_region', 'us-east-1'],
    ['sso_start_url', 'https://d-1234567890.awsapps.com/start'],
  ]);
  assert.deepEqual(same, { text: REALISTIC, changed: 'unchanged' });

  const want = [
    ['sso_start_url', 'https://d-1234567890.awsapps.com/start'],
    ['sso_region', 'us-west-2'],
    ['sso_registration_scopes', 'sso:account:access'],
  ] as const;
  assert.throws(
    () => upsertSection(REALISTIC, { kind: 'sso-session', name: 'acme' }, want),
    (e) => {
      const k = assertKeyrackError(e, 'aws-config.conflict');
      assert.equal(k.location, '~/.aws/config:20');
      assert.match(k.message, /sso_region/);
      return true;
    },
  );
  const forced = upsertSection(REALISTIC, { kind: 'sso-session', name: 'acme' }, want, { force: true });
  assert.equal(forced.changed, 'updated');
  const before = REALISTIC.split('\n');
  const after = forced.text.split('\n');
  assert.equal(after.length, before.length);
  const changedLines = before.map((l, i) => (l === after[i] ? -1 : i + 1)).filter((i) => i !== -1);
  assert.deepEqual(changedLines, [20]);
  assert.equal(after[19], 'sso_region = us-west-2\r'); // CRLF of that line kept

  // Forcing a legacy profile onto an sso-session: its legacy keys can be removed in the same edit.
  const moved = upsertSection(
    REALISTIC,
    { kind: 'profile', name: 'quoted' },
    [
      ['sso_session', 'acme'],
      ['sso_account_id', '444455556666'],
      ['sso_role_name', 'ReadOnly'],
    ],
    { force: true, remove: ['sso_start_url', 'sso_region'] },
  );
  const r = resolveProfile(parseAwsConfig(moved.text.replace('   # the SDK strips this comment, the CLI does not', '')), 'quoted');
  assert.equal(r.kind, 'sso-session');
  assert.ok(moved.text.startsWith(REALISTIC.slice(0, REALISTIC.indexOf("[profile 'quoted']"))));
  assert.ok(moved.text.endsWith(REALISTIC.slice(REALISTIC.indexOf('  # an indented comment'))));
  assert.match(moved.text, /\[profile 'quoted'\]\nsso_account_id = 444455556666\nsso_role_name = ReadOnly\nsso_session = acme\n  # an indented comment/);
});

test('setKey and removeKey are surgical: values, sub-sections, CRLF, spacing, upper-case keys', () => {
  let t = setKey(REALISTIC, { kind: 'profile', name: 'quoted' }, 'sso_region', 'eu-north-1');
  assert.equal(t.changed, 'updated');
  assert.equal(t.text, REALISTIC.replace('sso_region     =     us-west-2', 'sso_region     =     eu-north-1'));

  t = setKey(REALISTIC, { kind: 'sso-session', name: 'acme' }, 'sso_region', 'us-east-1');
  assert.deepEqual(t, { text: REALISTIC, changed: 'unchanged' });

  t = setKey(REALISTIC, { kind: 'sso-session', name: 'acme' }, 'note', 'x');
  assert.equal(t.text, REALISTIC.replace('sso_registration_scopes = sso:account:access\r\n', 'sso_registration_scopes = sso:account:access\r\nnote = x\r\n'));

  t = setKey(REALISTIC, { kind: 'services', name: 'local-emulator' }, 'sts.endpoint_url', 'http://127.0.0.1:4566/sts');
  assert.equal(t.text, REALISTIC.replace('\tendpoint_url = http://127.0.0.1:4566/portal\n', '\tendpoint_url = http://127.0.0.1:4566/portal\nsts =\n  endpoint_url = http://127.0.0.1:4566/sts\n'));
  t = setKey(REALISTIC, { kind: 'services', name: 'local-emulator' }, 'sso_oidc.endpoint_url', 'http://127.0.0.1:9/oidc');
  assert.equal(t.text, REALISTIC.replace('  endpoint_url = http://127.0.0.1:4566/oidc', '  endpoint_url = http://127.0.0.1:9/oidc'));
  t = setKey(REALISTIC, { kind: 'profile', name: 'dev' }, 's3.addressing_style', 'path');
  assert.equal(t.text, REALISTIC.replace('\tmultipart_threshold = 64MB\n', '\tmultipart_threshold = 64MB\n  addressing_style = path\n'));

  // The inline comment goes (the CLI would read it as part of the value); spacing stays.
  t = setKey(REALISTIC, { kind: 'profile', name: 'dev' }, 'region', 'eu-west-2');
  assert.equal(t.text, REALISTIC.replace('region = eu-west-1   # the SDK strips this comment, the CLI does not\n', 'region = eu-west-2\n'));

  // An upper-case key is the same key for the CLI: rewritten in place, never duplicated.
  const upper = '[profile u]\nSSO_Role_Name = A\n';
  assert.equal(setKey(upper, { kind: 'profile', name: 'u' }, 'sso_role_name', 'B').text, '[profile u]\nsso_role_name = B\n');

  // No final newline: kept that way.
  assert.equal(setKey('[profile u]\nregion=x', { kind: 'profile', name: 'u' }, 'output', 'json').text, '[profile u]\nregion=x\noutput = json');
  assert.equal(setKey('[profile u]\nregion=x', { kind: 'profile', name: 'u' }, 'region', 'y').text, '[profile u]\nregion=y');

  let rm = removeKey(REALISTIC, { kind: 'profile', name: 'dev' }, 's3');
  assert.equal(rm.text, REALISTIC.replace('s3 =\n  max_concurrent_requests = 20\n\tmultipart_threshold = 64MB\n', ''));
  rm = removeKey(REALISTIC, { kind: 'services', name: 'local-emulator' }, 'sso.endpoint_url');
  assert.equal(rm.text, REALISTIC.replace('sso =\n\tendpoint_url = http://127.0.0.1:4566/portal\n', ''));
  rm = removeKey(REALISTIC, { kind: 'profile', name: 'dev' }, 's3.multipart_threshold');
  assert.equal(rm.text, REALISTIC.replace('\tmultipart_threshold = 64MB\n', ''));
  rm = removeKey(REALISTIC, { kind: 'sso-session', name: 'acme' }, 'sso_registration_scopes');
  assert.equal(rm.text, REALISTIC.replace('sso_registration_scopes = sso:account:access\r\n', ''));
  assert.deepEqual(removeKey(REALISTIC, { kind: 'profile', name: 'dev' }, 'nope'), { text: REALISTIC, changed: false });
  assert.equal(removeKey('[a]\n[profile u]\nregion=x\noutput=y', { kind: 'profile', name: 'u' }, 'output').text, '[a]\n[profile u]\nregion=x');

  assert.throws(() => setKey(REALISTIC, { kind: 'profile', name: 'missing' }, 'region', 'x'), (e) => assertKeyrackError(e, 'aws-config.section-missing') !== undefined);
});

test('edits refuse values that would not read back the same in both parsers', () => {
  for (const bad of ['', ' padded', 'a # comment', 'a ;b', 'two\nlines']) {
    assert.throws(() => setKey('[default]\n', { kind: 'default', name: 'default' }, 'region', bad), (e) => assertKeyrackError(e, 'aws-config.invalid-value', 'invalid-input') !== undefined);
  }
  assert.throws(() => upsertSection('', { kind: 'profile', name: 'has space' }, []), (e) => assertKeyrackError(e, 'aws-config.invalid-name', 'invalid-input') !== undefined);
  assert.throws(() => setKey('[default]\n', { kind: 'default', name: 'default' }, 'Bad-Key', 'x'), (e) => assertKeyrackError(e, 'aws-config.invalid-key', 'invalid-input') !== undefined);
  assert.ok(setKey('[default]\n', { kind: 'default', name: 'default' }, 'credential_process', 'keyrack cp --profile=a#b').text.includes('a#b'));
});

test('edited files read the same in the JS SDK and the AWS CLI', { skip: !hasBotocore && 'no /usr/bin/python3 with awscli' }, async () => {
  const dir = await sandbox();
  const path = join(dir, 'config');
  let text = REALISTIC.replace('   # the SDK strips this comment, the CLI does not', '');
  text = upsertSection(text, { kind: 'sso-session', name: 'beta' }, [
    ['sso_start_url', 'https://d-9.awsapps.com/start'],
    ['sso_region', 'eu-west-1'],
  ]).text;
  text = upsertSection(text, { kind: 'profile', name: 'beta-admin' }, [
    ['sso_session', 'beta'],
    ['sso_account_id', '123456789012'],
    ['sso_role_name', 'Admin'],
    ['services', 'local-emulator'],
  ]).text;
  text = setKey(text, { kind: 'services', name: 'local-emulator' }, 'sts.endpoint_url', 'http://127.0.0.1:4566/sts').text;
  text = setKey(text, { kind: 'profile', name: 'dev' }, 's3.addressing_style', 'path').text;
  text = removeKey(text, { kind: 'profile', name: 'dev' }, 'output').text;
  await writeFile(path, text);
  const doc = parseAwsConfig(text);
  const py = await botocoreView(path);
  const sdk = await sdkView(path);
  assert.deepEqual(py.profiles['beta-admin'], entriesOf(doc, 'profile', 'beta-admin'));
  assert.deepEqual(sdk['beta-admin'], entriesOf(doc, 'profile', 'beta-admin'));
  assert.deepEqual(py.sso_sessions.beta, entriesOf(doc, 'sso-session', 'beta'));
  assert.deepEqual(py.profiles.dev, entriesOf(doc, 'profile', 'dev'));
  assert.deepEqual(sdk.dev, entriesOf(doc, 'profile', 'dev'));
  assert.equal(py['services local-emulator']?.['sts.endpoint_url'], 'http://127.0.0.1:4566/sts');
  assert.equal(sdk['services.local-emulator']?.['sts.endpoint_url'], 'http://127.0.0.1:4566/sts');
});
