// What grant leaves behind: audit events for every outcome, the login-required signal on a locked refusal,
// and the task-scoped grant path through the real binary.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createSandbox, type Sandbox } from '../helpers/keyrack.js';

const YML = `sso:
  acme:
    start_url: https://d-1234567890.awsapps.com/start
    region: us-east-1
env.prep:
  AWS_PROFILE:
    aws: { profile: acme.prep, sso: acme, account: "111122223333", role: Developer }
  AWS_TASK:
    aws:
      profile: acme.prep
      scope:
        role_arn: arn:aws:iam::111122223333:role/keyrack-robot
        max_duration: 15m
        purposes:
          inventory: { actions: [ec2:DescribeInstances], resources: ["*"] }
          logs: { actions: [s3:GetObject], resources: ["arn:aws:s3:::acme-logs/*"] }
`;

describe('grant records: audit trail, login-required signal, task-scoped grants', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox({ keyrackYml: YML });
  });
  after(async () => sb.close());

  it('a locked refusal writes the login-required signal and an audit event; no secrets in either', async () => {
    const r = await sb.run(['grant', 'AWS_PROFILE']);
    assert.equal(r.code, 3);
    const st = await sb.run(['audit', '--json']);
    const events = st.stdout.trim().split('\n').map((l) => JSON.parse(l) as { command: string; result: string; reason?: string; key?: string; caller: { pid: number } });
    assert.deepEqual(events.map((e) => [e.command, e.result, e.reason, e.key]), [['grant', 'refused', 'locked', 'AWS_PROFILE']]);
    const { listLoginSignals } = await import('../../src/store/signal.js');
    const signals = await listLoginSignals(sb.env.XDG_STATE_HOME + '/keyrack');
    assert.equal(signals.length, 1);
    assert.equal(signals[0]?.reason, 'locked');
    assert.equal(signals[0]?.profile, 'acme.prep');
  });

  it('a granted key is audited with its identity; audit --key filters', async () => {
    assert.equal((await sb.unlock(['--env', 'prep'])).code, 0);
    assert.equal((await sb.run(['grant', 'AWS_PROFILE'])).code, 0);
    const out = await sb.run(['audit', '--json', '--key', 'AWS_PROFILE', '--since', '1h']);
    const last = JSON.parse(out.stdout.trim().split('\n').at(-1) ?? '{}') as { result: string; arn?: string; profile?: string };
    assert.equal(last.result, 'ok');
    assert.match(last.arn ?? '', /AWSReservedSSO_Developer_/);
    const text = await sb.run(['audit']);
    assert.match(text.stdout, /grant\s+ok\s+prep\/AWS_PROFILE acme\.prep/);
  });

  it('grant --task --purpose --dry-run prints the exact policy and parameters, calling nothing', async () => {
    const before = (await sb.emu.control.calls()).length;
    const r = await sb.run(['grant', 'AWS_TASK', '--task', 'JIRA-42 fix logs', '--purpose', 'logs', '--dry-run', '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout) as { roleSessionName: string; durationSeconds: number; policyDocument: { Statement: { Action: string | string[]; Resource: string | string[] }[] } };
    assert.match(plan.roleSessionName, /^[\w+=,.@-]{2,64}$/);
    assert.equal(plan.durationSeconds, 900);
    assert.deepEqual(plan.policyDocument.Statement[0]?.Action, 's3:GetObject');
    assert.deepEqual(plan.policyDocument.Statement[0]?.Resource, 'arn:aws:s3:::acme-logs/*');
    assert.equal((await sb.emu.control.calls()).length, before);
  });

  it('grant --task assumes the scoped role with policy, source identity and tags; an undeclared purpose is invalid-input', async () => {
    const r = await sb.run(['grant', 'AWS_TASK', '--task', 'T-7', '--purpose', 'inventory', '--duration', '10m'], { secretsOnStdout: true });
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { credentials: { AccessKeyId: string } };
    assert.match(j.credentials.AccessKeyId, /^ASIA/);
    const sessions = await sb.emu.control.stsSessions();
    const s = sessions.find((x) => x.arn.includes('keyrack-robot'));
    assert.ok(s, 'an AssumeRole session exists');
    assert.equal(s.sourceIdentity, 'alice');
    assert.deepEqual(s.tags.map((t) => t.key).sort(), ['Purpose', 'TaskId']);
    assert.equal(s.durationSeconds, 900);
    const bad = await sb.run(['grant', 'AWS_TASK', '--task', 'T-8', '--purpose', 'deploy']);
    assert.equal(bad.code, 2);
  });
});
