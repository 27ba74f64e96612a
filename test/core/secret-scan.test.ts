import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { assertNoSecrets, scanForSecrets, type SecretKind } from '../../src/core/secret-scan.js';
import { KeyrackError, errorJson, formatError } from '../../src/core/errors.js';

// Fake secrets are generated (seeded, so failures reproduce) rather than written out, so this file never
// trips a repository secret scanner and every run plants the same values.
let seed = 0x5eed;
function rand(n: number, alphabet: string): string {
  let out = '';
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    out += alphabet.charAt((seed >>> 16) % alphabet.length); // high bits: an LCG's low bits cycle fast
  }
  return out;
}
const UPPER_DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const b64url = (s: string) => Buffer.from(s).toString('base64url');

/** A token-shaped secret: refused in any position. `text` is what is planted when it adds context to `secret`. */
interface Planted {
  name: string;
  kind: SecretKind;
  secret: string;
  text?: string;
}
const BEARER = rand(36, B64URL);
const URL_PASSWORD = rand(14, B64URL);
const TOKENS: Planted[] = [
  { name: 'access key id (AKIA)', kind: 'aws-access-key-id', secret: 'AKIA' + rand(16, UPPER_DIGITS) },
  { name: 'access key id (ASIA)', kind: 'aws-access-key-id', secret: 'ASIA' + rand(16, UPPER_DIGITS) },
  { name: 'secret access key, standalone', kind: 'aws-secret-access-key', secret: 'wJalr' + rand(30, B64) + 'K7MdE' },
  { name: 'session token (IQoJ)', kind: 'aws-session-token', secret: 'IQoJb3JpZ2luX2VjE' + rand(380, B64) + '==' },
  { name: 'session token (Fwo)', kind: 'aws-session-token', secret: 'FwoGZXIvYXdzE' + rand(250, B64) },
  { name: 'session token, any long base64', kind: 'aws-session-token', secret: 'Qm9' + rand(140, B64) + '=' },
  { name: 'SSO access token', kind: 'sso-token', secret: 'aoaAAAAAGZ' + rand(60, B64URL) + ':MGQCM' + rand(30, B64) },
  { name: 'SSO refresh token', kind: 'sso-token', secret: 'aorAAAAAGZ' + rand(60, B64URL) },
  { name: 'emulator marker', kind: 'emulator-secret', secret: 'emu-EMUSECRET-' + rand(8, B64URL) },
  {
    name: 'JWT',
    kind: 'jwt',
    secret: `${b64url('{"alg":"RS256","kid":"k1"}')}.${b64url(`{"sub":"robot","n":"${rand(12, B64URL)}"}`)}.${rand(43, B64URL)}`,
  },
  { name: 'bearer token', kind: 'bearer-token', secret: BEARER, text: `Bearer ${BEARER}` },
  { name: 'URL with credentials', kind: 'url-credentials', secret: URL_PASSWORD, text: `https://deploy:${URL_PASSWORD}@git.example.com/acme.git` },
];

/** Positions a token can take in a keyrack.yml line. */
const POSITIONS: Array<[string, (s: string) => string]> = [
  ['value', (s) => `      profile: ${s}`],
  ['quoted value', (s) => `      role: "${s}"`],
  ['key', (s) => `  ${s}:`],
  ['flow key', (s) => `    aws: { profile: acme.prep, "${s}": x }`],
  ['comment', (s) => `# ${s}`],
  ['trailing comment', (s) => `      profile: acme.prep   # ${s}`],
];

function doc(line: string): { text: string; line: number } {
  const head = ['org: acme', 'env.prep:', '  AWS_PROFILE:', '    aws:'];
  return { text: [...head, line, '      sso: acme', ''].join('\n'), line: head.length + 1 };
}

function assertRefused(text: string, secret: string, line: number, kind: SecretKind, label: string): void {
  const findings = scanForSecrets(text);
  assert.equal(findings[0]?.line, line, `${label}: line`);
  assert.equal(findings[0]?.kind, kind, `${label}: kind`);
  let caught: unknown;
  try {
    assertNoSecrets(text, 'keyrack.yml');
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof KeyrackError, `${label}: throws KeyrackError`);
  assert.equal(caught.code, 'keyrack-file.secret');
  assert.equal(caught.reason, 'invalid-input');
  assert.match(caught.location ?? '', new RegExp(`^keyrack\\.yml:${line}:\\d+$`));
  assert.match(caught.message, /references only/);
  assert.match(caught.fix ?? '', /rotate/);
  assert.equal(caught.cause, undefined, `${label}: no cause carrying the text`);
  assertNotEchoed([formatError(caught), JSON.stringify(errorJson(caught)), caught.stack ?? ''].join('\n'), secret, label);
}

