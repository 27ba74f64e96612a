// Session policies: one Allow statement per purpose, resources checked against what the purpose allows, and
// STS's size limits enforced before anything is sent.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KeyrackError } from '../../../src/core/errors.js';
import type { ScopeRef } from '../../../src/core/keyrack-file.js';
import {
  buildSessionPolicy, checkPackedSize, estimatePackedPercent, MAX_POLICY_CHARS, parseArn, resourceAllowed,
} from '../../../src/aws/scope/policy.js';

const scope: ScopeRef = {
  roleArn: 'arn:aws:iam::111122223333:role/keyrack-robot',
  maxDurationSeconds: 3600,
  purposes: {
    'log-analysis': { actions: ['s3:GetObject', 'logs:FilterLogEvents'] },
    inventory: { actions: ['ec2:DescribeInstances'], resources: ['*'] },
    'read-logs': { actions: ['s3:GetObject', 's3:GetObject'], resources: ['arn:aws:s3:::acme-logs/*', 'arn:aws:s3:::acme-audit/2024/??/*'] },
    deploy: { actions: ['lambda:UpdateFunctionCode'], resources: ['arn:aws:lambda:*:111122223333:function:app-*'] },
  },
};

function refused(fn: () => unknown, code: string, message?: RegExp): KeyrackError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof KeyrackError, `expected a KeyrackError ${code}`);
  assert.equal(caught.code, code);
  assert.equal(caught.reason, 'invalid-input');
  assert.equal(caught.exitCode, 2);
  if (message) assert.match(caught.message, message);
  assert.ok(caught.fix, 'every refusal says what to do');
  return caught;
}

describe('buildSessionPolicy: generation per purpose', () => {
  const cases: { name: string; purpose: string; resources: string[]; action: string | string[]; resource: string | string[]; defaulted: boolean }[] = [
    {
      name: 'no declared resources: exactly the ARNs passed',
      purpose: 'log-analysis',
      resources: ['arn:aws:s3:::acme-logs-123/app.log'],
      action: ['s3:GetObject', 'logs:FilterLogEvents'],
      resource: 'arn:aws:s3:::acme-logs-123/app.log',
      defaulted: false,
    },
    {
      name: 'several ARNs, duplicates dropped, order kept',
      purpose: 'log-analysis',
      resources: ['arn:aws:s3:::b/x', 'arn:aws:s3:::a/y', 'arn:aws:s3:::b/x'],
      action: ['s3:GetObject', 'logs:FilterLogEvents'],
      resource: ['arn:aws:s3:::b/x', 'arn:aws:s3:::a/y'],
      defaulted: false,
    },
    { name: 'wildcard purpose without --resource: "*"', purpose: 'inventory', resources: [], action: 'ec2:DescribeInstances', resource: '*', defaulted: true },
    { name: 'wildcard purpose with explicit "*"', purpose: 'inventory', resources: ['*'], action: 'ec2:DescribeInstances', resource: '*', defaulted: false },
    {
      name: 'wildcard purpose narrowed to one ARN',
      purpose: 'inventory',
      resources: ['arn:aws:ec2:us-east-1:111122223333:instance/i-0abc'],
      action: 'ec2:DescribeInstances',
      resource: 'arn:aws:ec2:us-east-1:111122223333:instance/i-0abc',
      defaulted: false,
    },
    {
      name: 'declared patterns without --resource: the patterns, duplicate actions dropped',
      purpose: 'read-logs',
      resources: [],
      action: 's3:GetObject',
      resource: ['arn:aws:s3:::acme-logs/*', 'arn:aws:s3:::acme-audit/2024/??/*'],
      defaulted: true,
    },
    {
      name: 'a narrower pattern inside a declared one',
      purpose: 'read-logs',
      resources: ['arn:aws:s3:::acme-logs/2025/*', 'arn:aws:s3:::acme-audit/2024/07/*'],
      action: 's3:GetObject',
      resource: ['arn:aws:s3:::acme-logs/2025/*', 'arn:aws:s3:::acme-audit/2024/07/*'],
      defaulted: false,
    },
    {
      name: 'wildcards in the region segment',
      purpose: 'deploy',
      resources: ['arn:aws:lambda:eu-west-1:111122223333:function:app-api'],
      action: 'lambda:UpdateFunctionCode',
      resource: 'arn:aws:lambda:eu-west-1:111122223333:function:app-api',
      defaulted: false,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const p = buildSessionPolicy({ scope, purpose: c.purpose, resources: c.resources });
      assert.deepEqual(p.document, { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: c.action, Resource: c.resource }] });
      assert.equal(p.json, JSON.stringify(p.document), 'compact JSON is what is sent');
      assert.ok(!/\s/.test(p.json), 'no whitespace');
      assert.equal(p.defaultResources, c.defaulted);
      assert.equal(p.purpose, c.purpose);
    });
  }
});

