// keyrack.yml is committed, so it must hold references only. This scans the raw text line by line, before any
// YAML parsing, so a secret is caught wherever it sits: a value, a key, a comment, even an unparseable line.
// Findings carry a position and a kind, never the matched text, so no caller can echo the secret by accident.
import { KeyrackError } from './errors.js';

export type SecretKind =
  | 'private-key'
  | 'emulator-secret'
  | 'aws-access-key-id'
  | 'aws-secret-access-key'
  | 'aws-session-token'
  | 'sso-token'
  | 'jwt'
  | 'bearer-token'
  | 'url-credentials'
  | 'secret-field';

export interface SecretFinding {
  kind: SecretKind;
  /** 1-based. */
  line: number;
  /** 1-based, where the suspicious text starts. */
  col: number;
}

const DESCRIPTIONS: Readonly<Record<SecretKind, string>> = {
  'private-key': 'a PEM private key',
  'emulator-secret': 'a credential minted by the keyrack emulator',
  'aws-access-key-id': 'an AWS access key id',
  'aws-secret-access-key': 'an AWS secret access key',
  'aws-session-token': 'an AWS session token',
  'sso-token': 'an SSO access or refresh token',
  jwt: 'a JSON Web Token',
  'bearer-token': 'a bearer token',
  'url-credentials': 'a URL with embedded credentials',
  'secret-field': 'a secret-bearing field with a value',
};

export function describeSecretKind(kind: SecretKind): string {
  return DESCRIPTIONS[kind];
}

/** Returns the 0-based column of a hit in `line`, or -1. */
type Detector = (line: string) => number;

const at = (re: RegExp): Detector => (line) => line.search(re);

/** Every hit of `re` (which must be global) that also passes `accept`. */
const where =
  (re: RegExp, accept: (hit: string, line: string) => boolean): Detector =>
  (line) => {
    for (const m of line.matchAll(re)) if (accept(m[0], line)) return m.index;
    return -1;
  };

