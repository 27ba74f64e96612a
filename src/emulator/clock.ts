// Emulated time = the injected real clock + an offset that tests move through the control API.
// Token lifetimes, device-code expiry and role-credential expiry follow emulated time; SigV4's request-date
// window follows real time (see sts.ts), because clients sign with their own, real, clock.
import type { Clock } from '../core/runtime.js';

export class EmuClock implements Clock {
  private offsetMs = 0;

  constructor(private readonly base: Clock) {}

  /** Emulated epoch milliseconds. */
  now(): number {
    return this.base.now() + this.offsetMs;
  }

  /** Real epoch milliseconds (the injected clock without the offset). */
  real(): number {
    return this.base.now();
  }

  get offsetSeconds(): number {
    return this.offsetMs / 1000;
  }

  advance(seconds: number): void {
    this.offsetMs += seconds * 1000;
  }

  setOffset(seconds: number): void {
    this.offsetMs = seconds * 1000;
  }
}

/** ISO 8601 without fractional seconds, the form STS and the CLI use. */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
