import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  KEYRACK_FIELDS,
  KEYRACK_PATTERNS,
  loadKeyrackFile,
  parseKeyrackFile,
  type KeyrackFile,
} from '../../src/core/keyrack-file.js';
import { DURATION_PATTERN } from '../../src/core/duration.js';
import { KeyrackError, formatError } from '../../src/core/errors.js';

const root = new URL('../../', import.meta.url);
const EXAMPLE = readFileSync(new URL('keyrack.yml.example', root), 'utf8');
const at = (line: number, col: number) => ({ file: 'keyrack.yml', line, col });
const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

test('keyrack.yml.example parses to the emulator default fixture refs', () => {
  const expected: KeyrackFile = {
    path: 'keyrack.yml',
    org: 'acme',
    sso: {
      acme: { name: 'acme', startUrl: 'https://d-1234567890.awsapps.com/start', region: 'us-east-1', location: at(lineOf(EXAMPLE, '  acme:'), 3) },
    },
    envs: {
      prep: {
        AWS_PROFILE: {
          kind: 'profile',
          env: 'prep',
          key: 'AWS_PROFILE',
          profile: 'acme.prep',
          sso: 'acme',
          account: '111122223333',
          role: 'Developer',
          location: at(lineOf(EXAMPLE, 'env.prep:') + 1, 3),
        },
      },
      prod: {
        AWS_PROFILE: {
          kind: 'profile',
          env: 'prod',
          key: 'AWS_PROFILE',
          profile: 'acme.prod',
          sso: 'acme',
          account: '444455556666',
          role: 'ReadOnly',
          location: at(lineOf(EXAMPLE, 'env.prod:') + 1, 3),
        },
      },
    },
  };
  assert.deepEqual(parseKeyrackFile(EXAMPLE, 'keyrack.yml'), expected);
});

test('the reference kinds commented out in the example are valid once uncommented', () => {
  const uncommented = EXAMPLE.split('\n')
    .map((l) => (l.startsWith('#   ') ? l.slice(2) : l))
    .join('\n');
  const prod = parseKeyrackFile(uncommented, 'keyrack.yml').envs.prod ?? {};
  assert.deepEqual(Object.keys(prod), ['AWS_PROFILE', 'AWS_TASK', 'AWS_CI']);
  assert.deepEqual(prod.AWS_TASK, {
    kind: 'profile',
    env: 'prod',
    key: 'AWS_TASK',
    profile: 'acme.prep',
    scope: {
      roleArn: 'arn:aws:iam::111122223333:role/keyrack-robot',
      maxDurationSeconds: 900,
      purposes: {
        'log-analysis': { actions: ['s3:GetObject', 'logs:FilterLogEvents'] },
        inventory: { actions: ['ec2:DescribeInstances'], resources: ['*'] },
      },
    },
    location: at(lineOf(uncommented, 'AWS_TASK:'), 3),
  });
  assert.deepEqual(prod.AWS_CI, {
    kind: 'web-identity',
    env: 'prod',
    key: 'AWS_CI',
    roleArn: 'arn:aws:iam::111122223333:role/ci',
    tokenFile: '/var/run/token',
    audience: 'sts.amazonaws.com',
    location: at(lineOf(uncommented, 'AWS_CI:'), 3),
  });
});

const FULL = `org: acme
sso:
  acme:                          # an sso-session name
    start_url: https://d-1234567890.awsapps.com/start
    region: us-east-1
env.prep:
  AWS_PROFILE:
    aws:
      profile: acme.prep
      sso: acme
      account: "111122223333"
      role: Developer
  AWS_TASK:
    aws:
      profile: acme.prep
      scope:
        role_arn: arn:aws:iam::111122223333:role/keyrack-robot
        purposes:
          log-analysis: { actions: [s3:GetObject, logs:FilterLogEvents] }
  AWS_CI:
    aws:
      web_identity: { role_arn: "arn:aws:iam::111122223333:role/ci", token_env: CI_OIDC_TOKEN }
env.prod:
  AWS_PROFILE:
    aws: { profile: acme.prod, sso: acme, account: "444455556666", role: ReadOnly }
`;

