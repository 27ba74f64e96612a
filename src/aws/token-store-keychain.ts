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
import type { Identity, RoleCredentials } from '../core/plugin.js';
import { KEYRACK_AWS_KEYCHAIN_SERVICE, keychainDelete, keychainGet, keychainSet } from '../store/keychain.js';
import { DEFAULT_ROLE_MARGIN_MS } from './role-cache.js';
import { serialiseRegistration, type ClientRegistration } from './registration-cache.js';
import type { CachedRole, StoreOptions, TokenStore } from './token-store.js';
import { formatAwsTimestamp, parseAwsTimestamp, serialiseTokenFile, type SsoTokenFile } from './token-cache.js';

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

function asObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function parseToken(text: string, account: string): SsoTokenFile {
  const o = asObject(text);
  if (!o) throw corrupt(account, 'not a JSON object');
  if (typeof o.accessToken !== 'string' || o.accessToken === '') throw corrupt(account, 'no accessToken');
  if (typeof o.expiresAt !== 'string' || parseAwsTimestamp(o.expiresAt) === undefined) throw corrupt(account, 'no valid expiresAt');
  for (const k of ['startUrl', 'region', 'refreshToken', 'clientId', 'clientSecret', 'registrationExpiresAt']) {
    if (o[k] !== undefined && typeof o[k] !== 'string') throw corrupt(account, `${k} is not a string`);
  }
  return o as SsoTokenFile;
}

function parseRegistration(text: string): ClientRegistration | undefined {
  const o = asObject(text);
  if (!o || typeof o.clientId !== 'string' || typeof o.clientSecret !== 'string' || typeof o.expiresAt !== 'string') return undefined;
  if (parseAwsTimestamp(o.expiresAt) === undefined) return undefined;
  const list = (v: unknown) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined);
  const reg: ClientRegistration = { clientId: o.clientId, clientSecret: o.clientSecret, expiresAt: o.expiresAt };
  const scopes = list(o.scopes);
  const grantTypes = list(o.grantTypes);
  if (scopes) reg.scopes = scopes;
  if (grantTypes) reg.grantTypes = grantTypes;
  return reg;
}

export function parseRole(text: string): CachedRole | undefined {
  const o = asObject(text);
  const c = o?.Credentials;
  if (!o || o.ProviderType !== 'sso' || typeof c !== 'object' || c === null) return undefined;
  const { AccessKeyId, SecretAccessKey, SessionToken, Expiration, AccountId } = c as Record<string, unknown>;
  if (typeof AccessKeyId !== 'string' || typeof SecretAccessKey !== 'string' || typeof SessionToken !== 'string' || typeof Expiration !== 'string') return undefined;
  const expiresAt = parseAwsTimestamp(Expiration);
  if (expiresAt === undefined) return undefined;
  const credentials: RoleCredentials = { accessKeyId: AccessKeyId, secretAccessKey: SecretAccessKey, sessionToken: SessionToken, expiresAt };
  if (typeof AccountId === 'string') credentials.accountId = AccountId;
  const id = o.Identity as Partial<Identity> | undefined;
  const identity = id && typeof id.arn === 'string' && typeof id.account === 'string' ? { arn: id.arn, account: id.account, ...(typeof id.role === 'string' ? { role: id.role } : {}) } : undefined;
  return { credentials, ...(identity ? { identity } : {}) };
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
      return text === undefined ? undefined : parseRegistration(text);
    },
    async writeRegistration(key, reg) {
      await keychainSet(SERVICE, registrationAccount(key), serialiseRegistration(reg), k);
    },
    deleteRegistration: (key) => keychainDelete(SERVICE, registrationAccount(key), k),
    async readRoleCredentials(key, now, o = {}) {
      const text = await keychainGet(SERVICE, roleAccount(key), k);
      const r = text === undefined ? undefined : parseRole(text);
      if (!r || r.credentials.expiresAt - now <= (o.marginMs ?? DEFAULT_ROLE_MARGIN_MS)) return undefined;
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
