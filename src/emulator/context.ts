// The per-server context every handler receives: fixture, clock, issued state, call log and faults.
import type { EmuClock } from './clock.js';
import type { CallLog } from './calls.js';
import type { Faults } from './faults.js';
import type { Fixture } from './fixture.js';
import type { Store } from './state.js';

export interface Emu {
  fixture: Fixture;
  clock: EmuClock;
  store: Store;
  calls: CallLog;
  faults: Faults;
  /** `http://127.0.0.1:<port>`, known once the server listens. */
  origin: string;
  autoApprove: string | undefined;
  autoApproveDelayMs: number;
  log: (line: string) => void;
  /** setTimeout that close() cancels, so a closed emulator leaves no timers behind. */
  later: (fn: () => void, ms: number) => void;
  /** Resolves after ms unless the server closes first. */
  sleep: (ms: number) => Promise<void>;
}

export function findUser(emu: Emu, name: string) {
  return emu.fixture.users.find((u) => u.name === name);
}
