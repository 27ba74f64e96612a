// The Identity Center model the emulator serves: users, their account/permission-set assignments, assumable
// roles and web-identity providers. Loaded from YAML or JSON, validated field by field so a typo in a test
// fixture fails loudly with the field's path instead of producing a subtly different emulator.
import { readFile } from 'node:fs/promises';
import type { JsonWebKey } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { KeyrackError } from '../core/errors.js';

/** Durations are accepted as seconds or `90d`, `1h`, `15m`, `30s` (combinable: `1h30m`). */
export type DurationInput = number | string;

export interface Assignment {
  accountId: string;
  roleName: string;
}
export interface FixtureUser {
  name: string;
  email: string;
  assignments: Assignment[];
}
export interface FixtureAccount {
  id: string;
  name: string;
  email: string;
}
export interface WebIdentityTrust {
  issuer: string;
  /** When present, the token's `aud` must be one of these. */
  audiences?: string[];
}
export interface RoleTrust {
  /**
   * Who may call sts:AssumeRole: a 12-digit account id (any session of that account), a role ARN (sessions of
   * that role), `sso` (any permission-set session) or `sso:<accountId>` (permission-set sessions of one account).
   */
  principals: string[];
  /** Which web-identity issuers (and audiences) may call sts:AssumeRoleWithWebIdentity. */
  webIdentity: WebIdentityTrust[];
}
export interface FixtureRole {
  arn: string;
  /** Seconds. */
  maxSessionDuration: number;
  trust: RoleTrust;
}
export interface WebIdentityProvider {
  issuer: string;
  audiences: string[];
  jwks: { keys: JsonWebKey[] };
}
export interface Lifetimes {
  accessToken: number;
  registration: number;
  roleCredentials: number;
  deviceCode: number;
  authCode: number;
}

/** A validated fixture. Every duration is in seconds. */
export interface Fixture {
  startUrl: string;
  region: string;
  sessionDuration: number;
  lifetimes: Lifetimes;
  deviceInterval: number;
  users: FixtureUser[];
  accounts: FixtureAccount[];
  roles: FixtureRole[];
  webIdentityProviders: WebIdentityProvider[];
}

/** What a fixture file may contain: durations as strings, optional sections default to the built-in values. */
export interface FixtureInput {
  startUrl?: string;
  region?: string;
  sessionDuration?: DurationInput;
  lifetimes?: Partial<Record<keyof Lifetimes, DurationInput>>;
  deviceInterval?: DurationInput;
  users?: FixtureUser[];
  accounts?: FixtureAccount[];
  roles?: { arn: string; maxSessionDuration?: DurationInput; trust?: Partial<RoleTrust> }[];
  webIdentityProviders?: WebIdentityProvider[];
}

const H = 3600;
const D = 24 * H;

/** Deep-frozen so no test can change the default another test starts from. */
export const defaultFixture: Fixture = deepFreeze({
  startUrl: 'https://d-1234567890.awsapps.com/start',
  region: 'us-east-1',
  sessionDuration: 8 * H,
  lifetimes: { accessToken: H, registration: 90 * D, roleCredentials: H, deviceCode: 600, authCode: 300 },
  deviceInterval: 1,
  users: [
    {
      name: 'alice',
      email: 'alice@example.com',
      assignments: [
        { accountId: '111122223333', roleName: 'Developer' },
        { accountId: '111122223333', roleName: 'ReadOnly' },
        { accountId: '444455556666', roleName: 'Developer' },
        { accountId: '444455556666', roleName: 'ReadOnly' },
      ],
    },
    { name: 'bob', email: 'bob@example.com', assignments: [{ accountId: '111122223333', roleName: 'ReadOnly' }] },
  ],
  accounts: [
    { id: '111122223333', name: 'acme-prep', email: 'aws-prep@example.com' },
    { id: '444455556666', name: 'acme-prod', email: 'aws-prod@example.com' },
  ],
  roles: [
    {
      arn: 'arn:aws:iam::111122223333:role/keyrack-robot',
      maxSessionDuration: H,
      trust: { principals: ['sso:111122223333'], webIdentity: [] },
    },
  ],
  webIdentityProviders: [],
});

