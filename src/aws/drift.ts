// `keyrack list-roles --check`: does every reference in keyrack.yml still point at an account and role this user
// has in IAM Identity Center, and does this machine's profile agree with what keyrack.yml pins? Robot-safe: it
// reads the SSO session (refreshing it if due) and asks the portal; it never logs in.
import { unlockCommand } from '../core/access.js';
import { KeyrackError, isKeyrackError } from '../core/errors.js';
import type { AwsProfileRef } from '../core/keyrack-file.js';
import type { RobotContext } from '../core/plugin.js';
import { networkFromEnv } from './clients.js';
import { readAwsConfig } from './config-file.js';
import { listAccountRoles, listAccounts, type AccountSummary } from './portal-browse.js';
import { usableToken } from './session-token.js';
import { resolveTarget, sessionLogin, type SsoLogin } from './target.js';

export type DriftKind = 'missing-account' | 'missing-role' | 'pinned-mismatch';
export type CheckProblemKind = DriftKind | 'unresolvable';

export interface DriftProblem {
  kind: CheckProblemKind;
  message: string;
}

export interface DriftItem {
  env: string;
  key: string;
  profile: string;
  /** The sso session (or legacy start URL) the check used. */
  sso?: string;
  account?: string;
  accountName?: string;
  role?: string;
  status: 'ok' | 'drift' | 'unresolvable';
  problems: DriftProblem[];
}

export interface DriftReport {
  ok: boolean;
  items: DriftItem[];
}

const norm = (u: string) => u.replace(/\/+$/, '');

function profileRefs(ctx: RobotContext, env: string | undefined): AwsProfileRef[] {
  const envs = env ? [env.replace(/^env\./, '')] : Object.keys(ctx.file.envs);
  return envs.flatMap((e) => {
    const keys = Object.hasOwn(ctx.file.envs, e) ? ctx.file.envs[e] : undefined;
    if (!keys) {
      throw new KeyrackError({ code: 'keyrack-file.unknown-env', reason: 'invalid-input', message: `env ${e} is not defined in ${ctx.file.path}`, fix: `use one of: ${Object.keys(ctx.file.envs).join(', ')}` });
    }
    return Object.values(keys).filter((r): r is AwsProfileRef => r.kind === 'profile');
  });
}

interface Plan {
  item: DriftItem;
  sso?: SsoLogin;
}

