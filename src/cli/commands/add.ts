// `keyrack add aws`: from "my company has IAM Identity Center" to a reference in keyrack.yml and a working profile
// in ~/.aws/config. Human: it may log in, so it runs only at an interactive terminal, like unlock. Every prompt has
// a flag; with all of them (and --yes) nothing is asked. Nothing is written until the profile has been proven with
// STS, and Ctrl-C anywhere before that leaves every file as it was.
import { defineCommand } from 'citty';
import { unlockCommand } from '../../core/access.js';
import { KeyrackError } from '../../core/errors.js';
import { findKeyrackFile, KEYRACK_PATTERNS, type AwsProfileRef, type KeyrackFile } from '../../core/keyrack-file.js';
import { editKeyrackText, readKeyrackText, viewKeyrackText, writeKeyrackText, type EditChange, type RefSpec } from '../../core/keyrack-edit.js';
import { createLogger } from '../../core/log.js';
import type { HumanContext, Identity } from '../../core/plugin.js';
import type { Runtime } from '../../core/runtime.js';
import { displayPathFor, parseAwsConfig, readAwsConfig, writeAwsConfig } from '../../aws/config-file.js';
import { networkFromEnv } from '../../aws/clients.js';
import { listAccountRoles, listAccounts, matchesAccount, type AccountSummary } from '../../aws/portal-browse.js';
import { applyProfileSpec, compareProfile, type Change, type ProfileSpec } from '../../aws/profile-writer.js';
import { keyrackSsoFor, norm, sessionChoices, ssoLoginFor, suggestSessionName, targetForSpec, type SessionChoice } from '../../aws/setup.js';
import { usableToken } from '../../aws/session-token.js';
import { ensureSession } from '../../aws/unlock.js';
import { validateRef } from '../../aws/validate.js';
import { checkPlugin, fileArg, processRuntime } from '../context.js';
import { terminalLogin } from '../human.js';
import { reportAndExit } from '../report.js';
import { createStyle, declined, exitCancelled, isPromptCancel, loadPrompts, withSpinner, type Prompts, type Style } from '../ui.js';

export interface AddInputs {
  env?: string;
  key?: string;
  sso?: string;
  startUrl?: string;
  region?: string;
  account?: string;
  role?: string;
  profile?: string;
  /** Accept defaults and skip the final confirmation. */
  yes?: boolean;
  force?: boolean;
}

/** What add works on: both files as text in memory. Callers (add, init) write them only at the very end. */
export interface AddState {
  keyrackPath: string;
  keyrackText: string;
  awsText: string;
}

export interface AddHost {
  human: HumanContext;
  prompts: Prompts;
  /** Progress and prompts go here (stderr). */
  err: NodeJS.WritableStream & { isTTY?: boolean };
  style: Style;
}

export interface AddResult extends AddState {
  ref: RefSpec;
  spec: ProfileSpec;
  accountName: string;
  identity: Identity;
  login: string;
  awsChanges: { session: Change; profile: Change };
  keyrackChanges: EditChange[];
}

const NEW = '\u0000new';
const RE = (k: keyof typeof KEYRACK_PATTERNS) => new RegExp(KEYRACK_PATTERNS[k]);

function invalid(code: string, message: string, fix: string): KeyrackError {
  return new KeyrackError({ code: `add.${code}`, reason: 'invalid-input', message, fix });
}

function check(value: string, pattern: keyof typeof KEYRACK_PATTERNS, flag: string, what: string): string {
  if (!RE(pattern).test(value) || (pattern === 'startUrl' && !URL.canParse(value))) throw invalid('bad-flag', `${flag} is not ${what}`, `pass ${flag} with ${what}`);
  return value;
}

const validator = (pattern: keyof typeof KEYRACK_PATTERNS, what: string) => (v: string): true | string =>
  RE(pattern).test(v.trim()) && (pattern !== 'startUrl' || URL.canParse(v.trim())) ? true : `that is not ${what}`;

