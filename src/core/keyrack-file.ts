// keyrack.yml: the committed file naming which AWS identity backs each environment variable of a repo.
// It holds references only, so loading it is: refuse secrets (raw text), parse YAML keeping positions, then
// validate every field strictly. Every failure is a KeyrackError (invalid-input) pointing at file:line:col.
// Messages quote field names, never values: a value that slipped past the secret scan must not be echoed.
import { LineCounter, isAlias, isMap, isNode, isScalar, isSeq, parseDocument, visit, type Document, type Node, type YAMLMap } from 'yaml';
import { parseDuration, formatDuration } from './duration.js';
import { KeyrackError } from './errors.js';
import { assertNoSecrets } from './secret-scan.js';
import { closest } from './suggest.js';

export { findKeyrackFile, selectRefs } from './keyrack-find.js';

export interface SourceLocation {
  file: string;
  /** 1-based */
  line: number;
  /** 1-based */
  col: number;
}
export interface SsoRef {
  name: string;
  startUrl: string;
  region: string;
  location: SourceLocation;
}
export interface ScopePurpose {
  actions: string[];
  resources?: string[];
}
export interface ScopeRef {
  roleArn: string;
  maxDurationSeconds: number;
  purposes: Record<string, ScopePurpose>;
}
export interface AwsProfileRef {
  kind: 'profile';
  env: string;
  key: string;
  profile: string;
  sso?: string;
  account?: string;
  role?: string;
  scope?: ScopeRef;
  location: SourceLocation;
}
export interface AwsWebIdentityRef {
  kind: 'web-identity';
  env: string;
  key: string;
  roleArn: string;
  tokenFile?: string;
  tokenEnv?: string;
  audience?: string;
  scope?: ScopeRef;
  location: SourceLocation;
}
export type KeyRef = AwsProfileRef | AwsWebIdentityRef;
export interface KeyrackFile {
  path: string;
  org?: string;
  sso: Record<string, SsoRef>;
  /** By env name without the `env.` prefix, then by key; both in file order. */
  envs: Record<string, Record<string, KeyRef>>;
}

/** The fields each map accepts (besides top-level `env.<name>`). schema/keyrack.schema.json must list the same. */
export const KEYRACK_FIELDS = {
  top: ['org', 'sso'],
  sso: ['start_url', 'region'],
  key: ['aws'],
  aws: ['profile', 'sso', 'account', 'role', 'scope', 'web_identity'],
  webIdentity: ['role_arn', 'token_file', 'token_env', 'audience'],
  scope: ['role_arn', 'max_duration', 'purposes'],
  purpose: ['actions', 'resources'],
} as const;

/** Value shapes as JSON-Schema-compatible regex sources; the schema test checks the schema uses the same. */
export const KEYRACK_PATTERNS = {
  envSection: '^env\\.[A-Za-z0-9][A-Za-z0-9_-]*$',
  keyName: '^[A-Za-z_][A-Za-z0-9_]*$',
  /** AWS profile and sso-session names: what fits in `[profile <name>]` without quoting. */
  name: '^[A-Za-z0-9._-]+$',
  account: '^[0-9]{12}$',
  role: '^[A-Za-z0-9+=,.@_-]{1,64}$',
  roleArn: '^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/([A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]{1,64}$',
  region: '^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$',
  startUrl: '^https://\\S+$',
  purposeName: '^[A-Za-z0-9][A-Za-z0-9_.-]*$',
  action: '^[a-z0-9-]+:[A-Za-z0-9*?]+$',
  resource: '^(\\*|arn:\\S+)$',
  nonEmpty: '\\S',
} as const;

/** STS accepts 15 minutes to 12 hours for an assumed-role session. */
export const SCOPE_MIN_SECONDS = 15 * 60;
export const SCOPE_MAX_SECONDS = 12 * 3600;
/** The AssumeRole default, used when a scope sets no max_duration. */
export const SCOPE_DEFAULT_SECONDS = 3600;