export async function checkDrift(ctx: RobotContext, req: { env?: string } = {}): Promise<DriftReport> {
  const doc = await readAwsConfig(ctx.runtime.paths.awsConfig, { home: ctx.runtime.paths.home });
  const plans: Plan[] = [];
  for (const ref of profileRefs(ctx, req.env)) {
    const item: DriftItem = { env: ref.env, key: ref.key, profile: ref.profile, status: 'ok', problems: [] };
    const declared = ref.sso ? ctx.file.sso[ref.sso] : undefined;
    let sso: SsoLogin | undefined;
    try {
      const t = resolveTarget(doc, ref);
      sso = t.sso;
      if (ref.account && ref.account !== t.accountId) {
        item.problems.push({ kind: 'pinned-mismatch', message: `[profile ${ref.profile}] is account ${t.accountId}; keyrack.yml pins ${ref.account}` });
      }
      if (ref.role && ref.role !== t.roleName) {
        item.problems.push({ kind: 'pinned-mismatch', message: `[profile ${ref.profile}] is role ${t.roleName}; keyrack.yml pins ${ref.role}` });
      }
      if (declared && norm(declared.startUrl) !== norm(t.sso.startUrl)) {
        item.problems.push({ kind: 'pinned-mismatch', message: `[profile ${ref.profile}] signs in at another portal than sso ${ref.sso} in keyrack.yml` });
      }
      item.account = ref.account ?? t.accountId;
      item.role = ref.role ?? t.roleName;
    } catch (e) {
      if (!isKeyrackError(e)) throw e;
      const missing = e.code === 'aws-config.profile-missing';
      if (missing && declared && ref.sso && ref.account && ref.role) {
        // Not on this machine yet (sync would write it): check what keyrack.yml declares.
        sso = sessionLogin(ref.sso, { startUrl: declared.startUrl, region: declared.region, registrationScopes: ['sso:account:access'] });
        item.account = ref.account;
        item.role = ref.role;
      } else {
        item.status = 'unresolvable';
        item.problems.push({ kind: 'unresolvable', message: e.message });
      }
    }
    if (sso) item.sso = sso.label;
    plans.push({ item, ...(sso ? { sso } : {}) });
  }

  // One token and one account listing per SSO login; roles only for the accounts referenced.
  const net = networkFromEnv(ctx.runtime.env);
  const byLogin = new Map<string, Plan[]>();
  for (const p of plans) {
    if (!p.sso || p.item.account === undefined) continue;
    const list = byLogin.get(p.sso.tokenKey) ?? [];
    list.push(p);
    byLogin.set(p.sso.tokenKey, list);
  }
  for (const group of byLogin.values()) {
    const sso = (group[0] as Plan).sso as SsoLogin;
    const cmd = unlockCommand((group[0] as Plan).item.env);
    const token = await usableToken(ctx, sso, cmd);
    ctx.log.redactor.register(token.accessToken);
    const target = { region: sso.region, endpoints: ctx.runtime.endpoints, net, accessToken: token.accessToken, ...(ctx.signal ? { signal: ctx.signal } : {}) };
    const names = { subject: sso.label, unlockCommand: cmd };
    const accounts = new Map<string, AccountSummary>((await listAccounts(target, names)).map((a) => [a.accountId, a]));
    const roles = new Map<string, string[]>();
    for (const { item } of group) {
      const account = accounts.get(item.account as string);
      if (!account) {
        item.problems.push({ kind: 'missing-account', message: `account ${item.account} is not among the accounts ${sso.label} can reach` });
        continue;
      }
      item.accountName = account.accountName;
      let list = roles.get(account.accountId);
      if (!list) {
        list = await listAccountRoles(target, account.accountId, names);
        roles.set(account.accountId, list);
      }
      if (item.role !== undefined && !list.includes(item.role)) {
        item.problems.push({ kind: 'missing-role', message: `role ${item.role} is not assigned to you in account ${account.accountId}${account.accountName ? ` (${account.accountName})` : ''}; you have: ${list.join(', ') || 'none'}` });
      }
    }
  }
  for (const { item } of plans) {
    if (item.status !== 'unresolvable' && item.problems.length > 0) item.status = 'drift';
  }
  return { ok: plans.every((p) => p.item.status === 'ok'), items: plans.map((p) => p.item) };
}

/** The exit a check ends with: drift first (5), then references that could not be checked (6). */
export function driftError(r: DriftReport): KeyrackError | undefined {
  const drift = r.items.filter((i) => i.status === 'drift');
  if (drift.length > 0) {
    return new KeyrackError({
      code: 'drift.found',
      reason: 'drift',
      message: `${drift.length} reference(s) drifted from IAM Identity Center or ~/.aws/config: ${drift.map((i) => `${i.env}/${i.key}`).join(', ')}`,
      fix: 'update keyrack.yml (keyrack add aws --force) or ~/.aws/config (keyrack sync --force), or ask for the assignment',
    });
  }
  const bad = r.items.filter((i) => i.status === 'unresolvable');
  if (bad.length > 0) {
    return new KeyrackError({
      code: 'drift.unresolvable',
      reason: 'misconfigured',
      message: `${bad.length} reference(s) could not be checked: ${bad.map((i) => `${i.env}/${i.key}`).join(', ')}`,
      fix: 'run keyrack sync to write the missing profiles, or add sso, account and role to them in keyrack.yml',
    });
  }
  return undefined;
}
