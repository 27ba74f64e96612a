// Everything the emulator has issued, kept in memory for the life of one server. Pure bookkeeping: the rules
// about who may do what live in the service modules; this file only stores, looks up and ends things.
import type { Fixture } from './fixture.js';
import {
  newAccessKeyId, newAccessToken, newAuthCode, newClientId, newClientSecret, newDeviceCode, newHandle,
  newRefreshToken, newSecretAccessKey, newSessionToken, newUserCode,
} from './ids.js';

export interface Registration {
  clientId: string;
  clientSecret: string;
  clientName: string;
  issuedAt: number;
  expiresAt: number;
  redirectUris: string[];
  /** Undefined when the client did not ask: it may then use the device and refresh grants. */
  grantTypes: string[] | undefined;
  scopes: string[];
}

export type Decision = { kind: 'pending' } | { kind: 'approved'; user: string } | { kind: 'denied' };

export interface DeviceAuthorization {
  deviceCode: string;
  userCode: string;
  clientId: string;
  createdAt: number;
  expiresAt: number;
  interval: number;
  lastPollAt: number | undefined;
  polls: number;
  decision: Decision;
  consumed: boolean;
}

export interface AuthorizeRequest {
  handle: string;
  state: string;
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  scopes: string[];
  createdAt: number;
  expiresAt: number;
  decided: boolean;
}

export interface AuthCode {
  code: string;
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  user: string;
  scopes: string[];
  expiresAt: number;
  used: boolean;
}

/** One SSO (access-portal) session: what a login creates and what refresh tokens extend. */
export interface SsoSession {
  id: string;
  user: string;
  clientId: string;
  scopes: string[];
  startedAt: number;
  endsAt: number;
  ended: boolean;
}

export interface AccessToken {
  token: string;
  sessionId: string;
  expiresAt: number;
}

export interface RefreshToken {
  token: string;
  sessionId: string;
  clientId: string;
  used: boolean;
}

export interface SessionTag {
  key: string;
  value: string;
}

/** Temporary AWS credentials: from GetRoleCredentials (`sso`) or AssumeRole* (`assume-role`, `web-identity`). */
export interface StsSession {
  kind: 'sso' | 'assume-role' | 'web-identity';
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  accountId: string;
  roleArn: string;
  roleName: string;
  sessionName: string;
  arn: string;
  assumedRoleId: string;
  issuedAt: number;
  expiresAt: number;
  durationSeconds: number;
  user: string | undefined;
  sourceIdentity: string | undefined;
  tags: SessionTag[];
  transitiveTagKeys: string[];
  policy: string | undefined;
  policyArns: string[];
}

export class Store {
  readonly registrations = new Map<string, Registration>();
  readonly deviceAuths = new Map<string, DeviceAuthorization>();
  readonly authorizeRequests = new Map<string, AuthorizeRequest>();
  readonly authCodes = new Map<string, AuthCode>();
  readonly sessions = new Map<string, SsoSession>();
  readonly accessTokens = new Map<string, AccessToken>();
  readonly refreshTokens = new Map<string, RefreshToken>();
  readonly stsSessions = new Map<string, StsSession>();

  constructor(private readonly fixture: Fixture) {}

  register(init: Omit<Registration, 'clientId' | 'clientSecret' | 'issuedAt' | 'expiresAt'>, now: number): Registration {
    const reg: Registration = {
      ...init,
      clientId: newClientId(),
      clientSecret: newClientSecret(),
      issuedAt: now,
      expiresAt: now + this.fixture.lifetimes.registration * 1000,
    };
    this.registrations.set(reg.clientId, reg);
    return reg;
  }

  startDeviceAuthorization(clientId: string, now: number): DeviceAuthorization {
    let userCode = newUserCode();
    while ([...this.deviceAuths.values()].some((d) => d.userCode === userCode)) userCode = newUserCode();
    const d: DeviceAuthorization = {
      deviceCode: newDeviceCode(),
      userCode,
      clientId,
      createdAt: now,
      expiresAt: now + this.fixture.lifetimes.deviceCode * 1000,
      interval: this.fixture.deviceInterval,
      lastPollAt: undefined,
      polls: 0,
      decision: { kind: 'pending' },
      consumed: false,
    };
    this.deviceAuths.set(d.deviceCode, d);
    return d;
  }

  deviceByUserCode(userCode: string): DeviceAuthorization | undefined {
    const wanted = userCode.trim().toUpperCase();
    return [...this.deviceAuths.values()].find((d) => d.userCode === wanted);
  }