/** What a string field must look like, and what the error says when it does not. */
interface Shape {
  pattern: keyof typeof KEYRACK_PATTERNS;
  code: string;
  what: string;
  fix: string;
}
const NAME_CHARS = 'letters, digits, ".", "_" and "-"';
const SHAPES = {
  org: { pattern: 'name', code: 'bad-org', what: 'an organization name', fix: `use ${NAME_CHARS}` },
  profile: { pattern: 'name', code: 'bad-profile-name', what: 'an AWS profile name', fix: `use ${NAME_CHARS}, e.g. acme.prep` },
  sso: { pattern: 'name', code: 'bad-sso-name', what: 'an sso session name', fix: `use ${NAME_CHARS}, as in [sso-session <name>]` },
  account: { pattern: 'account', code: 'bad-account', what: 'a 12-digit account id', fix: 'write exactly 12 digits, quoted, e.g. "111122223333"' },
  role: { pattern: 'role', code: 'bad-role', what: 'a role name', fix: 'use up to 64 of letters, digits and +=,.@_-, e.g. ReadOnly' },
  roleArn: { pattern: 'roleArn', code: 'bad-role-arn', what: 'an IAM role ARN', fix: 'write arn:aws:iam::<12-digit account>:role/<name>' },
  region: { pattern: 'region', code: 'bad-region', what: 'an AWS region', fix: 'use a region code such as us-east-1' },
  startUrl: { pattern: 'startUrl', code: 'bad-start-url', what: 'an https URL', fix: 'use the AWS access portal URL, e.g. https://d-1234567890.awsapps.com/start' },
  tokenFile: { pattern: 'nonEmpty', code: 'empty', what: 'a file path', fix: 'write the path of the OIDC token file' },
  tokenEnv: { pattern: 'keyName', code: 'bad-token-env', what: 'an environment variable name', fix: 'e.g. AWS_WEB_IDENTITY_TOKEN' },
  audience: { pattern: 'nonEmpty', code: 'empty', what: 'an audience', fix: 'e.g. sts.amazonaws.com' },
  action: { pattern: 'action', code: 'bad-action', what: 'an IAM action', fix: 'write service:Action, e.g. s3:GetObject' },
  resource: { pattern: 'resource', code: 'bad-resource', what: 'a resource', fix: 'write a resource ARN or "*"' },
} satisfies Record<string, Shape>;

const RE = Object.fromEntries(Object.entries(KEYRACK_PATTERNS).map(([k, v]) => [k, new RegExp(v)])) as Record<
  keyof typeof KEYRACK_PATTERNS,
  RegExp
>;

export { loadKeyrackFile } from './keyrack-load.js';

export function parseKeyrackFile(text: string, path: string): KeyrackFile {
  assertNoSecrets(text, path); // first: a secret must be refused even when the YAML around it is broken
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false, version: '1.2' });
  const v = new Validator(path, lines);
  const syntax = doc.errors[0];
  if (syntax) {
    // The parser puts source text after ": " (tokens, escapes): keep only its description of the problem.
    const what = syntax.message.split('\n')[0]?.split(': ')[0] || 'invalid YAML';
    throw v.error(syntax.pos[0], 'yaml-syntax', `YAML syntax error: ${what}`, 'fix the YAML here (indentation, quoting, a space after ":")');
  }
  v.plainYamlOnly(doc);
  if (doc.contents === null || (isMap(doc.contents) && doc.contents.items.length === 0)) {
    throw v.error(0, 'empty', 'keyrack.yml is empty', 'add an env.<name> section; see keyrack.yml.example');
  }
  return v.file(doc.contents);
}

/** One `key: value` of a YAML map, with the key node for positions. */
interface Entry {
  name: string;
  keyNode: Node;
  value: Node | null;
  /** Dotted path for messages, e.g. `env.prep.AWS_PROFILE.aws.account`; `parent` is the part before the name. */
  path: string;
  parent: string;
}

