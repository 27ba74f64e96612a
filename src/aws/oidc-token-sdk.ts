// The refresh through the AWS SDK's SSO OIDC client (FIPS / dual-stack endpoints, KEYRACK_AWS_SDK=1). A module of
// its own, loaded with import() only then: the hand-built refresh in oidc-token.ts never loads the SDK.
import { CreateTokenCommand, type CreateTokenCommandOutput } from '@aws-sdk/client-sso-oidc';
import { deadline, oidcClient } from './clients.js';
import type { OidcTarget } from './oidc-token.js';

export async function createTokenViaSdk(
  t: OidcTarget,
  input: { clientId: string; clientSecret: string; grantType: 'refresh_token'; refreshToken: string },
): Promise<CreateTokenCommandOutput> {
  const client = oidcClient(t.region, t.endpoints, t.net);
  try {
    return await client.send(new CreateTokenCommand(input), { abortSignal: deadline(t.net, t.signal) });
  } finally {
    client.destroy();
  }
}
