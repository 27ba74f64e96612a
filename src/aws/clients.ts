// AWS SDK v3 clients built from explicit inputs: region, endpoint override, timeouts. They never look up
// credentials on their own (SSO and OIDC calls are unsigned; STS gets the role credentials it must use).
// The time limits and the operation budget live in network.ts (no SDK there, so a cached grant never loads it).
import { SSOClient } from '@aws-sdk/client-sso';
import { SSOOIDCClient } from '@aws-sdk/client-sso-oidc';
import { STSClient } from '@aws-sdk/client-sts';
import type { Endpoints } from '../core/runtime.js';
import type { RoleCredentials } from '../core/plugin.js';
import type { NetworkPolicy } from './network.js';

export * from './network.js';
// The commands of the calls that still go through the SDK, for modules that load this one with import(): a bundle
// gives import() of the SDK's CommonJS packages a default export only, so the named ones are re-exported here.
export { GetRoleCredentialsCommand, ListAccountRolesCommand, ListAccountsCommand, LogoutCommand } from '@aws-sdk/client-sso';
export { GetCallerIdentityCommand } from '@aws-sdk/client-sts';

/** What the SDK's HTTP handler would print on the console (e.g. slow-socket warnings) goes nowhere: stderr is the robot's. */
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

function common(region: string, endpoint: string | undefined, net: NetworkPolicy) {
  return {
    region,
    maxAttempts: net.maxAttempts,
    logger: quiet,
    requestHandler: {
      connectionTimeout: net.connectTimeoutMs,
      requestTimeout: net.requestTimeoutMs,
      // Without this the SDK only *warns* (on the console) when requestTimeout passes, and keeps waiting.
      throwOnRequestTimeout: true,
      logger: quiet,
    },
    ...(endpoint ? { endpoint } : {}),
  };
}

export function ssoClient(region: string, endpoints: Endpoints, net: NetworkPolicy): SSOClient {
  return new SSOClient(common(region, endpoints.sso, net));
}

export function oidcClient(region: string, endpoints: Endpoints, net: NetworkPolicy): SSOOIDCClient {
  return new SSOOIDCClient(common(region, endpoints.ssoOidc, net));
}

export function stsClient(region: string, endpoints: Endpoints, net: NetworkPolicy, creds: RoleCredentials): STSClient {
  return new STSClient({
    ...common(region, endpoints.sts, net),
    credentials: {
      accessKeyId: creds.accessKeyId,
      secretAccessKey: creds.secretAccessKey,
      sessionToken: creds.sessionToken,
      expiration: new Date(creds.expiresAt),
    },
  });
}
