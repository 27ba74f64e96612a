// Authorization-code login with PKCE (RFC 7636) and a loopback redirect (RFC 8252), as AWS CLI v2 does it.
import { createServer, type Server } from 'node:http';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { KeyrackError } from '../../core/errors.js';
import type { HumanContext } from '../../core/plugin.js';
import type { OidcTarget, TokenGrant } from '../oidc-token.js';
import { exchangeAuthorizationCode } from './oidc.js';
import { cancelled } from './device.js';

export const REDIRECT_PATH = '/oauth/callback';
/** Registered without a port; the authorization server matches loopback URIs ignoring it (RFC 8252 §7.3). */
export const REGISTERED_REDIRECT_URI = `http://127.0.0.1${REDIRECT_PATH}`;
const VERIFIER_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';
const WAIT_MS = 10 * 60 * 1000;

export function makeVerifier(): string {
  const bytes = randomBytes(64);
  let out = '';
  for (const b of bytes) out += VERIFIER_ALPHABET[b % VERIFIER_ALPHABET.length];
  return out;
}

export function challengeFor(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/** The browser URL: the OIDC endpoint's origin (any path dropped, like the CLI) + /authorize. */
export function authorizeUrl(oidcEndpoint: string, p: { clientId: string; redirectUri: string; state: string; challenge: string; scopes: string[] }): string {
  const origin = new URL(oidcEndpoint).origin;
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: p.clientId,
    redirect_uri: p.redirectUri,
    state: p.state,
    code_challenge_method: 'S256',
    scopes: p.scopes.join(' '),
    code_challenge: p.challenge,
  });
  return `${origin}/authorize?${q.toString().replace(/\+/g, '%20')}`;
}

const PAGE = (title: string, body: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body style="font-family:sans-serif;margin:3em"><h1>${title}</h1><p>${body}</p></body></html>`;

interface Callback { code: string }

/** Listens on 127.0.0.1:<ephemeral> for the one redirect carrying our state. */
async function listenForCallback(state: string, signal: AbortSignal | undefined): Promise<{ redirectUri: string; result: Promise<Callback>; server: Server }> {
  let settle!: { resolve: (c: Callback) => void; reject: (e: unknown) => void };
  const result = new Promise<Callback>((resolve, reject) => { settle = { resolve, reject }; });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== REDIRECT_PATH) { res.writeHead(404).end(); return; }
    const q = url.searchParams;
    if (q.get('state') !== state) {
      res.writeHead(400, { 'content-type': 'text/html' }).end(PAGE('Login not accepted', 'This response does not belong to the running keyrack unlock.'));
      return;
    }
    const code = q.get('code');
    if (q.get('error') || !code) {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE('Login refused', 'You can close this tab and return to the terminal.'));
      settle.reject(new KeyrackError({ code: 'login.denied', reason: 'denied', message: `the authorization was refused (${q.get('error') ?? 'no code'})`, fix: 'run keyrack unlock again and approve the request' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE('keyrack is unlocked', 'You can close this tab and return to the terminal.'));
    settle.resolve({ code });
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', () => resolve()); });
  const onAbort = () => settle.reject(cancelled());
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => settle.reject(new KeyrackError({ code: 'login.timeout', reason: 'expired', message: 'no browser approval arrived within 10 minutes', fix: 'run keyrack unlock again, or use --device-code' })), WAIT_MS);
  result.finally(() => { clearTimeout(timer); signal?.removeEventListener('abort', onAbort); server.close(); server.closeAllConnections(); }).catch(() => undefined);
  const port = (server.address() as AddressInfo).port;
  return { redirectUri: `http://127.0.0.1:${port}${REDIRECT_PATH}`, result, server };
}

export async function pkceLogin(
  ctx: HumanContext,
  target: OidcTarget,
  oidcEndpoint: string,
  reg: { clientId: string; clientSecret: string },
  scopes: string[],
  names: { subject: string; unlockCommand: string },
): Promise<TokenGrant> {
  const verifier = makeVerifier();
  const state = randomUUID();
  const cb = await listenForCallback(state, target.signal);
  const url = authorizeUrl(oidcEndpoint, { clientId: reg.clientId, redirectUri: cb.redirectUri, state, challenge: challengeFor(verifier), scopes });
  ctx.login.showAuthorizeUrl(url);
  const opened = ctx.login.canOpenBrowser ? await ctx.login.openBrowser(url) : false;
  const started = ctx.runtime.clock.now();
  const tick = setInterval(() => ctx.login.waiting(opened ? 'waiting for approval in the browser' : 'open the URL above to approve', WAIT_MS - (ctx.runtime.clock.now() - started)), 250);
  try {
    const { code } = await cb.result;
    return await exchangeAuthorizationCode(target, reg, { code, redirectUri: cb.redirectUri, codeVerifier: verifier }, names);
  } finally {
    clearInterval(tick);
    ctx.login.done();
  }
}
