// The control API under /_emulator/: lets tests and demos inspect and steer the emulator (approve logins, move
// the clock, expire or revoke things, inject faults, read the call log). It never returns a secret: answers
// are built field by field from names, ids and times, never by serialising stored records.
import { clientName, decideAuthorize, decideDevice, followRedirect, pendingAuthorize, pendingDevice } from './approval.js';
import { isoSeconds } from './clock.js';
import type { Emu } from './context.js';
import { findUser } from './context.js';
import { parseFault } from './faults.js';
import { json, parseJsonObject, type EmuReply, type EmuRequest } from './wire.js';

const bad = (message: string, status = 400) => json(status, { error: message });
const EXPIRABLE = ['access-tokens', 'sessions', 'role-credentials', 'registrations'] as const;

function fixtureView(emu: Emu) {
  const f = emu.fixture;
  const accountName = (id: string) => f.accounts.find((a) => a.id === id)?.name ?? id;
  return {
    startUrl: f.startUrl,
    region: f.region,
    sessionDuration: f.sessionDuration,
    lifetimes: f.lifetimes,
    deviceInterval: f.deviceInterval,
    users: f.users.map((u) => ({
      name: u.name,
      email: u.email,
      assignments: u.assignments.map((a) => ({ accountId: a.accountId, accountName: accountName(a.accountId), roleName: a.roleName })),
    })),
    accounts: f.accounts.map((a) => ({ id: a.id, name: a.name, email: a.email })),
    roles: f.roles.map((r) => ({ arn: r.arn, maxSessionDuration: r.maxSessionDuration })),
    webIdentityProviders: f.webIdentityProviders.map((p) => ({ issuer: p.issuer, audiences: p.audiences })),
  };
}

function pendingView(emu: Emu) {
  return {
    deviceCodes: [...emu.store.deviceAuths.values()]
      .filter((d) => pendingDevice(emu, d))
      .map((d) => ({ userCode: d.userCode, clientName: clientName(emu, d.clientId), expiresAt: isoSeconds(d.expiresAt) })),
    authorizeRequests: [...emu.store.authorizeRequests.values()]
      .filter((r) => pendingAuthorize(emu, r))
      .map((r) => ({ state: r.state, clientName: clientName(emu, r.clientId), expiresAt: isoSeconds(r.expiresAt) })),
  };
}

function clockView(emu: Emu) {
  const now = emu.clock.now();
  return { now: new Date(now).toISOString(), nowMs: now, offsetSeconds: emu.clock.offsetSeconds, real: new Date(emu.clock.real()).toISOString() };
}

function stsSessionsView(emu: Emu) {
  const now = emu.clock.now();
  return [...emu.store.stsSessions.values()].map((s) => ({
    kind: s.kind,
    accessKeyId: s.accessKeyId,
    arn: s.arn,
    accountId: s.accountId,
    roleArn: s.roleArn,
    sessionName: s.sessionName,
    user: s.user ?? null,
    sourceIdentity: s.sourceIdentity ?? null,
    tags: s.tags.map((t) => ({ key: t.key, value: t.value })),
    transitiveTagKeys: [...s.transitiveTagKeys],
    policy: s.policy ?? null,
    policyArns: [...s.policyArns],
    durationSeconds: s.durationSeconds,
    issuedAt: isoSeconds(s.issuedAt),
    expiresAt: isoSeconds(s.expiresAt),
    expired: now >= s.expiresAt,
  }));
}

/** approve/deny: by `userCode` (device flow) or `state` (authorize flow). */
function decide(emu: Emu, body: Record<string, unknown>, approve: boolean): EmuReply {
  let user: string | undefined;
  if (approve) {
    if (typeof body.user !== 'string' || !findUser(emu, body.user)) return bad('user must name a fixture user');
    user = body.user;
  }
  if (typeof body.userCode === 'string') {
    const d = emu.store.deviceByUserCode(body.userCode);
    if (!d || !pendingDevice(emu, d)) return bad('no pending device authorization with that userCode', 404);
    decideDevice(emu, d, user);
    return { ...json(200, { ok: true, userCode: d.userCode, decision: approve ? 'approved' : 'denied' }), ...(user ? { user } : {}) };
  }
  if (typeof body.state === 'string') {
    const r = emu.store.authorizeByState(body.state);
    if (!r || !pendingAuthorize(emu, r)) return bad('no pending authorize request with that state', 404);
    const location = decideAuthorize(emu, r, user);
    // The browser would now follow the 302 to the client's loopback listener; do it for it, after replying.
    return {
      ...json(200, { ok: true, state: r.state, decision: approve ? 'approved' : 'denied', redirected: true }),
      after: async () => {
        const status = await followRedirect(location);
        emu.log(`control: loopback redirect answered ${status ?? 'no response'}`);
      },
      ...(user ? { user } : {}),
    };
  }
  return bad('give userCode or state');
}

export async function control(emu: Emu, req: EmuRequest): Promise<EmuReply> {
  const route = `${req.method} ${req.path.slice('/_emulator'.length)}`;
  const body = req.method === 'POST' ? parseJsonObject(req.body) : undefined;
  if (req.method === 'POST' && !body && route !== 'POST /clock') return bad('body must be a JSON object');
  const b = body ?? {};

  switch (route) {
    case 'GET /fixture':
      return json(200, fixtureView(emu));
    case 'GET /pending':
      return json(200, pendingView(emu));
    case 'POST /approve':
      return decide(emu, b, true);
    case 'POST /deny':
      return decide(emu, b, false);
    case 'POST /expire': {
      const what = b.what;
      if (typeof what !== 'string' || !(EXPIRABLE as readonly string[]).includes(what)) return bad(`what must be one of ${EXPIRABLE.join(', ')}`);
      return json(200, { ok: true, what, count: emu.store.expire(what as (typeof EXPIRABLE)[number], emu.clock.now()) });
    }
    case 'GET /clock':
      return json(200, clockView(emu));
    case 'POST /clock': {
      if (typeof b.advanceSeconds === 'number' && Number.isFinite(b.advanceSeconds)) emu.clock.advance(b.advanceSeconds);
      else if (typeof b.offsetSeconds === 'number' && Number.isFinite(b.offsetSeconds)) emu.clock.setOffset(b.offsetSeconds);
      else return bad('give advanceSeconds or offsetSeconds (numbers)');
      return json(200, clockView(emu));
    }
    case 'POST /revoke': {
      if (typeof b.user !== 'string' || !findUser(emu, b.user)) return bad('user must name a fixture user');
      return { ...json(200, { ok: true, user: b.user, sessionsEnded: emu.store.revokeUser(b.user, emu.clock.now()) }), user: b.user };
    }
    case 'POST /faults': {
      const f = parseFault(b);
      if (typeof f === 'string') return bad(f);
      emu.faults.add(f);
      return json(200, { ok: true, faults: emu.faults.list() });
    }
    case 'GET /faults':
      return json(200, { faults: emu.faults.list() });
    case 'DELETE /faults':
      emu.faults.clear();
      return json(200, { ok: true });
    case 'GET /calls': {
      const since = req.query.get('since');
      if (since !== null && !/^\d+$/.test(since)) return bad('since must be a sequence number');
      return json(200, emu.calls.list(since === null ? 0 : Number(since)));
    }
    case 'DELETE /calls':
      emu.calls.clear();
      return json(200, { ok: true });
    case 'GET /sts-sessions':
      return json(200, stsSessionsView(emu));
    default:
      return bad(`unknown control endpoint ${route}`, 404);
  }
}
