// Time limits for AWS calls (docs/robots.md): every attempt has a connect limit and a whole-request limit; every
// call (all its attempts and backoff sleeps) and every robot operation (a grant: lock wait, refresh, portal, STS)
// share one overall budget. The SDK's standard retry does exponential backoff with full jitter on 5xx, 429,
// throttling, timeouts and resets, and its backoff sleeps are cut short by the same abort signal.
// No AWS SDK import here: a grant served from the validation cache never loads the SDK.
import { performance } from 'node:perf_hooks';
import type { Logger } from '../core/log.js';
import { systemClock, type Clock, type Endpoints, type EnvVars } from '../core/runtime.js';
import { errorName, type AwsOperation } from './classify.js';

export { DEFAULT_NETWORK, networkFromEnv, type NetworkPolicy } from './network-policy.js';
import type { NetworkPolicy } from './network-policy.js';

/** Where and how one of keyrack's AWS calls goes: the same for the OIDC, portal and STS calls. */
export interface AwsCallTarget {
  region: string;
  endpoints: Endpoints;
  net: NetworkPolicy;
  signal?: AbortSignal;
  /** Debug log for each call (operation, outcome, duration; never a token). */
  log?: Logger;
  /**
   * The environment (KEYRACK_AWS_SDK, AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT). Given: the call is a
   * hand-built request unless one of those is on. Absent: it goes through the SDK.
   */
  env?: EnvVars;
}

/**
 * The target of a robot's call: with the environment, so the call is a hand-built request unless the SDK is asked
 * for (KEYRACK_AWS_SDK, FIPS, dual-stack). Human paths build their targets without `env` and use the SDK.
 */
export function robotCallTarget(ctx: { runtime: { env: EnvVars; endpoints: Endpoints }; log?: Logger; signal?: AbortSignal }, region: string, net: NetworkPolicy): AwsCallTarget {
  return { region, endpoints: ctx.runtime.endpoints, env: ctx.runtime.env, net, ...(ctx.log ? { log: ctx.log } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}) };
}

/**
 * An answer AWS sent but that cannot be used (garbage, truncated, a field missing): a SyntaxError, which
 * classify.ts reports as `unavailable`. Never half-trusted.
 */
export const unusableAnswer = (what: string): Error => Object.assign(new Error(what), { name: 'SyntaxError' });

/** A 2xx body that must be a JSON object; anything else is an unusable answer. */
export function parseJsonObject(body: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    throw unusableAnswer('unreadable answer');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw unusableAnswer('unreadable answer');
  return v as Record<string, unknown>;
}

/** An AbortSignal that fires after the overall budget, chained to an outer signal (Ctrl-C, the operation's budget). */
export function deadline(net: NetworkPolicy, outer?: AbortSignal): AbortSignal {
  const t = AbortSignal.timeout(net.totalTimeoutMs);
  return outer ? AbortSignal.any([t, outer]) : t;
}

// The operation budget: a grant (or any robot operation) gets one deadline for everything it does. The signal
// carries it to every AWS call; lock waits ask how much of it is left.
const budgets = new WeakMap<AbortSignal, number>();

/** A copy of `ctx` whose signal also fires when the operation's overall budget (totalTimeoutMs) runs out. */
export function withBudget<C extends { signal?: AbortSignal; runtime: { clock: { now(): number } } }>(ctx: C, net: NetworkPolicy): C {
  const t = AbortSignal.timeout(net.totalTimeoutMs);
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, t]) : t;
  budgets.set(signal, ctx.runtime.clock.now() + net.totalTimeoutMs);
  return { ...ctx, signal };
}

/** What is left of the operation's budget (the whole budget when the context has none). */
export function budgetLeftMs(ctx: { signal?: AbortSignal; runtime: { clock: { now(): number } } }, net: NetworkPolicy): number {
  const end = ctx.signal ? budgets.get(ctx.signal) : undefined;
  return end === undefined ? net.totalTimeoutMs : Math.max(0, Math.min(net.totalTimeoutMs, end - ctx.runtime.clock.now()));
}

