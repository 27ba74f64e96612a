// ~/.aws/config: a lossless parser (every byte of the file is kept, so edits are surgical) and the profile
// resolution keyrack needs. Values are read as the JS SDK reads them (inline `#`/`;` comments stripped,
// indented `key =` blocks as `parent.key` sub-sections). Where botocore (the AWS CLI) would refuse the whole file
// (duplicate keys or sections, a stray line, a bad header, invalid UTF-8) we refuse too, with the line; where it
// would read a different value than the SDK (inline comment, upper-case key, continuation line) the entry records
// that, and resolveProfile refuses to use such a value.
import { readFileSync } from 'node:fs';
import { readFile, stat, realpath } from 'node:fs/promises';
import { KeyrackError } from '../core/errors.js';
import { writeFileAtomic, PRIVATE_FILE_MODE } from '../store/files.js';

export type SectionKind = 'default' | 'profile' | 'sso-session' | 'services' | 'other';
export type EditableKind = Exclude<SectionKind, 'other'>;

export interface ConfigLine {
  /** The line without its line ending. */
  text: string;
  eol: '' | '\n' | '\r\n';
}

export interface ConfigEntry {
  /** `key`, or `parent.key` for a sub-section line. */
  key: string;
  /** The value as the JS SDK reads it. */
  value: string;
  /** 1-based line of `key = value`. */
  line: number;
  /** Last line that belongs to the entry (AWS CLI continuation lines); equals `line` normally. */
  endLine: number;
  /** Why the AWS CLI would read this value differently from the SDK; such values are not used. */
  divergence?: string;
}

export interface ConfigSection {
  kind: SectionKind;
  /** Profile / session / services name (quotes removed); `default`; or the raw header text for `other`. */
  name: string;
  /** The header line as written. */
  header: string;
  /** 1-based header line. */
  line: number;
  /** Last line before the next header (includes trailing blank and comment lines). */
  endLine: number;
  /** Last line holding a key, sub-key or continuation; the header line when the section is empty. */
  contentEndLine: number;
  /** JS-visible entries by key (`parent.key` for sub-section lines). */
  entries: Map<string, ConfigEntry>;
  /** Sub-section parents (`key =` with an empty value): first and last line of the block. */
  parents: Map<string, { line: number; endLine: number }>;
}

export interface AwsConfigDoc {
  text: string;
  /** Used in locations, e.g. `~/.aws/config`. */
  displayPath: string;
  exists: boolean;
  lines: ConfigLine[];
  /** Line ending used for inserted lines: the file's majority. */
  eol: '\n' | '\r\n';
  sections: ConfigSection[];
}

export const DEFAULT_DISPLAY_PATH = '~/.aws/config';

