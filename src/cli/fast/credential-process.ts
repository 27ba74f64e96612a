// `keyrack credential-process --profile P` served from the OS keychain before citty, YAML or the AWS plugin load:
// the AWS CLI runs it for every command of a keychain-mode profile, so its start-up is paid on every `aws` call.
//
// It answers only what the full path (src/aws/credential-process.ts, validateTarget with prove: false) would answer
// from the keychain without asking AWS, under inputs the full path vouched for (FastProcessRecord in
// src/store/state.ts), and otherwise returns false so the command runs as usual (which also makes every refusal
// and every debug line the full path's own):
//   - the process-target record is the text the full path used (SHA-256), so the same keys, pins and cache keys;
//   - the user config is the text whose token_store put the session in the keychain;
//   - then, as the full path checks every time: one of the profile's keys is unlocked for this very profile; the
//     SSO token in the keychain is outside the refresh window (the full path would not refresh it either); the
//     keychain holds role credentials with more than 5 minutes left, and their identity matches the pins.
// The keychain binding is loaded with require() (a CommonJS package: ~4 ms, against ~15 ms through import()); two
// keychain reads (~8 ms each: the binding opens a D-Bus session per entry). Never with KEYRACK_DEBUG=1 or
// KEYRACK_FAST_PATH=0.
import { readFileSync } from 'node:fs';
import type { Identity } from '../../core/plugin.js';
import { resolvePaths } from '../../core/runtime.js';
import { KEYRACK_AWS_KEYCHAIN_SERVICE, keychainGetSync } from '../../store/keychain.js';
import { readFastProcess, readUnlockRecordSync } from '../../store/state.js';
import { isProfileName, parseProcessTarget, processTargetPath, renderProcessOutput, type ProcessTarget } from '../../aws/process-target.js';
import { DEFAULT_ROLE_MARGIN_MS, parseRoleJson } from '../../aws/role-cache.js';
import { parseAwsTimestamp, parseTokenJson, REFRESH_WINDOW_MS } from '../../aws/token-cache.js';
import { roleAccount, tokenAccount } from '../../aws/token-store-keychain.js';
import { parseStrict } from './argv.js';
import { answer, unchanged, type FastIo } from './shared.js';
import { sha256Hex as sha256 } from './sha256.js';

const FLAGS = { strings: ['profile'], booleans: [] } as const;

/** The first of the profile's keys whose unlock is live and made for this profile (unlockedRef in the full path). */
function unlockedRef(state: string, target: ProcessTarget, now: number): ProcessTarget['refs'][number] | undefined {
  return target.refs.find((r) => {
    const record = readUnlockRecordSync(state, r.env);
    return record !== undefined && (record.until === undefined || record.until > now) && record.keys[r.key]?.profile === target.profile;
  });
}

/** checkPins of src/aws/pins.ts, answering instead of throwing: a mismatch is the full path's to report. */
function pinsHold(pins: { account?: string; role?: string }, target: ProcessTarget, identity: Identity | undefined): boolean {
  const id = identity ?? { arn: '', account: target.accountId, role: target.roleName };
  if (pins.account && id.account !== pins.account) return false;
  return !pins.role || (id.role ?? target.roleName) === pins.role;
}

export async function fastCredentialProcess(argv: readonly string[], io: FastIo): Promise<boolean> {
  const { env } = io;
  if (env.KEYRACK_DEBUG === '1' || env.KEYRACK_FAST_PATH === '0') return false;
  const profile = parseStrict(argv, FLAGS, 0)?.strings.profile;
  if (profile === undefined || !isProfileName(profile)) return false;
  try {
    const { state } = resolvePaths(env);
    const now = io.now();
    const rec = readFastProcess(state, profile);
    if (!rec) return false;
    const text = readFileSync(processTargetPath(state, profile));
    const target = parseProcessTarget(text.toString('utf8'), profile);
    if (!target || sha256(text) !== rec.targetSha256 || !unchanged(rec.userConfig, rec.userConfigStat, rec.userConfigSha256)) return false;
    const ref = unlockedRef(state, target, now);
    if (!ref) return false;
    const tokenText = keychainGetSync(KEYRACK_AWS_KEYCHAIN_SERVICE, tokenAccount(rec.tokenKey));
    const token = tokenText === undefined ? undefined : parseTokenJson(tokenText);
    const tokenEnd = token === undefined || typeof token === 'string' ? undefined : parseAwsTimestamp(token.expiresAt);
    if (tokenEnd === undefined || tokenEnd - now < REFRESH_WINDOW_MS) return false;
    const stored = keychainGetSync(KEYRACK_AWS_KEYCHAIN_SERVICE, roleAccount(rec.roleKey));
    const role = stored === undefined ? undefined : parseRoleJson(stored);
    if (!role || role.credentials.expiresAt - now <= DEFAULT_ROLE_MARGIN_MS || !pinsHold(ref, target, role.identity)) return false;
    return answer(
      io,
      state,
      { command: 'credential-process', env: ref.env, key: ref.key, profile, ...(role.identity ? { arn: role.identity.arn } : {}), detail: { cached: true, store: 'keychain' } },
      renderProcessOutput(role.credentials),
    );
  } catch {
    return false; // any doubt: the full path decides, and reports
  }
}