/** A fixed-field map's entries: required fields `R` are always present, the other allowed `K` may be. */
type Fields<K extends string, R extends K> = Partial<Record<K, Entry>> & Record<R, Entry>;

class Validator {
  constructor(
    private readonly path: string,
    private readonly lines: LineCounter,
  ) {}

  file(root: Node): KeyrackFile {
    const out: KeyrackFile = { path: this.path, sso: {}, envs: {} };
    const envs: Entry[] = [];
    for (const e of this.entries(this.map(root, 'keyrack.yml', root), '')) {
      if (e.name === 'org') out.org = this.string(e, SHAPES.org);
      else if (e.name === 'sso') out.sso = this.ssoSessions(e);
      else if (e.name.startsWith('env.')) envs.push(e);
      else this.unknown(e, [...KEYRACK_FIELDS.top, 'env.<name>'], envSuggestion(e.name));
    }
    // Envs after sso, wherever sso sits in the file: a ref's `sso:` must name a defined session.
    for (const e of envs) put(out.envs, e.name.slice('env.'.length), this.env(e, out.sso));
    if (envs.length === 0) {
      throw this.error(
        root,
        'empty',
        'keyrack.yml has no env.<name> section',
        'add one, e.g. env.prep: { AWS_PROFILE: { aws: { profile: acme.prep } } }',
      );
    }
    return out;
  }

  private ssoSessions(section: Entry): Record<string, SsoRef> {
    const out: Record<string, SsoRef> = {};
    for (const e of this.nonEmptyEntries(section)) {
      this.name(e, RE.name, SHAPES.sso);
      const f = this.fields(e, KEYRACK_FIELDS.sso, ['start_url', 'region']);
      const startUrl = this.string(f.start_url, SHAPES.startUrl);
      if (!URL.canParse(startUrl)) throw this.invalid(f.start_url, SHAPES.startUrl);
      const region = this.string(f.region, SHAPES.region);
      put(out, e.name, { name: e.name, startUrl, region, location: this.loc(e.keyNode) });
    }
    return out;
  }

  private env(section: Entry, sso: Record<string, SsoRef>): Record<string, KeyRef> {
    this.name(section, RE.envSection, {
      code: 'bad-env-name',
      what: 'an env section name',
      fix: 'use env.<name> with letters, digits, "_" and "-", e.g. env.prep',
    });
    const env = section.name.slice('env.'.length);
    const out: Record<string, KeyRef> = {};
    for (const e of this.nonEmptyEntries(section)) {
      this.name(e, RE.keyName, {
        code: 'bad-key-name',
        what: 'an environment variable name',
        fix: 'use letters, digits and "_", not starting with a digit, e.g. AWS_PROFILE',
      });
      if (isScalar(e.value) && typeof e.value.value === 'string') {
        // The likeliest slip: the profile name written directly under the key.
        const fix = `write ${e.name}: { aws: { profile: <name> } }`;
        throw this.error(e.value, 'wrong-type', `${e.path} must be a map with aws:, got a string`, fix);
      }
      const { aws } = this.fields(e, KEYRACK_FIELDS.key, ['aws']);
      put(out, e.name, this.awsRef(aws, { env, key: e.name, location: this.loc(e.keyNode) }, sso));
    }
    return out;
  }

