// keyrack list-roles --check: every reference against IAM Identity Center (via the emulator) and ~/.aws/config.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createSandbox, EXAMPLE_KEYRACK_YML, type Sandbox } from '../helpers/keyrack.js';

const SSO = `sso:
  acme:
    start_url: https://d-1234567890.awsapps.com/start
    region: us-east-1
`;

const DRIFTED = `${SSO}env.prep:
  AWS_PROFILE:
    aws: { profile: acme.prep, sso: acme, account: "111122223333", role: Developer }
  GHOST:
    aws: { profile: acme.ghost, sso: acme, account: "999999999999", role: Developer }
  ADMIN:
    aws: { profile: acme.admin, sso: acme, account: "111122223333", role: Admin }
  PINNED:
    aws: { profile: acme.prep, account: "444455556666" }
env.prod:
  AWS_PROFILE:
    aws: { profile: acme.prod, sso: acme, account: "444455556666", role: ReadOnly }
`;

interface CheckJson {
  ok: boolean;
  items: { env: string; key: string; status: string; account?: string; role?: string; problems: { kind: string; message: string }[] }[];
}

describe('keyrack list-roles --check', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox();
    const u = await sb.unlock(['--env', 'prep']);
    assert.equal(u.code, 0, u.stdout);
  });
  after(async () => sb.close());

  it('all references present: ok, exit 0 (prod checked from keyrack.yml: its profile is not on this machine yet)', async () => {
    await sb.writeKeyrackYml(EXAMPLE_KEYRACK_YML);
    const r = await sb.run(['list-roles', '--check']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^ok {4}prep\/AWS_PROFILE → acme\.prep {2}account 111122223333 \(acme-prep\), role Developer$/m);
    assert.match(r.stdout, /^ok {4}prod\/AWS_PROFILE → acme\.prod {2}account 444455556666 \(acme-prod\), role ReadOnly$/m);
    assert.match(r.stdout, /all 2 reference\(s\) match IAM Identity Center/);
  });

  it('prints missing account, missing role and pinned mismatch, and exits 5', async () => {
    await sb.writeKeyrackYml(DRIFTED);
    const r = await sb.run(['list-roles', '--check']);
    assert.equal(r.code, 5, r.stdout + r.stderr);
    assert.match(r.stdout, /^DRIFT prep\/GHOST → acme\.ghost/m);
    assert.match(r.stdout, /missing-account: account 999999999999 is not among the accounts acme can reach/);
    assert.match(r.stdout, /^DRIFT prep\/ADMIN → acme\.admin/m);
    assert.match(r.stdout, /missing-role: role Admin is not assigned to you in account 111122223333 \(acme-prep\); you have: Developer, ReadOnly/);
    assert.match(r.stdout, /^DRIFT prep\/PINNED → acme\.prep/m);
    assert.match(r.stdout, /pinned-mismatch: \[profile acme\.prep\] is account 111122223333; keyrack\.yml pins 444455556666/);
    assert.match(r.stdout, /^ok {4}prep\/AWS_PROFILE/m);
    assert.match(r.stderr, /3 reference\(s\) drifted/);
  });

  it('--json carries the same verdicts; --env narrows the check', async () => {
    const r = await sb.run(['list-roles', '--check', '--json']);
    assert.equal(r.code, 5);
    const j = JSON.parse(r.stdout) as CheckJson;
    assert.equal(j.ok, false);
    const kinds = Object.fromEntries(j.items.map((i) => [`${i.env}/${i.key}`, i.problems.map((p) => p.kind)]));
    assert.deepEqual(kinds, { 'prep/AWS_PROFILE': [], 'prep/GHOST': ['missing-account'], 'prep/ADMIN': ['missing-role'], 'prep/PINNED': ['pinned-mismatch'], 'prod/AWS_PROFILE': [] });
    const prod = await sb.run(['list-roles', '--check', '--env', 'prod', '--json']);
    assert.equal(prod.code, 0, prod.stderr);
    assert.deepEqual((JSON.parse(prod.stdout) as CheckJson).items.map((i) => i.status), ['ok']);
  });

  it('a reference that cannot be resolved at all is reported and exits 6', async () => {
    await sb.writeKeyrackYml(`env.prep:\n  AWS_PROFILE:\n    aws: { profile: nowhere }\n`);
    const r = await sb.run(['list-roles', '--check']);
    assert.equal(r.code, 6, r.stdout + r.stderr);
    assert.match(r.stdout, /unresolvable: profile "nowhere" does not exist/);
  });

  it('without a live session it asks a human to unlock (exit 3) and never logs in', async () => {
    await sb.writeKeyrackYml(EXAMPLE_KEYRACK_YML);
    assert.equal((await sb.run(['lock', 'aws', '--logout'])).code, 0);
    const r = await sb.run(['list-roles', '--check']);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stderr, /fix: a human runs: keyrack unlock aws --env prep/);
  });
});
