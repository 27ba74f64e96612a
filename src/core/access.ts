// Whether a human has opened a key for robots: the unlock record. Checked before anything touches AWS.
import { KeyrackError } from './errors.js';
import type { KeyRef } from './keyrack-file.js';
import type { RobotContext } from './plugin.js';
import { readUnlockRecord, type UnlockRecord } from '../store/state.js';

/** The exact command a human runs to let robots through again. */
export function unlockCommand(env: string): string {
  return `keyrack unlock aws --env ${env}`;
}

export async function requireUnlocked(ctx: RobotContext, ref: KeyRef): Promise<UnlockRecord> {
  const record = await readUnlockRecord(ctx.runtime.paths.state, ref.env);
  const now = ctx.runtime.clock.now();
  if (!record || !Object.hasOwn(record.keys, ref.key)) {
    throw new KeyrackError({
      code: 'unlock.none',
      reason: 'locked',
      message: `${ref.env}/${ref.key} is locked: no human has unlocked it on this machine`,
      fix: `a human runs: ${unlockCommand(ref.env)}`,
    });
  }
  if (record.until !== undefined && record.until <= now) {
    throw new KeyrackError({
      code: 'unlock.ended',
      reason: 'locked',
      message: `${ref.env}/${ref.key} is locked: the unlock ran out at ${new Date(record.until).toISOString()}`,
      fix: `a human runs: ${unlockCommand(ref.env)}`,
    });
  }
  return record;
}
