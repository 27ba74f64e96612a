// Names STS records for a scoped session: RoleSessionName (from the robot's task id) and SourceIdentity (from the
// human's SSO user name). Both must be 2–64 characters of [A-Za-z0-9_+=,.@-]. A name that is already valid is
// used as is, so CloudTrail shows exactly what the robot passed. Anything else is transliterated (é → e, ß → ss),
// illegal characters become "-", and a short hash of the original is appended: two different task ids then
// never share a session name, however long they are or however much of them had to be replaced.
import { createHash } from 'node:crypto';
import { KeyrackError } from '../../core/errors.js';

export const SESSION_NAME_MIN = 2;
export const SESSION_NAME_MAX = 64;
/** STS's pattern for RoleSessionName and SourceIdentity (`\w` is ASCII there). */
export const SESSION_NAME_RE = /^[A-Za-z0-9_+=,.@-]{2,64}$/;
const ILLEGAL_RUN = /[^A-Za-z0-9_+=,.@-]+/g;
/** Hex digits of SHA-256 appended to changed names: 40 bits keep accidental collisions out of reach. */
const HASH_CHARS = 10;

/** Letters NFKD does not decompose into ASCII, written the way people transliterate them. */
const TRANSLITERATION: Readonly<Record<string, string>> = {
  ß: 'ss', ẞ: 'SS', æ: 'ae', Æ: 'AE', œ: 'oe', Œ: 'OE', ø: 'o', Ø: 'O', đ: 'd', Đ: 'D', ð: 'd', Ð: 'D',
  þ: 'th', Þ: 'Th', ł: 'l', Ł: 'L', ı: 'i', ħ: 'h', Ħ: 'H', ŋ: 'ng', Ŋ: 'NG', ĸ: 'k', ſ: 's',
  '\u2018': '', '\u2019': '', '\u201c': '', '\u201d': '', '\u2013': '-', '\u2014': '-',
};

export interface SanitisedName {
  value: string;
  /** False when the input was already a valid name and is used unchanged. */
  changed: boolean;
  /** True when the readable part had to be shortened to fit 64 characters. */
  truncated: boolean;
}

function transliterate(s: string): string {
  let out = '';
  for (const ch of s.normalize('NFKD')) {
    if (/\p{M}/u.test(ch)) continue; // combining accents left over from NFKD: é → e + ◌́
    out += TRANSLITERATION[ch] ?? ch;
  }
  return out;
}

function shortHash(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex').slice(0, HASH_CHARS);
}

/**
 * A valid STS session name for `input`. `fallback` is the readable part used when nothing of the input
 * survives (e.g. a task id written entirely in CJK): the result is then `<fallback>-<hash>`.
 */
export function sanitiseSessionName(input: string, what: { label: string; fallback: string }): SanitisedName {
  const original = input.normalize('NFC');
  if (original.trim() === '') {
    throw new KeyrackError({
      code: 'scope.empty-name',
      reason: 'invalid-input',
      message: `the ${what.label} is empty`,
      fix: `pass a non-empty ${what.label}`,
    });
  }
  if (SESSION_NAME_RE.test(original)) return { value: original, changed: false, truncated: false };

  const readable = transliterate(original).replace(ILLEGAL_RUN, '-').replace(/^-+|-+$/g, '');
  const hash = shortHash(original);
  const room = SESSION_NAME_MAX - HASH_CHARS - 1;
  const truncated = readable.length > room;
  const body = (truncated ? readable.slice(0, room) : readable).replace(/-+$/, '') || what.fallback;
  return { value: `${body}-${hash}`, changed: true, truncated };
}

/** RoleSessionName for a task id (what CloudTrail shows as the session of every call the robot makes). */
export function roleSessionName(taskId: string): SanitisedName {
  return sanitiseSessionName(taskId, { label: 'task id', fallback: 'task' });
}

/**
 * SourceIdentity from the human's SSO user name. It follows the session through further role chaining and
 * cannot be changed by the robot. STS also refuses values starting with `aws:`; ":" is never kept, so the
 * sanitised name cannot.
 */
export function sourceIdentity(userName: string): SanitisedName {
  return sanitiseSessionName(userName, { label: 'SSO user name', fallback: 'user' });
}

/** The session-name part of `arn:aws:sts::<acct>:assumed-role/<role>/<session>`: for SSO, the user name. */
export function sessionNameFromArn(arn: string): string | undefined {
  return /^arn:aws[\w-]*:sts::\d{12}:assumed-role\/[^/]+\/([^/]+)$/.exec(arn)?.[1];
}

/** Session tags allow letters, digits, spaces and `_ . : / = + - @` (Unicode letters too), values up to 256. */
const TAG_ILLEGAL = /[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu;
export const TAG_VALUE_MAX = 256;

/** A session-tag value close to `input`: illegal characters become "_", at most 256 characters. */
export function tagValue(input: string): string {
  let out = '';
  for (const ch of input.normalize('NFC').replace(TAG_ILLEGAL, '_')) {
    if (out.length + ch.length > TAG_VALUE_MAX) break; // counted in UTF-16 units, never splitting a character
    out += ch;
  }
  return out;
}