async function pickEnv(h: AddHost, file: KeyrackFile, pendingEnvs: string[], a: AddInputs): Promise<string> {
  if (a.env) {
    const env = a.env.replace(/^env\./, '');
    check(`env.${env}`, 'envSection', '--env', 'an env name (letters, digits, _ and -)');
    return env;
  }
  const envs = [...new Set([...Object.keys(file.envs), ...pendingEnvs])];
  if (envs.length === 1 && a.yes) return envs[0] as string;
  if (envs.length > 0) {
    const label = (e: string) => (pendingEnvs.includes(e) && !Object.hasOwn(file.envs, e) ? `${e}  ${h.style.dim('(no keys yet)')}` : e);
    const picked = await h.prompts.select('Which env gets the key?', [...envs.map((e) => ({ name: label(e), value: e })), { name: 'a new env…', value: NEW }], envs.find((e) => !Object.hasOwn(file.envs, e)) ?? envs[0]);
    if (picked !== NEW) return picked;
  } else if (a.yes) {
    throw invalid('env-required', 'keyrack.yml has no env yet', 'pass --env, e.g. --env prep');
  }
  return (await h.prompts.input('Name of the new env (e.g. prep, prod)', { validate: (v) => (/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(v.trim()) ? true : 'use letters, digits, _ and -') })).trim();
}

async function newSession(h: AddHost, a: AddInputs, choices: SessionChoice[], org: string | undefined): Promise<SessionChoice> {
  const startUrl = a.startUrl
    ? check(a.startUrl, 'startUrl', '--start-url', 'an https URL')
    : (await h.prompts.input('AWS access portal URL (IAM Identity Center start URL)', { validate: validator('startUrl', 'an https URL, e.g. https://d-1234567890.awsapps.com/start') })).trim();
  let region = a.region;
  if (region) check(region, 'region', '--region', 'an AWS region');
  else if (a.yes) throw invalid('region-required', 'a new start URL needs its region', 'pass --region, e.g. --region us-east-1');
  else region = (await h.prompts.input('IAM Identity Center region', { default: 'us-east-1', validate: validator('region', 'an AWS region, e.g. us-east-1') })).trim();
  const same = choices.find((c) => norm(c.startUrl) === norm(startUrl) && c.region === region && (a.sso === undefined || c.name === a.sso));
  if (same) return same;
  const taken = (n: string) => choices.some((c) => c.name === n);
  let name = a.sso;
  if (name) check(name, 'name', '--sso', 'an sso session name');
  else {
    const suggested = suggestSessionName(startUrl, org, taken);
    name = a.yes
      ? suggested
      : (await h.prompts.input('Name for this SSO session ([sso-session NAME])', { default: suggested, validate: (v) => (!RE('name').test(v.trim()) ? 'use letters, digits, ".", "_" and "-"' : taken(v.trim()) ? 'that name is taken by another start URL' : true) })).trim();
  }
  if (taken(name) && !a.force) {
    throw new KeyrackError({ code: 'add.sso-conflict', reason: 'misconfigured', message: `sso session ${name} already exists with another start URL or region`, fix: 'pick another --sso name, or rerun with --force to update it' });
  }
  return { name, startUrl, region, from: [] };
}

async function pickSession(h: AddHost, a: AddInputs, choices: SessionChoice[], org: string | undefined): Promise<SessionChoice> {
  if (a.startUrl) return newSession(h, a, choices, org);
  if (a.sso) {
    const found = choices.find((c) => c.name === a.sso);
    if (found) return found;
    throw invalid('unknown-sso', `no sso session named ${check(a.sso, 'name', '--sso', 'an sso session name')} in ~/.aws/config or keyrack.yml`, 'pass --start-url and --region to create it, or pick one of: ' + (choices.map((c) => c.name).join(', ') || '(none)'));
  }
  if (choices.length === 1 && a.yes) return choices[0] as SessionChoice;
  if (choices.length === 0) {
    if (a.yes) throw invalid('sso-required', 'no SSO session is configured yet', 'pass --start-url and --region (and --sso to name it)');
    return newSession(h, a, choices, org);
  }
  const where = (c: SessionChoice) => c.from.map((f) => (f === 'aws-config' ? '~/.aws/config' : 'keyrack.yml')).join(', ');
  const picked = await h.prompts.select(
    'Which IAM Identity Center (SSO) session?',
    [...choices.map((c) => ({ name: `${c.name}  ${h.style.dim(`${c.startUrl} (${c.region})`)}`, value: c.name, description: `from ${where(c)}` })), { name: 'a new start URL…', value: NEW }],
  );
  return picked === NEW ? newSession(h, a, choices, org) : (choices.find((c) => c.name === picked) as SessionChoice);
}

