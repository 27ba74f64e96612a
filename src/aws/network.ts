// Time limits for AWS calls (docs/robots.md): every attempt has a connect limit and a whole-request limit; every
// call (all its attempts and backoff sleeps) and every robot operation (a grant: lock wait, refresh, portal, STS)
// share one overall budget. The SDK's standard retry does exponential backoff with full jitter on 5xx, 429,
// throttling, timeouts and resets, and its backoff sleeps are cut short by the same abort signal.
// No AWS SDK import here: a grant served from the validation cache never loads the SDK.
import { performance } from 'node:perf_hooks';
import type { Logger } from '../core/log.js';
import { errorName, type AwsOperation } from './classify.js';

export interface NetworkPolicy {
  /** TCP connect timeout per attempt. */
  connectTimeoutMs: number;
  /** Whole request (send to last byte of the answer) per attempt. */
  requestTimeoutMs: number;
  /** Overall budget: one call with all its retries, and also one whole robot operation (e.g. a grant). */
  totalTimeoutMs: number;
  /** SDK standard retry: exponential backoff with full jitter on 5xx / 429 / throttling / timeouts / resets. */
  maxAttempts: number;
}

export const DEFAULT_NETWORK: NetworkPolicy = { connectTimeoutMs: 3000, requestTimeoutMs: 5000, totalTimeoutMs: 10000, maxAttempts: 3 };

export function networkFromEnv(env: Readonly<Record<string, string | undefined>>): NetworkPolicy {
  const num = (v: string | undefined, d: number, min: number) => (v && /^\d+$/.test(v) ? Math.max(min, Number(v)) : d);
  return {
    connectTimeoutMs: num(env.KEYRACK_CONNECT_TIMEOUT_MS, DEFAULT_NETWORK.connectTimeoutMs, 1),
    requestTimeoutMs: num(env.KEYRACK_REQUEST_TIMEOUT_MS, DEFAULT_NETWORK.requestTimeoutMs, 1),
    totalTimeoutMs: num(env.KEYRACK_TOTAL_TIMEOUT_MS, DEFAULT_NETWORK.totalTimeoutMs, 1),
    maxAttempts: num(env.KEYRACK_MAX_ATTEMPTS, DEFAULT_NETWORK.maxAttempts, 1),
  };
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