test('the documented format parses in file order with defaults applied', () => {
  const file = parseKeyrackFile(FULL, 'repo/keyrack.yml');
  assert.equal(file.path, 'repo/keyrack.yml');
  assert.deepEqual(Object.keys(file.envs), ['prep', 'prod']);
  assert.deepEqual(Object.keys(file.envs.prep ?? {}), ['AWS_PROFILE', 'AWS_TASK', 'AWS_CI']);
  const task = file.envs.prep?.AWS_TASK;
  assert.equal(task?.scope?.maxDurationSeconds, 3600, 'max_duration defaults to the STS default, 1h');
  assert.deepEqual(file.envs.prep?.AWS_CI, {
    kind: 'web-identity',
    env: 'prep',
    key: 'AWS_CI',
    roleArn: 'arn:aws:iam::111122223333:role/ci',
    tokenEnv: 'CI_OIDC_TOKEN',
    location: { file: 'repo/keyrack.yml', line: 20, col: 3 },
  });
  assert.deepEqual(file.sso.acme?.location, { file: 'repo/keyrack.yml', line: 3, col: 3 });
});

test('optional parts may be left out: no org, no sso, a bare profile', () => {
  const file = parseKeyrackFile('env.dev:\n  AWS_PROFILE:\n    aws:\n      profile: dev\n', 'keyrack.yml');
  assert.deepEqual(file, {
    path: 'keyrack.yml',
    sso: {},
    envs: { dev: { AWS_PROFILE: { kind: 'profile', env: 'dev', key: 'AWS_PROFILE', profile: 'dev', location: at(2, 3) } } },
  });
});

/** Wraps an `aws:` flow map into a one-env file; the ref's aws map starts on line 3, col 10. */
const ref = (aws: string, extra = '') => `${extra}env.prep:\n  AWS_PROFILE:\n    aws: ${aws}\n`;
const SSO = 'sso:\n  acme:\n    start_url: https://d-1234567890.awsapps.com/start\n    region: us-east-1\n';
const scope = (body: string) => ref(`{ profile: p, scope: { role_arn: "arn:aws:iam::111122223333:role/r", ${body} } }`);

