// `keyrack init`: create keyrack.yml for a repo: the org, its envs, references imported from this machine's SSO
// profiles, and (at a terminal) the guided `add aws` for every env still without a key. Everything happens in memory
// and is written at the very end, so Ctrl-C at any prompt leaves no file behind.
import { basename, resolve } from 'node:path';
import { defineCommand } from 'citty';
import { KeyrackError } from '../../core/errors.js';
import { KEYRACK_FILE_NAME } from '../../core/keyrack-find.js';
import { KEYRACK_PATTERNS } from '../../core/keyrack-file.js';
import { editKeyrackText, newKeyrackText, readKeyrackText, viewKeyrackText, type RefSpec, type SsoSpec } from '../../core/keyrack-edit.js';
import { listSsoSessions, readAwsConfig } from '../../aws/config-file.js';
import { guessEnv, importableProfiles, norm, suggestSessionName, type ImportableProfile } from '../../aws/setup.js';
import { processRuntime } from '../context.js';
import { reportAndExit } from '../report.js';
import { createStyle, exitCancelled, isPromptCancel, loadPrompts, type Prompts } from '../ui.js';
import { addFlow, commitFiles, humanContext, requireInteractive, type AddHost, type AddResult, type AddState } from './add.js';

const NAME_RE = new RegExp(KEYRACK_PATTERNS.name);
const ENV_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

function invalid(code: string, message: string, fix: string): KeyrackError {
  return new KeyrackError({ code: `init.${code}`, reason: 'invalid-input', message, fix });
}

function parseEnvs(raw: string): string[] {
  const envs = [...new Set(raw.split(/[\s,]+/).map((e) => e.replace(/^env\./, '')).filter(Boolean))];
  if (envs.length === 0 || !envs.every((e) => ENV_RE.test(e))) throw invalid('bad-envs', '--envs is not a list of env names', 'pass e.g. --envs prep,prod (letters, digits, _ and -)');
  return envs;
}

function keyFor(profile: string, taken: (k: string) => boolean): string {
  if (!taken('AWS_PROFILE')) return 'AWS_PROFILE';
  const base = `AWS_PROFILE_${profile.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '')}`;
  if (!taken(base)) return base;
  for (let i = 2; ; i++) if (!taken(`${base}_${i}`)) return `${base}_${i}`;
}

interface Import {
  profile: ImportableProfile;
  env: string;
}

/** `--import all | none | p1,p2=prod`: which profiles, and the env of each (guessed from the name when not given). */
function importsFromFlag(flag: string, found: ImportableProfile[], envs: string[]): Import[] {
  if (flag === 'none' || flag === '') return [];
  const pairs: Array<[string, string | undefined]> =
    flag === 'all' ? found.map((p) => [p.profile, undefined]) : flag.split(',').map((s) => s.trim()).filter(Boolean).map((s) => [s.split('=')[0] ?? '', s.includes('=') ? s.slice(s.indexOf('=') + 1) : undefined]);
  const out: Import[] = [];
  for (const [name, envGiven] of pairs) {
    const profile = found.find((p) => p.profile === name);
    if (!profile) {
      throw invalid('unknown-profile', `${NAME_RE.test(name) ? `"${name}"` : 'a name in --import'} is not an SSO profile in ~/.aws/config`, `use some of: ${found.map((p) => p.profile).join(', ') || '(none found)'}`);
    }
    const env = envGiven ?? guessEnv(name, envs);
    if (env === undefined) {
      if (flag === 'all') continue; // nothing says which env it belongs to: not imported
      throw invalid('import-env', `cannot tell which env profile ${name} belongs to`, `write it as --import ${name}=<env> with one of: ${envs.join(', ')}`);
    }
    if (!envs.includes(env)) throw invalid('import-env', `env ${ENV_RE.test(env) ? env : '(as given)'} is not in --envs`, `use one of: ${envs.join(', ')}`);
    out.push({ profile, env });
  }
  return out;
}