// The JS SDK's section header shape: `prefix name` or `prefix "name"` / `prefix 'name'`.
const HEADER_RE = /^([\w-]+)\s(["'])?([\w\-@+.%:/]+)\2$/;
const NAME_RE = /^[\w\-@+.%:/]+$/;
const KEY_RE = /^[A-Za-z0-9_]+$/;
const PREFIXED_KINDS = new Set(['profile', 'sso-session', 'services']);

function syntaxError(displayPath: string, line: number, message: string, cause?: unknown): KeyrackError {
  return new KeyrackError({
    code: 'aws-config.syntax',
    reason: 'misconfigured',
    message,
    location: `${displayPath}:${line}`,
    fix: `edit line ${line} of ${displayPath}: the AWS CLI refuses to read the file until it is fixed`,
    cause,
  });
}

export function splitLines(text: string): ConfigLine[] {
  const lines: ConfigLine[] = [];
  let i = 0;
  while (i < text.length) {
    const j = text.indexOf('\n', i);
    if (j === -1) {
      lines.push({ text: text.slice(i), eol: '' });
      break;
    }
    const crlf = j > i && text[j - 1] === '\r';
    lines.push({ text: text.slice(i, crlf ? j - 1 : j), eol: crlf ? '\r\n' : '\n' });
    i = j + 1;
  }
  return lines;
}

function joinLines(lines: readonly ConfigLine[]): string {
  return lines.map((l) => l.text + l.eol).join('');
}

/** The JS SDK's comment rule: `#` or `;` at the start of a line or after whitespace. */
function stripComment(raw: string): string {
  return (raw.split(/(?:^|\s)[;#]/)[0] ?? '').trim();
}

function indentOf(raw: string): number {
  return raw.length - raw.trimStart().length;
}

function classify(inner: string): { kind: SectionKind; name: string } {
  const m = HEADER_RE.exec(inner);
  if (m && PREFIXED_KINDS.has(m[1] ?? '')) return { kind: m[1] as SectionKind, name: m[3] ?? '' };
  if (inner === 'default') return { kind: 'default', name: 'default' };
  return { kind: 'other', name: inner };
}

/** Parse; throws `aws-config.syntax` (with file:line) wherever the AWS CLI would refuse the file. */
export function parseAwsConfig(text: string, displayPath = DEFAULT_DISPLAY_PATH, exists = true): AwsConfigDoc {
  const lines = splitLines(text);
  const crlf = lines.filter((l) => l.eol === '\r\n').length;
  const lf = lines.filter((l) => l.eol === '\n').length;
  const doc: AwsConfigDoc = { text, displayPath, exists, lines, eol: crlf > lf ? '\r\n' : '\n', sections: [] };
  if (text.startsWith('\uFEFF')) throw syntaxError(displayPath, 1, 'the file starts with a byte-order mark');

  const headers = new Map<string, number>();
  let section: ConfigSection | undefined;
  // Top-level keys of the current section, lower-cased as botocore compares them.
  let seenKeys = new Map<string, number>();
  let parent: string | undefined; // open sub-section (JS)
  let last: { entry?: ConfigEntry; parentKey?: string; indent: number } | undefined; // last top-level option

  lines.forEach((l, idx) => {
    const n = idx + 1;
    const raw = l.text;
    const stripped = stripComment(raw);
    if (section) section.endLine = n;
    if (stripped === '') return; // blank or comment line

    if (stripped.startsWith('[')) {
      if (!stripped.endsWith(']')) throw syntaxError(displayPath, n, 'unterminated section header (or text after it)');
      const inner = stripped.slice(1, -1);
      if (inner.trim() === '') throw syntaxError(displayPath, n, 'empty section header');
      if (inner === '__proto__' || inner === 'profile __proto__') throw syntaxError(displayPath, n, 'invalid section name');
      const first = headers.get(inner);
      if (first !== undefined) throw syntaxError(displayPath, n, `section [${inner}] is defined twice (first at line ${first})`);
      headers.set(inner, n);
      const { kind, name } = classify(inner);
      section = { kind, name, header: raw, line: n, endLine: n, contentEndLine: n, entries: new Map(), parents: new Map() };
      doc.sections.push(section);
      seenKeys = new Map();
      parent = undefined;
      last = undefined;
      return;
    }
    if (!section) throw syntaxError(displayPath, n, 'a line before the first [section] header');

    const indent = indentOf(raw);
    const eq = stripped.indexOf('=');
    const inlineComment = raw.trim() !== stripped;

    // Indented line inside a sub-section block: `parent.key`.
    if (parent !== undefined && indent > 0) {
      if (eq <= 0) throw syntaxError(displayPath, n, `expected "key = value" inside the "${parent} =" block`);
      const key = `${parent}.${stripped.slice(0, eq).trim()}`;
      const entry: ConfigEntry = { key, value: stripped.slice(eq + 1).trim(), line: n, endLine: n };
      if (inlineComment) entry.divergence = 'inline comment (the AWS CLI reads it as part of the value)';
      section.entries.set(key, entry);
      const p = section.parents.get(parent);
      if (p) p.endLine = n;
      section.contentEndLine = n;
      return;
    }
    parent = undefined;

    // Indented line after an option: botocore appends it to that option's value (a continuation line).
    if (last && indent > last.indent) {
      if (last.entry) {
        last.entry.endLine = n;
        last.entry.divergence = `continued on line ${n} (the AWS CLI reads a multi-line value)`;
      }
      section.contentEndLine = n;
      if (eq > 0) {
        // The SDK sees a key of its own here; the CLI does not.
        const key = stripped.slice(0, eq).trim();
        section.entries.set(key, {
          key,
          value: stripped.slice(eq + 1).trim(),
          line: n,
          endLine: n,
          divergence: `indented line (the AWS CLI reads it as part of the value above)`,
        });
      }
      return;
    }

    // An option line. botocore splits at the first `=` or `:`.
    const colon = stripped.indexOf(':');
    const delim = eq === -1 ? colon : colon === -1 ? eq : Math.min(eq, colon);
    if (delim <= 0) throw syntaxError(displayPath, n, 'expected "key = value"');
    const pyKey = stripped.slice(0, delim).trim().toLowerCase();
    const dup = seenKeys.get(pyKey);
    if (dup !== undefined) throw syntaxError(displayPath, n, `key "${pyKey}" is set twice in [${section.header.trim().slice(1, -1)}] (first at line ${dup})`);
    seenKeys.set(pyKey, n);
    section.contentEndLine = n;
    if (eq <= 0 || (colon !== -1 && colon < eq)) {
      // `key: value` is read by the CLI only; the SDK ignores the line.
      last = { indent };
      return;
    }
    const key = stripped.slice(0, eq).trim();
    const value = stripped.slice(eq + 1).trim();
    if (value === '') {
      parent = key;
      section.parents.set(key, { line: n, endLine: n });
      last = { parentKey: key, indent: Number.POSITIVE_INFINITY }; // its indented lines are sub-keys, not continuations
      return;
    }
    const entry: ConfigEntry = { key, value, line: n, endLine: n };
    if (inlineComment) entry.divergence = 'inline comment (the AWS CLI reads it as part of the value)';
    else if (key !== key.toLowerCase()) entry.divergence = 'upper-case key (the AWS CLI lower-cases keys, the SDKs do not)';
    section.entries.set(key, entry);
    last = { entry, indent };
  });
  return doc;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading and writing the file

/** `~/…` when the file is under home, for messages and locations. */
export function displayPathFor(path: string, home?: string): string {
  if (home && (path === home || path.startsWith(home.endsWith('/') ? home : `${home}/`))) {
    return `~${path.slice(home.replace(/\/$/, '').length)}`;
  }
  return path;
}

/** Read and parse; a missing file is an empty document. Invalid UTF-8 is refused (the AWS CLI refuses it too). */
export async function readAwsConfig(path: string, opts: { home?: string; displayPath?: string } = {}): Promise<AwsConfigDoc> {
  const displayPath = opts.displayPath ?? displayPathFor(path, opts.home);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return parseAwsConfig('', displayPath, false);
    throw e;
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (e) {
    const line = bytes.subarray(0, firstInvalidUtf8(bytes)).toString('latin1').split('\n').length;
    throw syntaxError(displayPath, line, 'the file is not valid UTF-8', e);
  }
  return parseAwsConfig(text, displayPath, true);
}

function firstInvalidUtf8(bytes: Buffer): number {
  // Binary search for the longest decodable prefix; good enough to point at a line.
  let lo = 0;
  let hi = bytes.length;
  const ok = (n: number) => {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, n), { stream: true });
      return true;
    } catch {
      return false;
    }
  };
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Atomic write. Keeps the existing file's mode (0600 for a new file) and writes through a symlink to its target,
 * so a dotfile manager's link survives. With `expected`, refuses when the file changed since it was read.
 */
export async function writeAwsConfig(path: string, text: string, opts: { expected?: string; displayPath?: string } = {}): Promise<void> {
  let target = path;
  let mode = PRIVATE_FILE_MODE;
  try {
    target = await realpath(path);
    mode = (await stat(target)).mode & 0o777;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (opts.expected !== undefined) {
    let current = '';
    try {
      current = await readFile(target, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (current !== opts.expected) {
      throw new KeyrackError({
        code: 'aws-config.changed',
        reason: 'unavailable',
        message: `${opts.displayPath ?? path} changed while keyrack was editing it`,
        fix: 'rerun the command',
      });
    }
  }
  await writeFileAtomic(target, text, mode);
}

// ---------------------------------------------------------------------------------------------------------------
// Lookups

export interface SectionRef {
  kind: EditableKind;
  name: string;
}

function matches(s: ConfigSection, ref: SectionRef): boolean {
  const isDefault = (k: SectionKind, n: string) => k === 'default' || (k === 'profile' && n === 'default');
  if (isDefault(ref.kind, ref.name)) return isDefault(s.kind, s.name);
  return s.kind === ref.kind && s.name === ref.name;
}

/**
 * The section for a profile / session / services name. `[profile default]` wins over `[default]`, as in the SDK.
 * Two sections for one name (`[profile a]` and `[profile "a"]`) are ambiguous: refused.
 */
export function findSection(doc: AwsConfigDoc, ref: SectionRef): ConfigSection | undefined {
  const found = doc.sections.filter((s) => matches(s, ref));
  if (found.length === 2 && found.some((s) => s.kind === 'default')) return found.find((s) => s.kind === 'profile');
  if (found.length > 1) {
    const second = found[1] as ConfigSection;
    throw new KeyrackError({
      code: 'aws-config.duplicate-section',
      reason: 'misconfigured',
      message: `${ref.kind} "${ref.name}" is defined twice (lines ${found[0]?.line} and ${second.line})`,
      location: `${doc.displayPath}:${second.line}`,
      fix: `merge the two sections into one`,
    });
  }
  return found[0];
}

export function listProfiles(doc: AwsConfigDoc): string[] {
  const names = doc.sections.filter((s) => s.kind === 'profile' || s.kind === 'default').map((s) => s.name);
  return [...new Set(names)];
}

export interface SsoSessionSummary {
  name: string;
  line: number;
  startUrl?: string;
  region?: string;
  registrationScopes?: string[];
}

export function listSsoSessions(doc: AwsConfigDoc): SsoSessionSummary[] {
  return doc.sections
    .filter((s) => s.kind === 'sso-session')
    .map((s) => {
      const out: SsoSessionSummary = { name: s.name, line: s.line };
      const url = s.entries.get('sso_start_url')?.value;
      const region = s.entries.get('sso_region')?.value;
      const scopes = s.entries.get('sso_registration_scopes')?.value;
      if (url !== undefined) out.startUrl = url;
      if (region !== undefined) out.region = region;
      if (scopes !== undefined) out.registrationScopes = parseRegistrationScopes(scopes);
      return out;
    });
}

/** `sso_registration_scopes` as the CLI reads it: comma-split, trimmed, empties dropped. */
export function parseRegistrationScopes(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

// ---------------------------------------------------------------------------------------------------------------
// Profile resolution

export type ResolvedProfile =
  | {
      kind: 'sso-session';
      profile: string;
      session: string;
      startUrl: string;
      region: string;
      accountId: string;
      roleName: string;
      registrationScopes?: string[];
      /** Also set: the SDKs use it before SSO, the AWS CLI uses SSO first. */
      credentialProcess?: string;
    }
  | {
      kind: 'legacy';
      profile: string;
      startUrl: string;
      region: string;
      accountId: string;
      roleName: string;
      credentialProcess?: string;
    }
  | { kind: 'credential-process'; profile: string; command: string }
  | { kind: 'other'; profile: string };

export interface ResolvedSsoSession {
  session: string;
  startUrl: string;
  region: string;
  registrationScopes?: string[];
}

const SSO_KEYS = ['sso_session', 'sso_start_url', 'sso_region', 'sso_account_id', 'sso_role_name', 'sso_registration_scopes', 'credential_process'];

function misconfigured(code: string, message: string, location: string, fix: string): KeyrackError {
  return new KeyrackError({ code: `aws-config.${code}`, reason: 'misconfigured', message, location, fix });
}

function at(doc: AwsConfigDoc, line: number): string {
  return `${doc.displayPath}:${line}`;
}

function label(s: ConfigSection): string {
  return s.kind === 'default' ? '[default]' : `[${s.kind} ${s.name}]`;
}

/** A value keyrack relies on; refuses values the CLI and SDK would read differently. */
function get(doc: AwsConfigDoc, s: ConfigSection, key: string): ConfigEntry | undefined {
  const e = s.entries.get(key);
  if (e?.divergence) {
    throw misconfigured('divergent', `${key} in ${label(s)}: ${e.divergence}`, at(doc, e.line), `write it as "${key} = value" on one line, without a comment`);
  }
  for (const other of s.entries.values()) {
    if (other.key !== key && other.key.toLowerCase() === key) {
      throw misconfigured('divergent', `${other.key} in ${label(s)}: upper-case key (the AWS CLI lower-cases keys, the SDKs do not)`, at(doc, other.line), `rename it to ${key}`);
    }
  }
  if (e === undefined && s.parents.has(key)) {
    throw misconfigured('invalid-value', `${key} in ${label(s)} is empty`, at(doc, s.parents.get(key)?.line ?? s.line), `set ${key} = <value>`);
  }
  return e;
}

function checkStartUrl(doc: AwsConfigDoc, e: ConfigEntry): void {
  let ok = false;
  try {
    const u = new URL(e.value);
    ok = u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    ok = false;
  }
  if (!ok) throw misconfigured('invalid-value', 'sso_start_url is not an http(s) URL', at(doc, e.line), 'set it to your access portal URL, e.g. https://d-1234567890.awsapps.com/start');
}

function checkRegion(doc: AwsConfigDoc, e: ConfigEntry): void {
  if (!/^[a-z]{2,}(-[a-z0-9]+)+$/.test(e.value)) {
    throw misconfigured('invalid-value', `${e.key} "${e.value}" is not an AWS region`, at(doc, e.line), 'set it to the region of IAM Identity Center, e.g. us-east-1');
  }
}

/** `[sso-session NAME]`: start URL and region (required), registration scopes. */
export function resolveSsoSession(doc: AwsConfigDoc, name: string, referencedAt?: number): ResolvedSsoSession {
  const s = findSection(doc, { kind: 'sso-session', name });
  if (!s) {
    throw misconfigured(
      'sso-session-missing',
      `[sso-session ${name}] does not exist`,
      referencedAt === undefined ? doc.displayPath : at(doc, referencedAt),
      `add [sso-session ${name}] with sso_start_url and sso_region, or run keyrack unlock with \`sso:\` in keyrack.yml`,
    );
  }
  const url = get(doc, s, 'sso_start_url');
  const region = get(doc, s, 'sso_region');
  const missing = [url ? undefined : 'sso_start_url', region ? undefined : 'sso_region'].filter((k) => k !== undefined);
  if (!url || !region) {
    throw misconfigured('missing-key', `[sso-session ${name}] has no ${missing.join(' and ')}`, at(doc, s.line), `add ${missing.join(' and ')} to [sso-session ${name}]`);
  }
  checkStartUrl(doc, url);
  checkRegion(doc, region);
  const out: ResolvedSsoSession = { session: name, startUrl: url.value, region: region.value };
  const scopes = get(doc, s, 'sso_registration_scopes');
  if (scopes) out.registrationScopes = parseRegistrationScopes(scopes.value);
  return out;
}

/**
 * How a profile gets credentials, validated as strictly as the AWS CLI validates it (and where the CLI and SDK
 * disagree, refused). Profiles keyrack does not drive (assume-role, static keys, web identity, none) are `other`.
 */
export function resolveProfile(doc: AwsConfigDoc, name: string): ResolvedProfile {
  const s = findSection(doc, { kind: 'profile', name });
  if (!s) {
    throw misconfigured(
      'profile-missing',
      `profile "${name}" does not exist in ${doc.displayPath}`,
      doc.displayPath,
      `add [profile ${name}] with sso_session, sso_account_id and sso_role_name, or run keyrack unlock to write it`,
    );
  }
  for (const k of ['role_arn', 'web_identity_token_file', 'aws_access_key_id']) {
    if (s.entries.has(k)) return { kind: 'other', profile: name };
  }
  for (const k of SSO_KEYS) get(doc, s, k); // divergence checks up front
  const processEntry = get(doc, s, 'credential_process');
  const sessionEntry = get(doc, s, 'sso_session');
  const ssoKeys = ['sso_start_url', 'sso_region', 'sso_account_id', 'sso_role_name'].filter((k) => s.entries.has(k));

  if (!sessionEntry && ssoKeys.length === 0) {
    if (processEntry) return { kind: 'credential-process', profile: name, command: processEntry.value };
    return { kind: 'other', profile: name };
  }

  const account = get(doc, s, 'sso_account_id');
  const role = get(doc, s, 'sso_role_name');
  const needAccountRole = (extra: string[]) => {
    const missing = [...extra, account ? undefined : 'sso_account_id', role ? undefined : 'sso_role_name'].filter((k): k is string => k !== undefined);
    if (missing.length > 0) {
      throw misconfigured('missing-key', `[profile ${name}] has no ${missing.join(', ')}`, at(doc, s.line), `add ${missing.join(', ')} to [profile ${name}]`);
    }
  };
  const checkAccount = (e: ConfigEntry) => {
    if (!/^\d{12}$/.test(e.value)) throw misconfigured('invalid-value', `sso_account_id "${e.value}" is not a 12-digit account id`, at(doc, e.line), 'set sso_account_id to the 12-digit AWS account id');
  };

  if (sessionEntry) {
    const session = resolveSsoSession(doc, sessionEntry.value, sessionEntry.line);
    needAccountRole([]);
    // botocore: every key the session defines must match the profile's copy, if the profile has one.
    const sessionSection = findSection(doc, { kind: 'sso-session', name: session.session }) as ConfigSection;
    for (const se of sessionSection.entries.values()) {
      const pe = s.entries.get(se.key);
      if (pe && pe.value !== se.value) {
        throw misconfigured(
          'inconsistent',
          `${se.key} differs between [profile ${name}] and [sso-session ${session.session}] (line ${se.line})`,
          at(doc, pe.line),
          `remove ${se.key} from [profile ${name}] (the sso-session's value is used)`,
        );
      }
    }
    checkAccount(account as ConfigEntry);
    const out: ResolvedProfile = {
      kind: 'sso-session',
      profile: name,
      session: session.session,
      startUrl: session.startUrl,
      region: session.region,
      accountId: (account as ConfigEntry).value,
      roleName: (role as ConfigEntry).value,
    };
    if (session.registrationScopes) out.registrationScopes = session.registrationScopes;
    if (processEntry) out.credentialProcess = processEntry.value;
    return out;
  }

  const url = get(doc, s, 'sso_start_url');
  const region = get(doc, s, 'sso_region');
  needAccountRole([url ? undefined : 'sso_start_url', region ? undefined : 'sso_region'].filter((k): k is string => k !== undefined));
  checkStartUrl(doc, url as ConfigEntry);
  checkRegion(doc, region as ConfigEntry);
  checkAccount(account as ConfigEntry);
  const out: ResolvedProfile = {
    kind: 'legacy',
    profile: name,
    startUrl: (url as ConfigEntry).value,
    region: (region as ConfigEntry).value,
    accountId: (account as ConfigEntry).value,
    roleName: (role as ConfigEntry).value,
  };
  if (processEntry) out.credentialProcess = processEntry.value;
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Surgical editing: only the touched lines change; every other byte of the file stays as it was.

export type Entries = ReadonlyArray<readonly [key: string, value: string]>;

export interface EditOptions {
  displayPath?: string;
}

function invalid(code: string, message: string): KeyrackError {
  return new KeyrackError({ code: `aws-config.${code}`, reason: 'invalid-input', message });
}

function checkRef(ref: SectionRef): void {
  if (ref.kind !== 'default' && !NAME_RE.test(ref.name)) {
    throw invalid('invalid-name', `"${ref.name}" cannot be a ${ref.kind} name (allowed: letters, digits, - _ @ + . % : /)`);
  }
}

function checkKey(key: string): { top: string; sub?: string } {
  const parts = key.split('.');
  if (parts.length > 2 || !parts.every((p) => KEY_RE.test(p) && p === p.toLowerCase())) {
    throw invalid('invalid-key', `"${key}" is not a valid config key`);
  }
  return parts.length === 2 ? { top: parts[0] as string, sub: parts[1] as string } : { top: parts[0] as string };
}

function checkValue(key: string, value: string): void {
  // What we write must read back identically in botocore and the SDK: one line, no comment markers, not empty.
  if (value === '' || value !== value.trim() || /[\r\n]/.test(value) || /(?:^|\s)[#;]/.test(value)) {
    throw invalid('invalid-value', `the value for ${key} cannot be written to ~/.aws/config as one plain line`);
  }
}

function headerFor(ref: SectionRef): string {
  // The AWS CLI writes the default profile as `[default]`; both spellings are found by findSection.
  return ref.kind === 'default' || (ref.kind === 'profile' && ref.name === 'default') ? '[default]' : `[${ref.kind} ${ref.name}]`;
}

function renderEntries(entries: Entries): string[] {
  const out: string[] = [];
  const groups = new Map<string, string[]>();
  const order: Array<{ top: string; value?: string }> = [];
  for (const [key, value] of entries) {
    const { top, sub } = checkKey(key);
    checkValue(key, value);
    if (sub === undefined) {
      if (groups.has(top)) throw invalid('invalid-key', `${top} is used both as a key and as a sub-section`);
      order.push({ top, value });
      continue;
    }
    if (order.some((o) => o.top === top && o.value !== undefined)) throw invalid('invalid-key', `${top} is used both as a key and as a sub-section`);
    let g = groups.get(top);
    if (!g) {
      g = [];
      groups.set(top, g);
      order.push({ top });
    }
    g.push(`  ${sub} = ${value}`);
  }
  for (const o of order) {
    if (o.value !== undefined) out.push(`${o.top} = ${o.value}`);
    else out.push(`${o.top} =`, ...(groups.get(o.top) ?? []));
  }
  return out;
}

/** Insert line texts after 1-based line `after` (0 = top), keeping the file's final-newline convention. */
function insertAfter(lines: ConfigLine[], after: number, texts: string[], eol: '\n' | '\r\n'): ConfigLine[] {
  const out = lines.map((l) => ({ ...l }));
  const added: ConfigLine[] = texts.map((t) => ({ text: t, eol }));
  const prev = out[after - 1];
  if (prev && prev.eol === '') {
    // Inserting after an unterminated last line: terminate it, and leave the new last line unterminated.
    prev.eol = eol;
    const lastAdded = added[added.length - 1];
    if (lastAdded) lastAdded.eol = '';
  }
  out.splice(after, 0, ...added);
  return out;
}

/** Remove 1-based lines [from, to], keeping the file's final-newline convention. */
function removeLines(lines: ConfigLine[], from: number, to: number): ConfigLine[] {
  const out = lines.map((l) => ({ ...l }));
  const wasUnterminated = out[out.length - 1]?.eol === '';
  out.splice(from - 1, to - from + 1);
  const newLast = out[out.length - 1];
  if (wasUnterminated && to >= lines.length && newLast) newLast.eol = '';
  return out;
}

function eolNear(doc: AwsConfigDoc, line: number): '\n' | '\r\n' {
  const e = doc.lines[line - 1]?.eol;
  return e === '\n' || e === '\r\n' ? e : doc.eol;
}

function requireSection(doc: AwsConfigDoc, ref: SectionRef): ConfigSection {
  const s = findSection(doc, ref);
  if (!s) {
    throw misconfigured('section-missing', `${headerFor(ref)} does not exist`, doc.displayPath, `add ${headerFor(ref)} first`);
  }
  return s;
}

/** The top-level line(s) of `key` in a section, matched as botocore matches keys (case-insensitively). */
function topLevel(s: ConfigSection, top: string): { line: number; endLine: number; isParent: boolean; key: string } | undefined {
  for (const e of s.entries.values()) {
    if (!e.key.includes('.') && e.key.toLowerCase() === top) return { line: e.line, endLine: e.endLine, isParent: false, key: e.key };
  }
  for (const [k, p] of s.parents) {
    if (k.toLowerCase() === top) return { line: p.line, endLine: p.endLine, isParent: true, key: k };
  }
  return undefined;
}

/** `key = value` keeping the line's indentation and its spacing around `=`. */
function rewriteValue(raw: string, key: string, value: string): string {
  const m = /^(\s*)[^=]*?(\s*)=([ \t]*)/.exec(raw);
  if (!m) return `${key} = ${value}`;
  return `${m[1] ?? ''}${key}${m[2] ?? ''}=${m[3] ?? ''}${value}`;
}

export type SetResult = { text: string; changed: 'added' | 'unchanged' | 'updated' };

/** Set one key (`key` or `parent.sub`) in an existing section; the rest of the file is untouched. */
export function setKey(text: string, ref: SectionRef, key: string, value: string, opts: EditOptions = {}): SetResult {
  checkRef(ref);
  const { top, sub } = checkKey(key);
  checkValue(key, value);
  const doc = parseAwsConfig(text, opts.displayPath);
  const s = requireSection(doc, ref);
  const existing = s.entries.get(key);
  if (existing && existing.value === value && !existing.divergence && existing.key === key) return { text, changed: 'unchanged' };

  if (sub === undefined) {
    const tl = topLevel(s, top);
    if (!tl) {
      const lines = insertAfter(doc.lines, s.contentEndLine, [`${top} = ${value}`], eolNear(doc, s.contentEndLine));
      return { text: joinLines(lines), changed: 'added' };
    }
    // Replace the key line; drop continuation lines or a sub-section block that belonged to the old value.
    let lines = doc.lines.map((l) => ({ ...l }));
    const target = lines[tl.line - 1] as ConfigLine;
    target.text = tl.isParent ? `${target.text.slice(0, indentOf(target.text))}${top} = ${value}` : rewriteValue(stripInlineComment(target.text), top, value);
    if (tl.endLine > tl.line) lines = removeLines(lines, tl.line + 1, tl.endLine);
    return { text: joinLines(lines), changed: 'updated' };
  }

  const tl = topLevel(s, top);
  if (tl && !tl.isParent) throw invalid('not-a-subsection', `${top} in ${label(s)} has a value; it cannot hold ${key}`);
  if (!tl) {
    const lines = insertAfter(doc.lines, s.contentEndLine, [`${top} =`, `  ${sub} = ${value}`], eolNear(doc, s.contentEndLine));
    return { text: joinLines(lines), changed: 'added' };
  }
  const parentKey = tl.key;
  const subEntry = s.entries.get(`${parentKey}.${sub}`);
  if (subEntry) {
    const lines = doc.lines.map((l) => ({ ...l }));
    const target = lines[subEntry.line - 1] as ConfigLine;
    target.text = rewriteValue(stripInlineComment(target.text), sub, value);
    return { text: joinLines(lines), changed: 'updated' };
  }
  // New sub-key: after the block's last line, indented like its siblings.
  const sibling = [...s.entries.values()].find((e) => e.key.startsWith(`${parentKey}.`));
  const indent = sibling ? (doc.lines[sibling.line - 1]?.text ?? '').slice(0, indentOf(doc.lines[sibling.line - 1]?.text ?? '')) : '  ';
  const lines = insertAfter(doc.lines, tl.endLine, [`${indent}${sub} = ${value}`], eolNear(doc, tl.endLine));
  return { text: joinLines(lines), changed: 'added' };
}

function stripInlineComment(raw: string): string {
  const cut = raw.search(/\s[;#]/);
  return cut === -1 ? raw : raw.slice(0, cut);
}

/** Remove one key (`key`, a whole `parent` block, or `parent.sub`) from a section. */
export function removeKey(text: string, ref: SectionRef, key: string, opts: EditOptions = {}): { text: string; changed: boolean } {
  checkRef(ref);
  const { top, sub } = checkKey(key);
  const doc = parseAwsConfig(text, opts.displayPath);
  const s = findSection(doc, ref);
  if (!s) return { text, changed: false };
  const tl = topLevel(s, top);
  if (!tl) return { text, changed: false };
  if (sub === undefined) return { text: joinLines(removeLines(doc.lines, tl.line, tl.endLine)), changed: true };
  if (!tl.isParent) return { text, changed: false };
  const subEntry = s.entries.get(`${tl.key}.${sub}`);
  if (!subEntry) return { text, changed: false };
  const siblings = [...s.entries.values()].filter((e) => e.key.startsWith(`${tl.key}.`));
  if (siblings.length === 1) return { text: joinLines(removeLines(doc.lines, tl.line, tl.endLine)), changed: true };
  return { text: joinLines(removeLines(doc.lines, subEntry.line, subEntry.line)), changed: true };
}

export interface UpsertOptions extends EditOptions {
  /** Change an existing, different definition (only that section's lines are touched). */
  force?: boolean;
  /** Keys to remove from an existing section when forcing (e.g. legacy `sso_start_url` when moving to a session). */
  remove?: readonly string[];
}

export type UpsertResult = { text: string; changed: 'added' | 'unchanged' | 'updated' };

/**
 * Make `[kind name]` hold `entries`. A missing section is appended at the end; an existing one that already holds
 * every entry is left alone (keys the user added are kept); a different existing one is refused
 * (`aws-config.conflict`) unless `force`, which then edits only the differing lines.
 */
export function upsertSection(text: string, ref: SectionRef, entries: Entries, opts: UpsertOptions = {}): UpsertResult {
  checkRef(ref);
  const rendered = renderEntries(entries); // validates keys and values
  const doc = parseAwsConfig(text, opts.displayPath);
  const s = findSection(doc, ref);

  if (!s) {
    const eol = doc.eol;
    const block = [headerFor(ref), ...rendered];
    if (doc.lines.length === 0) return { text: block.join(eol) + eol, changed: 'added' };
    const lastLine = doc.lines[doc.lines.length - 1] as ConfigLine;
    const texts = lastLine.text.trim() === '' ? block : ['', ...block];
    return { text: joinLines(insertAfter(doc.lines, doc.lines.length, texts, eol)), changed: 'added' };
  }

  const differing = entries.filter(([k, v]) => {
    const e = s.entries.get(k);
    return !e || e.value !== v || e.divergence !== undefined;
  });
  const toRemove = (opts.remove ?? []).filter((k) => topLevel(s, checkKey(k).top) !== undefined && (k.includes('.') ? s.entries.has(k) : true));
  if (differing.length === 0 && toRemove.length === 0) return { text, changed: 'unchanged' };
  if (!opts.force) {
    const first = differing[0];
    const e = first ? s.entries.get(first[0]) : undefined;
    throw new KeyrackError({
      code: 'aws-config.conflict',
      reason: 'misconfigured',
      message: `${label(s)} already exists with a different ${first ? first[0] : (toRemove[0] ?? 'definition')}`,
      location: at(doc, e?.line ?? s.line),
      fix: `edit ${label(s)} in ${doc.displayPath} yourself, or rerun with --force to let keyrack update it`,
    });
  }
  let out = text;
  for (const k of toRemove) out = removeKey(out, ref, k, opts).text;
  for (const [k, v] of differing) out = setKey(out, ref, k, v, opts).text;
  return { text: out, changed: 'updated' };
}