// Ordered most specific first: a line is reported once, under the first kind that matches it.
const DETECTORS: ReadonlyArray<[SecretKind, Detector]> = [
  ['private-key', at(/-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----/)],
  ['emulator-secret', (line) => tokenStart(line, line.indexOf('EMUSECRET'))],
  ['aws-access-key-id', at(/(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/)],
  // STS session tokens start with a fixed base64 prefix (`IQoJb3JpZ2lu` = "\x21\x0a\x09origin", `FwoGZXIvYXdz` = "...aws").
  ['aws-session-token', at(/(?:IQoJb3JpZ2lu|FwoGZXIvYXdz)[A-Za-z0-9+/=]{16,}/)],
  // IAM Identity Center OIDC tokens: `aoa…` (access) and `aor…` (refresh).
  ['sso-token', where(/(?<![A-Za-z0-9])ao[ar][A-Za-z0-9+/_=:.-]{20,}/g, (hit) => classes(hit) >= 2)],
  ['jwt', at(/eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/)],
  ['bearer-token', where(/\bbearer\s+[A-Za-z0-9._~+/=-]{16,}/gi, (hit) => classes(hit.split(/\s+/)[1] ?? '') >= 2)],
  ['url-credentials', at(/\b[a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]+:[^\s/?#@]+@/i)],
  // Any long base64 run is treated as a token; requiring it to look random spares long paths and ARNs.
  ['aws-session-token', where(/(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{100,}={0,2}/g, (hit) => classes(hit) === 3 && entropy(hit) >= 4.9)],
  // 40 base64 chars: a secret access key. Near a hint two char classes are enough; alone it must look random.
  ['aws-secret-access-key', where(/(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/=])/g, looksLikeSecretKey)],
  ['secret-field', secretFieldColumn],
];

/** All findings, at most one per line, in line order. */
export function scanForSecrets(text: string): SecretFinding[] {
  const findings: SecretFinding[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    for (const [kind, detect] of DETECTORS) {
      const col = detect(line);
      if (col >= 0) {
        findings.push({ kind, line: i + 1, col: col + 1 });
        return;
      }
    }
  });
  return findings;
}

/** Throws `keyrack-file.secret` naming the first finding's position and kind, never its text. */
export function assertNoSecrets(text: string, file: string): void {
  const findings = scanForSecrets(text);
  const first = findings[0];
  if (!first) return;
  const more = findings.length > 1 ? ` (and ${findings.length - 1} more line${findings.length > 2 ? 's' : ''})` : '';
  throw new KeyrackError({
    code: 'keyrack-file.secret',
    reason: 'invalid-input',
    location: `${file}:${first.line}:${first.col}`,
    message: `line ${first.line} looks like ${describeSecretKind(first.kind)}${more}; keyrack.yml holds references only`,
    fix: 'remove it and rotate it (it may already be committed or shared); keep only references such as aws: { profile: <name> }',
  });
}

function classes(s: string): number {
  return Number(/[a-z]/.test(s)) + Number(/[A-Z]/.test(s)) + Number(/[0-9]/.test(s));
}

/** Shannon entropy in bits per character. */
function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) bits -= (n / s.length) * Math.log2(n / s.length);
  return bits;
}

const SECRET_HINT = /secret|access.?key|credential|aws_?key/i;

function looksLikeSecretKey(hit: string, line: string): boolean {
  if (SECRET_HINT.test(line)) return classes(hit) >= 2;
  return /[a-z]/.test(hit) && /[A-Z]/.test(hit) && /[0-9+/]/.test(hit) && entropy(hit) >= 4;
}

/** Start of the whitespace/quote-delimited token containing index `i` (or -1 when i is -1). */
function tokenStart(line: string, i: number): number {
  if (i < 0) return -1;
  let s = i;
  while (s > 0 && !/[\s"':,{}[\]]/.test(line.charAt(s - 1))) s--;
  return s;
}

// Field names that carry a secret, compared after lower-casing and dropping `_`, `-` and `.`:
// aws_secret_access_key, aws_session_token, client_secret, password, refresh_token, access_token, api_key, …
// `token_file` / `token_env` (web identity references) deliberately do not match.
const SECRET_FIELD = /(?:secret|secretkey|secretaccesskey|token|password|passwd|passphrase|apikey|privatekey)$/;
// A field name starts a line or follows whitespace, `{`, `,`, `[` or a URL query separator; not `:`, so the
// `:secret:` inside a Secrets Manager ARN is not a field.
const FIELD = /(?<=^|[\s{,[?&;])["']?([A-Za-z][A-Za-z0-9_.-]*)["']?[ \t]*[:=]/g;
const PLACEHOLDER = /^(?:|~|null|none|<[^>]*>|\*+|x+|redacted|\.\.\.|…)$/i;

/** `password: hunter2`, `AWS_SESSION_TOKEN=…`, `"client_secret": "…"`: a secret-named field with a value. */
function secretFieldColumn(line: string): number {
  const comment = commentStart(line);
  for (const m of line.matchAll(FIELD)) {
    const name = (m[1] ?? '').toLowerCase().replace(/[-_.]/g, '');
    if (!SECRET_FIELD.test(name)) continue;
    const value = valueAfter(line.slice(m.index + m[0].length));
    if (PLACEHOLDER.test(value) || /^[{[]/.test(value)) continue; // empty, placeholder, or a nested map/list
    // In a comment, prose like "# the secret: never here" is not a value; a single non-word token is.
    if (comment >= 0 && m.index > comment && /\s|^[a-z]+[.,;!?]?$/.test(value)) continue;
    return m.index;
  }
  return -1;
}

/** The scalar right after `key:` / `key=`: a quoted string, or text up to `,`, `}`, `]` or ` #`. */
function valueAfter(rest: string): string {
  const s = rest.trimStart();
  const q = s.charAt(0);
  if (q === '"' || q === "'") {
    const end = s.indexOf(q, 1);
    return end < 0 ? s.slice(1) : s.slice(1, end);
  }
  return s.split(/(?:^|\s)#|[,}\]]/)[0]?.trim() ?? '';
}

/** Index of a YAML comment's `#` (start of line or after whitespace, outside quotes), or -1. */
function commentStart(line: string): number {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line.charAt(i);
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(line.charAt(i - 1)))) {
      return i;
    }
  }
  return -1;
}