  private awsRef(aws: Entry, base: { env: string; key: string; location: SourceLocation }, sso: Record<string, SsoRef>): KeyRef {
    const f = this.fields(aws, KEYRACK_FIELDS.aws, []);
    if (f.profile && f.web_identity) {
      throw this.error(
        f.web_identity.keyNode,
        'conflicting-fields',
        `${aws.path} has both profile and web_identity`,
        'keep exactly one: profile (SSO) or web_identity (workload federation)',
      );
    }
    const scope = () => (f.scope ? { scope: this.scope(f.scope) } : {});
    if (f.web_identity) {
      const pinned = f.sso ?? f.account ?? f.role;
      if (pinned) {
        throw this.error(
          pinned.keyNode,
          'conflicting-fields',
          `${pinned.path} does not apply to web_identity`,
          'remove it; the account and role come from web_identity.role_arn',
        );
      }
      return { kind: 'web-identity', ...base, ...this.webIdentity(f.web_identity), ...scope() };
    }
    if (!f.profile) {
      throw this.error(
        aws.keyNode,
        'missing-field',
        `${aws.path} needs profile or web_identity`,
        'add profile: <a profile name from ~/.aws/config>',
      );
    }
    const ref: AwsProfileRef = { kind: 'profile', ...base, profile: this.string(f.profile, SHAPES.profile) };
    if (f.sso) {
      ref.sso = this.string(f.sso, SHAPES.sso);
      if (!Object.hasOwn(sso, ref.sso)) {
        const known = Object.keys(sso);
        throw this.error(
          f.sso.value ?? f.sso.keyNode,
          'undefined-sso',
          `${f.sso.path} names an sso session not defined under sso:`,
          known.length ? `use one of: ${known.join(', ')}` : 'define it under sso: with start_url and region',
        );
      }
    }
    if (f.account) ref.account = this.account(f.account);
    if (f.role) ref.role = this.string(f.role, SHAPES.role);
    return { ...ref, ...scope() };
  }

  private webIdentity(e: Entry): Pick<AwsWebIdentityRef, 'roleArn' | 'tokenFile' | 'tokenEnv' | 'audience'> {
    const f = this.fields(e, KEYRACK_FIELDS.webIdentity, ['role_arn']);
    if (f.token_file && f.token_env) {
      throw this.error(
        f.token_env.keyNode,
        'conflicting-fields',
        `${e.path} has both token_file and token_env`,
        'keep exactly one source for the identity token',
      );
    }
    if (!f.token_file && !f.token_env) {
      throw this.error(
        e.keyNode,
        'missing-field',
        `${e.path} needs token_file or token_env`,
        'add token_file: <path> or token_env: <VARIABLE> saying where the OIDC token is',
      );
    }
    return {
      roleArn: this.string(f.role_arn, SHAPES.roleArn),
      ...(f.token_file ? { tokenFile: this.string(f.token_file, SHAPES.tokenFile) } : {}),
      ...(f.token_env ? { tokenEnv: this.string(f.token_env, SHAPES.tokenEnv) } : {}),
      ...(f.audience ? { audience: this.string(f.audience, SHAPES.audience) } : {}),
    };
  }

  private scope(e: Entry): ScopeRef {
    const f = this.fields(e, KEYRACK_FIELDS.scope, ['role_arn', 'purposes']);
    const purposes: Record<string, ScopePurpose> = {};
    for (const p of this.nonEmptyEntries(f.purposes)) {
      this.name(p, RE.purposeName, { code: 'bad-purpose-name', what: 'a purpose name', fix: `use ${NAME_CHARS}, e.g. log-analysis` });
      const pf = this.fields(p, KEYRACK_FIELDS.purpose, ['actions']);
      const purpose: ScopePurpose = { actions: this.list(pf.actions, SHAPES.action) };
      if (pf.resources) purpose.resources = this.list(pf.resources, SHAPES.resource);
      put(purposes, p.name, purpose);
    }
    const roleArn = this.string(f.role_arn, SHAPES.roleArn);
    return { roleArn, maxDurationSeconds: f.max_duration ? this.maxDuration(f.max_duration) : SCOPE_DEFAULT_SECONDS, purposes };
  }