describe('buildSessionPolicy: local validation', () => {
  test('an undeclared purpose names the declared ones', () => {
    const e = refused(() => buildSessionPolicy({ scope, purpose: 'admin', resources: [] }), 'scope.unknown-purpose', /"admin" is not a purpose/);
    assert.match(e.fix ?? '', /log-analysis, inventory, read-logs, deploy/);
  });
  test('a purpose name that does not look like one is not echoed', () => {
    const e = refused(() => buildSessionPolicy({ scope, purpose: 'AKIA EXAMPLE secret', resources: [] }), 'scope.unknown-purpose');
    assert.ok(!e.message.includes('AKIA'));
  });
  test('a purpose without declared resources needs --resource', () => {
    refused(() => buildSessionPolicy({ scope, purpose: 'log-analysis', resources: [] }), 'scope.resource-required', /declares no resources/);
  });
  const bad: [string, string, RegExp][] = [
    ['not an ARN at all', 'my-bucket', /is not an ARN/],
    ['too few parts', 'arn:aws:s3:::', /empty resource part/],
    ['bad partition', 'arn:azure:s3:::b', /partition/],
    ['bad service', 'arn:aws:S3:::b', /service/],
    ['bad account', 'arn:aws:iam::1234:role/x', /account/],
    ['space inside', 'arn:aws:s3:::my bucket', /spaces/],
    ['non-ASCII', 'arn:aws:s3:::bücket', /non-ASCII/],
    ['quote', 'arn:aws:s3:::a"b', /quotes/],
  ];
  for (const [name, arn, why] of bad) {
    test(`malformed resource: ${name}`, () => {
      const e = refused(() => buildSessionPolicy({ scope, purpose: 'log-analysis', resources: [arn] }), 'scope.bad-resource', why);
      assert.match(e.message, /^--resource /);
    });
  }
  test('a malformed resource among several is named by position, not echoed', () => {
    const e = refused(() => buildSessionPolicy({ scope, purpose: 'log-analysis', resources: ['arn:aws:s3:::ok', 'wJalrXUtnFEMI/K7MDENG'] }), 'scope.bad-resource', /--resource #2 of 2/);
    assert.ok(!e.message.includes('wJalr'));
  });
  test('"*" only where the purpose allows it', () => {
    refused(() => buildSessionPolicy({ scope, purpose: 'log-analysis', resources: ['*'] }), 'scope.wildcard-not-allowed', /does not allow every resource/);
    const e = refused(() => buildSessionPolicy({ scope, purpose: 'read-logs', resources: ['*'] }), 'scope.wildcard-not-allowed');
    assert.match(e.fix ?? '', /acme-logs/);
  });
  test('a wildcard ARN needs a declared pattern', () => {
    refused(() => buildSessionPolicy({ scope, purpose: 'log-analysis', resources: ['arn:aws:s3:::acme-logs/*'] }), 'scope.wildcard-not-allowed', /declares no resource patterns/);
    refused(() => buildSessionPolicy({ scope, purpose: 'log-analysis', resources: ['arn:aws:s3:::acme-logs/a?c'] }), 'scope.wildcard-not-allowed');
  });
  test('a pattern wider than the declared one is refused', () => {
    refused(() => buildSessionPolicy({ scope, purpose: 'read-logs', resources: ['arn:aws:s3:::acme-*'] }), 'scope.resource-not-allowed', /wider than/);
    // An allowed `?` covers one character, never a requested `*`.
    refused(() => buildSessionPolicy({ scope, purpose: 'read-logs', resources: ['arn:aws:s3:::acme-audit/2024/*/x'] }), 'scope.resource-not-allowed');
  });
  test('an ARN outside the declared patterns is refused and the allowed ones listed', () => {
    const e = refused(() => buildSessionPolicy({ scope, purpose: 'read-logs', resources: ['arn:aws:s3:::other-bucket/x'] }), 'scope.resource-not-allowed', /not covered by/);
    assert.match(e.fix ?? '', /arn:aws:s3:::acme-logs\/\*/);
    refused(() => buildSessionPolicy({ scope, purpose: 'deploy', resources: ['arn:aws:lambda:us-east-1:444455556666:function:app-x'] }), 'scope.resource-not-allowed');
  });
  test('a policy over 2048 characters is refused with its length', () => {
    const many = Array.from({ length: 40 }, (_, i) => `arn:aws:s3:::bucket-number-${i}/some/longer/prefix/object-${i}`);
    const e = refused(() => buildSessionPolicy({ scope, purpose: 'log-analysis', resources: many }), 'scope.policy-too-long', /characters; STS allows 2048/);
    assert.match(e.fix ?? '', /fewer --resource values \(40 now\)/);
  });
  test('a policy of exactly the limit passes', () => {
    // Grow one ARN until the compact policy is exactly 2048 characters.
    const base = buildSessionPolicy({ scope, purpose: 'log-analysis', resources: ['arn:aws:s3:::b/'] }).json.length;
    const arn = `arn:aws:s3:::b/${'x'.repeat(MAX_POLICY_CHARS - base)}`;
    assert.equal(buildSessionPolicy({ scope, purpose: 'log-analysis', resources: [arn] }).json.length, MAX_POLICY_CHARS);
  });
});

describe('packed size estimate', () => {
  test('repetitive ARNs pack well, varied ones do not', () => {
    const repetitive = Array.from({ length: 20 }, (_, i) => `arn:aws:s3:::acme-logs/app/${i}`);
    const p = buildSessionPolicy({ scope, purpose: 'log-analysis', resources: repetitive });
    assert.ok(estimatePackedPercent(p.json, []) < 50);
    const tags = [{ Key: 'TaskId', Value: 't-1' }, { Key: 'Purpose', Value: 'log-analysis' }];
    assert.ok(estimatePackedPercent(p.json, tags) >= estimatePackedPercent(p.json, []), 'tags count too');
    assert.equal(checkPackedSize(p, tags), estimatePackedPercent(p.json, tags));
  });
  test('random resources within 2048 characters can still be refused as too large to pack', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed);
    const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
    const word = (n: number) => Array.from({ length: n }, () => chars[(rnd() >> 8) % chars.length]).join('');
    const resources = Array.from({ length: 24 }, () => `arn:aws:s3:::${word(8)}/${word(48)}`);
    const p = buildSessionPolicy({ scope, purpose: 'log-analysis', resources });
    assert.ok(p.json.length <= MAX_POLICY_CHARS);
    refused(() => checkPackedSize(p, []), 'scope.policy-too-large', /about \d+% of STS's packed-size limit/);
  });
});

