// Browser-facing endpoints: GET/POST /authorize (authorization code + PKCE) and GET/POST /device (device code
// verification). What the real portal does with a sign-in and a consent screen, reduced to "pick a user".
import { clientName, decideAuthorize, decideDevice, pendingAuthorize, pendingDevice } from './approval.js';
import type { Emu } from './context.js';
import { findUser } from './context.js';
import { GRANT_AUTH_CODE, grantAllowed, isLoopbackUri } from './oidc.js';
import { authorizePage, deviceConfirmPage, deviceEntryPage, errorPage, outcomePage } from './pages.js';
import { errorTypeHeader, html, redirect, type EmuReply, type EmuRequest } from './wire.js';

/** An HTML error page that still carries the AWS error-type header, like every other error here. */
function pageError(status: number, body: string): EmuReply {
  const r = html(status, body);
  return { ...r, headers: { ...r.headers, ...errorTypeHeader('page', 'InvalidRequestException') } };
}

function form(req: EmuRequest): URLSearchParams {
  return new URLSearchParams(req.body.toString('utf8'));
}

/** RFC 8252 §7.3: a loopback redirect matches a registered one whatever its port. */
function redirectRegistered(registered: string[], uri: string): boolean {
  if (!isLoopbackUri(uri)) return false;
  const u = new URL(uri);
  return registered.some((r) => {
    const g = new URL(r);
    return g.protocol === u.protocol && g.hostname === u.hostname && g.pathname === u.pathname;
  });
}

function errorRedirect(redirectUri: string, error: string, description: string, state: string | null): EmuReply {
  const url = new URL(redirectUri);
  url.searchParams.set('error', error);
  url.searchParams.set('error_description', description);
  if (state !== null) url.searchParams.set('state', state);
  return redirect(url.toString());
}

export async function getAuthorize(emu: Emu, req: EmuRequest): Promise<EmuReply> {
  const q = req.query;
  const clientId = q.get('client_id') ?? '';
  const redirectUri = q.get('redirect_uri') ?? '';
  const reg = emu.store.registrations.get(clientId);
  // Until client and redirect URI check out, errors stay on this page: redirecting would be an open redirect.
  if (!reg || emu.clock.now() >= reg.expiresAt) return pageError(400, errorPage('Invalid request', 'Unknown or expired client_id.'));
  if (!redirectRegistered(reg.redirectUris, redirectUri)) return pageError(400, errorPage('Invalid request', 'redirect_uri is not registered for this client.'));
  const state = q.get('state');
  if (q.get('response_type') !== 'code') return errorRedirect(redirectUri, 'unsupported_response_type', 'response_type must be code', state);
  if (!grantAllowed(reg, GRANT_AUTH_CODE)) return errorRedirect(redirectUri, 'unauthorized_client', 'client is not registered for authorization_code', state);
  const challenge = q.get('code_challenge') ?? '';
  if (q.get('code_challenge_method') !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
    return errorRedirect(redirectUri, 'invalid_request', 'PKCE with code_challenge_method=S256 is required', state);
  }
  if (!state) return errorRedirect(redirectUri, 'invalid_request', 'state is required', null);
  const scopeParam = q.get('scopes') ?? q.get('scope') ?? '';
  const scopes = scopeParam.split(/[\s,]+/).filter(Boolean);
  const request = emu.store.addAuthorizeRequest({ state, clientId, redirectUri, codeChallenge: challenge, scopes }, emu.clock.now());

  if (emu.autoApprove !== undefined) {
    const user = emu.autoApprove;
    await emu.sleep(emu.autoApproveDelayMs);
    if (!pendingAuthorize(emu, request)) return pageError(400, errorPage('Request closed', 'This request was already decided.'));
    return { ...redirect(decideAuthorize(emu, request, user)), user };
  }
  return html(200, authorizePage({ handle: request.handle, clientName: reg.clientName, scopes, users: emu.fixture.users }));
}

export function postAuthorize(emu: Emu, req: EmuRequest): EmuReply {
  const f = form(req);
  const request = emu.store.authorizeRequests.get(f.get('request') ?? '');
  if (!request || !pendingAuthorize(emu, request)) return pageError(400, errorPage('Request closed', 'This authorization request is unknown, expired or already decided.'));
  if (f.get('decision') === 'deny') return redirect(decideAuthorize(emu, request, undefined));
  const user = findUser(emu, f.get('user') ?? '');
  if (f.get('decision') !== 'approve' || !user) return pageError(400, errorPage('Invalid request', 'Choose a user and Approve or Deny.'));
  return { ...redirect(decideAuthorize(emu, request, user.name)), user: user.name };
}

export function getDevice(emu: Emu, req: EmuRequest): EmuReply {
  const code = req.query.get('user_code');
  if (code === null || code.trim() === '') return html(200, deviceEntryPage());
  const d = emu.store.deviceByUserCode(code);
  if (!d || !pendingDevice(emu, d)) return pageError(400, deviceEntryPage('That code is not valid, has expired or was already used.'));
  return html(200, deviceConfirmPage({ userCode: d.userCode, clientName: clientName(emu, d.clientId), users: emu.fixture.users }));
}

export function postDevice(emu: Emu, req: EmuRequest): EmuReply {
  const f = form(req);
  const d = emu.store.deviceByUserCode(f.get('user_code') ?? '');
  if (!d || !pendingDevice(emu, d)) return pageError(400, deviceEntryPage('That code is not valid, has expired or was already used.'));
  if (f.get('decision') === 'deny') {
    decideDevice(emu, d, undefined);
    return html(200, outcomePage(false));
  }
  const user = findUser(emu, f.get('user') ?? '');
  if (f.get('decision') !== 'approve' || !user) return pageError(400, errorPage('Invalid request', 'Choose a user and Approve or Deny.'));
  decideDevice(emu, d, user.name);
  return { ...html(200, outcomePage(true)), user: user.name };
}
