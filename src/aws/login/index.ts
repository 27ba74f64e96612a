// A fresh SSO login for one session, the way AWS CLI v2 does it, leaving the same cache files behind (or, for a
// session with `token_store: keychain`, the same JSON in the OS keychain: see token-store.ts).
// Only reachable from the human unlock path: it takes a HumanContext, which carries the LoginCapability.
import type { HumanContext } from '../../core/plugin.js';
import { registrationCacheKey } from '../cache-keys.js';
import { networkFromEnv } from '../clients.js';
import type { OidcTarget, TokenGrant } from '../oidc-token.js';
import { isUsable, type ClientRegistration, type LoginFlow } from '../registration-cache.js';
import type { SsoLogin } from '../target.js';
import { formatAwsTimestamp, type SsoTokenFile } from '../token-cache.js';
import { tokenStoreFor, type TokenStore } from '../token-store.js';
import { withFileLock } from '../../store/lock.js';
import { tokenLockPath } from '../session-token.js';
import { deviceCodeLogin } from './device.js';
import { registerClient } from './oidc.js';
import { pkceLogin, REGISTERED_REDIRECT_URI } from './pkce.js';

const DEFAULT_SCOPES = ['sso:account:access'];

async function registration(ctx: HumanContext, store: TokenStore, t: OidcTarget, sso: SsoLogin, flow: LoginFlow, names: { subject: string; unlockCommand: string }): Promise<ClientRegistration> {
  const { clock } = ctx.runtime;
  const key = registrationCacheKey({ startUrl: sso.startUrl, region: sso.region, session: sso.session ?? null, scopes: sso.scopes ?? null });
  const cached = await store.readRegistration(key);
  if (cached && isUsable(cached, clock.now(), flow)) return cached;
  const clientName = `botocore-client-${sso.session ?? Math.floor(clock.now() / 1000)}`;
  const input =
    flow === 'pkce'
      ? { clientName, scopes: sso.scopes ?? DEFAULT_SCOPES, redirectUris: [REGISTERED_REDIRECT_URI], grantTypes: ['authorization_code', 'refresh_token'], issuerUrl: sso.startUrl }
      : { clientName, ...(sso.scopes ? { scopes: sso.scopes } : {}) };
  const out = await registerClient(t, input, names);
  ctx.log.redactor.register(out.clientSecret);
  const reg: ClientRegistration = {
    clientId: out.clientId,
    clientSecret: out.clientSecret,
    expiresAt: formatAwsTimestamp(out.clientSecretExpiresAt * 1000),
    ...(flow === 'pkce' ? { scopes: input.scopes ?? DEFAULT_SCOPES, grantTypes: ['authorization_code', 'refresh_token'] } : sso.scopes ? { scopes: sso.scopes } : {}),
  };
  await store.writeRegistration(key, reg);
  return reg;
}

/** Sign in; the token (and the client registration) go to `store`, by default the one the user config names. */
export async function loginSso(ctx: HumanContext, sso: SsoLogin, unlockCommand: string, opts: { store?: TokenStore } = {}): Promise<'pkce' | 'device-code'> {
  const store = opts.store ?? (await tokenStoreFor(ctx.runtime, sso, { interactive: true }));
  const t: OidcTarget = { region: sso.region, endpoints: ctx.runtime.endpoints, net: networkFromEnv(ctx.runtime.env), ...(ctx.signal ? { signal: ctx.signal } : {}) };
  const names = { subject: sso.label, unlockCommand };
  // Legacy profiles only support the device flow in the AWS CLI; a machine without a browser needs it too.
  const flow: LoginFlow = ctx.login.preferDeviceCode || !ctx.login.canOpenBrowser || sso.session === undefined ? 'device' : 'pkce';
  const reg = await registration(ctx, store, t, sso, flow, names);
  let grant: TokenGrant;
  if (flow === 'pkce') {
    const oidcEndpoint = ctx.runtime.endpoints.ssoOidc ?? `https://oidc.${sso.region}.amazonaws.com`;
    grant = await pkceLogin(ctx, t, oidcEndpoint, reg, sso.scopes ?? DEFAULT_SCOPES, names);
  } else {
    grant = await deviceCodeLogin(ctx, t, reg, sso.startUrl, names);
  }
  ctx.log.redactor.register(grant.accessToken);
  ctx.log.redactor.register(grant.refreshToken);
  const token: SsoTokenFile = {
    startUrl: sso.startUrl,
    region: sso.region,
    accessToken: grant.accessToken,
    expiresAt: formatAwsTimestamp(ctx.runtime.clock.now() + grant.expiresIn * 1000),
    clientId: reg.clientId,
    clientSecret: reg.clientSecret,
    registrationExpiresAt: reg.expiresAt,
    ...(grant.refreshToken ? { refreshToken: grant.refreshToken } : {}),
  };
  // Same lock as refresh: a robot refreshing the old token must not overwrite the new login.
  await withFileLock(tokenLockPath(ctx, sso), () => store.writeToken(sso, token), { timeoutMs: 20_000, staleMs: 30_000 });
  return flow === 'pkce' ? 'pkce' : 'device-code';
}