function accountLabel(a: AccountSummary, s: Style): string {
  return `${a.accountName || '(no name)'}  ${s.dim(a.accountId)}  ${s.dim(a.emailAddress)}`;
}

async function pickAccount(h: AddHost, a: AddInputs, accounts: AccountSummary[]): Promise<AccountSummary> {
  if (a.account) {
    const want = a.account.trim().toLowerCase();
    const found = accounts.find((x) => x.accountId === want) ?? accounts.find((x) => x.accountName.toLowerCase() === want);
    if (found) return found;
    throw new KeyrackError({ code: 'add.unknown-account', reason: 'denied', message: 'no account with that id or name is assigned to you', fix: `pass --account with one of: ${accounts.map((x) => x.accountId).join(', ')} (keyrack add aws without --account lets you search)` });
  }
  if (accounts.length === 1 && a.yes) return accounts[0] as AccountSummary;
  const id = await h.prompts.search('Which AWS account? (type to search by name, id or email)', (term) =>
    accounts.filter((x) => matchesAccount(x, term)).map((x) => ({ name: accountLabel(x, h.style), value: x.accountId })),
  );
  return accounts.find((x) => x.accountId === id) as AccountSummary;
}

async function pickRole(h: AddHost, a: AddInputs, account: AccountSummary, roles: string[]): Promise<string> {
  if (a.role) {
    if (roles.includes(a.role)) return a.role;
    throw new KeyrackError({ code: 'add.unknown-role', reason: 'denied', message: `that role is not assigned to you in account ${account.accountId}`, fix: `pass --role with one of: ${roles.join(', ')}` });
  }
  if (roles.length === 1) {
    h.err.write(`${h.style.green('✔')} role ${roles[0]} ${h.style.dim('(the only one you have there)')}\n`);
    return roles[0] as string;
  }
  return h.prompts.select(`Which role in ${account.accountName || account.accountId}?`, roles.map((r) => ({ name: r, value: r })));
}

/**
 * The whole guided flow on in-memory files. Returns the new texts; the caller writes them. Throws KeyrackError
 * for refusals and the prompt library's cancel errors for Ctrl-C.
 */
