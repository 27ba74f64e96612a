// The HTTP front: one node:http server on 127.0.0.1 whose routes do not collide, so SSO OIDC, the portal, STS,
// the browser pages and the control API share one origin. Faults, the call log and request ids live here so
// every service gets them the same way.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KeyrackError } from '../core/errors.js';
import { systemClock, type Clock } from '../core/runtime.js';
import { getAuthorize, getDevice, postAuthorize, postDevice } from './browser.js';
import { CallLog } from './calls.js';
import { EmuClock, isoSeconds } from './clock.js';
import type { Emu } from './context.js';
import { control } from './control.js';
import { Faults } from './faults.js';
import { defaultFixture, normalizeFixture, type Fixture } from './fixture.js';
import { newRequestId } from './ids.js';
import { createToken, registerClient, startDeviceAuthorization } from './oidc.js';
import { getRoleCredentials, listAccountRoles, listAccounts, logout } from './portal.js';
import { Store } from './state.js';
import { assumeRole, assumeRoleWithWebIdentity, getCallerIdentity, STS_ACTIONS, STS_VERSION, stsParams } from './sts.js';
import {
  errorTypeHeader, faultReply, html, json, malformedReply, oidcError, parseJsonObject, portalError, stsError,
  type EmuReply, type EmuRequest, type Service,
} from './wire.js';

export interface EmulatorOptions {
  /** 0 or absent: an ephemeral port. */
  port?: number;
  fixture?: Fixture;
  /** Approve every device code and authorize request as this user after autoApproveDelayMs. */
  autoApprove?: string;
  autoApproveDelayMs?: number;
  /** One line per request (no secrets: operation, path without query, status, user). */
  log?: (line: string) => void;
  /** Real-time source; emulated time is this plus the control API's offset. */
  clock?: Clock;
}