/** Neither the secret nor any 6-character piece of it may appear in what the user sees. */
function assertNotEchoed(output: string, secret: string, label: string): void {
  for (let i = 0; i + 6 <= secret.length; i++) {
    const piece = secret.slice(i, i + 6);
    assert.ok(!output.includes(piece), `${label}: output echoes part of the secret (${i})`);
  }
}

test('token-shaped secrets are refused in value, key and comment positions', () => {
  for (const { name, kind, secret, text: planted } of TOKENS) {
    for (const [pos, render] of POSITIONS) {
      const { text, line } = doc(render(planted ?? secret));
      assertRefused(text, secret, line, kind, `${name} as ${pos}`);
    }
  }
});

test('a secret access key next to a hint is refused even when it looks less random', () => {
  const secret = rand(40, 'abcdefghijklmnopqrstuvwxyz0123456789');
  for (const line of [`aws_secret_access_key = ${secret}`, `# SecretAccessKey: ${secret}`, `      secret_key: "${secret}"`]) {
    const { text, line: n } = doc(line);
    assertRefused(text, secret, n, 'aws-secret-access-key', line.slice(0, 24));
  }
});

test('PEM private keys are refused, including their body', () => {
  const body = rand(64, B64);
  for (const label of ['RSA PRIVATE KEY', 'PRIVATE KEY', 'OPENSSH PRIVATE KEY', 'EC PRIVATE KEY', 'ENCRYPTED PRIVATE KEY']) {
    const text = `org: acme\nkey: |\n  -----BEGIN ${label}-----\n  ${body}\n  -----END ${label}-----\n`;
    assertRefused(text, body, 3, 'private-key', label);
  }
  assertRefused(`# -----BEGIN PRIVATE KEY----- ${body}\n`, body, 1, 'private-key', 'in a comment');
});

test('secret-named fields with a value are refused (YAML, JSON, env, comment)', () => {
  const v = 'Hx7' + rand(13, B64URL);
  const cases: Array<[string, string]> = [
    ['aws_secret_access_key', `      aws_secret_access_key: ${v}`],
    ['aws_session_token', `      aws_session_token: "${v}"`],
    ['secret', `      secret: ${v}`],
    ['password', `      password: '${v}'`],
    ['client_secret', `    aws: { profile: acme.prep, client_secret: ${v} }`],
    ['refresh_token', `      refresh_token: ${v}`],
    ['access_token', `      accessToken: ${v}`],
    ['api key', `      api-key: ${v}`],
    ['json style', `    {"clientSecret": "${v}"}`],
    ['env style in a comment', `# export AWS_SESSION_TOKEN=${v}`],
    ['field in a comment', `# password: ${v}`],
    ['block scalar', `      password: |`],
    ['token in a URL query', `      start_url: https://example.com/start?token=${v}`],
  ];
  for (const [label, line] of cases) {
    const { text, line: n } = doc(line);
    assertRefused(text, v, n, 'secret-field', label);
  }
});

test('a file with several secrets reports the first and counts the rest, echoing none', () => {
  const a = 'AKIA' + rand(16, UPPER_DIGITS);
  const b = 'aorAAAAAGZ' + rand(60, B64URL);
  const text = `org: acme\n# ${a}\nenv.prep:\n  K: ${b}\n`;
  assert.deepEqual(
    scanForSecrets(text).map((f) => [f.line, f.kind]),
    [
      [2, 'aws-access-key-id'],
      [4, 'sso-token'],
    ],
  );
  assert.throws(
    () => assertNoSecrets(text, 'keyrack.yml'),
    (e: unknown) => e instanceof KeyrackError && e.location === 'keyrack.yml:2:3' && /and 1 more line\b/.test(e.message),
  );
  try {
    assertNoSecrets(text, 'keyrack.yml');
  } catch (e) {
    assert.ok(e instanceof KeyrackError);
    assertNotEchoed(formatError(e), a, 'first');
    assertNotEchoed(formatError(e), b, 'second');
  }
});

