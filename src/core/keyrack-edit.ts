// Editing keyrack.yml the way a careful person would: yaml's Document API finds where things are (node ranges),
// and the change is spliced into the original text. Every byte outside the inserted or replaced span stays as it
// was, comments, blank lines, quoting and odd indentation included. (Re-stringifying the document would
// normalise all of those.) The result is always re-validated with the strict parser before anyone writes it.
import { readFile, realpath, stat } from 'node:fs/promises';
import { isMap, isScalar, parseDocument, stringify, type Node, type Pair, type YAMLMap } from 'yaml';
import { KeyrackError, isKeyrackError } from './errors.js';
import { KEYRACK_PATTERNS, parseKeyrackFile, type AwsProfileRef, type KeyrackFile } from './keyrack-file.js';
import { writeFileAtomic } from '../store/files.js';

export interface SsoSpec {
  name: string;
  startUrl: string;
  region: string;
}

/** A profile reference to write: the fields of a keyrack.yml profile ref, without its location. */
export type RefSpec = Pick<AwsProfileRef, 'env' | 'key' | 'profile' | 'sso' | 'account' | 'role'>;

export interface EditChange {
  what: 'sso' | 'ref' | 'org';
  /** sso name, or `env/KEY` */
  name: string;
  change: 'added' | 'updated' | 'unchanged';
}

export interface EditOptions {
  /** Change an existing, different definition (only the differing values are touched). */
  force?: boolean;
}

/** What the file holds, read leniently enough to cover a scaffold that `keyrack init` left without envs. */
export interface KeyrackView {
  path: string;
  /** false for a scaffold (org / sso, no env yet): valid once the first key is added. */
  complete: boolean;
  file: KeyrackFile;
  /** Envs `keyrack init` declared that have no key yet (its placeholder lines). */
  pendingEnvs: string[];
}

const REF_FIELDS = ['profile', 'sso', 'account', 'role'] as const;
type RefField = (typeof REF_FIELDS)[number];

const SCAFFOLD_PROBE_ENV = 'keyrack-scaffold-probe';

function hasEnvSection(text: string): boolean {
  const doc = parseDocument(text);
  return isMap(doc.contents) && doc.contents.items.some((p) => isScalar(p.key) && String(p.key.value).startsWith('env.'));
}

/**
 * Parse strictly; a scaffold (no env section yet) is accepted and validated as if it had one, so its org and sso
 * sections are held to the same rules.
 */
