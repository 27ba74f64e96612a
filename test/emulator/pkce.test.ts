// Authorization code + PKCE: the browser /authorize page (form POST approve/deny), approval through the
// control API (the emulator then calls the loopback redirect itself), the token exchange and its refusals.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CreateTokenCommand, SSOOIDCClient } from '@aws-sdk/client-sso-oidc';
import { START_URL, oidcPost, sandboxHome, startTestEmulator, type TestEmulator } from '../helpers/emulator.js';

const verifier = () => randomBytes(48).toString('base64url').slice(0, 64);
const challenge = (v: string) => createHash('sha256').update(v).digest('base64url');

describe('authorization code + PKCE', () => {
  let emu: TestEmulator;
  let oidc: SSOOIDCClient;
  let callback: Server;
  let callbackPort: number;
  const received: URLSearchParams[] = [];
  let restore: () => Promise<void>;
  let client: { clientId: string; clientSecret: string };

  before(async () => {
    restore = (await sandboxHome()).restore;
    emu = await startTestEmulator();
    oidc = new SSOOIDCClient({ region: 'us-east-1', endpoint: emu.url });
    // Stands in for the CLI's loopback listener.
    callback = createServer((req, res) => {
      received.push(new URL(req.url ?? '/', 'http://x').searchParams);
      res.writeHead(200, { 'content-type': 'text/html' }).end('<p>return to the CLI</p>');
    });
    await new Promise<void>((r) => callback.listen(0, '127.0.0.1', r));
    callbackPort = (callback.address() as AddressInfo).port;
    const reg = await oidcPost(emu.url, '/client/register', {
      clientName: 'botocore-client-acme',
      clientType: 'public',
      scopes: ['sso:account:access'],
      redirectUris: ['http://127.0.0.1/oauth/callback'],
      grantTypes: ['authorization_code', 'refresh_token'],
      issuerUrl: START_URL,
    });
    assert.equal(reg.status, 200);
    client = { clientId: String(reg.body.clientId), clientSecret: String(reg.body.clientSecret) };
  });
  after(async () => {
    oidc.destroy();
    callback.closeAllConnections();
    await new Promise((r) => callback.close(r));
    await emu.close();
    await restore();
  });

  const redirectUri = () => `http://127.0.0.1:${callbackPort}/oauth/callback`;
  function authorizeUrl(v: string, state: string, extra: Record<string, string> = {}): string {
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: client.clientId,
      redirect_uri: redirectUri(),
      state,
      code_challenge_method: 'S256',
      scopes: 'sso:account:access',
      code_challenge: challenge(v),
      ...extra,
    });
    return `${emu.url}/authorize?${q.toString()}`;
  }

  /** Opens the consent page and submits it like a browser would; returns the 302 Location. */
  async function viaPage(v: string, state: string, decision: 'approve' | 'deny', user = 'alice'): Promise<URL> {
    const page = await fetch(authorizeUrl(v, state));
    assert.equal(page.status, 200);
    const htmlText = await page.text();
    assert.match(htmlText, /botocore-client-acme/);
    assert.match(htmlText, /<form method="post" action="\/authorize">/);
    const handle = /name="request" value="([^"]+)"/.exec(htmlText)?.[1] ?? '';
    assert.ok((await emu.control.pending()).authorizeRequests.some((r) => r.state === state && r.clientName === 'botocore-client-acme'), '(await emu.control.pending()).authorizeRequests.some((r) => ');
    const res = await fetch(`${emu.url}/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ request: handle, user, decision }).toString(),
    });
    assert.equal(res.status, 302);
    return new URL(res.headers.get('location') ?? '');
  }

  const exchange = (code: string, v: string, redirect = redirectUri()) =>
    oidc.send(new CreateTokenCommand({ ...client, grantType: 'authorization_code', code, codeVerifier: v, redirectUri: redirect }));

  async function errorName(p: Promise<unknown>): Promise<string> {
    try {
      await p;
    } catch (e) {
      return (e as Error).name;
    }
    return 'no error';
  }

  test('approve on the page → code+state on the port-bearing redirect → tokens; the code is single-use', async () => {
    const v = verifier();
    const state = randomUUID();
    const loc = await viaPage(v, state, 'approve');
    assert.equal(`${loc.origin}${loc.pathname}`, redirectUri());
    assert.equal(loc.searchParams.get('state'), state);
    const code = loc.searchParams.get('code') ?? '';
    const tok = await exchange(code, v);
    assert.ok(tok.accessToken && tok.refreshToken, 'tok.accessToken && tok.refreshToken');
    assert.equal(await errorName(exchange(code, v)), 'InvalidGrantException');
    const calls = await emu.control.calls();
    assert.ok(calls.some((c) => c.operation === 'Authorize' && c.status === 200), 'calls.some((c) => c.operation === \'Authorize\' && c.status ==');
    assert.ok(calls.some((c) => c.operation === 'AuthorizeDecision' && c.status === 302 && c.user === 'alice'), 'calls.some((c) => c.operation === \'AuthorizeDecision\' && c.s');
    assert.ok(calls.some((c) => c.operation === 'CreateToken' && c.grantType === 'authorization_code' && c.status === 200 && c.user === 'alice'), 'calls.some((c) => c.operation === \'CreateToken\' && c.grantTy');
  });

  test('wrong verifier, wrong redirect port, expired code → refused', async () => {
    const v = verifier();
    const c1 = (await viaPage(v, randomUUID(), 'approve')).searchParams.get('code') ?? '';
    assert.equal(await errorName(exchange(c1, verifier())), 'InvalidGrantException');
    assert.equal(await errorName(exchange(c1, v)), 'InvalidGrantException', 'burnt by the failed attempt');
    const c2 = (await viaPage(v, randomUUID(), 'approve')).searchParams.get('code') ?? '';
    assert.equal(await errorName(exchange(c2, v, `http://127.0.0.1:${callbackPort + 1}/oauth/callback`)), 'InvalidGrantException');
    const c3 = (await viaPage(v, randomUUID(), 'approve')).searchParams.get('code') ?? '';
    await emu.control.advanceClock(301);
    assert.equal(await errorName(exchange(c3, v)), 'ExpiredTokenException');
    await emu.control.setClockOffset(0);
  });

  test('deny on the page → error=access_denied with the state', async () => {
    const state = randomUUID();
    const loc = await viaPage(verifier(), state, 'deny');
    assert.equal(loc.searchParams.get('error'), 'access_denied');
    assert.equal(loc.searchParams.get('state'), state);
    assert.equal(loc.searchParams.get('code'), null);
  });

  test('approve through the control API: the emulator follows the redirect to the loopback listener', async () => {
    const v = verifier();
    const state = randomUUID();
    assert.equal((await fetch(authorizeUrl(v, state))).status, 200);
    assert.equal(await emu.control.waitForPending('authorize'), state);
    received.length = 0;
    await emu.control.approve({ state }, 'bob');
    for (let i = 0; i < 50 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(received[0]?.get('state'), state);
    const tok = await exchange(received[0]?.get('code') ?? '', v);
    assert.ok(tok.accessToken, 'tok.accessToken');
    assert.deepEqual((await emu.control.pending()).authorizeRequests, []);

    const denied = randomUUID();
    await fetch(authorizeUrl(v, denied));
    received.length = 0;
    await emu.control.deny({ state: denied });
    for (let i = 0; i < 50 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(received[0]?.get('error'), 'access_denied');
  });

  test('bad authorize requests: page errors before the redirect is trusted, OAuth errors after', async () => {
    const v = verifier();
    const unknown = await fetch(authorizeUrl(v, 's', { client_id: 'nope' }), { redirect: 'manual' });
    assert.equal(unknown.status, 400);
    const otherPath = await fetch(authorizeUrl(v, 's', { redirect_uri: `http://127.0.0.1:${callbackPort}/evil` }), { redirect: 'manual' });
    assert.equal(otherPath.status, 400);
    const remote = await fetch(authorizeUrl(v, 's', { redirect_uri: 'http://evil.example/oauth/callback' }), { redirect: 'manual' });
    assert.equal(remote.status, 400);
    const plain = await fetch(authorizeUrl(v, 's', { code_challenge_method: 'plain' }), { redirect: 'manual' });
    assert.equal(plain.status, 302);
    const loc = new URL(plain.headers.get('location') ?? '');
    assert.equal(loc.searchParams.get('error'), 'invalid_request');
    assert.equal(loc.searchParams.get('state'), 's');
    const token = await fetch(authorizeUrl(v, 's', { response_type: 'token' }), { redirect: 'manual' });
    assert.equal(new URL(token.headers.get('location') ?? '').searchParams.get('error'), 'unsupported_response_type');
    const stale = await fetch(`${emu.url}/authorize`, { method: 'POST', body: 'request=nope&decision=approve&user=alice', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(stale.status, 400);
  });

  test('auto-approve: /authorize answers 302 with a code after a short delay', async () => {
    const auto = await startTestEmulator({ autoApprove: 'alice', autoApproveDelayMs: 50 });
    try {
      const reg = await oidcPost(auto.url, '/client/register', { clientName: 'c', clientType: 'public', redirectUris: ['http://127.0.0.1/oauth/callback'], grantTypes: ['authorization_code'] });
      const v = verifier();
      const q = new URLSearchParams({ response_type: 'code', client_id: String(reg.body.clientId), redirect_uri: 'http://127.0.0.1:1234/oauth/callback', state: 'st', code_challenge_method: 'S256', code_challenge: challenge(v) });
      const res = await fetch(`${auto.url}/authorize?${q.toString()}`, { redirect: 'manual' });
      assert.equal(res.status, 302);
      const loc = new URL(res.headers.get('location') ?? '');
      assert.equal(loc.port, '1234');
      const tok = await oidcPost(auto.url, '/token', {
        clientId: reg.body.clientId, clientSecret: reg.body.clientSecret, grantType: 'authorization_code',
        code: loc.searchParams.get('code'), codeVerifier: v, redirectUri: 'http://127.0.0.1:1234/oauth/callback',
      });
      assert.equal(tok.status, 200);
      assert.equal(tok.body.refreshToken, undefined, 'no refresh_token grant, no portal scope');
    } finally {
      await auto.close();
    }
  });
});
