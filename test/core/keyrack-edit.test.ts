// keyrack.yml edits are splices: every byte outside the inserted or replaced span is the original's.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { editKeyrackText, newKeyrackText, viewKeyrackText, writeKeyrackText } from '../../src/core/keyrack-edit.js';
import { KeyrackError } from '../../src/core/errors.js';
import { parseKeyrackFile } from '../../src/core/keyrack-file.js';

const P = '/repo/keyrack.yml';

// Comments everywhere, a flow ref and a block ref, odd indentation, quotes of both kinds, trailing blank lines.
const REALISTIC = `# keyrack.yml for acme: references only, never secrets
# owners: platform team

org: acme   # used in profile names

sso:
  acme:
    start_url: https://d-1234567890.awsapps.com/start   # the portal
    region: us-east-1


# preparation: day-to-day work
env.prep:
  AWS_PROFILE:
    aws: { profile: acme.prep, sso: acme, account: "111122223333", role: Developer }   # devs
  DATA_PROFILE:
      aws:
          profile: 'acme.data'
          account: '111122223333'    # data lake


env.prod:   # careful
  AWS_PROFILE:
    aws: {profile: acme.prod, sso: acme, account: "444455556666", role: ReadOnly}
# trailing comment
`;

const expectSplice = (before: string, after: string, inserted: string, at: string) => {
  const i = before.indexOf(at);
  assert.ok(i >= 0, `anchor ${JSON.stringify(at)} not found`);
  assert.equal(after, before.slice(0, i) + inserted + before.slice(i));
};

