// Input rules for AssumeRole / AssumeRoleWithWebIdentity, phrased the way STS reports them: model constraint
// violations collected into one ValidationError, policy syntax as MalformedPolicyDocument, size as
// PackedPolicyTooLarge.
import { deflateRawSync } from 'node:zlib';
import type { SessionTag } from './state.js';

export const SESSION_NAME_RE = /^[\w+=,.@-]*$/;
const TAG_RE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const POLICY_CHARS_RE = /^[\u0009\u000A\u000D\u0020-\u00FF]*$/;
/** What we treat as 100 % of the packed-policy budget (deflated policy + tags). */
const PACKED_BUDGET_BYTES = 1024;
const MAX_POLICY_CHARS = 2048;

/** Collects model-constraint violations and renders them in STS's `N validation errors detected: …` form. */
export class Violations {
  private readonly items: string[] = [];

  add(value: string | undefined, member: string, constraint: string): void {
    const v = value === undefined ? 'null' : `'${value}'`;
    this.items.push(`Value ${v} at '${member}' failed to satisfy constraint: Member must ${constraint}`);
  }

  get message(): string | undefined {
    const n = this.items.length;
    if (n === 0) return undefined;
    return `${n} validation error${n > 1 ? 's' : ''} detected: ${this.items.join('; ')}`;
  }
}

export function checkLength(v: Violations, value: string | undefined, member: string, min: number, max: number, required: boolean): void {
  if (value === undefined) {
    if (required) v.add(undefined, member, 'not be null');
    return;
  }
  if (value.length < min) v.add(value, member, `have length greater than or equal to ${min}`);
  if (value.length > max) v.add(value, member, `have length less than or equal to ${max}`);
}

export function checkPattern(v: Violations, value: string | undefined, member: string, re: RegExp, shown: string): void {
  if (value !== undefined && !re.test(value)) v.add(value, member, `satisfy regular expression pattern: ${shown}`);
}

/** `Prefix.member.N[.suffix]` entries in N order (STS flattens lists with a 1-based `member` infix). */
export function memberList(params: URLSearchParams, prefix: string, suffix = ''): string[] {
  const out: [number, string][] = [];
  const re = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.member\\.(\\d+)${suffix.replace(/\./g, '\\.')}$`);
  for (const [k, val] of params) {
    const m = re.exec(k);
    if (m) out.push([Number(m[1]), val]);
  }
  return out.sort((a, b) => a[0] - b[0]).map(([, val]) => val);
}

export function parseTags(params: URLSearchParams, v: Violations): SessionTag[] {
  const byIndex = new Map<number, { key?: string; value?: string }>();
  for (const [k, val] of params) {
    const m = /^Tags\.member\.(\d+)\.(Key|Value)$/.exec(k);
    if (!m) continue;
    const e = byIndex.get(Number(m[1])) ?? {};
    if (m[2] === 'Key') e.key = val;
    else e.value = val;
    byIndex.set(Number(m[1]), e);
  }
  const tags: SessionTag[] = [];
  for (const [i, e] of [...byIndex.entries()].sort((a, b) => a[0] - b[0])) {
    checkLength(v, e.key, `tags.${i}.member.key`, 1, 128, true);
    checkPattern(v, e.key, `tags.${i}.member.key`, TAG_RE, '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+');
    checkLength(v, e.value, `tags.${i}.member.value`, 0, 256, true);
    checkPattern(v, e.value, `tags.${i}.member.value`, TAG_RE, '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*');
    tags.push({ key: e.key ?? '', value: e.value ?? '' });
  }
  if (tags.length > 50) v.add(`[${tags.length} tags]`, 'tags', 'have length less than or equal to 50');
  return tags;
}

export function duplicateTagKeys(tags: SessionTag[]): boolean {
  const keys = tags.map((t) => t.key.toLowerCase());
  return new Set(keys).size !== keys.length;
}

export function checkPolicyText(v: Violations, policy: string | undefined): void {
  if (policy === undefined) return;
  if (policy.length < 1) v.add(policy, 'policy', 'have length greater than or equal to 1');
  checkPattern(v, policy, 'policy', POLICY_CHARS_RE, '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+');
}

/** Returns the MalformedPolicyDocument message, or undefined for a usable policy. */
export function policySyntaxError(policy: string): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(policy);
  } catch {
    return 'Syntax errors in policy.';
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return 'Syntax errors in policy.';
  const d = doc as Record<string, unknown>;
  if (d.Version !== undefined && d.Version !== '2012-10-17' && d.Version !== '2008-10-17') return 'The policy failed legacy parsing';
  const statements = Array.isArray(d.Statement) ? d.Statement : d.Statement === undefined ? undefined : [d.Statement];
  if (!statements || statements.length === 0) return 'Policy document should contain at least one Statement.';
  for (const st of statements) {
    if (typeof st !== 'object' || st === null || Array.isArray(st)) return 'Syntax errors in policy.';
    const s = st as Record<string, unknown>;
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') return 'Policy statement must contain a valid Effect (Allow or Deny).';
    if (s.Action === undefined && s.NotAction === undefined) return 'Policy statement must contain actions.';
  }
  return undefined;
}

/**
 * Percentage of the packed budget the session policy and tags use. STS's real packing is private; deflate of
 * the minified policy plus the tags gives the same behaviour: compressible documents are cheap, random ones
 * are not, and anything past 2048 characters never fits.
 */
export function packedPolicyPercent(policy: string | undefined, tags: SessionTag[]): number {
  if (policy !== undefined && policy.length > MAX_POLICY_CHARS) return Math.max(101, Math.ceil((policy.length * 100) / MAX_POLICY_CHARS));
  let text = '';
  if (policy !== undefined) {
    try {
      text = JSON.stringify(JSON.parse(policy));
    } catch {
      text = policy;
    }
  }
  text += tags.map((t) => `${t.key}=${t.value}`).join('\u0000');
  if (text === '') return 0;
  return Math.max(1, Math.ceil((deflateRawSync(Buffer.from(text, 'utf8')).length * 100) / PACKED_BUDGET_BYTES));
}
