// AWS SDK v3 clients built from explicit inputs: region, endpoint override, timeouts. They never look up
// credentials on their own (SSO and OIDC calls are unsigned; STS gets the role credentials it must use).
import { SSOClient } from '@aws-sdk/client-sso';
import { SSOOIDCClient } from '@aws-sdk/client-sso-oidc';
import { STSClient } from '@aws-sdk/client-sts';
import type { Endpoints } from '../core/runtime.js';
import type { RoleCredentials } from '../core/plugin.js';

export interface NetworkPolicy {
  /** TCP connect timeout per attempt. */
  connectTimeoutMs: number;
  /** Socket inactivity timeout per attempt. */
  requestTimeoutMs: number;
  /** Whole operation, retries included. */
  totalTimeoutMs: number;
  /** SDK standard retry: exponential backoff with full jitter on 5xx / 429 / throttling. */
  maxAttempts: number;
}

export const DEFAULT_NETWORK: NetworkPolicy = { connectTimeoutMs: 3000, requestTimeoutMs: 5000, totalTimeoutMs: 10000, maxAttempts: 3 };

export function networkFromEnv(env: Readonly<Record<string, string | undefined>>): NetworkPolicy {
  const num = (v: string | undefined, d: number) => (v && /^\d+$/.test(v) ? Number(v) : d);
  return {
    connectTimeoutMs: num(env.KEYRACK_CONNECT_TIMEOUT_MS, DEFAULT_NETWORK.connectTimeoutMs),
    requestTimeoutMs: num(env.KEYRACK_REQUEST_TIMEOUT_MS, DEFAULT_NETWORK.requestTimeoutMs),
    totalTimeoutMs: num(env.KEYRACK_TOTAL_TIMEOUT_MS, DEFAULT_NETWORK.totalTimeoutMs),
    maxAttempts: num(env.KEYRACK_MAX_ATTEMPTS, DEFAULT_NETWORK.maxAttempts),
  };
}

function common(region: string, endpoint: string | undefined, net: NetworkPolicy) {
  return {
    region,
    maxAttempts: net.maxAttempts,
    requestHandler: { connectionTimeout: net.connectTimeoutMs, requestTimeout: net.requestTimeoutMs },
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

/** An AbortSignal that fires after the overall budget, chained to an outer signal. */
export function deadline(net: NetworkPolicy, outer?: AbortSignal): AbortSignal {
  const t = AbortSignal.timeout(net.totalTimeoutMs);
  return outer ? AbortSignal.any([t, outer]) : t;
}