export async function addFlow(h: AddHost, a: AddInputs, state: AddState): Promise<AddResult> {
  const { human, style } = h;
  const view = viewKeyrackText(state.keyrackText, state.keyrackPath);
  const file = view.file;
  const paths = human.runtime.paths;
  const displayPath = displayPathFor(paths.awsConfig, paths.home);
  const doc = parseAwsConfig(state.awsText, displayPath);

  const env = await pickEnv(h, file, view.pendingEnvs, a);
  const key = check(a.key ?? 'AWS_PROFILE', 'keyName', '--key', 'an environment variable name');
  const existing = Object.hasOwn(file.envs, env) ? file.envs[env]?.[key] : undefined;
  const fullySpecified = a.account !== undefined && a.role !== undefined && a.profile !== undefined;
  if (existing && !a.force && !fullySpecified) {
    throw new KeyrackError({
      code: 'add.exists',
      reason: 'misconfigured',
      message: `${env}/${key} already exists in keyrack.yml${existing.kind === 'profile' ? ` (profile ${existing.profile})` : ''}`,
      fix: `pass --key for another variable, or --force to change ${env}/${key}`,
    });
  }

  const session = await pickSession(h, a, sessionChoices(doc, file), file.org);
  const sso = ssoLoginFor(session);
  const cmd = `keyrack add aws --env ${env}`;
  const how = await ensureSession(human, sso, cmd);
  const howText = { reused: 'session reused', refreshed: 'session refreshed', pkce: 'signed in (browser)', 'device-code': 'signed in (device code)' }[how];
  h.err.write(`${style.green('✔')} sso ${session.name}: ${howText}\n`);

  const token = await usableToken(human, sso, cmd);
  human.log.redactor.register(token.accessToken);
  const portal = { region: sso.region, endpoints: human.runtime.endpoints, net: networkFromEnv(human.runtime.env), accessToken: token.accessToken, ...(human.signal ? { signal: human.signal } : {}) };
  const names = { subject: session.name, unlockCommand: cmd };
  const spin = { stream: h.err, style };
  const accounts = await withSpinner('listing your AWS accounts…', () => listAccounts(portal, names), { ...spin, done: (l) => `${style.green('✔')} ${l.length} account(s) in ${session.name}` });
  if (accounts.length === 0) {
    throw new KeyrackError({ code: 'add.no-accounts', reason: 'denied', message: `no AWS account is assigned to you in ${session.name}`, fix: 'ask your IAM Identity Center administrator for an assignment' });
  }
  const account = await pickAccount(h, a, accounts);
  const roles = await withSpinner(`listing your roles in ${account.accountName || account.accountId}…`, () => listAccountRoles(portal, account.accountId, names), spin);
  if (roles.length === 0) {
    throw new KeyrackError({ code: 'add.no-roles', reason: 'denied', message: `no role is assigned to you in account ${account.accountId}`, fix: 'pick another account, or ask for an assignment' });
  }
  const role = await pickRole(h, a, account, roles);

  const ymlSso = keyrackSsoFor(file, session.startUrl, session.region) ?? session.name;
  const base = file.org ?? ymlSso;
  const suggested = RE('name').test(`${base}.${env}`) ? `${base}.${env}` : `${ymlSso}.${env}`;
  const differs = (p: string) => {
    const st = compareProfile(doc, { profile: p, account: account.accountId, role, startUrl: session.startUrl });
    return st.state === 'differs' ? st.detail : undefined;
  };
  let profile: string;
  if (a.profile) profile = check(a.profile, 'name', '--profile', 'a profile name');
  else if (a.yes) profile = suggested;
  else {
    profile = (await h.prompts.input('AWS profile name', {
      default: suggested,
      validate: (v) => {
        if (!RE('name').test(v.trim())) return 'use letters, digits, ".", "_" and "-"';
        const d = a.force ? undefined : differs(v.trim());
        return d ? `${d}; choose another name (or rerun with --force)` : true;
      },
    })).trim();
  }

  const spec: ProfileSpec = { profile, session: { name: session.name, startUrl: session.startUrl, region: session.region }, account: account.accountId, role };
  const aws = applyProfileSpec(state.awsText, spec, { force: a.force === true, displayPath });
  const ref: RefSpec = { env, key, profile, sso: ymlSso, account: account.accountId, role };
  const yml = editKeyrackText(state.keyrackText, state.keyrackPath, { sso: [{ name: ymlSso, startUrl: session.startUrl, region: session.region }], refs: [ref] }, { force: a.force === true });

  const plan = [
    ...(aws.session !== 'unchanged' ? [`${displayPath}: ${aws.session === 'added' ? 'add' : 'update'} [sso-session ${session.name}]`] : []),
    ...(aws.profile !== 'unchanged' ? [`${displayPath}: ${aws.profile === 'added' ? 'add' : 'update'} [profile ${profile}]`] : [`${displayPath}: [profile ${profile}] already matches`]),
    ...yml.changes.filter((c) => c.change !== 'unchanged').map((c) => `keyrack.yml: ${c.change === 'added' ? 'add' : 'update'} ${c.what === 'sso' ? `sso ${c.name}` : `env.${c.name.replace('/', '.')}`}`),
  ];
  h.err.write(`\n${style.bold(`${env}/${key} → ${profile}`)}  ${style.dim(`account ${account.accountId} (${account.accountName}), role ${role}`)}\n${plan.map((l) => `  ${l}`).join('\n')}\n`);
  if (!a.yes && !(await h.prompts.confirm('Write these changes?', true))) throw declined();

  // Prove it before anything is written: role credentials from the portal, then STS.
  const refForCheck: AwsProfileRef = { kind: 'profile', env, key, profile, sso: ymlSso, account: account.accountId, role, location: { file: state.keyrackPath, line: 1, col: 1 } };
  const v = await withSpinner('validating with STS…', () => validateRef(human, refForCheck, targetForSpec(spec, session.registrationScopes), unlockCommand(env)), {
    ...spin,
    done: (r) => `${style.green('✔')} STS: ${r.identity.arn}`,
  });
  return {
    keyrackPath: state.keyrackPath,
    keyrackText: yml.text,
    awsText: aws.text,
    ref,
    spec,
    accountName: account.accountName,
    identity: v.identity,
    login: how,
    awsChanges: { session: aws.session, profile: aws.profile },
    keyrackChanges: yml.changes,
  };
}

