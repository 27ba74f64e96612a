// The OIDC operations that start a login: client registration, device authorization, the device-code poll
// and the authorization-code exchange. Only the human unlock path imports this directory (src/aws/login);
// a test checks that no robot entry point's module graph reaches it.
import { CreateTokenCommand, RegisterClientCommand, StartDeviceAuthorizationCommand } from '@aws-sdk/client-sso-oidc';
import { classifyAwsError } from '../classify.js';
import { deadline, oidcClient } from '../clients.js';
import { unusableAnswer } from '../network.js';
import { toGrant, type OidcTarget, type TokenGrant } from '../oidc-token.js';

export interface ClientRegistration {
  clientId: string;
  clientSecret: string;
  /** epoch seconds */
  clientSecretExpiresAt: number;
}

export async function registerClient(
  t: OidcTarget,
  input: { clientName: string; scopes?: string[]; redirectUris?: string[]; grantTypes?: string[]; issuerUrl?: string },
  ctx: { subject: string; unlockCommand: string },
): Promise<ClientRegistration> {
  const client = oidcClient(t.region, t.endpoints, t.net);
  try {
    const out = await client.send(new RegisterClientCommand({ clientType: 'public', ...input }), { abortSignal: deadline(t.net, t.signal) });
    if (!out.clientId || !out.clientSecret) throw unusableAnswer('incomplete registration');
    return { clientId: out.clientId, clientSecret: out.clientSecret, clientSecretExpiresAt: out.clientSecretExpiresAt ?? 0 };
  } catch (e) {
    throw classifyAwsError(e, { ...ctx, operation: 'RegisterClient' });
  } finally {
    client.destroy();
  }
}

export interface DeviceAuthorization {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  verificationUriComplete: string;
  expiresIn: number;
  interval: number;
}

export async function startDeviceAuthorization(
  t: OidcTarget,
  reg: { clientId: string; clientSecret: string },
  startUrl: string,
  ctx: { subject: string; unlockCommand: string },
): Promise<DeviceAuthorization> {
  const client = oidcClient(t.region, t.endpoints, t.net);
  try {
    const out = await client.send(new StartDeviceAuthorizationCommand({ ...reg, startUrl }), { abortSignal: deadline(t.net, t.signal) });
    if (!out.deviceCode || !out.userCode || !out.verificationUri) throw unusableAnswer('incomplete device authorization');
    return {
      deviceCode: out.deviceCode,
      userCode: out.userCode,
      verificationUri: out.verificationUri,
      verificationUriComplete: out.verificationUriComplete ?? out.verificationUri,
      expiresIn: out.expiresIn ?? 600,
      interval: out.interval ?? 5,
    };
  } catch (e) {
    throw classifyAwsError(e, { ...ctx, operation: 'StartDeviceAuthorization' });
  } finally {
    client.destroy();
  }
}

export type DevicePoll = { kind: 'token'; grant: TokenGrant } | { kind: 'pending' } | { kind: 'slow-down' } | { kind: 'expired' } | { kind: 'denied' };

/** One CreateToken poll of the device flow; the caller owns the loop and its timing. */
export async function pollDeviceToken(t: OidcTarget, reg: { clientId: string; clientSecret: string }, deviceCode: string, ctx: { subject: string; unlockCommand: string }): Promise<DevicePoll> {
  const client = oidcClient(t.region, t.endpoints, { ...t.net, maxAttempts: 1 });
  try {
    const out = await client.send(
      new CreateTokenCommand({ ...reg, grantType: 'urn:ietf:params:oauth:grant-type:device_code', deviceCode }),
      { abortSignal: deadline(t.net, t.signal) },
    );
    return { kind: 'token', grant: toGrant(out) };
  } catch (e) {
    const name = e instanceof Error ? e.name : '';
    if (name === 'AuthorizationPendingException') return { kind: 'pending' };
    if (name === 'SlowDownException') return { kind: 'slow-down' };
    if (name === 'ExpiredTokenException') return { kind: 'expired' };
    if (name === 'AccessDeniedException') return { kind: 'denied' };
    throw classifyAwsError(e, { ...ctx, operation: 'CreateToken' });
  } finally {
    client.destroy();
  }
}

export async function exchangeAuthorizationCode(
  t: OidcTarget,
  reg: { clientId: string; clientSecret: string },
  input: { code: string; redirectUri: string; codeVerifier: string },
  ctx: { subject: string; unlockCommand: string },
): Promise<TokenGrant> {
  const client = oidcClient(t.region, t.endpoints, t.net);
  try {
    const out = await client.send(new CreateTokenCommand({ ...reg, grantType: 'authorization_code', ...input }), { abortSignal: deadline(t.net, t.signal) });
    return toGrant(out);
  } catch (e) {
    throw classifyAwsError(e, { ...ctx, operation: 'CreateToken' });
  } finally {
    client.destroy();
  }
}
