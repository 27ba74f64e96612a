// SSO OIDC: RegisterClient, StartDeviceAuthorization and CreateToken (device code, refresh token with rotation,
// authorization code with PKCE S256). REST-JSON, unsigned; errors carry x-amzn-ErrorType like the real service.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Emu } from './context.js';
import { decideDevice, pendingDevice } from './approval.js';
import type { Registration, SsoSession } from './state.js';
import { json, oidcError, parseJsonObject, type EmuReply, type EmuRequest } from './wire.js';

export const GRANT_DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
export const GRANT_REFRESH = 'refresh_token';
export const GRANT_AUTH_CODE = 'authorization_code';
const GRANTS = [GRANT_AUTH_CODE, GRANT_DEVICE, GRANT_REFRESH];
/** The scope that makes a session refreshable (what `sso_registration_scopes` asks for). */
export const PORTAL_SCOPE = 'sso:account:access';
/** Clients poll on a timer; allow some scheduling jitter before calling it too fast. */
const POLL_TOLERANCE_MS = 200;

type Body = Record<string, unknown>;

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const seconds = (ms: number) => Math.floor(ms / 1000);

function secretMatches(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** RFC 8252 loopback redirect: plain http to 127.0.0.1, [::1] or localhost. */
export function isLoopbackUri(uri: string): boolean {
  try {
    const u = new URL(uri);
    return u.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname) && u.hash === '';
  } catch {
    return false;
  }
}

export function grantAllowed(reg: Registration, grant: string): boolean {
  // A client that named no grant types gets the device-code flow (what the CLI's legacy registration expects).
  return reg.grantTypes === undefined ? grant !== GRANT_AUTH_CODE : reg.grantTypes.includes(grant);
}

const badBody = () => oidcError('InvalidRequestException', 'The request body must be a JSON object');

function authenticateClient(emu: Emu, b: Body): Registration | EmuReply {
  if (typeof b.clientId !== 'string' || typeof b.clientSecret !== 'string') {
    return oidcError('InvalidRequestException', 'clientId and clientSecret are required');
  }
  const reg = emu.store.registrations.get(b.clientId);
  if (!reg || !secretMatches(reg.clientSecret, b.clientSecret)) return oidcError('InvalidClientException', 'Invalid client credentials');
  if (emu.clock.now() >= reg.expiresAt) return oidcError('InvalidClientException', 'The client registration has expired');
  return reg;
}