/** A keyrack.yml for the default fixture: its start URL and region, two envs on its two accounts (the demo's, the tests'). */
export const DEFAULT_FIXTURE_KEYRACK_YML = `org: acme
sso:
  acme:
    start_url: https://d-1234567890.awsapps.com/start
    region: us-east-1
env.prep:
  AWS_PROFILE:
    aws: { profile: acme.prep, sso: acme, account: "111122223333", role: Developer }
env.prod:
  AWS_PROFILE:
    aws: { profile: acme.prod, sso: acme, account: "444455556666", role: ReadOnly }
`;

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

const UNITS: Record<string, number> = { d: D, h: H, m: 60, s: 1 };

/** `90d`, `1h30m`, `15m`, `30s`, `3600` or 3600 → seconds; undefined when unparseable. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s);
  if (!/^(\d+[dhms])+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+)([dhms])/g)) total += Number(m[1]) * (UNITS[m[2] ?? 's'] ?? 1);
  return total;
}

function invalid(field: string, problem: string, source: string | undefined): KeyrackError {
  return new KeyrackError({
    code: 'emulator.fixture-invalid',
    reason: 'invalid-input',
    message: `emulator fixture: ${field}: ${problem}`,
    fix: 'correct the fixture (see docs/emulator.md, "Fixture")',
    ...(source ? { location: source } : {}),
  });
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates an untrusted fixture document (parsed YAML/JSON or a FixtureInput) into a Fixture. */
export function normalizeFixture(input: unknown, source?: string): Fixture {
  const fail = (field: string, problem: string) => invalid(field, problem, source);
  if (!isObj(input)) throw fail('(root)', 'must be a mapping');

  const known = (o: Obj, at: string, keys: string[]) => {
    for (const k of Object.keys(o)) if (!keys.includes(k)) throw fail(`${at}${at ? '.' : ''}${k}`, 'unknown field');
  };
  const str = (o: Obj, key: string, at: string, re?: RegExp, hint?: string): string => {
    const v = o[key];
    if (typeof v !== 'string' || v === '') throw fail(at, 'must be a non-empty string');
    if (re && !re.test(v)) throw fail(at, `${JSON.stringify(v)} is not ${hint ?? `a match for ${re}`}`);
    return v;
  };
  const list = (o: Obj, key: string, at: string): unknown[] => {
    const v = o[key];
    if (!Array.isArray(v)) throw fail(at, 'must be a list');
    return v;
  };
  const dur = (v: unknown, at: string, min: number, max: number, fallback: number): number => {
    if (v === undefined) return fallback;
    const s = parseDuration(v);
    if (s === undefined) throw fail(at, `${JSON.stringify(v)} is not a duration (seconds, or like 90d, 1h, 15m, 30s)`);
    if (s < min || s > max) throw fail(at, `must be between ${min}s and ${max}s`);
    return s;
  };

  known(input, '', ['startUrl', 'region', 'sessionDuration', 'lifetimes', 'deviceInterval', 'users', 'accounts', 'roles', 'webIdentityProviders']);
  const base = defaultFixture;
  const startUrl = input.startUrl === undefined ? base.startUrl : str(input, 'startUrl', 'startUrl', /^https:\/\/[^\s/]+(\/\S*)?$/, 'an https URL');
  const region = input.region === undefined ? base.region : str(input, 'region', 'region', /^[a-z]{2}(-[a-z]+)+-\d+$/, 'a region like us-east-1');
  const sessionDuration = dur(input.sessionDuration, 'sessionDuration', 60, 90 * D, base.sessionDuration);
  const deviceInterval = dur(input.deviceInterval, 'deviceInterval', 1, 60, base.deviceInterval);

  let lifetimes: Lifetimes = { ...base.lifetimes };
  if (input.lifetimes !== undefined) {
    if (!isObj(input.lifetimes)) throw fail('lifetimes', 'must be a mapping');
    const l = input.lifetimes;
    known(l, 'lifetimes', ['accessToken', 'registration', 'roleCredentials', 'deviceCode', 'authCode']);
    lifetimes = {
      accessToken: dur(l.accessToken, 'lifetimes.accessToken', 1, 90 * D, base.lifetimes.accessToken),
      registration: dur(l.registration, 'lifetimes.registration', 1, 3650 * D, base.lifetimes.registration),
      roleCredentials: dur(l.roleCredentials, 'lifetimes.roleCredentials', 1, 12 * H, base.lifetimes.roleCredentials),
      deviceCode: dur(l.deviceCode, 'lifetimes.deviceCode', 1, D, base.lifetimes.deviceCode),
      authCode: dur(l.authCode, 'lifetimes.authCode', 1, D, base.lifetimes.authCode),
    };
  }

  let accounts = base.accounts;
  if (input.accounts !== undefined) {
    accounts = list(input, 'accounts', 'accounts').map((a, i) => {
      const at = `accounts[${i}]`;
      if (!isObj(a)) throw fail(at, 'must be a mapping');
      known(a, at, ['id', 'name', 'email']);
      const id = typeof a.id === 'number' ? String(a.id).padStart(12, '0') : a.id; // YAML reads 12 digits as a number
      return {
        id: str({ id }, 'id', `${at}.id`, /^\d{12}$/, 'a 12-digit account id'),
        name: str(a, 'name', `${at}.name`),
        email: str(a, 'email', `${at}.email`, /^[^@\s]+@[^@\s]+$/, 'an email address'),
      };
    });
    const seen = new Set<string>();
    accounts.forEach((a, i) => {
      if (seen.has(a.id)) throw fail(`accounts[${i}].id`, `duplicate account ${a.id}`);
      seen.add(a.id);
    });
  }
  const accountIds = new Set(accounts.map((a) => a.id));

  let users = base.users;
  if (input.users !== undefined) {
    users = list(input, 'users', 'users').map((u, i) => {
      const at = `users[${i}]`;
      if (!isObj(u)) throw fail(at, 'must be a mapping');
      known(u, at, ['name', 'email', 'assignments']);
      const assignments = (u.assignments === undefined ? [] : list(u, 'assignments', `${at}.assignments`)).map((a, j) => {
        const aat = `${at}.assignments[${j}]`;
        if (!isObj(a)) throw fail(aat, 'must be a mapping');
        known(a, aat, ['accountId', 'roleName']);
        const accountId = typeof a.accountId === 'number' ? String(a.accountId).padStart(12, '0') : a.accountId;
        const acct = str({ accountId }, 'accountId', `${aat}.accountId`, /^\d{12}$/, 'a 12-digit account id');
        if (!accountIds.has(acct)) throw fail(`${aat}.accountId`, `unknown account ${acct} (not in accounts)`);
        return { accountId: acct, roleName: str(a, 'roleName', `${aat}.roleName`, /^[\w+=,.@-]{1,32}$/, 'a permission-set name') };
      });
      return {
        name: str(u, 'name', `${at}.name`, /^[\w+=,.@-]{2,64}$/, 'a user name (2-64 of letters, digits, _+=,.@-)'),
        email: u.email === undefined ? `${String(u.name)}@example.com` : str(u, 'email', `${at}.email`, /^[^@\s]+@[^@\s]+$/, 'an email address'),
        assignments,
      };
    });
    const seen = new Set<string>();
    users.forEach((u, i) => {
      if (seen.has(u.name)) throw fail(`users[${i}].name`, `duplicate user ${u.name}`);
      seen.add(u.name);
    });
  }

  let webIdentityProviders = base.webIdentityProviders;
  if (input.webIdentityProviders !== undefined) {
    webIdentityProviders = list(input, 'webIdentityProviders', 'webIdentityProviders').map((p, i) => {
      const at = `webIdentityProviders[${i}]`;
      if (!isObj(p)) throw fail(at, 'must be a mapping');
      known(p, at, ['issuer', 'audiences', 'jwks']);
      const audiences = list(p, 'audiences', `${at}.audiences`).map((a, j) => str({ a }, 'a', `${at}.audiences[${j}]`));
      if (audiences.length === 0) throw fail(`${at}.audiences`, 'must list at least one audience');
      if (!isObj(p.jwks)) throw fail(`${at}.jwks`, 'must be a JWKS mapping with `keys`');
      const keys = list(p.jwks, 'keys', `${at}.jwks.keys`).map((k, j) => {
        if (!isObj(k) || typeof k.kty !== 'string') throw fail(`${at}.jwks.keys[${j}]`, 'must be a JWK with `kty`');
        if (k.kty !== 'RSA' && k.kty !== 'EC') throw fail(`${at}.jwks.keys[${j}].kty`, 'only RSA and EC keys are supported');
        if ('d' in k) throw fail(`${at}.jwks.keys[${j}]`, 'is a private key; give the public JWK');
        return k as JsonWebKey;
      });
      return { issuer: str(p, 'issuer', `${at}.issuer`, /^https:\/\/\S+$/, 'an https URL'), audiences, jwks: { keys } };
    });
  }

  let roles = base.roles;
  if (input.roles !== undefined) {
    roles = list(input, 'roles', 'roles').map((r, i) => {
      const at = `roles[${i}]`;
      if (!isObj(r)) throw fail(at, 'must be a mapping');
      known(r, at, ['arn', 'maxSessionDuration', 'trust']);
      const arn = str(r, 'arn', `${at}.arn`, /^arn:aws:iam::\d{12}:role\/([\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/, 'an IAM role ARN');
      let principals: string[] = [];
      let webIdentity: WebIdentityTrust[] = [];
      if (r.trust !== undefined) {
        if (!isObj(r.trust)) throw fail(`${at}.trust`, 'must be a mapping');
        const t = r.trust;
        known(t, `${at}.trust`, ['principals', 'webIdentity']);
        if (t.principals !== undefined) {
          principals = list(t, 'principals', `${at}.trust.principals`).map((p, j) => {
            const v = typeof p === 'number' ? String(p).padStart(12, '0') : p;
            return str({ v }, 'v', `${at}.trust.principals[${j}]`, /^(\d{12}|sso|sso:\d{12}|arn:aws:iam::\d{12}:role\/\S+)$/, 'an account id, a role ARN, `sso` or `sso:<accountId>`');
          });
        }
        if (t.webIdentity !== undefined) {
          webIdentity = list(t, 'webIdentity', `${at}.trust.webIdentity`).map((w, j) => {
            const wat = `${at}.trust.webIdentity[${j}]`;
            if (!isObj(w)) throw fail(wat, 'must be a mapping');
            known(w, wat, ['issuer', 'audiences']);
            const issuer = str(w, 'issuer', `${wat}.issuer`, /^https:\/\/\S+$/, 'an https URL');
            if (!webIdentityProviders.some((p) => p.issuer === issuer)) throw fail(`${wat}.issuer`, `unknown issuer ${issuer} (not in webIdentityProviders)`);
            return w.audiences === undefined
              ? { issuer }
              : { issuer, audiences: list(w, 'audiences', `${wat}.audiences`).map((a, k) => str({ a }, 'a', `${wat}.audiences[${k}]`)) };
          });
        }
      }
      return { arn, maxSessionDuration: dur(r.maxSessionDuration, `${at}.maxSessionDuration`, H, 12 * H, H), trust: { principals, webIdentity } };
    });
  }

  return { startUrl, region, sessionDuration, lifetimes, deviceInterval, users, accounts, roles, webIdentityProviders };
}

/** Reads and validates a YAML or JSON fixture file (JSON is valid YAML, so one parser serves both). */
export async function loadFixture(path: string): Promise<Fixture> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new KeyrackError({
      code: 'emulator.fixture-unreadable',
      reason: 'invalid-input',
      message: `emulator fixture: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      fix: 'pass an existing YAML or JSON file to --fixture',
    });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw invalid('(file)', `not valid YAML/JSON: ${e instanceof Error ? e.message.split('\n')[0] : 'parse error'}`, path);
  }
  return normalizeFixture(doc, path);
}