test('CRLF line endings report the same lines', () => {
  const secret = 'ASIA' + rand(16, UPPER_DIGITS);
  assert.deepEqual(scanForSecrets(`org: acme\r\nx: ${secret}\r\n`), [{ kind: 'aws-access-key-id', line: 2, col: 4 }]);
});

const LEGIT = `# yaml-language-server: $schema=./schema/keyrack.schema.json
# keyrack.yml holds references only: profile names, the SSO start URL, account ids, role names.
# Never paste a secret, token or password here; keep them in ~/.aws where the CLI caches them.
org: acme
sso:
  acme:
    start_url: https://d-1234567890.awsapps.com/start
    region: us-east-1
  legacy_org-2:
    start_url: "https://my-company.awsapps.com/start/#/"
    region: us-gov-west-1
env.prep:
  AWS_PROFILE:
    aws:
      profile: acme.prep
      sso: acme
      account: "111122223333"
      role: AWSReservedSSO_AdministratorAccess_0123456789abcdef
  AWS_SESSION_TOKEN:          # a key named like a secret, holding a reference
    aws: { profile: acme.prep-ReadOnly_2 }
  GITHUB_TOKEN: { aws: { profile: acme.tokens } }
  AWS_TASK:
    aws:
      profile: acme.prep
      scope:
        role_arn: arn:aws:iam::111122223333:role/service-role/keyrack/AWSReservedSSO_DataEngineerAccess_9f8e7d6c5b4a3210
        max_duration: 1h30m
        purposes:
          log-analysis: { actions: [s3:GetObject, logs:FilterLogEvents, logs:StartQuery], resources: ["arn:aws:s3:::acme-logs-prod-111122223333/*"] }
          inventory: { actions: [ec2:DescribeInstances, "ec2:Describe*"], resources: ["*"] }
          db: { actions: [secretsmanager:GetSecretValue, sts:GetSessionToken], resources: ["arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-password-AbCdEf"] }
  AWS_CI:
    aws:
      web_identity:
        role_arn: "arn:aws:iam::111122223333:role/github-actions/DeployFromMainBranchOfAcmeMonorepo2024"
        token_file: /var/run/secrets/eks.amazonaws.com/serviceaccount/token
        audience: sts.amazonaws.com
  AWS_CI_ENV:
    aws:
      web_identity: { role_arn: "arn:aws:iam::111122223333:role/ci", token_env: ACTIONS_ID_TOKEN_REQUEST_TOKEN }
env.prod:
  AWS_PROFILE:
    aws: { profile: acme.prod, sso: acme, account: "444455556666", role: ReadOnly }  # the secret: none here
  # the password: comes from the SSO portal, never this file
  # token: see the unlock docs. token_file: a path, token_env: a variable name.
`;

test('realistic legitimate files are accepted', () => {
  assert.deepEqual(scanForSecrets(LEGIT), []);
  assert.doesNotThrow(() => assertNoSecrets(LEGIT, 'keyrack.yml'));
});

test('the shipped keyrack.yml.example is accepted', () => {
  const example = readFileSync(new URL('../../keyrack.yml.example', import.meta.url), 'utf8');
  assert.deepEqual(scanForSecrets(example), []);
});

test('near misses are not secrets', () => {
  const lines = [
    'profile: AKIA-is-a-prefix-not-a-key',
    'role: AROAXXXXXXXXXXXXXXXX', // a role's unique id is an identifier, not a credential
    'account: "123456789012"',
    `commit: ${rand(40, '0123456789abcdef')}`, // a git SHA: 40 chars, no upper case
    'role: OrganizationAccountAccessRoleProd', // CamelCase words
    `path: /${'very-long-directory-name/'.repeat(6)}file`,
    '# Use a Bearer token from the SSO portal, never a static one',
    '# aoa and aor tokens live in ~/.aws/sso/cache',
    'start_url: https://d-1234567890.awsapps.com/start#/console',
    'password:',
    'secret: ~',
    'client_secret: ""',
    'access_token: <from the portal>',
  ];
  for (const line of lines) assert.deepEqual(scanForSecrets(line), [], line);
});