  private maxDuration(e: Entry): number {
    const range = `between ${formatDuration(SCOPE_MIN_SECONDS)} and ${formatDuration(SCOPE_MAX_SECONDS)}`;
    let seconds: number | undefined;
    if (isScalar(e.value) && typeof e.value.value === 'string') {
      try {
        seconds = parseDuration(e.value.value);
      } catch {
        // reported below, with this file's position
      }
    }
    const at = e.value ?? e.keyNode;
    if (seconds === undefined) {
      throw this.error(
        at,
        'bad-duration',
        `${e.path} is not a duration`,
        `write it with a unit, ${range}, e.g. 15m or 1h30m`,
      );
    }
    if (seconds < SCOPE_MIN_SECONDS || seconds > SCOPE_MAX_SECONDS) {
      throw this.error(
        at,
        'bad-duration',
        `${e.path} must be ${range}`,
        `STS sessions last ${range}`,
      );
    }
    return seconds;
  }

  private account(e: Entry): string {
    const node = e.value;
    if (isScalar(node) && (typeof node.value === 'number' || typeof node.value === 'bigint')) {
      // Unquoted, YAML reads a number: leading zeros vanish and large values round. Show the quoted form.
      const digits = node.source !== undefined && RE.account.test(node.source) ? node.source : '<12 digits>';
      throw this.error(node, 'bad-account', `${e.path} is a YAML number; account ids must be quoted strings`, `quote it: account: "${digits}"`);
    }
    return this.string(e, SHAPES.account);
  }

  // ---- generic shape checks ------------------------------------------------------------------------

  /** A string scalar matching `shape`. */
  private string(e: Entry, shape: Shape): string {
    const node = e.value;
    if (!isScalar(node) || typeof node.value !== 'string') {
      const empty = node === null || (isScalar(node) && node.value === null);
      const quote = isScalar(node) && !empty ? 'quote it; ' : '';
      throw this.error(
        empty ? e.keyNode : node,
        'wrong-type',
        `${e.path} must be a string (${shape.what}), got ${kindOf(node)}`,
        `${quote}${shape.fix}`,
      );
    }
    if (!RE[shape.pattern].test(node.value)) throw this.invalid(e, shape);
    return node.value;
  }

  /** A non-empty list of strings, each matching `shape`. */
  private list(e: Entry, shape: Shape): string[] {
    const node = e.value;
    if (!isSeq(node)) {
      throw this.error(
        node ?? e.keyNode,
        'wrong-type',
        `${e.path} must be a list, got ${kindOf(node)}`,
        `write [ ... ] of ${shape.what}s`,
      );
    }
    if (node.items.length === 0) throw this.error(node, 'empty', `${e.path} is empty`, `list at least one: ${shape.fix}`);
    return node.items.map((item, i) => this.string({ ...e, value: isNode(item) ? item : null, path: `${e.path}[${i}]` }, shape));
  }

  /** A key name (env section, env var, sso session, purpose) matching `re`. */
  private name(e: Entry, re: RegExp, shape: Omit<Shape, 'pattern'>): void {
    if (!re.test(e.name)) throw this.error(e.keyNode, shape.code, `"${e.name}" is not ${shape.what}`, shape.fix);
  }

  private invalid(e: Entry, shape: Shape): KeyrackError {
    return this.error(e.value ?? e.keyNode, shape.code, `${e.path} is not ${shape.what}`, shape.fix);
  }

  private map(node: Node | null, path: string, at: Node): YAMLMap {
    if (!isMap(node)) {
      throw this.error(
        node ?? at,
        'wrong-type',
        `${path} must be a map, got ${kindOf(node)}`,
        'write it as indented key: value lines',
      );
    }
    return node;
  }

