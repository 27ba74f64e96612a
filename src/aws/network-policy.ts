// The time limits of AWS calls and where they come from. A leaf module: the fast paths (src/cli/fast) read the
// operation budget from it without loading the request client.
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
