// Identifier and secret generation. Every secret the emulator hands out carries SECRET_MARKER so tests can
// scan any output (logs, control API answers, files) and prove that no secret leaked into it.
import { createHash, randomBytes, randomUUID } from 'node:crypto';

export const SECRET_MARKER = 'EMUSECRET';
/**
 * An issued secret: the marker followed by its random part. Code that merely names the marker (a redaction
 * pattern, and so also the V8 code cache compiled from it) does not match.
 */
export const ISSUED_SECRET = new RegExp(`${SECRET_MARKER}[A-Za-z0-9_.-]{8}`);

const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
// Letters only, without vowels and look-alikes, so a user code never spells a word or confuses O/0.
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

function pick(alphabet: string, length: number): string {
  // 256 is not a multiple of every alphabet size; rejection sampling keeps the choice uniform.
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < limit && out.length < length) out += alphabet[b % alphabet.length];
    }
  }
  return out;
}

const b64 = (bytes: number) => randomBytes(bytes).toString('base64url');

export const newAccessToken = () => `aoa${SECRET_MARKER}${b64(48)}`;
export const newRefreshToken = () => `aor${SECRET_MARKER}${b64(48)}`;
export const newClientSecret = () => `${SECRET_MARKER}.${b64(96)}`;
export const newDeviceCode = () => `${SECRET_MARKER}-dc-${b64(36)}`;
export const newAuthCode = () => `${SECRET_MARKER}-ac-${b64(24)}`;
/** 40 characters, the length of a real secret access key. */
export const newSecretAccessKey = () => `${SECRET_MARKER}${b64(24).slice(0, 31)}`;
export const newSessionToken = () => `IQoJb3JpZ2luX2Vj${SECRET_MARKER}${b64(180)}`;
export const newAccessKeyId = () => `ASIA${pick(UPPER_ALNUM, 16)}`;
export const newClientId = () => b64(24);
export const newUserCode = () => `${pick(USER_CODE_ALPHABET, 4)}-${pick(USER_CODE_ALPHABET, 4)}`;
export const newRequestId = () => randomUUID();
export const newHandle = () => b64(12);

function digest(...parts: string[]): Buffer {
  return createHash('sha256').update(parts.join('\0')).digest();
}

/** The `<16 hex>` suffix of `AWSReservedSSO_<Role>_<hex>`: stable per account and permission set. */
export function reservedRoleSuffix(accountId: string, roleName: string): string {
  return digest('sso-role', accountId, roleName).toString('hex').slice(0, 16);
}

/** A stable `AROA…` role id (21 characters, like IAM's) for a role ARN. */
export function roleId(roleArn: string): string {
  const bytes = digest('role-id', roleArn);
  let out = 'AROA';
  for (let i = 0; out.length < 21; i++) out += UPPER_ALNUM[(bytes[i] ?? 0) % UPPER_ALNUM.length];
  return out;
}
