// The inline session policy of a scoped grant: one Allow statement with the purpose's actions on the resources
// the robot asked for. STS intersects it with the role's own policies, so the session can do no more than both
// allow. Everything STS would refuse (unknown purpose, malformed ARNs, wildcards the purpose does not allow,
// policies over 2048 characters or over the packed-size budget) is refused here first, with a message saying
// which input is wrong and what to do instead.
import { deflateRawSync } from 'node:zlib';
import { KeyrackError } from '../../core/errors.js';
import type { ScopePurpose, ScopeRef } from '../../core/keyrack-file.js';

/** STS: inline session policy text, 1–2048 characters. */
export const MAX_POLICY_CHARS = 2048;
/**
 * STS packs the session policy and session tags into a private binary format and refuses more than 100 % of its
 * budget (PackedPolicyTooLarge). Its algorithm is not public; a deflated copy of the same text against this
 * budget tracks it (repetitive ARNs pack well, varied ones do not). It is only an estimate: STS has the last word.
 */
export const PACKED_BUDGET_BYTES = 1024;

export interface SessionTag {
  Key: string;
  Value: string;
}

export interface PolicyStatement {
  Effect: 'Allow';
  Action: string | string[];
  Resource: string | string[];
}
export interface SessionPolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

export interface SessionPolicy {
  purpose: string;
  actions: string[];
  resources: string[];
  /** True when no --resource was passed and the purpose's declared resources were used. */
  defaultResources: boolean;
  document: SessionPolicyDocument;
  /** Compact JSON: exactly what is sent as `Policy`. */
  json: string;
}

export interface PolicyInput {
  scope: ScopeRef;
  purpose: string;
  /** --resource values, in order; empty = the purpose's declared resources. */
  resources: readonly string[];
  /** Where the scope is declared, e.g. `keyrack.yml:12:7`, for errors about keyrack.yml itself. */
  location?: string;
}