// [what, text, code, line:col, message pattern]
const INVALID: Array<[string, string, string, string, RegExp?]> = [
  ['YAML syntax error', 'env.prep:\n  AWS_PROFILE: [a\n  X: b\n', 'yaml-syntax', '3:3', /^YAML syntax error: /],
  ['tab-indented YAML', 'env.prep:\n\tAWS_PROFILE: x\n', 'yaml-syntax', '2:1'],
  ['multiple documents', 'org: a\n---\norg: b\n', 'yaml-syntax', '2:1'],
  ['empty file', '', 'empty', '1:1'],
  ['comments only', '# nothing\n', 'empty', '1:1'],
  ['no env section', 'org: acme\n', 'empty', '1:1', /no env\.<name> section/],
  ['root is a list', '- a\n- b\n', 'wrong-type', '1:1', /must be a map, got a list/],
  ['unknown top-level field', 'orgs: acme\n' + ref('{ profile: p }'), 'unknown-field', '1:1', /unknown field "orgs" in keyrack\.yml/],
  ['env section typo', 'envs.prep: {}\n', 'unknown-field', '1:1'],
  ['unknown sso field', 'sso:\n  acme:\n    startUrl: https://x.example\n    region: us-east-1\n', 'unknown-field', '3:5', /"startUrl" in sso\.acme/],
  ['unknown aws field', ref('{ profil: p }'), 'unknown-field', '3:12', /"profil" in env\.prep\.AWS_PROFILE\.aws/],
  ['provider other than aws', 'env.prep:\n  AWS_PROFILE:\n    gcp: { profile: p }\n', 'unknown-field', '3:5'],
  ['duplicate env', 'env.prep: { K: { aws: { profile: a } } }\nenv.prep: {}\n', 'duplicate-key', '2:1', /first at line 1/],
  ['duplicate key', 'env.prep:\n  K: { aws: { profile: a } }\n  K: { aws: { profile: b } }\n', 'duplicate-key', '3:3', /duplicate key "K" in env\.prep/],
  ['duplicate field', ref('{ profile: a, profile: b }'), 'duplicate-key', '3:24'],
  ['bad env name', 'env.pr/od:\n  K: { aws: { profile: a } }\n', 'bad-env-name', '1:1'],
  ['empty env name', 'env.:\n  K: { aws: { profile: a } }\n', 'bad-env-name', '1:1'],
  ['empty env', 'env.prep: {}\n', 'empty', '1:11'],
  ['env not a map', 'env.prep: AWS_PROFILE\n', 'wrong-type', '1:11'],
  ['key name not env-var style', 'env.prep:\n  aws-profile: { aws: { profile: a } }\n', 'bad-key-name', '2:3'],
  ['key name starting with a digit', 'env.prep:\n  1KEY: { aws: { profile: a } }\n', 'bad-key-name', '2:3'],
  ['profile written directly under the key', 'env.prep:\n  AWS_PROFILE: acme.prep\n', 'wrong-type', '2:16', /must be a map with aws:/],
  ['key without aws', 'env.prep:\n  AWS_PROFILE: {}\n', 'missing-field', '2:3', /missing aws/],
  ['aws with neither kind', ref('{ role: Developer }'), 'missing-field', '3:5', /needs profile or web_identity/],
  ['aws with both kinds', ref('{ profile: p, web_identity: { role_arn: "arn:aws:iam::111122223333:role/ci", token_env: T } }'), 'conflicting-fields', '3:24'],
  ['profile with a space', ref('{ profile: "acme prep" }'), 'bad-profile-name', '3:21'],
  ['profile with a bracket', ref('{ profile: "acme]" }'), 'bad-profile-name', '3:21'],
  ['profile as a number', ref('{ profile: 42 }'), 'wrong-type', '3:21', /must be a string .* got a number/],
  ['profile empty', 'env.prep:\n  K:\n    aws:\n      profile:\n', 'wrong-type', '4:7', /got nothing/],
  ['profile as a list', ref('{ profile: [a] }'), 'wrong-type', '3:21', /got a list/],
  ['account 11 digits', ref('{ profile: p, account: "11112222333" }'), 'bad-account', '3:33', /12-digit account id/],
  ['account with dashes', ref('{ profile: p, account: "1111-2222-3333" }'), 'bad-account', '3:33'],
  ['account unquoted', ref('{ profile: p, account: 111122223333 }'), 'bad-account', '3:33', /YAML number/],
  ['account as a boolean', ref('{ profile: p, account: true }'), 'wrong-type', '3:33'],
  ['undefined sso', ref('{ profile: p, sso: acme }'), 'undefined-sso', '3:29'],
  ['misspelled sso', ref('{ profile: p, sso: acmee }', SSO), 'undefined-sso', '7:29'],
  ['sso name shape', 'sso:\n  "ac me":\n    start_url: https://x.example\n    region: us-east-1\n', 'bad-sso-name', '2:3'],
  ['start_url http', SSO.replace('https:', 'http:') + ref('{ profile: p }'), 'bad-start-url', '3:16', /not an https URL/],
  ['start_url not a URL', SSO.replace('https://d-1234567890.awsapps.com/start', 'https://[nope'), 'bad-start-url', '3:16'],
  ['sso missing region', 'sso:\n  acme:\n    start_url: https://x.example\n', 'missing-field', '2:3', /sso\.acme is missing region/],
  ['region shape', SSO.replace('us-east-1', 'US East') + ref('{ profile: p }'), 'bad-region', '4:13'],
  ['region without number', SSO.replace('us-east-1', 'us-east') + ref('{ profile: p }'), 'bad-region', '4:13'],
  ['empty sso section', 'sso: {}\n' + ref('{ profile: p }'), 'empty', '1:6'],
  ['role with a space', ref('{ profile: p, role: "Read Only" }'), 'bad-role', '3:30'],
  ['role too long', ref(`{ profile: p, role: ${'R'.repeat(65)} }`), 'bad-role', '3:30'],
  ['web identity pins an account', ref('{ web_identity: { role_arn: "arn:aws:iam::111122223333:role/ci", token_env: T }, account: "111122223333" }'), 'conflicting-fields', '3:91'],
  ['web identity without token source', ref('{ web_identity: { role_arn: "arn:aws:iam::111122223333:role/ci" } }'), 'missing-field', '3:12', /token_file or token_env/],
  ['web identity with both token sources', ref('{ web_identity: { role_arn: "arn:aws:iam::111122223333:role/ci", token_file: /t, token_env: T } }'), 'conflicting-fields', '3:91'],
  ['web identity without role_arn', ref('{ web_identity: { token_env: T } }'), 'missing-field', '3:12'],
  ['web identity token_env shape', ref('{ web_identity: { role_arn: "arn:aws:iam::111122223333:role/ci", token_env: "A B" } }'), 'bad-token-env', '3:86'],
  ['role ARN of a user', ref('{ web_identity: { role_arn: "arn:aws:iam::111122223333:user/ci", token_env: T } }'), 'bad-role-arn', '3:38'],
  ['role ARN with a short account', ref('{ web_identity: { role_arn: "arn:aws:iam::11112222333:role/ci", token_env: T } }'), 'bad-role-arn', '3:38'],
  ['role ARN of another service', ref('{ web_identity: { role_arn: "arn:aws:s3:::111122223333:role/ci", token_env: T } }'), 'bad-role-arn', '3:38'],
  ['scope without purposes', ref('{ profile: p, scope: { role_arn: "arn:aws:iam::111122223333:role/r" } }'), 'missing-field', '3:24', /missing purposes/],
  ['scope with empty purposes', scope('purposes: {}'), 'empty', '3:89'],
  ['purpose without actions', scope('purposes: { read: {} }'), 'missing-field', '3:91'],
  ['purpose with empty actions', scope('purposes: { read: { actions: [] } }'), 'empty', '3:108'],
  ['action without a service', scope('purposes: { read: { actions: [GetObject] } }'), 'bad-action', '3:109', /actions\[0\] is not an IAM action/],
  ['bare * action', scope('purposes: { read: { actions: [s3:GetObject, "*"] } }'), 'bad-action', '3:123'],
  ['resource not an ARN', scope('purposes: { read: { actions: [s3:GetObject], resources: [my-bucket] } }'), 'bad-resource', '3:136'],
  ['purpose name shape', scope('purposes: { "read all": { actions: [s3:GetObject] } }'), 'bad-purpose-name', '3:91'],
  ['unknown purpose field', scope('purposes: { read: { action: [s3:GetObject] } }'), 'unknown-field', '3:99', /unknown field "action" in env\.prep\.AWS_PROFILE\.aws\.scope\.purposes\.read$/],
  ['max_duration too short', scope('max_duration: 5m, purposes: { r: { actions: [s3:GetObject] } }'), 'bad-duration', '3:93', /between 15m and 12h/],
  ['max_duration too long', scope('max_duration: 13h, purposes: { r: { actions: [s3:GetObject] } }'), 'bad-duration', '3:93'],
  ['max_duration garbage', scope('max_duration: soon, purposes: { r: { actions: [s3:GetObject] } }'), 'bad-duration', '3:93', /is not a duration/],
  ['max_duration as seconds', scope('max_duration: 900, purposes: { r: { actions: [s3:GetObject] } }'), 'bad-duration', '3:93'],
  ['YAML alias', 'env.prep: &e { K: { aws: { profile: a } } }\nenv.prod: *e\n', 'unsupported-yaml', '2:11'],
  ['YAML tag', ref('{ profile: !!str p }'), 'unsupported-yaml', '3:27'],
  ['complex key', 'env.prep:\n  ? [a, b]\n  : { aws: { profile: a } }\n', 'wrong-type', '2:5'],
];

