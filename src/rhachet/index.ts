// keyrack-aws/rhachet: the AWS plugin in the shape of a rhachet keyrack vault adapter, so `rhx keyrack unlock aws`
// and a robot's `rhx keyrack get` use keyrack-aws's sessions, caches and robot contract. The exid is the AWS
// profile name. Only unlock may log in, and its code is loaded only when unlock runs.
import * as robot from './robot.js';
import { RHACHET_MECH, type KeyrackAwsVaultOptions, type RhachetVaultAdapter } from './types.js';

export function createKeyrackAwsVault(opts: KeyrackAwsVaultOptions = {}): RhachetVaultAdapter {
  return {
    mechs: { supported: [RHACHET_MECH] },
    unlock: async (input) => (await import('./human.js')).unlock(opts, input),
    isUnlocked: (input) => robot.isUnlocked(opts, input),
    get: (input) => robot.get(opts, input),
    set: (input) => robot.set(opts, input),
    del: () => robot.del(),
    relock: (input) => robot.relock(opts, input),
  };
}

/** The adapter for this process: its environment, its terminal for unlock. */
export const vaultAdapterKeyrackAws: RhachetVaultAdapter = createKeyrackAwsVault();
export default vaultAdapterKeyrackAws;

export { slugParts, ssoUsername } from './robot.js';
export { RHACHET_MECH } from './types.js';
export type { AwsProfileMeta, KeyrackAwsVaultOptions, RhachetKeyGrade, RhachetKeyGrant, RhachetMech, RhachetVaultAdapter } from './types.js';
export type { LoginCapability, DeviceCodePrompt } from '../core/plugin.js';
export { KeyrackError, EXIT_CODES } from '../core/errors.js';
