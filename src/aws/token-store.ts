// Where an SSO session's secrets live: the token (access token, refresh token, client id and secret), the OIDC
// client registration, and the role credentials fetched with it. Two stores, chosen per sso-session in the user
// config (`sso.<name>.token_store`, $XDG_CONFIG_HOME/keyrack/config.yml):
//
//   aws-cli (default)  the AWS CLI v2 cache files, ~/.aws/sso/cache and ~/.aws/cli/cache, byte-compatible with the
//                      CLI and the SDKs (token-cache.ts, registration-cache.ts, role-cache.ts)
//   keychain           the OS keychain (token-store-keychain.ts): nothing long-lived on disk; robots reach AWS
//                      through `credential_process = keyrack credential-process --profile P`
//
// Legacy profiles (sso_start_url in the profile, no sso-session name) always use the files.
// The keychain implementation is loaded only when a session uses it: a grant on the files never loads the binding.
import type { Identity, RoleCredentials } from '../core/plugin.js';
import type { Paths, Runtime } from '../core/runtime.js';
import { loadUserConfig, ssoSettings, type TokenStore as TokenStoreKind, type UserConfig } from '../store/user-config.js';
import { deleteRegistration, readRegistration, writeRegistration, type ClientRegistration } from './registration-cache.js';
import { deleteRoleCredentials, readRoleCredentials, writeRoleCredentials, type CachedRole } from './role-cache.js';
import type { SsoLogin } from './target.js';
import { deleteTokenFile, readTokenFile, tokenFilePath, writeTokenFile, type SsoTokenFile } from './token-cache.js';

export type { TokenStoreKind };

export type { CachedRole };

export interface TokenStore {
  readonly kind: TokenStoreKind;
  /** Where a session's token lives, for messages (never a secret). */
  where(sso: Pick<SsoLogin, 'tokenKey'>): string;
  /** The token, or undefined. Throws `token-cache.corrupt` / `token-cache.permissions` / `keychain.unavailable`. */
  readToken(sso: Pick<SsoLogin, 'tokenKey'>): Promise<SsoTokenFile | undefined>;
  writeToken(sso: Pick<SsoLogin, 'tokenKey'>, token: SsoTokenFile): Promise<void>;
  /** True when something was deleted. */
  deleteToken(sso: Pick<SsoLogin, 'tokenKey'>): Promise<boolean>;
  /** A cache: anything unusable reads as absent. */
  readRegistration(key: string): Promise<ClientRegistration | undefined>;
  writeRegistration(key: string, reg: ClientRegistration): Promise<void>;
  deleteRegistration(key: string): Promise<boolean>;
  /** Role credentials with more than 5 minutes (role-cache.ts DEFAULT_ROLE_MARGIN_MS) left, or undefined. */
  readRoleCredentials(key: string, now: number): Promise<CachedRole | undefined>;
  writeRoleCredentials(key: string, credentials: RoleCredentials, identity?: Identity): Promise<void>;
  deleteRoleCredentials(key: string): Promise<boolean>;
}

export interface StoreOptions {
  /** A person is at this terminal: a locked keyring may show its unlock dialog (never on a robot path). */
  interactive?: boolean;
}

/** The AWS CLI's own files: unchanged behaviour, every byte compatible with the CLI. */
export function fileTokenStore(paths: Pick<Paths, 'ssoCache' | 'cliCache'>): TokenStore {
  return {
    kind: 'aws-cli',
    where: (sso) => tokenFilePath(paths, sso.tokenKey),
    readToken: async (sso) => (await readTokenFile(paths, sso.tokenKey))?.token,
    writeToken: async (sso, token) => {
      await writeTokenFile(paths, sso.tokenKey, token);
    },
    deleteToken: (sso) => deleteTokenFile(paths, sso.tokenKey),
    readRegistration: async (key) => (await readRegistration(paths, key))?.registration,
    writeRegistration: async (key, reg) => {
      await writeRegistration(paths, key, reg);
    },
    deleteRegistration: (key) => deleteRegistration(paths, key),
    readRoleCredentials: async (key, now) => {
      const r = await readRoleCredentials(paths, key, now);
      return r ? { credentials: r.credentials } : undefined;
    },
    writeRoleCredentials: async (key, creds) => {
      await writeRoleCredentials(paths, key, creds);
    },
    deleteRoleCredentials: (key) => deleteRoleCredentials(paths, key),
  };
}

/** Which store a session uses, by a user config already loaded: `sso.<name>.token_store`; legacy profiles always the files. */
export function storeKindIn(config: UserConfig, sso: Pick<SsoLogin, 'session'>): TokenStoreKind {
  return sso.session === undefined ? 'aws-cli' : ssoSettings(config, sso.session).tokenStore;
}

/** Which store a session uses (storeKindIn, reading the user config). */
export async function tokenStoreKind(runtime: Pick<Runtime, 'paths'>, sso: Pick<SsoLogin, 'session'>): Promise<TokenStoreKind> {
  return sso.session === undefined ? 'aws-cli' : storeKindIn(await loadUserConfig(runtime.paths), sso);
}

/** A store of the given kind. */
export async function openTokenStore(runtime: Pick<Runtime, 'paths'>, kind: TokenStoreKind, opts: StoreOptions = {}): Promise<TokenStore> {
  if (kind === 'aws-cli') return fileTokenStore(runtime.paths);
  const { keychainTokenStore } = await import('./token-store-keychain.js');
  return keychainTokenStore(opts);
}

/** The store the user config names for this session. */
export async function tokenStoreFor(runtime: Pick<Runtime, 'paths'>, sso: Pick<SsoLogin, 'session'>, opts: StoreOptions = {}): Promise<TokenStore> {
  return openTokenStore(runtime, await tokenStoreKind(runtime, sso), opts);
}