interface Meta {
  $metadata?: { httpStatusCode?: number; attempts?: number; totalRetryDelay?: number };
}

function metaOf(x: unknown): Meta['$metadata'] {
  return typeof x === 'object' && x !== null ? (x as Meta).$metadata : undefined;
}

/**
 * Run one AWS call and write one debug line about it: operation, outcome (error name and HTTP status only, never
 * a message or body), attempts and duration. The raw result or error passes through untouched.
 */
export async function observed<T>(log: Logger | undefined, operation: AwsOperation, call: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const took = () => `${Math.round(performance.now() - start)}ms`;
  try {
    const out = await call();
    const m = metaOf(out);
    log?.debug(`aws ${operation} ok`, { http: m?.httpStatusCode ?? null, attempts: m?.attempts ?? null, retryDelayMs: m?.totalRetryDelay ?? null, took: took() });
    return out;
  } catch (e) {
    const m = metaOf(e);
    log?.debug(`aws ${operation} failed`, { error: errorName(e), http: m?.httpStatusCode ?? null, attempts: m?.attempts ?? null, retryDelayMs: m?.totalRetryDelay ?? null, took: took() });
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Hand-built AWS calls. The robot's two hot calls (portal GetRoleCredentials / ListAccounts, STS
// GetCallerIdentity) go through this small client instead of the SDK: loading the SDK clients costs more than the
// calls themselves on a nearby endpoint. It keeps the SDK's observable behaviour that keyrack relies on (and that
// test/cli/faults.test.ts pins): the standard retry strategy (attempts, full-jitter backoff with the SDK's bases,
// Retry-After, which errors are retried), per-attempt connect and request limits, the operation budget, clock-skew
// correction for signed calls, and errors carrying `name`, `code` and `$metadata` as the SDK's do.

/** The SDK's standard retry constants (@smithy util-retry, 2026 defaults). */
const RETRY_BASE_MS = 50;
const THROTTLING_RETRY_BASE_MS = 1_000;
const MAX_RETRY_DELAY_MS = 20_000;
const THROTTLING_NAMES = new Set([
  'BandwidthLimitExceeded', 'EC2ThrottledException', 'LimitExceededException', 'PriorRequestNotComplete', 'ProvisionedThroughputExceededException',
  'RequestLimitExceeded', 'RequestThrottled', 'RequestThrottledException', 'SlowDown', 'ThrottledException', 'Throttling', 'ThrottlingException',
  'TooManyRequestsException', 'TransactionInProgressException',
]);
const TRANSIENT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const TRANSIENT_STATUS = new Set([500, 502, 503, 504]);
/** A clock this far off AWS's is corrected from the answer's Date header and the signed call retried. */
const CLOCK_SKEW_MS = 240_000;

export interface AwsMetadata {
  httpStatusCode?: number;
  attempts?: number;
  totalRetryDelay?: number;
  clockSkewCorrected?: boolean;
}

/** A failed AWS call, shaped like the SDK's errors (name = AWS error code, `$metadata`), without AWS's message. */
export class AwsCallError extends Error {
  $metadata: AwsMetadata;
  code?: string;
  retryAfterMs?: number;
  constructor(name: string, metadata: AwsMetadata, code?: string) {
    super(name);
    this.name = name;
    this.$metadata = metadata;
    if (code !== undefined) this.code = code;
  }
}

export interface AwsAnswer {
  status: number;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: string;
  $metadata: AwsMetadata;
}

export interface AwsRequest {
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  /** Signed calls: the extra headers for one attempt at `now` (the skew-corrected time); enables skew correction. */
  sign?: (now: Date) => Record<string, string>;
  /** The AWS error code of a non-2xx answer (protocol-specific: a header for REST-JSON, the XML body for awsQuery). */
  errorName(status: number, headers: AwsAnswer['headers'], body: string): string;
}

const abortError = () => new AwsCallError('AbortError', {});

function retryAfterMs(headers: AwsAnswer['headers'], now: number): number | undefined {
  const raw = headers['retry-after'];
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : at - now;
}

// Imported on first use and kept: an import() per call costs a module-loader round trip each time (a thread hop
// under a loader hook such as tsx's), which a watcher or a long soak pays thousands of times.
let httpModule: Promise<typeof import('node:http')> | undefined;
let httpsModule: Promise<typeof import('node:https')> | undefined;

/** One attempt: connect limit, whole-request limit, abort; resolves with any HTTP answer, rejects on network errors. */
async function attempt(req: AwsRequest, headers: Record<string, string>, net: NetworkPolicy, signal: AbortSignal | undefined): Promise<Omit<AwsAnswer, '$metadata'>> {
  const lib = req.url.protocol === 'https:' ? await (httpsModule ??= import('node:https')) : await (httpModule ??= import('node:http'));
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError());
      return;
    }
    // A fresh connection per call (no agent pool): nothing keeps the process alive after the answer.
    const r = lib.request(req.url, { method: req.method, headers, agent: false });
    const timers: NodeJS.Timeout[] = [];
    const done = () => {
      for (const t of timers) clearTimeout(t);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (e: Error) => {
      done();
      r.destroy();
      reject(e);
    };
    const onAbort = () => fail(abortError());
    signal?.addEventListener('abort', onAbort, { once: true });
    timers.push(setTimeout(() => fail(new AwsCallError('TimeoutError', {}, 'ETIMEDOUT')), net.requestTimeoutMs));
    r.on('socket', (s) => {
      if (!s.connecting) return;
      const t = setTimeout(() => fail(new AwsCallError('TimeoutError', {})), net.connectTimeoutMs);
      timers.push(t);
      s.once('connect', () => clearTimeout(t));
    });
    r.on('error', (e) => {
      done();
      reject(e);
    });
    r.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => {
        done();
        reject(e);
      });
      res.on('end', () => {
        done();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    r.end(req.body);
  });
}