test('invalid files are refused with a stable code, position, one-line message and fix', () => {
  for (const [what, text, code, pos, message] of INVALID) {
    let caught: unknown;
    try {
      parseKeyrackFile(text, 'keyrack.yml');
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof KeyrackError, `${what}: expected a KeyrackError, got ${String(caught)}`);
    assert.equal(caught.code, `keyrack-file.${code}`, `${what}: code (${caught.message})`);
    assert.equal(caught.reason, 'invalid-input', what);
    assert.equal(caught.location, `keyrack.yml:${pos}`, `${what}: location (${caught.message})`);
    assert.ok(!caught.message.includes('\n') && caught.message.length > 0, `${what}: one-line message`);
    assert.ok(caught.fix && !caught.fix.includes('\n'), `${what}: one-line fix`);
    if (message) assert.match(caught.message, message, what);
  }
});

test('unknown fields suggest the closest known one', () => {
  const cases: Array<[string, string]> = [
    ['sso:\n  acme:\n    startUrl: https://x.example\n    region: us-east-1\n', 'did you mean start_url?'],
    [ref('{ profle: p }'), 'did you mean profile?'],
    [ref('{ web-identity: {} }'), 'did you mean web_identity?'],
    [ref('{ acount: "111122223333", profile: p }'), 'did you mean account?'],
    ['env-prod: {}\n', 'did you mean env.prod?'],
    [ref('{ profile: p, zzzzzzz: 1 }'), 'allowed here: profile, sso, account, role, scope, web_identity'],
  ];
  for (const [text, fix] of cases) {
    assert.throws(() => parseKeyrackFile(text, 'keyrack.yml'), (e: unknown) => e instanceof KeyrackError && e.fix === fix, fix);
  }
});