  /** The entries of a map, keys checked to be plain scalars and unique. */
  private entries(map: YAMLMap, parent: string): Entry[] {
    const seen = new Map<string, Node>();
    return map.items.map((pair) => {
      const key = pair.key;
      if (!isScalar(key) || key.value === null || typeof key.value === 'object') {
        throw this.error(
          isNode(key) ? key : map,
          'wrong-type',
          `${parent || 'keyrack.yml'} has a key that is not a plain name`,
          'use plain names as keys',
        );
      }
      const name = String(key.value);
      const first = seen.get(name);
      if (first) {
        throw this.error(
          key,
          'duplicate-key',
          `duplicate key "${name}" in ${parent || 'keyrack.yml'} (first at line ${this.loc(first).line})`,
          'keep one entry per key: merge or remove the repeated one',
        );
      }
      seen.set(name, key);
      return { name, keyNode: key, value: isNode(pair.value) ? pair.value : null, path: parent ? `${parent}.${name}` : name, parent };
    });
  }

  private nonEmptyEntries(e: Entry): Entry[] {
    const entries = this.entries(this.map(e.value, e.path, e.keyNode), e.path);
    if (entries.length === 0) throw this.error(e.value ?? e.keyNode, 'empty', `${e.path} is empty`, 'add an entry or remove the section');
    return entries;
  }

  /** A map with a fixed field set: unknown fields refused (with a suggestion), required ones present. */
  private fields<K extends string, R extends K>(e: Entry, allowed: readonly K[], required: readonly R[]): Fields<K, R> {
    const out: Partial<Record<K, Entry>> = {};
    for (const entry of this.entries(this.map(e.value, e.path, e.keyNode), e.path)) {
      const known = allowed.find((k) => k === entry.name);
      if (known === undefined) this.unknown(entry, allowed);
      else out[known] = entry;
    }
    const missing = required.find((k) => !out[k]);
    if (missing !== undefined) throw this.error(e.keyNode, 'missing-field', `${e.path} is missing ${missing}`, `add ${missing}: under ${e.name}`);
    return out as Fields<K, R>;
  }

  private unknown(e: Entry, allowed: readonly string[], suggestion = closest(e.name, allowed)): never {
    const fix = suggestion ? `did you mean ${suggestion}?` : `allowed here: ${allowed.join(', ')}`;
    throw this.error(e.keyNode, 'unknown-field', `unknown field "${e.name}" in ${e.parent || 'keyrack.yml'}`, fix);
  }

  /** keyrack.yml is plain data: no aliases (a value defined elsewhere) and no tags (custom types). */
  plainYamlOnly(doc: Document): void {
    visit(doc, {
      Node: (_key, node) => {
        if (isAlias(node)) throw this.error(node, 'unsupported-yaml', 'YAML aliases are not supported in keyrack.yml', 'write the value out in full');
        if (node.tag) {
          throw this.error(
            node,
            'unsupported-yaml',
            'YAML tags are not supported in keyrack.yml',
            'remove the tag: plain strings, maps and lists only',
          );
        }
      },
    });
  }

  loc(at: Node | number): SourceLocation {
    const { line, col } = this.lines.linePos(typeof at === 'number' ? at : (at.range?.[0] ?? 0));
    return { file: this.path, line, col };
  }

  error(at: Node | number, code: string, message: string, fix: string): KeyrackError {
    const { file, line, col } = this.loc(at);
    return new KeyrackError({ code: `keyrack-file.${code}`, reason: 'invalid-input', location: `${file}:${line}:${col}`, message, fix });
  }
}

function kindOf(node: Node | null): string {
  if (node === null || (isScalar(node) && node.value === null)) return 'nothing';
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  return isScalar(node) ? `a ${typeof node.value}` : 'something else';
}

/** `envs.prod`, `env-prod`, `env_prod`, `env:prod` → `env.prod`. */
function envSuggestion(name: string): string | undefined {
  const m = /^envs?[-_:. ](.+)$/i.exec(name);
  return m?.[1] ? `env.${m[1]}` : closest(name, KEYRACK_FIELDS.top);
}

/** Sets an own property even for a name like `__proto__`, which plain assignment would turn into a prototype. */
function put<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}
