// Approve / deny decisions for device codes and browser authorize requests. The pages, the control API and
// auto-approve all go through here so the three paths cannot drift apart.
import { request } from 'node:http';
import type { Emu } from './context.js';
import type { AuthorizeRequest, DeviceAuthorization } from './state.js';

export function decideDevice(emu: Emu, d: DeviceAuthorization, user: string | undefined): void {
  d.decision = user === undefined ? { kind: 'denied' } : { kind: 'approved', user };
}

/** Marks the request decided and returns where the browser goes next: the loopback redirect with code or error. */
export function decideAuthorize(emu: Emu, r: AuthorizeRequest, user: string | undefined): string {
  r.decided = true;
  const url = new URL(r.redirectUri);
  if (user === undefined) {
    url.searchParams.set('error', 'access_denied');
    url.searchParams.set('error_description', 'The user denied the request');
  } else {
    url.searchParams.set('code', emu.store.issueAuthCode(r, user, emu.clock.now()).code);
  }
  url.searchParams.set('state', r.state);
  return url.toString();
}

/** Plays the browser's part after a control-API decision: GET the loopback redirect. Returns its status. */
export function followRedirect(url: string, timeoutMs = 10_000): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

export function pendingDevice(emu: Emu, d: DeviceAuthorization): boolean {
  return !d.consumed && d.decision.kind === 'pending' && emu.clock.now() < d.expiresAt;
}

export function pendingAuthorize(emu: Emu, r: AuthorizeRequest): boolean {
  return !r.decided && emu.clock.now() < r.expiresAt;
}

export function clientName(emu: Emu, clientId: string): string {
  return emu.store.registrations.get(clientId)?.clientName ?? 'unknown client';
}
