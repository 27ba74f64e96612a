// The human half of the rhachet adapter: unlock, the one operation that may sign a person in. Loaded on demand
// by index.ts, so hosts that only `get` never load the login code.
import { KeyrackError } from '../core/errors.js';
import type { HumanContext, LoginCapability } from '../core/plugin.js';
import { ensureSession } from '../aws/unlock.js';
import { validateRef } from '../aws/validate.js';
import { terminalLogin } from '../cli/human.js';
import { DEFAULT_UNLOCK_COMMAND, refFor, robotContext, ssoUsername, targetFor, userMismatch } from './robot.js';
import type { AwsProfileMeta, KeyrackAwsVaultOptions } from './types.js';

function loginFor(opts: KeyrackAwsVaultOptions, env: Readonly<Record<string, string | undefined>>): LoginCapability {
  if (opts.login) return typeof opts.login === 'function' ? opts.login() : opts.login;
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new KeyrackError({
      code: 'rhachet.not-interactive',
      reason: 'locked',
      message: 'unlock needs a person at an interactive terminal; robots cannot unlock',
      fix: `a human runs it in a terminal: ${opts.unlockCommand ?? DEFAULT_UNLOCK_COMMAND}`,
    });
  }
  return terminalLogin(env, { noBrowser: false, deviceCode: false });
}

export async function unlock(
  opts: KeyrackAwsVaultOptions,
  input: { silent?: boolean; exid?: string | null; meta?: Partial<AwsProfileMeta> | null; slug?: string | null },
): Promise<void> {
  const exid = input.exid;
  if (!exid) return;
  const robot = robotContext(opts);
  const human: HumanContext = { ...robot, login: loginFor(opts, robot.runtime.env) };
  const cmd = opts.unlockCommand ?? DEFAULT_UNLOCK_COMMAND;
  const ref = refFor(input.slug, exid);
  const target = await targetFor(human, ref);
  const how = await ensureSession(human, target.sso, cmd);
  const v = await validateRef(human, ref, target, cmd);
  const user = ssoUsername(v.identity.arn);
  const expected = input.meta?.awsSsoUsername;
  if (expected && user !== expected) throw userMismatch(exid, expected, user, cmd);
  if (!input.silent) {
    const said = { reused: 'session reused', refreshed: 'session refreshed', pkce: 'signed in (browser)', 'device-code': 'signed in (device code)' }[how];
    (opts.out ?? process.stderr).write(`unlocked ${input.slug ?? exid} → profile ${exid} as ${user} (${said}; credentials until ${new Date(v.credentials.expiresAt).toISOString()})\n`);
  }
}
