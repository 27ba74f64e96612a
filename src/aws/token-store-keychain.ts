// The OS-keychain token store (`token_store: keychain`): service `keyrack-aws`, one entry per secret, each holding
// the JSON the AWS CLI's file would hold (so moving between the stores is a copy, not a conversion):
//
//   sso-token:<tokenKey>                the SSO token: access token, refresh token, client id and secret, expiries
//   sso-registration:<registrationKey>  the OIDC client registration (client id and secret)
//   role-credentials:<roleKey>          role credentials (≤ 1 h) and the identity STS reported for them
//
// Robot paths call it non-interactively: a locked keyring fails at once with `keychain.unavailable` (exit 6),
// it never waits for an unlock dialog (see store/keychain.ts).
import { KeyrackError } from '../core/errors.js';
import { KEYRACK_AWS_KEYCHAIN_SERVICE, keychainDelete, keychainGet, keychainSet } from '../store/keychain.js';
import { DEFAULT_ROLE_MARGIN_MS, parseRoleJson } from './role-cache.js';
import { parseRegistrationJson, serialiseRegistration } from './registration-cache.js';
import type { StoreOptions, TokenStore } from './token-store.js';
import { formatAwsTimestamp, parseTokenJson, serialiseTokenFile, type SsoTokenFile } from './token-cache.js';

export const tokenAccount = (tokenKey: string) => `sso-token:${tokenKey}`;
export const registrationAccount = (key: string) => `sso-registration:${key}`;
export const roleAccount = (key: string) => `role-credentials:${key}`;

const SERVICE = KEYRACK_AWS_KEYCHAIN_SERVICE;

function where(account: string): string {
  return `OS keychain ${SERVICE}/${account}`;
}

function corrupt(account: string, what: string): KeyrackError {
  // Never echo the content: it may hold a live token.
  return new KeyrackError({
    code: 'token-cache.corrupt',
    reason: 'misconfigured',
    message: `the SSO token in the OS keychain is unreadable (${what})`,
    location: where(account),
    fix: 'run `keyrack unlock` to sign in again; it replaces the entry',
  });
}

/** The token in a keychain entry (the AWS CLI file's JSON); a damaged one is refused with the keychain's location. */
function parseToken(text: string, account: string): SsoTokenFile {
  const token = parseTokenJson(text);
  if (typeof token === 'string') throw corrupt(account, token);
  return token;
}

export function keychainTokenStore(opts: StoreOptions = {}): TokenStore {
  const k = { interactive: opts.interactive === true };
  return {
    kind: 'keychain',
    where: (sso) => where(tokenAccount(sso.tokenKey)),
    async readToken(sso) {
      const account = tokenAccount(sso.tokenKey);
      const text = await keychainGet(SERVICE, account, k);
      return text === undefined ? undefined : parseToken(text, account);
    },
    async writeToken(sso, token) {
      await keychainSet(SERVICE, tokenAccount(sso.tokenKey), serialiseTokenFile(token), k);
    },
    deleteToken: (sso) => keychainDelete(SERVICE, tokenAccount(sso.tokenKey), k),
    async readRegistration(key) {
      const text = await keychainGet(SERVICE, registrationAccount(key), k);
      return text === undefined ? undefined : parseRegistrationJson(text);
    },
    async writeRegistration(key, reg) {
      await keychainSet(SERVICE, registrationAccount(key), serialiseRegistration(reg), k);
    },
    deleteRegistration: (key) => keychainDelete(SERVICE, registrationAccount(key), k),
    async readRoleCredentials(key, now) {
      const text = await keychainGet(SERVICE, roleAccount(key), k);
      const r = text === undefined ? undefined : parseRoleJson(text);
      if (!r || r.credentials.expiresAt - now <= DEFAULT_ROLE_MARGIN_MS) return undefined;
      return r;
    },
    async writeRoleCredentials(key, c, identity) {
      const body = {
        ProviderType: 'sso',
        Credentials: { AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, SessionToken: c.sessionToken, Expiration: formatAwsTimestamp(c.expiresAt), ...(c.accountId ? { AccountId: c.accountId } : {}) },
        ...(identity ? { Identity: { arn: identity.arn, account: identity.account, ...(identity.role ? { role: identity.role } : {}) } } : {}),
      };
      await keychainSet(SERVICE, roleAccount(key), JSON.stringify(body), k);
    },
    deleteRoleCredentials: (key) => keychainDelete(SERVICE, roleAccount(key), k),
  };
}