/** Only a person at a terminal may run a command that can log in (the same rule as unlock). */
export function requireInteractive(command: string): void {
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new KeyrackError({
      code: 'cli.not-interactive',
      reason: 'locked',
      message: `${command} may sign in to AWS, so it needs a person at an interactive terminal; robots cannot run it`,
      fix: `a human runs it in a terminal: ${command}`,
    });
  }
}

export function humanContext(runtime: Runtime, file: KeyrackFile, opts: { deviceCode: boolean; noBrowser: boolean; signal: AbortSignal }): HumanContext {
  return {
    runtime,
    file,
    log: createLogger({ enabled: runtime.env.KEYRACK_DEBUG === '1' }),
    signal: opts.signal,
    login: terminalLogin(runtime.env, { noBrowser: opts.noBrowser, deviceCode: opts.deviceCode }),
  };
}

/** Write ~/.aws/config first (the profile), then keyrack.yml (the reference to it); each only if it changed. */
export async function commitFiles(runtime: Runtime, original: { keyrackText: string | undefined; awsText: string }, next: AddState): Promise<void> {
  const displayPath = displayPathFor(runtime.paths.awsConfig, runtime.paths.home);
  if (next.awsText !== original.awsText) await writeAwsConfig(runtime.paths.awsConfig, next.awsText, { expected: original.awsText, displayPath });
  if (next.keyrackText !== original.keyrackText) await writeKeyrackText(next.keyrackPath, next.keyrackText, { expected: original.keyrackText });
}

export function addJson(r: AddResult, runtime: Runtime): Record<string, unknown> {
  return {
    env: r.ref.env,
    key: r.ref.key,
    profile: r.spec.profile,
    sso: { name: r.spec.session.name, keyrackName: r.ref.sso, startUrl: r.spec.session.startUrl, region: r.spec.session.region },
    account: { id: r.spec.account, name: r.accountName },
    role: r.spec.role,
    identity: r.identity,
    login: r.login,
    awsConfig: { path: runtime.paths.awsConfig, ...r.awsChanges },
    keyrackYml: { path: r.keyrackPath, changes: r.keyrackChanges },
  };
}

export function renderAdd(r: AddResult, s: Style): string {
  const lines = [
    `${s.green('added')} ${s.bold(`${r.ref.env}/${r.ref.key}`)} → ${r.spec.profile}`,
    `    identity     ${r.identity.arn}`,
    `    account      ${r.spec.account} (${r.accountName})   role ${r.spec.role}`,
    `    aws config   [sso-session ${r.spec.session.name}] ${r.awsChanges.session}, [profile ${r.spec.profile}] ${r.awsChanges.profile}`,
    `    keyrack.yml  ${r.keyrackChanges.map((c) => `${c.what === 'sso' ? `sso ${c.name}` : c.name} ${c.change}`).join(', ')}`,
    `next: commit keyrack.yml; teammates run: keyrack unlock aws --env ${r.ref.env} --write-profiles`,
  ];
  return `${lines.join('\n')}\n`;
}