export interface RunningEmulator {
  url: string;
  port: number;
  /**
   * Moves emulated time, as POST /_emulator/clock {advanceSeconds} does, for a host running the emulator in its
   * own process (a long soak moves it thousands of times); returns the new offset in seconds.
   */
  advanceClock(seconds: number): number;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

type Handler = (emu: Emu, req: EmuRequest) => EmuReply | Promise<EmuReply>;
interface Route {
  service: Service;
  operation: string;
  handle: Handler;
}

const REST: [method: string, path: string, route: Route][] = [
  ['POST', '/client/register', { service: 'oidc', operation: 'RegisterClient', handle: registerClient }],
  ['POST', '/device_authorization', { service: 'oidc', operation: 'StartDeviceAuthorization', handle: startDeviceAuthorization }],
  ['POST', '/token', { service: 'oidc', operation: 'CreateToken', handle: createToken }],
  ['GET', '/federation/credentials', { service: 'portal', operation: 'GetRoleCredentials', handle: getRoleCredentials }],
  ['GET', '/assignment/accounts', { service: 'portal', operation: 'ListAccounts', handle: listAccounts }],
  ['GET', '/assignment/roles', { service: 'portal', operation: 'ListAccountRoles', handle: listAccountRoles }],
  ['POST', '/logout', { service: 'portal', operation: 'Logout', handle: logout }],
];

const PAGES: [method: string, path: string, route: Route][] = [
  ['GET', '/authorize', { service: 'page', operation: 'Authorize', handle: getAuthorize }],
  ['POST', '/authorize', { service: 'page', operation: 'AuthorizeDecision', handle: postAuthorize }],
  ['GET', '/device', { service: 'page', operation: 'DeviceVerification', handle: getDevice }],
  ['POST', '/device', { service: 'page', operation: 'DeviceDecision', handle: postDevice }],
];

const unknownOperation = (message: string) => json(404, { message }, errorTypeHeader('control', 'UnknownOperationException'));

function route(req: EmuRequest): Route | EmuReply {
  if (req.path === '/token' && req.method === 'POST' && req.query.get('aws_iam') !== null) {
    return { service: 'oidc', operation: 'CreateTokenWithIAM', handle: () => oidcError('InvalidRequestException', 'CreateTokenWithIAM is not supported by this emulator') };
  }
  for (const [method, path, r] of PAGES) if (req.method === method && req.path === path) return r;
  // SDKs keep a path prefix from a custom endpoint (`http://h/oidc` → `/oidc/token`), so match on the suffix.
  for (const [method, path, r] of REST) if (req.method === method && (req.path === path || req.path.endsWith(path))) return r;
  if ((req.method === 'POST' || req.method === 'GET') && req.path.endsWith('/')) {
    const params = stsParams(req);
    const action = params.get('Action');
    if (action === null) {
      if (req.method === 'GET' && req.path === '/' && req.rawQuery === '') return html(200, '<!doctype html><title>keyrack AWS emulator</title><p>keyrack AWS emulator</p>');
      return stsError('MissingAction', 'Missing Action', 400, req.requestId);
    }
    const version = params.get('Version');
    if (!(STS_ACTIONS as readonly string[]).includes(action) || version !== STS_VERSION) {
      return stsError('InvalidAction', `Could not find operation ${action} for version ${version ?? 'NO_VERSION_SPECIFIED'}`, 400, req.requestId);
    }
    const handle: Handler =
      action === 'GetCallerIdentity' ? getCallerIdentity : action === 'AssumeRole' ? (e, r) => assumeRole(e, r, params) : (e, r) => assumeRoleWithWebIdentity(e, r, params);
    return { service: 'sts', operation: action, handle };
  }
  return unknownOperation(`No operation matches ${req.method} ${req.path}`);
}

/** The unexpected-exception answer, in the service's own error shape (the SDKs retry these). */
function internalError(service: Service, requestId: string): EmuReply {
  if (service === 'oidc') return oidcError('InternalServerException');
  if (service === 'portal') return portalError('InternalServerException', 'An internal error occurred', 500);
  if (service === 'sts') return stsError('InternalFailure', 'The request processing has failed because of an unknown error.', 500, requestId);
  return json(500, { error: 'internal error' });
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function write(res: ServerResponse, reply: EmuReply, requestId: string): void {
  const body = Buffer.from(reply.body, 'utf8');
  res.writeHead(reply.status, { ...reply.headers, 'x-amzn-RequestId': requestId, 'content-length': String(body.length) });
  res.end(body);
}

export async function startEmulator(opts: EmulatorOptions = {}): Promise<RunningEmulator> {
  const fixture = normalizeFixture(opts.fixture ?? defaultFixture);
  if (opts.autoApprove !== undefined && !fixture.users.some((u) => u.name === opts.autoApprove)) {
    throw new KeyrackError({
      code: 'emulator.unknown-user',
      reason: 'invalid-input',
      message: `emulator: --auto-approve names ${JSON.stringify(opts.autoApprove)}, which is not a fixture user`,
      fix: `use one of: ${fixture.users.map((u) => u.name).join(', ')}`,
    });
  }
  const timers = new Set<NodeJS.Timeout>();
  const sleepers = new Set<() => void>();
  let closed = false;
  const emu: Emu = {
    fixture,
    clock: new EmuClock(opts.clock ?? systemClock),
    store: new Store(fixture),
    calls: new CallLog(),
    faults: new Faults(),
    origin: '',
    autoApprove: opts.autoApprove,
    autoApproveDelayMs: opts.autoApproveDelayMs ?? 300,
    log: opts.log ?? (() => undefined),
    later(fn, ms) {
      if (closed) return;
      const t = setTimeout(() => {
        timers.delete(t);
        fn();
      }, ms);
      timers.add(t);
    },
    sleep(ms) {
      return new Promise((resolve) => {
        if (closed) return resolve();
        const done = () => {
          sleepers.delete(done);
          resolve();
        };
        sleepers.add(done);
        emu.later(done, ms);
      });
    },
  };

  async function serve(nodeReq: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = newRequestId();
    const body = await readBody(nodeReq);
    const rawUrl = nodeReq.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const rawQuery = q < 0 ? '' : rawUrl.slice(q + 1);
    let path = rawPath;
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      /* keep the raw path; no route will match it */
    }
    const req: EmuRequest = {
      method: nodeReq.method ?? 'GET',
      path,
      rawPath,
      rawQuery,
      query: new URLSearchParams(rawQuery),
      headers: nodeReq.headers,
      rawHeaders: nodeReq.rawHeaders,
      body: body ?? Buffer.alloc(0),
      requestId,
    };
    if (body === undefined) return write(res, json(413, { message: 'Request entity too large' }, errorTypeHeader('control', 'RequestEntityTooLargeException')), requestId);

    if (path === '/_emulator' || path.startsWith('/_emulator/')) {
      const reply = await control(emu, req);
      write(res, reply, requestId);
      void reply.after?.();
      return;
    }

    const r = route(req);
    if (!('handle' in r)) {
      write(res, r, requestId);
      emu.log(`${req.method} ${path} -> ${r.status}`);
      return;
    }
    const grantType = r.operation === 'CreateToken' ? parseJsonObject(req.body)?.grantType : undefined;
    // The client's product token (e.g. `aws-sdk-js/3.x`, `aws-cli/2.x`, `keyrack-aws/0.1.0`): which client called.
    const ua = nodeReq.headers['user-agent'];
    const agent = typeof ua === 'string' ? /^[\w.-]+\/[\w.-]+/.exec(ua)?.[0] : undefined;
    const record = (status: number, user?: string) =>
      emu.calls.add({
        operation: r.operation,
        ...(typeof grantType === 'string' ? { grantType } : {}),
        ...(agent ? { agent } : {}),
        status,
        time: isoSeconds(emu.clock.now()),
        ...(user ? { user } : {}),
      });

    let fault = emu.faults.take(r.operation);
    if (fault?.kind === 'delay') {
      await emu.sleep(fault.ms);
      fault = undefined;
    }
    if (fault?.kind === 'reset') {
      record(0);
      emu.log(`${req.method} ${path} ${r.operation} -> connection reset (fault)`);
      nodeReq.socket.destroy();
      return;
    }
    let reply: EmuReply;
    if (fault?.kind === 'malformed') reply = malformedReply(r.service);
    else if (fault?.kind === 'error') reply = faultReply(r.service, fault.errorType, fault.status, fault.message, requestId);
    else {
      try {
        reply = await r.handle(emu, req);
      } catch (e) {
        emu.log(`${req.method} ${path} ${r.operation} -> internal error (${e instanceof Error ? e.name : typeof e})`);
        reply = internalError(r.service, requestId);
      }
    }
    if (res.destroyed) return;
    write(res, reply, requestId);
    record(reply.status, reply.user);
    emu.log(`${req.method} ${path} ${r.operation} -> ${reply.status}${reply.user ? ` (${reply.user})` : ''}`);
    void reply.after?.();
  }

  const server = createServer((req, res) => {
    serve(req, res).catch(() => {
      if (!res.headersSent) write(res, json(500, { message: 'internal error' }), newRequestId());
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  emu.origin = `http://127.0.0.1:${port}`;

  return {
    url: emu.origin,
    port,
    advanceClock(seconds) {
      emu.clock.advance(seconds);
      return emu.clock.offsetSeconds;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const wake of [...sleepers]) wake();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