export function viewKeyrackText(text: string, path: string): KeyrackView {
  const pendingEnvs = [...text.matchAll(/^# env\.([A-Za-z0-9][A-Za-z0-9_-]*): no keys yet; add one with: keyrack add aws --env \1\r?$/gm)].map((m) => m[1] as string);
  try {
    return { path, complete: true, file: parseKeyrackFile(text, path), pendingEnvs };
  } catch (e) {
    if (!isKeyrackError(e) || e.code !== 'keyrack-file.empty' || hasEnvSection(text)) throw e;
  }
  const probe = `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}env.${SCAFFOLD_PROBE_ENV}:\n  PROBE:\n    aws: { profile: probe }\n`;
  const file = parseKeyrackFile(probe, path);
  delete file.envs[SCAFFOLD_PROBE_ENV];
  return { path, complete: false, file, pendingEnvs };
}

// ---- text helpers ------------------------------------------------------------------------------------------

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

function colOf(text: string, offset: number): number {
  return offset - lineStart(text, offset);
}

function splice(text: string, at: number, remove: number, insert: string): string {
  return text.slice(0, at) + insert + text.slice(at + remove);
}

function eolOf(text: string): string {
  const crlf = (text.match(/\r\n/g) ?? []).length;
  const lf = (text.match(/\n/g) ?? []).length - crlf;
  return crlf > lf ? '\r\n' : '\n';
}

/** A scalar as YAML text: plain when that reads back as the same string, quoted otherwise. */
function scalar(field: RefField | 'start_url' | 'region', value: string): string {
  if (field === 'account') return `"${value}"`; // unquoted, YAML would read a number
  return stringify(value, { lineWidth: 0 }).trimEnd();
}

function keyNameOf(p: Pair): string | undefined {
  return isScalar(p.key) && p.key.value !== null && typeof p.key.value !== 'object' ? String(p.key.value) : undefined;
}

function findPair(map: YAMLMap, name: string): Pair | undefined {
  return map.items.find((p) => keyNameOf(p) === name) as Pair | undefined;
}

function nodeRange(n: unknown): [number, number, number] | undefined {
  return (n as Node | null | undefined)?.range ?? undefined;
}

interface Layout {
  /** One indentation step, e.g. two spaces. */
  unit: string;
  /** New refs as `aws: { … }` (true) or an indented block. */
  flowRefs: boolean;
  eol: string;
}

/** The file's own habits, so added lines look like the ones around them. */
function layoutOf(text: string, root: YAMLMap | null): Layout {
  let unit: number | undefined;
  let flowRefs: boolean | undefined;
  const visit = (map: YAMLMap, depth: number) => {
    for (const p of map.items) {
      const v = p.value as Node | null;
      const name = keyNameOf(p);
      if (name === 'aws' && isMap(v) && flowRefs === undefined) flowRefs = v.flow === true;
      if (isMap(v) && !v.flow && v.items.length > 0 && depth < 4) {
        const parentKey = nodeRange(p.key);
        const childKey = nodeRange(v.items[0]?.key);
        if (unit === undefined && parentKey && childKey) {
          const d = colOf(text, childKey[0]) - colOf(text, parentKey[0]);
          if (d > 0 && d <= 8) unit = d;
        }
        visit(v, depth + 1);
      }
    }
  };
  if (root) visit(root, 0);
  return { unit: ' '.repeat(unit ?? 2), flowRefs: flowRefs ?? true, eol: eolOf(text) };
}

function parseRoot(text: string): YAMLMap | null {
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length > 0) {
    throw new KeyrackError({ code: 'keyrack-file.yaml-syntax', reason: 'invalid-input', message: 'keyrack.yml is not valid YAML', fix: 'run keyrack validate to see where' });
  }
  if (doc.contents === null) return null;
  if (!isMap(doc.contents)) {
    throw new KeyrackError({ code: 'keyrack-file.wrong-type', reason: 'invalid-input', message: 'keyrack.yml must be a map at the top level', fix: 'run keyrack validate to see where' });
  }
  return doc.contents;
}

/** Insert whole lines after the last entry of a block map (before any blank lines that follow it). */
function appendToBlockMap(text: string, map: YAMLMap, lines: string[], layout: Layout): string {
  const r = nodeRange(map);
  const first = nodeRange(map.items[0]?.key);
  if (!r || !first) throw new Error('keyrack-edit: map without positions');
  const indent = ' '.repeat(colOf(text, first[0]));
  const body = lines.map((l) => indent + l + layout.eol).join('');
  let at = r[1];
  // A map's range ends after its last line's newline; at the end of a file without one, add it first.
  if (at > 0 && text[at - 1] !== '\n') return splice(text, at, 0, layout.eol + body.slice(0, -layout.eol.length));
  return splice(text, at, 0, body);
}

/** Add `field: value` to a map, flow or block. */
function addField(text: string, map: YAMLMap, field: string, value: string, layout: Layout): string {
  if (!map.flow) return appendToBlockMap(text, map, [`${field}: ${value}`], layout);
  const r = nodeRange(map);
  if (!r) throw new Error('keyrack-edit: map without positions');
  let at = text.lastIndexOf('}', r[1] - 1);
  while (at > r[0] && /\s/.test(text[at - 1] ?? '')) at--;
  const sep = map.items.length > 0 ? ', ' : ' ';
  return splice(text, at, 0, `${sep}${field}: ${value}`);
}

function replaceScalar(text: string, node: unknown, value: string): string {
  const r = nodeRange(node);
  if (!r) throw new Error('keyrack-edit: scalar without positions');
  return splice(text, r[0], r[1] - r[0], value);
}

function stringValue(p: Pair | undefined): string | undefined {
  return p && isScalar(p.value) && typeof p.value.value === 'string' ? p.value.value : undefined;
}

function conflict(what: string, field: string, fix: string): KeyrackError {
  return new KeyrackError({
    code: 'keyrack-file.conflict',
    reason: 'misconfigured',
    message: `${what} already exists in keyrack.yml with a different ${field}`,
    fix,
  });
}

function refLines(ref: RefSpec, layout: Layout): string[] {
  const fields = REF_FIELDS.filter((f) => ref[f] !== undefined).map((f) => `${f}: ${scalar(f, ref[f] as string)}`);
  if (layout.flowRefs) return [`${ref.key}:`, `${layout.unit}aws: { ${fields.join(', ')} }`];
  return [`${ref.key}:`, `${layout.unit}aws:`, ...fields.map((f) => `${layout.unit}${layout.unit}${f}`)];
}

function ssoLines(s: SsoSpec, layout: Layout): string[] {
  return [`${s.name}:`, `${layout.unit}start_url: ${scalar('start_url', s.startUrl)}`, `${layout.unit}region: ${scalar('region', s.region)}`];
}

/** Where a new top-level section goes when it should sit before the envs: after `org:`, else above the first env. */
function topInsertOffset(text: string, root: YAMLMap): number {
  const org = findPair(root, 'org');
  const orgEnd = nodeRange(org?.value)?.[2];
  if (orgEnd !== undefined && text[orgEnd - 1] === '\n') return orgEnd;
  const firstEnv = root.items.find((p) => keyNameOf(p)?.startsWith('env.'));
  const at = nodeRange(firstEnv?.key)?.[0];
  if (at === undefined) return text.length;
  let start = lineStart(text, at);
  // Comment lines directly above an env belong to it; a header at the very top of the file stays on top.
  let probe = start;
  while (probe > 0) {
    const prev = lineStart(text, probe - 1);
    if (!/^\s*#/.test(text.slice(prev, probe))) break;
    probe = prev;
  }
  if (probe > 0) start = probe;
  return start;
}

function appendSection(text: string, lines: string[], layout: Layout): string {
  const body = lines.map((l) => l + layout.eol).join('');
  if (text === '') return body;
  const sep = text.endsWith(`${layout.eol}${layout.eol}`) || text.endsWith('\n\n') ? '' : text.endsWith('\n') ? layout.eol : layout.eol + layout.eol;
  return text + sep + body;
}

function upsertSso(text: string, s: SsoSpec, opts: EditOptions): { text: string; change: EditChange['change'] } {
  const root = parseRoot(text);
  const layout = layoutOf(text, root);
  const section = root ? findPair(root, 'sso') : undefined;
  if (!root || !section || !isMap(section.value) || section.value.items.length === 0) {
    if (section) {
      throw new KeyrackError({ code: 'keyrack-file.wrong-type', reason: 'invalid-input', message: 'sso: in keyrack.yml is not a map of sessions', fix: 'fix it by hand (see keyrack.yml.example), then rerun' });
    }
    const block = ['sso:', ...ssoLines(s, layout).map((l) => layout.unit + l)];
    if (!root) return { text: appendSection(text, block, layout), change: 'added' };
    const at = topInsertOffset(text, root);
    const before = text.slice(0, at);
    const needsBlankAfter = at < text.length && !/^\s*\r?\n/.test(text.slice(at));
    const body = block.map((l) => l + layout.eol).join('') + (needsBlankAfter ? layout.eol : '');
    const lead = before === '' || before.endsWith('\n') ? '' : layout.eol;
    return { text: splice(text, at, 0, lead + body), change: 'added' };
  }
  const sessions = section.value;
  const existing = findPair(sessions, s.name);
  if (!existing) {
    if (sessions.flow) {
      throw new KeyrackError({ code: 'keyrack-file.unsupported-layout', reason: 'invalid-input', message: 'sso: in keyrack.yml is written as a flow map', fix: `add ${s.name} under sso: yourself, or rewrite sso: as indented lines` });
    }
    return { text: appendToBlockMap(text, sessions, ssoLines(s, layout), layout), change: 'added' };
  }
  if (!isMap(existing.value)) throw conflict(`sso ${s.name}`, 'shape', 'fix it by hand, then rerun');
  const fields: Array<['start_url' | 'region', string]> = [['start_url', s.startUrl], ['region', s.region]];
  const differing = fields.filter(([f, v]) => stringValue(findPair(existing.value as YAMLMap, f)) !== v);
  if (differing.length === 0) return { text, change: 'unchanged' };
  if (!opts.force) throw conflict(`sso ${s.name}`, (differing[0] as [string, string])[0], `use another sso name, edit keyrack.yml yourself, or rerun with --force`);
  let out = text;
  for (const [f, v] of differing) {
    const map = findPair(parseRoot(out) as YAMLMap, 'sso')?.value as YAMLMap;
    const entry = findPair(map, s.name)?.value as YAMLMap;
    const pair = findPair(entry, f);
    out = pair && isScalar(pair.value) ? replaceScalar(out, pair.value, scalar(f, v)) : addField(out, entry, f, scalar(f, v), layoutOf(out, parseRoot(out)));
  }
  return { text: out, change: 'updated' };
}

function upsertRef(text: string, ref: RefSpec, opts: EditOptions): { text: string; change: EditChange['change'] } {
  const root = parseRoot(text);
  const layout = layoutOf(text, root);
  const envName = `env.${ref.env}`;
  const section = root ? findPair(root, envName) : undefined;
  if (!root || !section) {
    const block = [`${envName}:`, ...refLines(ref, layout).map((l) => layout.unit + l)];
    // `keyrack init` left a placeholder line for this env: the section takes its place, keeping the env order.
    const pending = pendingLineAt(text, ref.env);
    if (pending) {
      const prev = text.slice(lineStart(text, Math.max(0, pending.start - 1)), Math.max(0, pending.start - 1)).trim();
      const lead = pending.start > 0 && prev !== '' && !prev.startsWith('#') ? layout.eol : '';
      return { text: splice(text, pending.start, pending.end - pending.start, lead + block.map((l) => l + layout.eol).join('')), change: 'added' };
    }
    return { text: appendSection(text, block, layout), change: 'added' };
  }
  if (!isMap(section.value) || section.value.flow) {
    throw new KeyrackError({ code: 'keyrack-file.unsupported-layout', reason: 'invalid-input', message: `${envName} in keyrack.yml is not written as indented lines`, fix: `add ${ref.key} to ${envName} yourself, or rewrite it as indented lines` });
  }
  const existing = findPair(section.value, ref.key);
  if (!existing) return { text: appendToBlockMap(text, section.value, refLines(ref, layout), layout), change: 'added' };

  const what = `${ref.env}/${ref.key}`;
  const aws = isMap(existing.value) ? findPair(existing.value, 'aws') : undefined;
  if (!aws || !isMap(aws.value) || findPair(aws.value, 'web_identity')) throw conflict(what, 'kind of reference', 'edit keyrack.yml yourself, or choose another --key');
  const current = aws.value;
  const wanted = REF_FIELDS.filter((f) => ref[f] !== undefined);
  const differing = wanted.filter((f) => {
    const v = stringValue(findPair(current, f));
    return v !== undefined && v !== ref[f];
  });
  const missing = wanted.filter((f) => findPair(current, f) === undefined);
  if (differing.length === 0 && missing.length === 0) return { text, change: 'unchanged' };
  // Adding pins to a reference that names the same profile refines it; changing a value needs --force.
  if (differing.length > 0 && !opts.force) throw conflict(what, differing[0] as string, 'choose another --key or --env, edit keyrack.yml yourself, or rerun with --force');
  let out = text;
  for (const f of [...differing, ...missing]) {
    const r = parseRoot(out) as YAMLMap;
    const envMap = findPair(r, envName)?.value as YAMLMap;
    const awsMap = findPair(findPair(envMap, ref.key)?.value as YAMLMap, 'aws')?.value as YAMLMap;
    const pair = findPair(awsMap, f);
    const value = scalar(f, ref[f] as string);
    out = pair && isScalar(pair.value) ? replaceScalar(out, pair.value, value) : addField(out, awsMap, f, value, layoutOf(out, r));
  }
  return { text: out, change: 'updated' };
}

function checkName(value: string, pattern: keyof typeof KEYRACK_PATTERNS, what: string): void {
  if (!new RegExp(KEYRACK_PATTERNS[pattern]).test(value)) {
    throw new KeyrackError({ code: 'keyrack-edit.invalid', reason: 'invalid-input', message: `that is not ${what}`, fix: `use ${KEYRACK_PATTERNS[pattern]}` });
  }
}

/**
 * Add (or, with force, change) sso sessions and references. Sessions go first so references can name them.
 * The result must parse strictly (a scaffold without envs stays a scaffold); nothing is written here.
 */
export function editKeyrackText(text: string, path: string, edit: { sso?: SsoSpec[]; refs?: RefSpec[] }, opts: EditOptions = {}): { text: string; changes: EditChange[] } {
  viewKeyrackText(text, path); // refuse to edit a file that is already broken (or holds a secret)
  let out = text;
  const changes: EditChange[] = [];
  for (const s of edit.sso ?? []) {
    checkName(s.name, 'name', 'an sso session name');
    checkName(s.region, 'region', 'an AWS region');
    checkName(s.startUrl, 'startUrl', 'an https start URL');
    const r = upsertSso(out, s, opts);
    out = r.text;
    changes.push({ what: 'sso', name: s.name, change: r.change });
  }
  for (const ref of edit.refs ?? []) {
    checkName(`env.${ref.env}`, 'envSection', 'an env name');
    checkName(ref.key, 'keyName', 'an environment variable name');
    checkName(ref.profile, 'name', 'a profile name');
    if (ref.sso !== undefined) checkName(ref.sso, 'name', 'an sso session name');
    if (ref.account !== undefined) checkName(ref.account, 'account', 'a 12-digit account id');
    if (ref.role !== undefined) checkName(ref.role, 'role', 'a role name');
    const r = upsertRef(out, ref, opts);
    out = r.text;
    changes.push({ what: 'ref', name: `${ref.env}/${ref.key}`, change: r.change });
  }
  viewKeyrackText(out, path); // the edit must leave a file keyrack (and every teammate) can read
  return { text: out, changes };
}

/** A new keyrack.yml: a header, the org, and a line per env still waiting for its first key. */
export function newKeyrackText(opts: { org?: string; pendingEnvs?: string[] }): string {
  if (opts.org !== undefined) checkName(opts.org, 'name', 'an organization name');
  const lines = [
    '# keyrack.yml: which AWS identity backs each variable, per env. References only: never secrets.',
    '# Teammates run `keyrack unlock aws --env <env> --write-profiles` once; robots run `keyrack grant`.',
  ];
  if (opts.org !== undefined) lines.push(`org: ${stringify(opts.org, { lineWidth: 0 }).trimEnd()}`);
  if ((opts.pendingEnvs ?? []).length > 0) lines.push('');
  for (const env of opts.pendingEnvs ?? []) {
    checkName(`env.${env}`, 'envSection', 'an env name');
    lines.push(pendingLine(env));
  }
  return `${lines.join('\n')}\n`;
}

function pendingLine(env: string): string {
  return `# env.${env}: no keys yet; add one with: keyrack add aws --env ${env}`;
}

/** The exact placeholder line `keyrack init` wrote for an env (start of line to after its newline). */
function pendingLineAt(text: string, env: string): { start: number; end: number } | undefined {
  const line = pendingLine(env);
  for (let at = text.indexOf(line); at !== -1; at = text.indexOf(line, at + 1)) {
    const after = at + line.length;
    const endsLine = after === text.length || text[after] === '\n' || text.startsWith('\r\n', after);
    if ((at === 0 || text[at - 1] === '\n') && endsLine) {
      const nl = text.indexOf('\n', after);
      return { start: at, end: nl === -1 ? text.length : nl + 1 };
    }
  }
  return undefined;
}

// ---- files ---------------------------------------------------------------------------------------------------

export async function readKeyrackText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Atomic write that keeps the file's mode (0644 for a new one: it is committed, not secret) and writes through a
 * symlink. With `expected`, refuses when someone changed the file since it was read.
 */
export async function writeKeyrackText(path: string, text: string, opts: { expected?: string | undefined } = {}): Promise<void> {
  let target = path;
  let mode = 0o644;
  try {
    target = await realpath(path);
    mode = (await stat(target)).mode & 0o777;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if ('expected' in opts) {
    const current = await readKeyrackText(target);
    if (current !== opts.expected) {
      throw new KeyrackError({ code: 'keyrack-file.changed', reason: 'unavailable', message: `${path} changed while keyrack was editing it`, fix: 'rerun the command' });
    }
  }
  await writeFileAtomic(target, text, mode);
}