describe('keyrack-edit: surgical edits of keyrack.yml', () => {
  it('adds a key to an existing env right after its last entry, in the file\'s flow style; nothing else moves', () => {
    const r = editKeyrackText(REALISTIC, P, { refs: [{ env: 'prep', key: 'AUDIT_PROFILE', profile: 'acme.audit', sso: 'acme', account: '111122223333', role: 'ReadOnly' }] });
    expectSplice(REALISTIC, r.text, '  AUDIT_PROFILE:\n    aws: { profile: acme.audit, sso: acme, account: "111122223333", role: ReadOnly }\n', '\n\nenv.prod:');
    assert.deepEqual(r.changes, [{ what: 'ref', name: 'prep/AUDIT_PROFILE', change: 'added' }]);
    const f = parseKeyrackFile(r.text, P);
    assert.deepEqual(Object.keys(f.envs.prep ?? {}), ['AWS_PROFILE', 'DATA_PROFILE', 'AUDIT_PROFILE']);
  });

  it('adds a new env at the end and a new sso entry under sso:, byte-identical elsewhere', () => {
    const r = editKeyrackText(REALISTIC, P, {
      sso: [{ name: 'other', startUrl: 'https://other.awsapps.com/start', region: 'eu-west-1' }],
      refs: [{ env: 'sandbox', key: 'AWS_PROFILE', profile: 'acme.sandbox', sso: 'other', account: '999988887777', role: 'Admin' }],
    });
    const withSso = REALISTIC.replace('region: us-east-1\n', 'region: us-east-1\n  other:\n    start_url: https://other.awsapps.com/start\n    region: eu-west-1\n');
    assert.equal(r.text, `${withSso}\nenv.sandbox:\n  AWS_PROFILE:\n    aws: { profile: acme.sandbox, sso: other, account: "999988887777", role: Admin }\n`);
    assert.equal(parseKeyrackFile(r.text, P).envs.sandbox?.AWS_PROFILE?.kind, 'profile');
  });

  it('the same reference again is unchanged and leaves the text identical', () => {
    const r = editKeyrackText(REALISTIC, P, {
      sso: [{ name: 'acme', startUrl: 'https://d-1234567890.awsapps.com/start', region: 'us-east-1' }],
      refs: [{ env: 'prod', key: 'AWS_PROFILE', profile: 'acme.prod', sso: 'acme', account: '444455556666', role: 'ReadOnly' }],
    });
    assert.equal(r.text, REALISTIC);
    assert.deepEqual(r.changes.map((c) => c.change), ['unchanged', 'unchanged']);
  });

  it('refuses a different definition without force; with force replaces only the differing values', () => {
    const ref = { env: 'prod', key: 'AWS_PROFILE', profile: 'acme.prod', sso: 'acme', account: '444455556666', role: 'Admin' };
    assert.throws(() => editKeyrackText(REALISTIC, P, { refs: [ref] }), (e: unknown) => e instanceof KeyrackError && e.code === 'keyrack-file.conflict' && e.exitCode === 6 && /different role/.test(e.message));
    const r = editKeyrackText(REALISTIC, P, { refs: [ref] }, { force: true });
    assert.equal(r.text, REALISTIC.replace('role: ReadOnly}', 'role: Admin}'));
    assert.equal(r.changes[0]?.change, 'updated');
  });

  it('adds missing pins to a block reference that names the same profile (no force needed), in its own indentation', () => {
    const r = editKeyrackText(REALISTIC, P, { refs: [{ env: 'prep', key: 'DATA_PROFILE', profile: 'acme.data', sso: 'acme', account: '111122223333', role: 'ReadOnly' }] });
    expectSplice(REALISTIC, r.text, '          sso: acme\n          role: ReadOnly\n', '\n\nenv.prod:');
    assert.equal(r.changes[0]?.change, 'updated');
  });

  it('an sso session with another start URL is a conflict unless forced', () => {
    const s = { name: 'acme', startUrl: 'https://new.awsapps.com/start', region: 'us-east-1' };
    assert.throws(() => editKeyrackText(REALISTIC, P, { sso: [s] }), /already exists in keyrack\.yml with a different start_url/);
    const r = editKeyrackText(REALISTIC, P, { sso: [s] }, { force: true });
    assert.equal(r.text, REALISTIC.replace('https://d-1234567890.awsapps.com/start   # the portal', 'https://new.awsapps.com/start   # the portal'));
  });

  it('block-style files get block-style references, with their own indentation step', () => {
    const text = 'env.prep:\n    AWS_PROFILE:\n        aws:\n            profile: acme.prep\n';
    const r = editKeyrackText(text, P, { refs: [{ env: 'prep', key: 'OTHER', profile: 'acme.other', account: '111122223333' }] });
    assert.equal(r.text, `${text}    OTHER:\n        aws:\n            profile: acme.other\n            account: "111122223333"\n`);
  });

  it('keeps CRLF line endings and a missing final newline', () => {
    const crlf = 'org: acme\r\nenv.prep:\r\n  AWS_PROFILE:\r\n    aws: { profile: acme.prep }\r\n';
    const r = editKeyrackText(crlf, P, { refs: [{ env: 'prep', key: 'B', profile: 'b' }] });
    assert.equal(r.text, `${crlf}  B:\r\n    aws: { profile: b }\r\n`);
    const bare = 'env.prep:\n  A:\n    aws: { profile: a }';
    assert.equal(editKeyrackText(bare, P, { refs: [{ env: 'prep', key: 'B', profile: 'b' }] }).text, `${bare}\n  B:\n    aws: { profile: b }`);
  });

  it('a scaffold from init: valid as such, lists its pending envs, and each env takes its placeholder\'s place', () => {
    const scaffold = newKeyrackText({ org: 'acme', pendingEnvs: ['prep', 'prod'] });
    const v = viewKeyrackText(scaffold, P);
    assert.equal(v.complete, false);
    assert.deepEqual(v.pendingEnvs, ['prep', 'prod']);
    assert.equal(v.file.org, 'acme');
    const r = editKeyrackText(scaffold, P, {
      sso: [{ name: 'acme', startUrl: 'https://d-1234567890.awsapps.com/start', region: 'us-east-1' }],
      refs: [{ env: 'prod', key: 'AWS_PROFILE', profile: 'acme.prod', sso: 'acme', account: '444455556666', role: 'ReadOnly' }],
    });
    const lines = r.text.split('\n');
    assert.ok(lines.indexOf('org: acme') < lines.indexOf('sso:'), 'sso goes after org');
    assert.ok(lines.indexOf('# env.prep: no keys yet; add one with: keyrack add aws --env prep') < lines.indexOf('env.prod:'), 'env order kept');
    assert.ok(!r.text.includes('# env.prod: no keys yet'));
    assert.deepEqual(viewKeyrackText(r.text, P).pendingEnvs, ['prep']);
    assert.equal(viewKeyrackText(r.text, P).complete, true);
  });

  it('refuses to touch a file that already holds a secret or is broken, and names that are not names', () => {
    assert.throws(() => editKeyrackText(`${REALISTIC}# aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n`, P, { refs: [] }), KeyrackError);
    assert.throws(() => editKeyrackText('env.prep: [\n', P, { refs: [] }), KeyrackError);
    assert.throws(() => editKeyrackText(REALISTIC, P, { refs: [{ env: 'prep', key: 'BAD KEY', profile: 'x' }] }), /not an environment variable name/);
    assert.throws(() => editKeyrackText(REALISTIC, P, { refs: [{ env: 'prep', key: 'K', profile: 'x', account: '123' }] }), /12-digit/);
  });

  it('writes atomically, keeps the mode, writes through a symlink, and refuses when the file changed meanwhile', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keyrack-edit-'));
    try {
      const real = join(dir, 'real.yml');
      const link = join(dir, 'keyrack.yml');
      await writeFile(real, REALISTIC, { mode: 0o640 });
      await symlink(real, link);
      await writeKeyrackText(link, 'org: x\n', { expected: REALISTIC });
      assert.equal(await readFile(real, 'utf8'), 'org: x\n');
      assert.equal((await stat(real)).mode & 0o777, 0o640);
      await assert.rejects(writeKeyrackText(link, 'org: y\n', { expected: REALISTIC }), (e: unknown) => e instanceof KeyrackError && e.code === 'keyrack-file.changed');
      const fresh = join(dir, 'new.yml');
      await writeKeyrackText(fresh, 'org: z\n', { expected: undefined });
      assert.equal((await stat(fresh)).mode & 0o777, 0o644);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