async function importsFromPrompt(p: Prompts, found: ImportableProfile[], envs: string[]): Promise<Import[]> {
  if (found.length === 0) return [];
  const chosen = await p.checkbox(
    'Import SSO profiles from ~/.aws/config into keyrack.yml? (space to toggle, enter to confirm)',
    found.map((f) => ({ name: `${f.profile}  account ${f.account}, role ${f.role}${f.session ? `, sso ${f.session}` : ''}`, value: f.profile, checked: guessEnv(f.profile, envs) !== undefined })),
  );
  const out: Import[] = [];
  for (const name of chosen) {
    const profile = found.find((f) => f.profile === name) as ImportableProfile;
    const guess = guessEnv(name, envs);
    const env = await p.select(`Which env is profile ${name} for?`, [...envs.map((e) => ({ name: e, value: e })), { name: 'skip it', value: '' }], guess ?? envs[0]);
    if (env) out.push({ profile, env });
  }
  return out;
}

/** keyrack.yml sso entries and references for the imported profiles (legacy profiles get a named session). */
export function importEdits(imports: Import[], org: string): { sso: SsoSpec[]; refs: RefSpec[] } {
  const sso = new Map<string, SsoSpec>();
  const refs: RefSpec[] = [];
  const taken = new Map<string, Set<string>>();
  for (const { profile: p, env } of imports) {
    // A session's own name when it has one; a legacy profile joins a session of the same portal, else gets a name.
    const samePortal = [...sso.values()].find((s) => norm(s.startUrl) === norm(p.startUrl) && s.region === p.region)?.name;
    const name = p.session ?? samePortal ?? suggestSessionName(p.startUrl, org, (n) => sso.has(n));
    if (!sso.has(name)) sso.set(name, { name, startUrl: p.startUrl, region: p.region });
    const keys = taken.get(env) ?? new Set<string>();
    taken.set(env, keys);
    const key = keyFor(p.profile, (k) => keys.has(k));
    keys.add(key);
    refs.push({ env, key, profile: p.profile, sso: name, account: p.account, role: p.role });
  }
  return { sso: [...sso.values()], refs };
}