function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError());
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Send one AWS request with the SDK's standard retry strategy: up to `maxAttempts`, retrying throttling (429 and
 * the throttling codes; backoff base 1 s), transient failures (500/502/503/504, timeouts, resets, refused or
 * unreachable connections; base 50 ms) and a signed call whose clock was just corrected; full jitter, honouring
 * Retry-After. Resolves with a 2xx answer; anything else rejects with an error named after the AWS error code (or
 * the network error, with its `code`), `$metadata` set. `signal` is the call's deadline (see `deadline`).
 */
export async function sendAwsRequest(req: AwsRequest, net: NetworkPolicy, signal?: AbortSignal, clock: Clock = systemClock): Promise<AwsAnswer> {
  let attempts = 0;
  let totalRetryDelay = 0;
  let clockOffset = 0;
  for (;;) {
    attempts++;
    const headers = { ...req.headers, ...(req.sign ? req.sign(new Date(clock.now() + clockOffset)) : {}) };
    let err: Error & { $metadata?: AwsMetadata; code?: string };
    try {
      const res = await attempt(req, headers, net, signal);
      const meta: AwsMetadata = { httpStatusCode: res.status, attempts, totalRetryDelay };
      if (res.status >= 200 && res.status < 300) return { ...res, $metadata: meta };
      const e = new AwsCallError(req.errorName(res.status, res.headers, res.body), meta);
      const hint = retryAfterMs(res.headers, clock.now());
      if (hint !== undefined) e.retryAfterMs = hint;
      const dateHeader = res.headers.date;
      const serverTime = typeof dateHeader === 'string' ? Date.parse(dateHeader) : Number.NaN;
      if (req.sign && !Number.isNaN(serverTime) && res.headers.age === undefined) {
        const next = serverTime - clock.now();
        if (Math.abs(next) >= CLOCK_SKEW_MS && next !== clockOffset) e.$metadata.clockSkewCorrected = true;
        clockOffset = next;
      }
      err = e;
    } catch (e) {
      err = e instanceof Error ? e : new AwsCallError('Error', {});
    }
    const meta = (err.$metadata ??= {});
    meta.attempts = attempts;
    meta.totalRetryDelay = totalRetryDelay;
    if (signal?.aborted || err.name === 'AbortError') throw err;
    const status = meta.httpStatusCode;
    const throttling = status === 429 || THROTTLING_NAMES.has(err.name);
    const transient =
      meta.clockSkewCorrected === true ||
      TRANSIENT_NAMES.has(err.name) ||
      (err.code !== undefined && TRANSIENT_CODES.has(err.code)) ||
      (status !== undefined && TRANSIENT_STATUS.has(status));
    if (!(throttling || transient) || attempts >= net.maxAttempts) throw err;
    const base = throttling ? THROTTLING_RETRY_BASE_MS : RETRY_BASE_MS;
    let delay = Math.floor(Math.random() * Math.min(base * 2 ** (attempts - 1), MAX_RETRY_DELAY_MS));
    const hint = (err as AwsCallError).retryAfterMs;
    if (hint !== undefined) delay = Math.max(delay, Math.min(hint, delay + 5_000));
    await abortableSleep(delay, signal);
    totalRetryDelay += delay;
  }
}

