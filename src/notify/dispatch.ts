// Sending an event to every configured channel, at most once per cooldown for the same event and session.
//
// The dedupe state is `$XDG_STATE_HOME/keyrack/notify/sent.json`: dedupe key → epoch ms of the last delivery.
// A key is `<event>|<sso or env>|<slot>` (the slot separates e.g. the 24 h and the 1 h warning). It is read and
// written under a lock, so two watchers (a service and a foreground one) do not both notify. An event that no
// channel could deliver is not recorded and is tried again at the next probe; with no channel configured the
// event only goes to the caller's log.
import { join } from 'node:path';
import type { Logger } from '../core/log.js';
import type { Runtime } from '../core/runtime.js';
import { readFileIfExists, writeFileAtomic } from '../store/files.js';
import { withFileLock } from '../store/lock.js';
import { lockDir } from '../store/state.js';
import type { UserConfig } from '../store/user-config.js';
import { channelsFromConfig, type Channel } from './channels.js';
import type { NotifyEvent } from './events.js';

export interface ChannelResult {
  channel: string;
  ok: boolean;
  /** safe to print */
  error?: string;
}

export interface SendOutcome {
  /** true when at least one channel delivered it (or no channel is configured) */
  sent: boolean;
  /** set when the cooldown held it back */
  suppressed?: 'cooldown';
  results: ChannelResult[];
}

export interface SendOptions {
  /** When set, the event is sent at most once per cooldown for this key. */
  dedupeKey?: string;
  /** Overrides the configured cooldown for this event. */
  cooldownMs?: number;
}

export interface Notifier {
  send(event: NotifyEvent, opts?: SendOptions): Promise<SendOutcome>;
  readonly channels: readonly Channel[];
}

interface SentState {
  version: 1;
  sent: Record<string, number>;
}

const sentPath = (state: string) => join(state, 'notify', 'sent.json');
const sentLock = (state: string) => join(lockDir(state), 'notify.lock');
/** Entries older than this are dropped from the state file. */
const KEEP_MS = 120 * 86_400_000;

export function dedupeKey(event: string, subject: string | undefined, slot?: string | number): string {
  return [event, subject ?? '-', slot ?? ''].join('|');
}

async function readSent(state: string): Promise<SentState> {
  try {
    const text = await readFileIfExists(sentPath(state));
    const s = text ? (JSON.parse(text) as SentState) : undefined;
    if (s?.version === 1 && s.sent && typeof s.sent === 'object') return s;
  } catch {
    // a damaged file only costs a possible repeat
  }
  return { version: 1, sent: {} };
}

async function writeSent(state: string, s: SentState, now: number): Promise<void> {
  const sent: Record<string, number> = {};
  for (const [k, t] of Object.entries(s.sent)) if (typeof t === 'number' && now - t < KEEP_MS) sent[k] = t;
  // Not a secret; atomic so a concurrent reader sees a whole file.
  await writeFileAtomic(sentPath(state), `${JSON.stringify({ version: 1, sent })}\n`);
}

export interface NotifierOptions {
  runtime: Pick<Runtime, 'env' | 'paths' | 'clock'>;
  config: UserConfig;
  log: Logger;
  /** Replaces the configured channels (tests, `notify test` of one channel). */
  channels?: Channel[];
  platform?: NodeJS.Platform;
  /** Every event that is sent (not the suppressed ones), for the caller's own log. */
  onEvent?: (event: NotifyEvent, results: ChannelResult[]) => void;
}

export function createNotifier(opts: NotifierOptions): Notifier {
  const { runtime, config, log } = opts;
  const channels = opts.channels ?? channelsFromConfig(runtime, config.notify, opts.platform ?? process.platform);
  const state = runtime.paths.state;

  const deliver = async (event: NotifyEvent): Promise<ChannelResult[]> => {
    const settled = await Promise.allSettled(channels.map((c) => c.send(event)));
    return settled.map((r, i) => {
      const channel = channels[i]?.name ?? '?';
      if (r.status === 'fulfilled') return { channel, ok: true };
      const error = r.reason instanceof Error && r.reason.name === 'ChannelError' ? r.reason.message : `${channel} failed`;
      log.debug('notification channel failed', { channel, error });
      return { channel, ok: false, error };
    });
  };

  return {
    channels,
    async send(event, so = {}) {
      const cooldown = so.cooldownMs ?? config.notify.cooldownMs;
      const key = so.dedupeKey;
      const run = async (): Promise<SendOutcome> => {
        const now = runtime.clock.now();
        let sent: SentState | undefined;
        if (key !== undefined) {
          sent = await readSent(state);
          const last = sent.sent[key];
          if (last !== undefined && now - last >= 0 && now - last < cooldown) {
            log.debug('notification held back by the cooldown', { event: event.event, key, agoMs: now - last });
            return { sent: false, suppressed: 'cooldown', results: [] };
          }
        }
        const results = await deliver(event);
        const ok = results.length === 0 || results.some((r) => r.ok);
        opts.onEvent?.(event, results);
        if (ok && key !== undefined && sent) {
          sent.sent[key] = now;
          await writeSent(state, sent, now);
        }
        return { sent: ok, results };
      };
      if (key === undefined) return run();
      // Held across delivery so two watchers cannot both send; channels are bounded by their own time limits.
      return withFileLock(sentLock(state), run, { timeoutMs: 60_000, staleMs: 120_000 });
    },
  };
}