export default defineCommand({
  meta: { name: 'init', description: 'Create keyrack.yml: org, envs, references imported from ~/.aws/config, then guided add aws per env' },
  args: {
    org: { type: 'string', description: 'organization name (used for profile names: <org>.<env>)' },
    envs: { type: 'string', description: 'comma-separated env names, e.g. prep,prod', valueHint: 'LIST' },
    import: { type: 'string', description: 'SSO profiles to import: all, none, or p1,p2=prod (env guessed from the name when omitted)', valueHint: 'WHICH' },
    add: { type: 'boolean', description: 'at a terminal, offer keyrack add aws for envs without a key (default true; --no-add to skip)', default: true },
    yes: { type: 'boolean', description: 'accept defaults without asking' },
    force: { type: 'boolean', description: 'replace an existing keyrack.yml' },
    'device-code': { type: 'boolean', description: 'for the guided add: sign in with a device code' },
    'no-browser': { type: 'boolean', description: 'for the guided add: do not open a browser' },
    json: { type: 'boolean', description: 'print the result as JSON' },
    file: { type: 'string', description: `where to create it (default ./${KEYRACK_FILE_NAME})`, valueHint: 'PATH' },
  },
  async run({ args }) {
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.on('SIGINT', onSigint);
    try {
      const runtime = processRuntime();
      const path = resolve(runtime.cwd, args.file ?? KEYRACK_FILE_NAME);
      const existing = await readKeyrackText(path);
      if (existing !== undefined && !args.force) {
        throw new KeyrackError({ code: 'init.exists', reason: 'invalid-input', location: path, message: 'keyrack.yml already exists', fix: 'add keys with: keyrack add aws --env <env> (or rerun with --force to start over)' });
      }
      const interactive = process.stdin.isTTY === true && process.stderr.isTTY === true;
      const err = process.stderr;
      const style = createStyle(err, runtime.env);
      const prompts = interactive ? await loadPrompts(err) : undefined;
      const need = (flag: string): Prompts => {
        if (!prompts) throw invalid('not-interactive', `${flag} is required when not at a terminal`, `pass ${flag}`);
        return prompts;
      };
      const awsDoc = await readAwsConfig(runtime.paths.awsConfig, { home: runtime.paths.home });

      const firstSession = listSsoSessions(awsDoc).find((s) => NAME_RE.test(s.name))?.name;
      const dirName = basename(runtime.cwd).replace(/[^A-Za-z0-9._-]/g, '');
      const orgDefault = firstSession ?? (NAME_RE.test(dirName) ? dirName : 'acme');
      let org = args.org;
      if (org === undefined) {
        org = args.yes ? orgDefault : (await need('--org').input('Organization name (profiles are named <org>.<env>)', { default: orgDefault, validate: (v) => (NAME_RE.test(v.trim()) ? true : 'use letters, digits, ".", "_" and "-"') })).trim();
      }
      if (!NAME_RE.test(org)) throw invalid('bad-org', '--org is not a name', 'use letters, digits, ".", "_" and "-"');
      const envs = parseEnvs(args.envs ?? (args.yes ? 'prep,prod' : await need('--envs').input('Envs (comma-separated)', { default: 'prep,prod', validate: (v) => (v.split(/[\s,]+/).filter(Boolean).every((e) => ENV_RE.test(e)) ? true : 'letters, digits, _ and -, separated by commas') })));

      const found = importableProfiles(awsDoc);
      const imports = args.import !== undefined ? importsFromFlag(args.import, found, envs) : prompts && !args.yes ? await importsFromPrompt(prompts, found, envs) : [];
      let text = newKeyrackText({ org, pendingEnvs: envs });
      const edits = importEdits(imports, org);
      text = editKeyrackText(text, path, edits).text;

      // At a terminal: the guided add for every env that has no key yet.
      const added: AddResult[] = [];
      let state: AddState = { keyrackPath: path, keyrackText: text, awsText: awsDoc.text };
      if (prompts && args.add !== false) {
        const pending = envs.filter((e) => !edits.refs.some((r) => r.env === e));
        let host: AddHost | undefined;
        for (const env of pending) {
          if (!(await prompts.confirm(`Add an AWS key to env ${env} now?`, true))) continue;
          requireInteractive('keyrack init');
          host ??= {
            human: humanContext(runtime, viewKeyrackText(state.keyrackText, path).file, { deviceCode: args['device-code'] === true, noBrowser: args['no-browser'] === true || (args as { browser?: boolean }).browser === false, signal: abort.signal }),
            prompts,
            err,
            style,
          };
          const r = await addFlow(host, { env }, state);
          added.push(r);
          state = { keyrackPath: path, keyrackText: r.keyrackText, awsText: r.awsText };
        }
      }
      if (abort.signal.aborted) exitCancelled();
      await commitFiles(runtime, { keyrackText: existing, awsText: awsDoc.text }, state);

      const view = viewKeyrackText(state.keyrackText, path);
      const keysOf = (e: string) => Object.keys(view.file.envs[e] ?? {});
      const pendingAfter = envs.filter((e) => keysOf(e).length === 0);
      if (args.json) {
        process.stdout.write(`${JSON.stringify({
          path,
          org,
          envs: Object.fromEntries(envs.map((e) => [e, keysOf(e)])),
          imported: edits.refs.map((r) => ({ env: r.env, key: r.key, profile: r.profile })),
          added: added.map((r) => ({ env: r.ref.env, key: r.ref.key, profile: r.spec.profile })),
          pending: pendingAfter,
        })}\n`);
      } else {
        const out = createStyle(process.stdout, runtime.env);
        const lines = [`${out.green('created')} ${path} (org ${org})`];
        for (const e of envs) lines.push(`  env.${e}: ${keysOf(e).length ? keysOf(e).map((k) => `${k} → ${(view.file.envs[e]?.[k] as { profile?: string }).profile ?? '?'}`).join(', ') : out.yellow('no keys yet')}`);
        for (const e of pendingAfter) lines.push(`next: keyrack add aws --env ${e}`);
        if (pendingAfter.length < envs.length) lines.push('next: commit keyrack.yml; teammates run: keyrack unlock aws --env <env> --write-profiles');
        process.stdout.write(`${lines.join('\n')}\n`);
      }
    } catch (e) {
      if (isPromptCancel(e) || abort.signal.aborted) exitCancelled();
      reportAndExit(e, { json: args.json === true });
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
});