export function registerClient(emu: Emu, req: EmuRequest): EmuReply {
  const b = parseJsonObject(req.body);
  if (!b) return badBody();
  if (typeof b.clientName !== 'string' || b.clientName === '' || typeof b.clientType !== 'string') {
    return oidcError('InvalidRequestException', 'clientName and clientType are required');
  }
  if (b.clientType !== 'public') return oidcError('InvalidClientMetadataException', 'clientType must be public');
  if (b.scopes !== undefined && (!isStringList(b.scopes) || !b.scopes.every((s) => /^[\w:.\-/*]{1,256}$/.test(s)))) {
    return oidcError('InvalidScopeException', 'Invalid scope requested');
  }
  if (b.redirectUris !== undefined && (!isStringList(b.redirectUris) || !b.redirectUris.every(isLoopbackUri))) {
    return oidcError('InvalidRedirectUriException', 'Redirect URIs must be http loopback URIs');
  }
  if (b.grantTypes !== undefined) {
    if (!isStringList(b.grantTypes)) return oidcError('InvalidRequestException', 'grantTypes must be a list of strings');
    if (!b.grantTypes.every((g) => GRANTS.includes(g))) return oidcError('UnsupportedGrantTypeException', 'Unsupported grant type in grantTypes');
    if (b.grantTypes.includes(GRANT_AUTH_CODE) && !(b.redirectUris as string[] | undefined)?.length) {
      return oidcError('InvalidRequestException', 'The authorization_code grant requires redirectUris');
    }
  }
  if (b.issuerUrl !== undefined && (typeof b.issuerUrl !== 'string' || !URL.canParse(b.issuerUrl))) {
    return oidcError('InvalidRequestException', 'issuerUrl must be a URL');
  }
  const now = emu.clock.now();
  const reg = emu.store.register(
    {
      clientName: b.clientName,
      redirectUris: (b.redirectUris as string[] | undefined) ?? [],
      grantTypes: b.grantTypes as string[] | undefined,
      scopes: (b.scopes as string[] | undefined) ?? [],
    },
    now,
  );
  return json(200, {
    clientId: reg.clientId,
    clientSecret: reg.clientSecret,
    clientIdIssuedAt: seconds(reg.issuedAt),
    clientSecretExpiresAt: seconds(reg.expiresAt),
  });
}

const sameStartUrl = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

export function startDeviceAuthorization(emu: Emu, req: EmuRequest): EmuReply {
  const b = parseJsonObject(req.body);
  if (!b) return badBody();
  if (typeof b.startUrl !== 'string') return oidcError('InvalidRequestException', 'startUrl is required');
  const reg = authenticateClient(emu, b);
  if ('status' in reg) return reg;
  if (!grantAllowed(reg, GRANT_DEVICE)) return oidcError('UnauthorizedClientException', 'The client is not registered for the device code grant');
  if (!sameStartUrl(b.startUrl, emu.fixture.startUrl)) return oidcError('InvalidRequestException', 'Unknown start URL');
  const now = emu.clock.now();
  const d = emu.store.startDeviceAuthorization(reg.clientId, now);
  if (emu.autoApprove !== undefined) {
    const user = emu.autoApprove;
    emu.later(() => {
      if (pendingDevice(emu, d)) decideDevice(emu, d, user);
    }, emu.autoApproveDelayMs);
  }
  const verificationUri = `${emu.origin}/device`;
  return json(200, {
    deviceCode: d.deviceCode,
    userCode: d.userCode,
    verificationUri,
    verificationUriComplete: `${verificationUri}?user_code=${encodeURIComponent(d.userCode)}`,
    expiresIn: Math.round((d.expiresAt - now) / 1000),
    interval: d.interval,
  });
}

function tokenReply(emu: Emu, session: SsoSession, grantType: string, now: number): EmuReply {
  const { access, refresh } = emu.store.issueTokens(session, session.scopes.includes(PORTAL_SCOPE), now);
  const reply = json(200, {
    accessToken: access.token,
    tokenType: 'Bearer',
    expiresIn: Math.max(0, Math.floor((access.expiresAt - now) / 1000)),
    ...(refresh ? { refreshToken: refresh.token } : {}),
  });
  return { ...reply, user: session.user, grantType };
}

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

export function createToken(emu: Emu, req: EmuRequest): EmuReply {
  const b = parseJsonObject(req.body);
  if (!b) return badBody();
  const grantType = typeof b.grantType === 'string' ? b.grantType : undefined;
  const withGrant = (r: EmuReply): EmuReply => (grantType === undefined ? r : { ...r, grantType });
  if (grantType === undefined) return oidcError('InvalidRequestException', 'grantType is required');
  const reg = authenticateClient(emu, b);
  if ('status' in reg) return withGrant(reg);
  if (!GRANTS.includes(grantType)) return withGrant(oidcError('UnsupportedGrantTypeException', 'Unsupported grant type'));
  if (!grantAllowed(reg, grantType)) return withGrant(oidcError('UnauthorizedClientException', 'The client is not registered for this grant type'));
  const now = emu.clock.now();

  if (grantType === GRANT_DEVICE) {
    if (typeof b.deviceCode !== 'string') return withGrant(oidcError('InvalidRequestException', 'deviceCode is required'));
    const d = emu.store.deviceAuths.get(b.deviceCode);
    if (!d || d.clientId !== reg.clientId || d.consumed) return withGrant(oidcError('InvalidGrantException', 'Invalid device code provided'));
    if (now >= d.expiresAt) return withGrant(oidcError('ExpiredTokenException', 'Device code has expired'));
    if (d.decision.kind === 'pending') {
      // slow_down is a variant of authorization_pending (RFC 8628 §3.5), so only a pending code is paced. The
      // first poll is a pre-check right after StartDeviceAuthorization (the CLI follows it at once with its
      // first real poll), so pacing starts from the second one. Pace is measured in real time: emulated-clock
      // jumps must not turn a well-behaved poller into a fast one.
      const real = emu.clock.real();
      const previous = d.lastPollAt;
      d.polls++;
      if (d.polls > 1) d.lastPollAt = real;
      if (previous !== undefined && real - previous < d.interval * 1000 - POLL_TOLERANCE_MS) {
        return withGrant(oidcError('SlowDownException', 'Client is polling too quickly'));
      }
      return withGrant(oidcError('AuthorizationPendingException', 'Authorization is still pending'));
    }
    d.consumed = true;
    if (d.decision.kind === 'denied') return withGrant(oidcError('AccessDeniedException', 'The user denied the authorization request'));
    return tokenReply(emu, emu.store.startSession(d.decision.user, reg.clientId, reg.scopes, now), grantType, now);
  }

  if (grantType === GRANT_REFRESH) {
    if (typeof b.refreshToken !== 'string') return withGrant(oidcError('InvalidRequestException', 'refreshToken is required'));
    const rt = emu.store.refreshTokens.get(b.refreshToken);
    if (!rt || rt.clientId !== reg.clientId || rt.used) return withGrant(oidcError('InvalidGrantException', 'Invalid refresh token provided'));
    const session = emu.store.sessions.get(rt.sessionId);
    const owner = session?.user;
    if (!emu.store.sessionAlive(session, now)) return withGrant({ ...oidcError('InvalidGrantException', 'The SSO session has ended'), ...(owner ? { user: owner } : {}) });
    rt.used = true; // rotation: every refresh token works exactly once
    return tokenReply(emu, session, grantType, now);
  }

  // authorization_code + PKCE
  if (typeof b.code !== 'string' || typeof b.redirectUri !== 'string' || typeof b.codeVerifier !== 'string') {
    return withGrant(oidcError('InvalidRequestException', 'code, redirectUri and codeVerifier are required'));
  }
  const code = emu.store.authCodes.get(b.code);
  if (!code || code.used || code.clientId !== reg.clientId) return withGrant(oidcError('InvalidGrantException', 'Invalid authorization code provided'));
  code.used = true; // single use, even when the exchange below fails
  if (now >= code.expiresAt) return withGrant(oidcError('ExpiredTokenException', 'Authorization code has expired'));
  if (code.redirectUri !== b.redirectUri) return withGrant(oidcError('InvalidGrantException', 'redirectUri does not match the authorization request'));
  if (!/^[A-Za-z0-9\-._~]{43,128}$/.test(b.codeVerifier) || s256(b.codeVerifier) !== code.codeChallenge) {
    return withGrant(oidcError('InvalidGrantException', 'Code verifier does not match the code challenge'));
  }
  const scopes = code.scopes.length > 0 ? code.scopes : reg.scopes;
  return tokenReply(emu, emu.store.startSession(code.user, reg.clientId, scopes, now), grantType, now);
}
