// Proving a reference with AWS, whichever store holds its session: the AWS CLI's files (validateRef, which
// shares role credentials through ~/.aws/cli/cache) or the OS keychain (validateTarget, which keeps them there).
import { KeyrackError } from '../core/errors.js';
import type { AwsProfileRef } from '../core/keyrack-file.js';
import type { ValidationEntry } from '../store/state.js';
import type { RobotContext } from '../core/plugin.js';
import type { ProfileTarget } from './target.js';
import type { TokenStore } from './token-store.js';
import type { Validation } from './validate.js';

// Loaded on first use (a grant served from the validation cache needs neither), then kept: a long-running
// process (the watcher) proves every few minutes, and each import() is a loader round trip.
let validateModule: Promise<typeof import('./validate.js')> | undefined;
let processModule: Promise<typeof import('./credential-process.js')> | undefined;

export async function proveRef(ctx: RobotContext, ref: AwsProfileRef, target: ProfileTarget, store: TokenStore, cmd: string): Promise<Validation> {
  if (store.kind === 'aws-cli') {
    const { validateRef } = await (validateModule ??= import('./validate.js'));
    return validateRef(ctx, ref, target, cmd, store);
  }
  const { validateTarget } = await (processModule ??= import('./credential-process.js'));
  const v = await validateTarget(ctx, target, ref, store, cmd, { prove: true });
  if (!v.identity) throw new KeyrackError({ code: 'internal.unproven', reason: 'internal', message: `profile ${target.profile} was not proven with STS` });
  return { identity: v.identity, credentials: v.credentials, tokenExpiresAt: v.tokenExpiresAt ?? 0 };
}

/** What a successful proof leaves in the validation cache (no secret: identity and expiries only). */
export function validationEntry(ref: AwsProfileRef, target: ProfileTarget, v: Validation, now: number): ValidationEntry {
  return {
    version: 1,
    env: ref.env,
    key: ref.key,
    profile: ref.profile,
    identity: v.identity,
    validatedAt: now,
    credentialsExpireAt: v.credentials.expiresAt,
    tokenExpiresAt: v.tokenExpiresAt,
    tokenKey: target.sso.tokenKey,
  };
}