const PARTITION_RE = /^aws(-[a-z]+)*$/;
const SERVICE_RE = /^[a-z0-9][a-z0-9-]*$/;
const REGION_RE = /^[a-z0-9*?-]*$/;
const ACCOUNT_RE = /^(aws|[0-9*?]*)$/;
/** Printable ASCII without space, `"` and `\`: what needs no escaping in the policy and is inside STS's charset. */
const RESOURCE_PART_RE = /^[!#-[\]-~]+$/;
const MAX_ARN_CHARS = 2048;

const hasWildcard = (s: string) => /[*?]/.test(s);

/** The six ARN parts (the resource part may itself contain ":"), or a description of what is wrong. */
export function parseArn(arn: string): string[] | string {
  if (arn.length > MAX_ARN_CHARS) return `is longer than ${MAX_ARN_CHARS} characters`;
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return 'is not an ARN (arn:<partition>:<service>:<region>:<account>:<resource>)';
  const [, partition = '', service = '', region = '', account = ''] = parts;
  const resource = parts.slice(5).join(':');
  if (!PARTITION_RE.test(partition)) return 'has no valid partition (aws, aws-cn, aws-us-gov, …)';
  if (!SERVICE_RE.test(service)) return 'has no valid service name';
  if (!REGION_RE.test(region)) return 'has an invalid region part';
  if (!ACCOUNT_RE.test(account) || (!hasWildcard(account) && account !== '' && account !== 'aws' && !/^\d{12}$/.test(account))) {
    return 'has an invalid account part (12 digits, or empty)';
  }
  if (!RESOURCE_PART_RE.test(resource)) return 'has an empty resource part or characters an ARN cannot hold (spaces, quotes, backslashes, non-ASCII)';
  return ['arn', partition, service, region, account, resource];
}

/**
 * Whether every resource `pattern` names is also named by `allowed` (both IAM patterns: `*` any run of
 * characters, `?` one character). Sound, not complete: an allowed `?` never covers a requested `*`, and a
 * requested wildcard is only covered by an allowed `*` or by the same wildcard.
 */
function covers(allowed: string, pattern: string): boolean {
  // Classic glob matching with backtracking over the last `*`, treating the pattern's wildcards as characters
  // that only an allowed `*` (or the identical wildcard) can absorb.
  let a = 0;
  let p = 0;
  let starA = -1;
  let starP = 0;
  while (p < pattern.length) {
    const ac = allowed[a];
    const pc = pattern[p];
    if (ac === '*') {
      starA = a++;
      starP = p;
    } else if (ac !== undefined && (ac === pc || (ac === '?' && pc !== '*'))) {
      a++;
      p++;
    } else if (starA >= 0) {
      a = starA + 1;
      p = ++starP;
    } else {
      return false;
    }
  }
  while (allowed[a] === '*') a++;
  return a === allowed.length;
}

/** Segment by segment: a wildcard never reaches across the `:` between partition, service, region and account. */
export function resourceAllowed(resource: string, allowedPatterns: readonly string[]): boolean {
  if (allowedPatterns.includes('*')) return true;
  if (resource === '*') return false;
  const want = parseArn(resource);
  if (typeof want === 'string') return false;
  return allowedPatterns.some((pattern) => {
    const allow = parseArn(pattern);
    return typeof allow !== 'string' && allow.every((part, i) => covers(part, want[i] ?? ''));
  });
}

function invalid(code: string, message: string, fix: string, location?: string): KeyrackError {
  return new KeyrackError({ code: `scope.${code}`, reason: 'invalid-input', message, fix, ...(location ? { location } : {}) });
}

function purposeOf(input: PolicyInput): ScopePurpose {
  const purposes = input.scope.purposes;
  const purpose = Object.hasOwn(purposes, input.purpose) ? purposes[input.purpose] : undefined;
  if (!purpose) {
    // Echo the name only when it looks like one: a mistyped flag value may be anything.
    const shown = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(input.purpose) ? `"${input.purpose}"` : 'the given purpose';
    throw invalid('unknown-purpose', `${shown} is not a purpose declared for this key`, `use one of: ${Object.keys(purposes).join(', ')} (keyrack.yml scope.purposes)`, input.location);
  }
  return purpose;
}

function dedupe(list: readonly string[]): string[] {
  return [...new Set(list)];
}

/** Checks the requested resources against the purpose; returns the list to put in the policy. */
function allowedResources(input: PolicyInput, purpose: ScopePurpose): { resources: string[]; defaultResources: boolean } {
  const declared = purpose.resources;
  const name = input.purpose;
  if (input.resources.length === 0) {
    if (!declared) {
      throw invalid(
        'resource-required',
        `purpose ${name} declares no resources, so the task must name them`,
        'pass --resource <ARN> (repeatable) for every resource the task touches',
      );
    }
    for (const [i, r] of declared.entries()) {
      const bad = r === '*' ? undefined : parseArn(r);
      if (typeof bad === 'string') {
        throw invalid('bad-declared-resource', `purpose ${name}: resources[${i}] ${bad}`, 'correct it in keyrack.yml', input.location);
      }
    }
    return { resources: dedupe(declared), defaultResources: true };
  }

  const n = input.resources.length;
  for (const [i, r] of input.resources.entries()) {
    const which = n === 1 ? '--resource' : `--resource #${i + 1} of ${n}`;
    if (r === '*') {
      if (declared?.includes('*')) continue;
      throw invalid(
        'wildcard-not-allowed',
        `${which} is "*", but purpose ${name} does not allow every resource`,
        declared ? `name resources matching: ${declared.join(', ')}` : 'name each resource by its full ARN',
      );
    }
    const parsed = parseArn(r);
    if (typeof parsed === 'string') throw invalid('bad-resource', `${which} ${parsed}`, 'pass the full ARN, e.g. arn:aws:s3:::my-bucket/logs/*');
    if (declared === undefined) {
      if (hasWildcard(r)) {
        throw invalid(
          'wildcard-not-allowed',
          `${which} ${r} contains a wildcard, but purpose ${name} declares no resource patterns`,
          'name each resource by its exact ARN, or declare an allowed pattern under the purpose\'s resources in keyrack.yml',
        );
      }
      continue;
    }
    if (!resourceAllowed(r, declared)) {
      const what = hasWildcard(r) ? 'is a wildcard pattern wider than' : 'is not covered by';
      throw invalid('resource-not-allowed', `${which} ${r} ${what} what purpose ${name} allows`, `stay within: ${declared.join(', ')}`);
    }
  }
  return { resources: dedupe(input.resources), defaultResources: false };
}

const one = (list: string[]): string | string[] => (list.length === 1 ? (list[0] ?? '') : list);

/** The session policy for a purpose and resources, validated locally. */
export function buildSessionPolicy(input: PolicyInput): SessionPolicy {
  const purpose = purposeOf(input);
  const { resources, defaultResources } = allowedResources(input, purpose);
  const actions = dedupe(purpose.actions);
  const document: SessionPolicyDocument = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: one(actions), Resource: one(resources) }],
  };
  const json = JSON.stringify(document);
  if (json.length > MAX_POLICY_CHARS) {
    throw invalid(
      'policy-too-long',
      `the session policy for purpose ${input.purpose} is ${json.length} characters; STS allows ${MAX_POLICY_CHARS}`,
      resources.length > 1 ? `pass fewer --resource values (${resources.length} now), or a pattern the purpose allows` : 'declare fewer actions for this purpose in keyrack.yml',
    );
  }
  return { purpose: input.purpose, actions, resources, defaultResources, document, json };
}

/** Estimated share (in %) of STS's packed budget the policy and tags use; over 100 STS answers PackedPolicyTooLarge. */
export function estimatePackedPercent(policyJson: string, tags: readonly SessionTag[]): number {
  const text = policyJson + tags.map((t) => `\u0000${t.Key}=${t.Value}`).join('');
  if (text === '') return 0;
  return Math.max(1, Math.ceil((deflateRawSync(Buffer.from(text, 'utf8')).length * 100) / PACKED_BUDGET_BYTES));
}

/** Refuses a policy + tags that would not pack, before STS is asked. */
export function checkPackedSize(policy: SessionPolicy, tags: readonly SessionTag[]): number {
  const percent = estimatePackedPercent(policy.json, tags);
  if (percent > 100) {
    throw invalid(
      'policy-too-large',
      `the session policy for purpose ${policy.purpose} and its tags would use about ${percent}% of STS's packed-size limit`,
      policy.resources.length > 1 ? `pass fewer --resource values (${policy.resources.length} now), or a pattern the purpose allows` : 'declare fewer actions for this purpose in keyrack.yml',
    );
  }
  return percent;
}