test('an unquoted account says how to quote it, keeping leading zeros YAML would drop', () => {
  const cases: Array<[string, string]> = [
    ['012345678901', 'quote it: account: "012345678901"'], // YAML reads 12345678901
    ['111122223333', 'quote it: account: "111122223333"'],
    ['1234567890123456789012', 'quote it: account: "<12 digits>"'], // YAML rounds it
    ['0x1F', 'quote it: account: "<12 digits>"'],
  ];
  for (const [raw, fix] of cases) {
    assert.throws(
      () => parseKeyrackFile(ref(`{ profile: p, account: ${raw} }`), 'keyrack.yml'),
      (e: unknown) => e instanceof KeyrackError && e.code === 'keyrack-file.bad-account' && e.fix === fix,
      raw,
    );
  }
});

test('a secret anywhere is refused before parsing, even in broken YAML, and never echoed', () => {
  const key = ['AKIA', 'Z7Q3', 'M2XK', 'P9RW', 'T4LB'].join('');
  for (const text of [
    ref(`{ profile: ${key} }`),
    `# ${key}\n` + ref('{ profile: p }'),
    ref('{ profile: p, aws_secret_access_key: abc123 }'),
    `env.prep: [ ${key}\n`, // not valid YAML either: the secret is still what is reported
  ]) {
    let caught: unknown;
    try {
      parseKeyrackFile(text, 'keyrack.yml');
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof KeyrackError);
    assert.equal(caught.code, 'keyrack-file.secret');
    assert.match(caught.location ?? '', /^keyrack\.yml:\d+:\d+$/);
    const shown = formatError(caught);
    assert.ok(!shown.includes(key.slice(4, 12)) && !shown.includes('abc123'), shown);
  }
});

