// Shared OIDC token types, and the refresh call: the one OIDC operation a robot may make (it needs no human).
import { CreateTokenCommand, type CreateTokenCommandOutput } from '@aws-sdk/client-sso-oidc';
import type { Logger } from '../core/log.js';
import type { Endpoints } from '../core/runtime.js';
import { classifyAwsError } from './classify.js';
import { deadline, observed, oidcClient, type NetworkPolicy } from './clients.js';

export interface OidcTarget {
  region: string;
  endpoints: Endpoints;
  net: NetworkPolicy;
  signal?: AbortSignal;
  /** Debug log for the call (operation, outcome, duration; never a token). */
  log?: Logger;
}

export interface TokenGrant {
  accessToken: string;
  /** seconds */
  expiresIn: number;
  refreshToken?: string;
}

export function toGrant(out: CreateTokenCommandOutput): TokenGrant {
  if (!out.accessToken || !out.expiresIn) throw Object.assign(new Error('incomplete token'), { name: 'SyntaxError' });
  return { accessToken: out.accessToken, expiresIn: out.expiresIn, ...(out.refreshToken ? { refreshToken: out.refreshToken } : {}) };
}

export async function refreshAccessToken(
  t: OidcTarget,
  reg: { clientId: string; clientSecret: string },
  refreshToken: string,
  ctx: { subject: string; unlockCommand: string },
): Promise<TokenGrant> {
  const client = oidcClient(t.region, t.endpoints, t.net);
  try {
    const out = await observed(t.log, 'CreateToken', () =>
      client.send(
        new CreateTokenCommand({ clientId: reg.clientId, clientSecret: reg.clientSecret, grantType: 'refresh_token', refreshToken }),
        { abortSignal: deadline(t.net, t.signal) },
      ),
    );
    return toGrant(out);
  } catch (e) {
    throw classifyAwsError(e, { ...ctx, operation: 'CreateToken' });
  } finally {
    client.destroy();
  }
}