export const addArgs = {
  plugin: { type: 'positional', required: false, description: 'aws (the only plugin)' },
  env: { type: 'string', description: 'env of keyrack.yml to add the key to (asked when absent)' },
  key: { type: 'string', description: 'environment variable name (default AWS_PROFILE)' },
  sso: { type: 'string', description: 'sso-session name: an existing one, or the name for --start-url' },
  'start-url': { type: 'string', description: 'IAM Identity Center start URL for a new sso-session', valueHint: 'URL' },
  region: { type: 'string', description: 'IAM Identity Center region for a new sso-session' },
  account: { type: 'string', description: 'account id (or exact account name)' },
  role: { type: 'string', description: 'permission-set role name' },
  profile: { type: 'string', description: 'AWS profile name (default <org>.<env>)' },
  yes: { type: 'boolean', description: 'accept defaults and write without asking for confirmation' },
  force: { type: 'boolean', description: 'update an existing, different profile / sso-session / reference' },
  'device-code': { type: 'boolean', description: 'sign in with a device code instead of the browser redirect' },
  'no-browser': { type: 'boolean', description: 'do not open a browser; print the URL instead' },
  json: { type: 'boolean', description: 'print the result as JSON' },
  ...fileArg,
} as const;

export default defineCommand({
  meta: { name: 'add', description: 'Human: pick an SSO session, account and role; write the profile and the keyrack.yml reference' },
  args: addArgs,
  async run({ args }) {
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.on('SIGINT', onSigint);
    try {
      checkPlugin(args.plugin);
      requireInteractive(`keyrack add aws${args.env ? ` --env ${args.env}` : ''}`);
      const runtime = processRuntime();
      let path: string;
      try {
        path = findKeyrackFile({ cwd: runtime.cwd, env: runtime.env, ...(args.file ? { explicit: args.file } : {}) });
      } catch (e) {
        if (e instanceof KeyrackError && e.code === 'keyrack-file.not-found' && !args.file) {
          throw new KeyrackError({ code: e.code, reason: e.reason, message: e.message, fix: 'create one first: keyrack init' });
        }
        throw e;
      }
      const keyrackText = (await readKeyrackText(path)) ?? '';
      const view = viewKeyrackText(keyrackText, path);
      const awsDoc = await readAwsConfig(runtime.paths.awsConfig, { home: runtime.paths.home });
      const err = process.stderr;
      const host: AddHost = {
        human: humanContext(runtime, view.file, { deviceCode: args['device-code'] === true, noBrowser: args['no-browser'] === true || (args as { browser?: boolean }).browser === false, signal: abort.signal }),
        prompts: await loadPrompts(err),
        err,
        style: createStyle(err, runtime.env),
      };
      const inputs: AddInputs = {
        ...(args.env ? { env: args.env } : {}),
        ...(args.key ? { key: args.key } : {}),
        ...(args.sso ? { sso: args.sso } : {}),
        ...(args['start-url'] ? { startUrl: args['start-url'] } : {}),
        ...(args.region ? { region: args.region } : {}),
        ...(args.account ? { account: args.account } : {}),
        ...(args.role ? { role: args.role } : {}),
        ...(args.profile ? { profile: args.profile } : {}),
        yes: args.yes === true,
        force: args.force === true,
      };
      const r = await addFlow(host, inputs, { keyrackPath: path, keyrackText, awsText: awsDoc.text });
      if (abort.signal.aborted) exitCancelled();
      await commitFiles(runtime, { keyrackText, awsText: awsDoc.text }, r);
      process.stdout.write(args.json ? `${JSON.stringify(addJson(r, runtime))}\n` : renderAdd(r, createStyle(process.stdout, runtime.env)));
    } catch (e) {
      if (isPromptCancel(e) || abort.signal.aborted) exitCancelled();
      reportAndExit(e, { json: args.json === true });
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
});
