// Closing keys to robots. Plain `lock` leaves the human's AWS session alone (the next unlock needs no browser);
// `--logout` also ends the SSO session server-side and deletes only that session's cache files.
import { KeyrackError } from '../core/errors.js';
import { selectRefs, type AwsProfileRef } from '../core/keyrack-file.js';
import type { RobotContext } from '../core/plugin.js';
import { clearValidations, listUnlockRecords, removeUnlockRecord } from '../store/state.js';
import { withFileLock } from '../store/lock.js';
import { readAwsConfig } from './config-file.js';
import { networkFromEnv } from './clients.js';
import { logout } from './portal.js';
import { deleteRoleCredentials } from './role-cache.js';
import { tokenLockPath } from './session-token.js';
import { resolveTarget, type ProfileTarget } from './target.js';
import { deleteTokenFile, readTokenFile } from './token-cache.js';

export interface LockResult {
  locked: string[];
  loggedOut: { sso: string; serverSide: boolean }[];
  deletedFiles: number;
}

export async function lock(ctx: RobotContext, req: { env?: string; logout?: boolean }): Promise<LockResult> {
  const { paths } = ctx.runtime;
  const envs = req.env ? [req.env.replace(/^env\./, '')] : (await listUnlockRecords(paths.state)).map((r) => r.env);
  if (req.env && !Object.hasOwn(ctx.file.envs, envs[0] as string)) {
    throw new KeyrackError({ code: 'keyrack-file.unknown-env', reason: 'invalid-input', message: `env ${req.env} is not defined in ${ctx.file.path}`, fix: `use one of: ${Object.keys(ctx.file.envs).join(', ')}` });
  }
  const locked: string[] = [];
  for (const env of envs) if (await removeUnlockRecord(paths.state, env)) locked.push(env);
  await clearValidations(paths.state);

  const result: LockResult = { locked, loggedOut: [], deletedFiles: 0 };
  if (!req.logout) return result;

  const doc = await readAwsConfig(paths.awsConfig, { home: paths.home });
  const scopeEnvs = req.env ? envs : Object.keys(ctx.file.envs);
  const targets: ProfileTarget[] = [];
  for (const env of scopeEnvs) {
    for (const ref of selectRefs(ctx.file, { env }).filter((r): r is AwsProfileRef => r.kind === 'profile')) {
      try {
        targets.push(resolveTarget(doc, ref));
      } catch {
        // no profile, nothing cached for it
      }
    }
  }
  const net = networkFromEnv(ctx.runtime.env);
  const done = new Set<string>();
  for (const t of targets) {
    if (await deleteRoleCredentials(paths, t.roleKey)) result.deletedFiles++;
    if (done.has(t.sso.tokenKey)) continue;
    done.add(t.sso.tokenKey);
    await withFileLock(tokenLockPath(ctx, t.sso), async () => {
      const read = await readTokenFile(paths, t.sso.tokenKey).catch(() => undefined);
      let serverSide = false;
      if (read) {
        ctx.log.redactor.register(read.token.accessToken);
        serverSide = await logout({ region: t.sso.region, endpoints: ctx.runtime.endpoints, net, accessToken: read.token.accessToken });
      }
      if (await deleteTokenFile(paths, t.sso.tokenKey)) result.deletedFiles++;
      result.loggedOut.push({ sso: t.sso.label, serverSide });
    }, { timeoutMs: net.totalTimeoutMs + 5_000, staleMs: net.totalTimeoutMs * 2 + 10_000 });
  }
  return result;
}