  addAuthorizeRequest(init: Omit<AuthorizeRequest, 'handle' | 'createdAt' | 'expiresAt' | 'decided'>, now: number): AuthorizeRequest {
    const r: AuthorizeRequest = { ...init, handle: newHandle(), createdAt: now, expiresAt: now + this.fixture.lifetimes.deviceCode * 1000, decided: false };
    this.authorizeRequests.set(r.handle, r);
    return r;
  }

  authorizeByState(state: string): AuthorizeRequest | undefined {
    return [...this.authorizeRequests.values()].find((r) => r.state === state && !r.decided);
  }

  issueAuthCode(req: AuthorizeRequest, user: string, now: number): AuthCode {
    const c: AuthCode = {
      code: newAuthCode(),
      clientId: req.clientId,
      redirectUri: req.redirectUri,
      codeChallenge: req.codeChallenge,
      user,
      scopes: req.scopes,
      expiresAt: now + this.fixture.lifetimes.authCode * 1000,
      used: false,
    };
    this.authCodes.set(c.code, c);
    return c;
  }

  startSession(user: string, clientId: string, scopes: string[], now: number): SsoSession {
    const s: SsoSession = { id: newHandle(), user, clientId, scopes, startedAt: now, endsAt: now + this.fixture.sessionDuration * 1000, ended: false };
    this.sessions.set(s.id, s);
    return s;
  }

  sessionAlive(s: SsoSession | undefined, now: number): s is SsoSession {
    return s !== undefined && !s.ended && now < s.endsAt;
  }

  /** A new access token (capped at the session's end) and, when `withRefresh`, a new refresh token. */
  issueTokens(s: SsoSession, withRefresh: boolean, now: number): { access: AccessToken; refresh: RefreshToken | undefined } {
    const access: AccessToken = {
      token: newAccessToken(),
      sessionId: s.id,
      expiresAt: Math.min(now + this.fixture.lifetimes.accessToken * 1000, s.endsAt),
    };
    this.accessTokens.set(access.token, access);
    let refresh: RefreshToken | undefined;
    if (withRefresh) {
      refresh = { token: newRefreshToken(), sessionId: s.id, clientId: s.clientId, used: false };
      this.refreshTokens.set(refresh.token, refresh);
    }
    return { access, refresh };
  }

  /** The live session behind a bearer token, or undefined for unknown, expired or ended ones. */
  sessionForAccessToken(token: string | undefined, now: number): SsoSession | undefined {
    const t = token === undefined ? undefined : this.accessTokens.get(token);
    if (!t || now >= t.expiresAt) return undefined;
    const s = this.sessions.get(t.sessionId);
    return this.sessionAlive(s, now) ? s : undefined;
  }

  endSession(s: SsoSession): void {
    s.ended = true;
  }

  /** Ends every session of a user; returns how many were live. */
  revokeUser(user: string, now: number): number {
    let n = 0;
    for (const s of this.sessions.values()) {
      if (s.user === user && this.sessionAlive(s, now)) {
        s.ended = true;
        n++;
      }
    }
    return n;
  }

  addStsSession(init: Omit<StsSession, 'accessKeyId' | 'secretAccessKey' | 'sessionToken'>): StsSession {
    let accessKeyId = newAccessKeyId();
    while (this.stsSessions.has(accessKeyId)) accessKeyId = newAccessKeyId();
    const s: StsSession = { ...init, accessKeyId, secretAccessKey: newSecretAccessKey(), sessionToken: newSessionToken() };
    this.stsSessions.set(accessKeyId, s);
    return s;
  }

  /** Control API `expire`: moves expiry to `now` for one class of things. Returns how many changed. */
  expire(what: 'access-tokens' | 'sessions' | 'role-credentials' | 'registrations', now: number): number {
    let n = 0;
    const cut = <T extends { expiresAt: number }>(items: Iterable<T>) => {
      for (const i of items) if (i.expiresAt > now) { i.expiresAt = now; n++; }
    };
    switch (what) {
      case 'access-tokens': cut(this.accessTokens.values()); break;
      case 'role-credentials': cut(this.stsSessions.values()); break;
      case 'registrations': cut(this.registrations.values()); break;
      case 'sessions':
        for (const s of this.sessions.values()) if (this.sessionAlive(s, now)) { s.ended = true; n++; }
        break;
    }
    return n;
  }
}
