// Shared OIDC token types, and the refresh call: the one OIDC operation a robot may make (it needs no human).
//
// The refresh (CreateToken, grant type refresh_token) is a hand-built REST-JSON request (network.ts), like the
// portal and STS calls: a refresh holder, or a watcher refreshing every hour, never loads or builds an SDK client.
// With FIPS or dual-stack endpoints switched on, KEYRACK_AWS_SDK=1, or no `env` given, it goes through the SDK.
import { classifyAwsError } from './classify.js';
import { awsEndpoint, awsUrl, deadline, observed, parseJsonObject, sendAwsRequest, unusableAnswer, USER_AGENT, type AwsCallTarget } from './network.js';
import { restJsonErrorName } from './portal.js';

export type OidcTarget = AwsCallTarget;

export interface TokenGrant {
  accessToken: string;
  /** seconds */
  expiresIn: number;
  refreshToken?: string;
}

/** The fields of a CreateToken answer keyrack uses (the SDK's output, or the parsed JSON body). */
export interface CreateTokenAnswer {
  accessToken?: string | undefined;
  expiresIn?: number | undefined;
  refreshToken?: string | undefined;
}

export function toGrant(out: CreateTokenAnswer): TokenGrant {
  if (!out.accessToken || !out.expiresIn) throw unusableAnswer('incomplete token');
  return { accessToken: out.accessToken, expiresIn: out.expiresIn, ...(out.refreshToken ? { refreshToken: out.refreshToken } : {}) };
}

/** The JSON body of a 2xx CreateToken answer; anything else is "unreadable" (never half-trusted). */
function parseTokenBody(body: string): CreateTokenAnswer {
  const j = parseJsonObject(body);
  return {
    accessToken: typeof j.accessToken === 'string' ? j.accessToken : undefined,
    expiresIn: typeof j.expiresIn === 'number' ? j.expiresIn : undefined,
    refreshToken: typeof j.refreshToken === 'string' ? j.refreshToken : undefined,
  };
}

export async function refreshAccessToken(
  t: OidcTarget,
  reg: { clientId: string; clientSecret: string },
  refreshToken: string,
  ctx: { subject: string; unlockCommand: string },
): Promise<TokenGrant> {
  try {
    const endpoint = t.env ? awsEndpoint('oidc', t.region, t.endpoints.ssoOidc, t.env) : undefined;
    if (!endpoint) {
      const { createTokenViaSdk } = await import('./oidc-token-sdk.js');
      return toGrant(await observed(t.log, 'CreateToken', () => createTokenViaSdk(t, { ...reg, grantType: 'refresh_token', refreshToken })));
    }
    const body = JSON.stringify({ clientId: reg.clientId, clientSecret: reg.clientSecret, grantType: 'refresh_token', refreshToken });
    const req = {
      method: 'POST' as const,
      url: awsUrl(endpoint, '/token'),
      headers: { 'content-type': 'application/json', accept: 'application/json', 'user-agent': USER_AGENT },
      body,
      errorName: restJsonErrorName,
    };
    const out = await observed(t.log, 'CreateToken', () => sendAwsRequest(req, t.net, deadline(t.net, t.signal)));
    return toGrant(parseTokenBody(out.body));
  } catch (e) {
    throw classifyAwsError(e, { ...ctx, operation: 'CreateToken' });
  }
}
