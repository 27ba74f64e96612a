// Test helpers for the in-process emulator: start/stop it and a small typed client for its control API.
// Every control-API answer is checked for the secret marker here, so every test proves the API leaks nothing.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SECRET_MARKER, startEmulator, type CallRecord, type EmulatorOptions } from '../../src/emulator/index.js';

export const START_URL = 'https://d-1234567890.awsapps.com/start';
export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export interface PendingView {
  deviceCodes: { userCode: string; clientName: string; expiresAt: string }[];
  authorizeRequests: { state: string; clientName: string; expiresAt: string }[];
}
export interface FixtureView {
  startUrl: string;
  region: string;
  users: { name: string; email: string; assignments: { accountId: string; accountName: string; roleName: string }[] }[];
  accounts: { id: string; name: string; email: string }[];
  roles: { arn: string; maxSessionDuration: number }[];
}
export interface ClockView {
  now: string;
  nowMs: number;
  offsetSeconds: number;
  real: string;
}
export interface StsSessionView {
  kind: string;
  accessKeyId: string;
  arn: string;
  sessionName: string;
  user: string | null;
  sourceIdentity: string | null;
  tags: { key: string; value: string }[];
  policy: string | null;
  durationSeconds: number;
  expiresAt: string;
  expired: boolean;
}
export type FaultSpec = { operation: string; count?: number } & (
  | { status: number; errorType: string; message?: string }
  | { delayMs: number }
  | { reset: true }
  | { malformed: true }
);

export class ControlClient {
  constructor(readonly url: string) {}

  /** Raw call: returns status and parsed JSON, after asserting the answer carries no secret. */
  async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.url}/_emulator/${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await res.text();
    assert.ok(!text.includes(SECRET_MARKER), `control API ${method} ${path} leaked a secret`);
    return { status: res.status, body: JSON.parse(text) as T };
  }

  private async ok<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await this.call<T>(method, path, body);
    assert.equal(r.status, 200, `control API ${method} ${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  }

  fixture = () => this.ok<FixtureView>('GET', 'fixture');
  pending = () => this.ok<PendingView>('GET', 'pending');
  approve = (who: { userCode: string } | { state: string }, user: string) => this.ok<{ ok: true }>('POST', 'approve', { ...who, user });
  deny = (who: { userCode: string } | { state: string }) => this.ok<{ ok: true }>('POST', 'deny', who);
  expire = (what: 'access-tokens' | 'sessions' | 'role-credentials' | 'registrations') => this.ok<{ count: number }>('POST', 'expire', { what });
  clock = () => this.ok<ClockView>('GET', 'clock');
  advanceClock = (seconds: number) => this.ok<ClockView>('POST', 'clock', { advanceSeconds: seconds });
  setClockOffset = (seconds: number) => this.ok<ClockView>('POST', 'clock', { offsetSeconds: seconds });
  revoke = (user: string) => this.ok<{ sessionsEnded: number }>('POST', 'revoke', { user });
  fault = (f: FaultSpec) => this.ok<{ ok: true }>('POST', 'faults', f);
  clearFaults = () => this.ok<{ ok: true }>('DELETE', 'faults');
  calls = (since?: number) => this.ok<CallRecord[]>('GET', since === undefined ? 'calls' : `calls?since=${since}`);
  clearCalls = () => this.ok<{ ok: true }>('DELETE', 'calls');
  stsSessions = () => this.ok<StsSessionView[]>('GET', 'sts-sessions');

  /** Polls /pending until a device code (or authorize request) shows up. */
  async waitForPending(kind: 'device' | 'authorize', timeoutMs = 20_000): Promise<string> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const p = await this.pending();
      const found = kind === 'device' ? p.deviceCodes[0]?.userCode : p.authorizeRequests[0]?.state;
      if (found) return found;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no pending ${kind} request within ${timeoutMs} ms`);
  }
}

export interface TestEmulator {
  url: string;
  port: number;
  control: ControlClient;
  /** Collected log lines (the emulator's `log` option). */
  logs: string[];
  /** In-process clock move (RunningEmulator.advanceClock): the new offset in seconds. */
  advanceClock(seconds: number): number;
  close(): Promise<void>;
}

export async function startTestEmulator(opts: Omit<EmulatorOptions, 'log'> = {}): Promise<TestEmulator> {
  const logs: string[] = [];
  const emu = await startEmulator({ ...opts, log: (l) => logs.push(l) });
  return { url: emu.url, port: emu.port, control: new ControlClient(emu.url), logs, advanceClock: (s) => emu.advanceClock(s), close: () => emu.close() };
}

/** A throwaway HOME (and XDG dirs) for one test; restore() puts process.env back and deletes it. */
export async function sandboxHome(): Promise<{ home: string; restore(): Promise<void> }> {
  const home = await mkdtemp(join(tmpdir(), 'keyrack-emu-'));
  const saved = { HOME: process.env.HOME, XDG_STATE_HOME: process.env.XDG_STATE_HOME, XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME };
  process.env.HOME = home;
  process.env.XDG_STATE_HOME = join(home, '.local', 'state');
  process.env.XDG_CONFIG_HOME = join(home, '.config');
  return {
    home,
    async restore() {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** POST a JSON body to an OIDC path; returns status, error type header and parsed body. */
export async function oidcPost(url: string, path: string, body: unknown): Promise<{ status: number; errorType: string | null; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const text = await res.text();
  return { status: res.status, errorType: res.headers.get('x-amzn-errortype'), body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

export interface DeviceLogin {
  clientId: string;
  clientSecret: string;
  accessToken: string;
  refreshToken: string | undefined;
  expiresIn: number;
}

/** A full device-code login approved through the control API (no waiting: the first poll is allowed). */
/** `scopes: null` registers without scopes, like a legacy profile: the session is then not refreshable. */
export async function deviceLogin(emu: TestEmulator, user = 'alice', scopes: string[] | null = ['sso:account:access']): Promise<DeviceLogin> {
  const reg = await oidcPost(emu.url, '/client/register', { clientName: 'test-client', clientType: 'public', ...(scopes ? { scopes } : {}) });
  assert.equal(reg.status, 200);
  const clientId = String(reg.body.clientId);
  const clientSecret = String(reg.body.clientSecret);
  const start = await oidcPost(emu.url, '/device_authorization', { clientId, clientSecret, startUrl: START_URL });
  assert.equal(start.status, 200);
  await emu.control.approve({ userCode: String(start.body.userCode) }, user);
  const tok = await oidcPost(emu.url, '/token', { clientId, clientSecret, grantType: DEVICE_GRANT, deviceCode: start.body.deviceCode });
  assert.equal(tok.status, 200, JSON.stringify(tok.body));
  return {
    clientId,
    clientSecret,
    accessToken: String(tok.body.accessToken),
    refreshToken: typeof tok.body.refreshToken === 'string' ? tok.body.refreshToken : undefined,
    expiresIn: Number(tok.body.expiresIn),
  };
}