test('messages quote field names, never values', () => {
  const value = 'Zq9-value-xyzzy';
  for (const text of [
    ref(`{ profile: "${value} x" }`),
    ref(`{ profile: p, account: "${value}" }`),
    ref(`{ profile: p, role: "${value} x" }`),
    scope(`max_duration: "${value}", purposes: { r: { actions: [s3:GetObject] } } }`),
  ]) {
    assert.throws(
      () => parseKeyrackFile(text, 'keyrack.yml'),
      (e: unknown) => e instanceof KeyrackError && !formatError(e).includes('xyzzy'),
    );
  }
});

test('names that are special in JavaScript stay plain data', () => {
  const file = parseKeyrackFile('env.prep:\n  __proto__: { aws: { profile: a } }\n  constructor: { aws: { profile: b } }\n', 'keyrack.yml');
  const prep = file.envs.prep ?? {};
  assert.deepEqual(Object.keys(prep), ['__proto__', 'constructor']);
  assert.equal(Object.getPrototypeOf(prep), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(prep, '__proto__')?.value?.profile, 'a');
});

test('loadKeyrackFile reads a file and reports a missing one with the fix', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keyrack-file-'));
  try {
    const path = join(dir, 'keyrack.yml');
    writeFileSync(path, EXAMPLE);
    const file = await loadKeyrackFile(path);
    assert.equal(file.path, path);
    assert.equal(file.envs.prod?.AWS_PROFILE?.kind, 'profile');
    await assert.rejects(loadKeyrackFile(join(dir, 'nope.yml')), (e: unknown) => e instanceof KeyrackError && e.code === 'keyrack-file.not-found' && e.reason === 'invalid-input' && /KEYRACK_FILE/.test(e.fix ?? ''));
    await assert.rejects(loadKeyrackFile(dir), (e: unknown) => e instanceof KeyrackError && e.code === 'keyrack-file.unreadable');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The JSON schema is for editors; the validator is the source of truth. Both must agree on fields and shapes.
interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  patternProperties?: Record<string, SchemaNode>;
  $defs?: Record<string, SchemaNode>;
  [k: string]: unknown;
}
const schema = JSON.parse(readFileSync(new URL('schema/keyrack.schema.json', root), 'utf8')) as SchemaNode;

test('schema/keyrack.schema.json lists the same fields as the validator', () => {
  const defs = schema.$defs ?? {};
  const fieldsOf = (node: SchemaNode | undefined) => Object.keys(node?.properties ?? {}).sort();
  assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.deepEqual(fieldsOf(schema), [...KEYRACK_FIELDS.top].sort());
  assert.deepEqual(Object.keys(schema.patternProperties ?? {}), [KEYRACK_PATTERNS.envSection]);
  const groups: Array<[keyof typeof KEYRACK_FIELDS, string]> = [
    ['sso', 'ssoSession'],
    ['key', 'key'],
    ['aws', 'aws'],
    ['webIdentity', 'webIdentity'],
    ['scope', 'scope'],
    ['purpose', 'purpose'],
  ];
  for (const [group, def] of groups) assert.deepEqual(fieldsOf(defs[def]), [...KEYRACK_FIELDS[group]].sort(), def);
  for (const def of Object.values(defs)) if (def.properties) assert.equal(def.additionalProperties, false);
});

test('schema patterns are the validator patterns', () => {
  const used = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        if (k === 'pattern' && typeof child === 'string') used.add(child);
        if (k === 'patternProperties' && child && typeof child === 'object') Object.keys(child).forEach((p) => used.add(p));
        walk(child);
      }
    }
  };
  walk(schema);
  const known = new Set<string>([...Object.values(KEYRACK_PATTERNS), DURATION_PATTERN]);
  for (const p of used) assert.ok(known.has(p), `schema pattern not used by the validator: ${p}`);
  for (const p of known) assert.ok(used.has(p), `validator pattern missing from the schema: ${p}`);
});