/** Public endpoints by partition (the SDK's partitions table); unknown regions fall back to `aws`, as the SDK does. */
const PARTITIONS: ReadonlyArray<[RegExp, string]> = [
  [/^cn-\w+-\d+$/, 'amazonaws.com.cn'],
  [/^eusc-(de)-\w+-\d+$/, 'amazonaws.eu'],
  [/^us-iso-\w+-\d+$/, 'c2s.ic.gov'],
  [/^us-isob-\w+-\d+$/, 'sc2s.sgov.gov'],
  [/^eu-isoe-\w+-\d+$/, 'cloud.adc-e.uk'],
  [/^us-isof-\w+-\d+$/, 'csp.hci.ic.gov'],
];

/**
 * `https://<prefix>.<region>.<dnsSuffix>` as the SDK's endpoint rules resolve it for SSO (`portal.sso`), SSO OIDC
 * (`oidc`) and STS (`sts`), or the configured override. Undefined when the environment asks for FIPS or dual-stack endpoints: those
 * calls go through the SDK, which knows every variant; so do all calls with KEYRACK_AWS_SDK=1.
 */
export function awsEndpoint(prefix: 'portal.sso' | 'oidc' | 'sts', region: string, override: string | undefined, env: EnvVars): URL | undefined {
  const on = (v: string | undefined) => v !== undefined && ['true', '1'].includes(v.trim().toLowerCase());
  // KEYRACK_AWS_SDK=1 sends every call through the AWS SDK clients (slower start-up, same answers).
  if (on(env.KEYRACK_AWS_SDK)) return undefined;
  if (override) return new URL(override);
  if (on(env.AWS_USE_FIPS_ENDPOINT) || on(env.AWS_USE_DUALSTACK_ENDPOINT)) return undefined;
  if (!/^[a-z0-9-]+$/.test(region)) return undefined;
  const suffix = PARTITIONS.find(([re]) => re.test(region))?.[1] ?? 'amazonaws.com';
  return new URL(`https://${prefix}.${region}.${suffix}`);
}

/** A URL with `path` appended to the endpoint's own path (an override may carry one) and `query` set. */
export function awsUrl(endpoint: URL, path: string, query: Record<string, string> = {}): URL {
  const u = new URL(endpoint.href);
  u.pathname = `${u.pathname.replace(/\/$/, '')}${path}`;
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
  return u;
}

export const USER_AGENT = 'keyrack-aws/0.1.0';