describe('parseArn / resourceAllowed', () => {
  test('ARN shapes', () => {
    assert.deepEqual(parseArn('arn:aws:logs:us-east-1:111122223333:log-group:/app:*'), ['arn', 'aws', 'logs', 'us-east-1', '111122223333', 'log-group:/app:*']);
    assert.equal(typeof parseArn('arn:aws-us-gov:iam::aws:policy/ReadOnlyAccess'), 'object');
    assert.equal(typeof parseArn('arn:aws:iam::12345678901:role/x'), 'string');
  });
  test('wildcards do not cross ARN segments', () => {
    assert.equal(resourceAllowed('arn:aws:s3:::a/b', ['arn:aws:s3:::a/*']), true);
    assert.equal(resourceAllowed('arn:aws:s3:::a/b/c:d', ['arn:aws:s3:::a/*']), true, 'the resource part is one segment');
    assert.equal(resourceAllowed('arn:aws:sqs:us-east-1:111122223333:q', ['arn:aws:sqs:*:*:q']), true);
    assert.equal(resourceAllowed('arn:aws:sqs:us-east-1:111122223333:q', ['arn:aws:sqs:*:q']), false);
    assert.equal(resourceAllowed('arn:aws:sqs:us-east-1:111122223333:q', ['*']), true);
    assert.equal(resourceAllowed('*', ['arn:aws:s3:::*']), false);
    assert.equal(resourceAllowed('arn:aws:s3:::a?', ['arn:aws:s3:::a?']), true, 'the same wildcard covers itself');
    assert.equal(resourceAllowed('arn:aws:s3:::a*', ['arn:aws:s3:::a?']), false);
  });
});
