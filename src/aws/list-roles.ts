// Robot-safe listing of every account and role the SSO session can reach. No login: a dead session is an
// error pointing to unlock.
import { unlockCommand } from '../core/access.js';
import { KeyrackError } from '../core/errors.js';
import type { AwsProfileRef } from '../core/keyrack-file.js';
import type { RobotContext } from '../core/plugin.js';
import { readAwsConfig, resolveSsoSession } from './config-file.js';
import { networkFromEnv } from './clients.js';
import { listAccountsWithRoles, type AccountInfo } from './portal.js';
import { usableToken } from './session-token.js';
import { sessionLogin, type SsoLogin } from './target.js';
import { resolveTargetOrRecorded } from './credential-process.js';

export interface RoleListing {
  sso: string;
  accounts: (AccountInfo & { referenced: { role: string; env: string; key: string; profile: string }[] })[];
}

function allProfileRefs(ctx: RobotContext): AwsProfileRef[] {
  return Object.values(ctx.file.envs).flatMap((keys) => Object.values(keys)).filter((r): r is AwsProfileRef => r.kind === 'profile');
}

export async function listRoles(ctx: RobotContext, req: { sso?: string }): Promise<RoleListing> {
  const doc = await readAwsConfig(ctx.runtime.paths.awsConfig, { home: ctx.runtime.paths.home });
  const refs = allProfileRefs(ctx);
  const targets: { ref: AwsProfileRef; target: Awaited<ReturnType<typeof resolveTargetOrRecorded>> }[] = [];
  for (const r of refs) {
    // A reference whose profile is not written yet is simply not marked.
    await resolveTargetOrRecorded(ctx, doc, r).then((target) => targets.push({ ref: r, target }), () => undefined);
  }
  let sso: SsoLogin | undefined;
  if (req.sso) {
    const s = resolveSsoSession(doc, req.sso);
    sso = sessionLogin(s.session, s);
  } else {
    const labels = [...new Set(targets.map((t) => t.target.sso.label))];
    if (labels.length > 1) {
      throw new KeyrackError({ code: 'list-roles.sso-required', reason: 'invalid-input', message: `keyrack.yml uses ${labels.length} SSO sessions`, fix: `pass --sso with one of: ${labels.join(', ')}` });
    }
    sso = targets[0]?.target.sso;
    if (!sso) {
      throw new KeyrackError({ code: 'list-roles.no-session', reason: 'misconfigured', message: 'no SSO session found for the references in keyrack.yml', fix: 'pass --sso NAME, or run keyrack unlock to write the profiles' });
    }
  }
  const env = refs[0]?.env ?? 'ENV';
  const token = await usableToken(ctx, sso, unlockCommand(env));
  ctx.log.redactor.register(token.accessToken);
  const accounts = await listAccountsWithRoles(
    { region: sso.region, endpoints: ctx.runtime.endpoints, net: networkFromEnv(ctx.runtime.env), accessToken: token.accessToken, ...(ctx.signal ? { signal: ctx.signal } : {}) },
    { subject: sso.label, unlockCommand: unlockCommand(env) },
  );
  const label = sso.label;
  return {
    sso: label,
    accounts: accounts.map((a) => ({
      ...a,
      referenced: targets
        .filter((t) => t.target.sso.label === label && t.target.accountId === a.accountId)
        .map((t) => ({ role: t.target.roleName, env: t.ref.env, key: t.ref.key, profile: t.ref.profile })),
    })),
  };
}
