// The user's own keyrack settings: `$XDG_CONFIG_HOME/keyrack/config.yml`. Never keyrack.yml, which belongs to a
// repository and is committed: notification targets, session lengths and watcher timing are per person/machine.
//
//   watch:   { interval: 10m, warn_before: [24h, 1h], alert_after_failures: 3 }
//   notify:  { cooldown: 6h, desktop: true, webhook: [{ url, slack }], command: [{ run }], telegram: { chat_id } }
//   sso:     { <sso-session name>: { session_duration: 90d, device_code_push: false, token_store: aws-cli } }
//   grant:   { validation_ttl: 30s }
//
// Parsed strictly: an unknown key, a wrong type or an out-of-range value is an error naming `file:line:col` and
// the fix (with a "did you mean"). Values are never echoed in messages: a user may paste anything here. The file
// is optional; a missing one means every default. A Telegram bot token is refused anywhere in the file — it lives
// in the OS keychain (`keyrack notify telegram-token`).
import { join } from 'node:path';
import { KeyrackError } from '../core/errors.js';
import type { Paths } from '../core/runtime.js';
import { readFileIfExists } from './files.js';

export const USER_CONFIG_FILE = 'config.yml';

export type TokenStore = 'aws-cli' | 'keychain';

export interface WatchSettings {
  /** ms between probes of one session */
  intervalMs: number;
  /** ms before the estimated session end at which to warn, largest first */
  warnBeforeMs: number[];
  /** consecutive transient failures before a refresh-failing alert */
  alertAfterFailures: number;
}

export interface WebhookTarget {
  url: string;
  /** Slack-compatible body (`{"text": …}`) instead of the event JSON */
  slack: boolean;
}

export interface NotifySettings {
  /** ms: the same event for the same session is sent at most once per cooldown */
  cooldownMs: number;
  desktop: boolean;
  webhook: WebhookTarget[];
  command: { run: string }[];
  telegram?: { chatId: string };
}

export interface SsoSettings {
  /** ms; the administrator-set session length, as the user knows it */
  sessionDurationMs?: number;
  /** opt-in: the watcher may start a device-code authorization for a blocked robot and push the code */
  deviceCodePush: boolean;
  tokenStore: TokenStore;
}

export interface UserConfig {
  /** Where it was read from (whether or not it exists). */
  path: string;
  exists: boolean;
  watch: WatchSettings;
  notify: NotifySettings;
  /** by sso-session name */
  sso: Record<string, SsoSettings>;
  grant: { validationTtlMs?: number };
}

export const DEFAULT_WATCH: Readonly<WatchSettings> = Object.freeze({ intervalMs: 10 * 60_000, warnBeforeMs: [24 * 3_600_000, 3_600_000], alertAfterFailures: 3 });
export const DEFAULT_COOLDOWN_MS = 6 * 3_600_000;
export const DEFAULT_SSO: Readonly<SsoSettings> = Object.freeze({ deviceCodePush: false, tokenStore: 'aws-cli' as const });

export const userConfigPath = (paths: Pick<Paths, 'config'>) => join(paths.config, USER_CONFIG_FILE);

export function defaultUserConfig(path: string): UserConfig {
  return { path, exists: false, watch: { ...DEFAULT_WATCH, warnBeforeMs: [...DEFAULT_WATCH.warnBeforeMs] }, notify: { cooldownMs: DEFAULT_COOLDOWN_MS, desktop: false, webhook: [], command: [] }, sso: {}, grant: {} };
}

/** The settings for one sso-session (defaults when the file does not mention it). */
export function ssoSettings(config: UserConfig, name: string | undefined): SsoSettings {
  return (name !== undefined && Object.hasOwn(config.sso, name) ? config.sso[name] : undefined) ?? { ...DEFAULT_SSO };
}

/** Read and validate the user config; a missing or empty file gives the defaults. */
export async function loadUserConfig(paths: Pick<Paths, 'config'>): Promise<UserConfig> {
  const path = userConfigPath(paths);
  let text: string | undefined;
  try {
    text = await readFileIfExists(path);
  } catch (e) {
    throw new KeyrackError({
      code: 'user-config.unreadable',
      reason: 'misconfigured',
      message: `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      location: path,
      fix: 'make it a file readable by you, or remove it',
      cause: e,
    });
  }
  if (text === undefined) return defaultUserConfig(path);
  return parseUserConfigText(text, path);
}

let lastParsed: { path: string; text: string; config: UserConfig } | undefined;

/**
 * The config in `text` (read from `path`). The YAML parser (./user-config-parse.ts) is loaded only here, when a
 * file exists: without one, a robot's grant never loads YAML. One command reads the config several times (TTL,
 * then the token store per session): each text is parsed once.
 */
export async function parseUserConfigText(text: string, path: string): Promise<UserConfig> {
  if (lastParsed?.path === path && lastParsed.text === text) return lastParsed.config;
  const config = (await import('./user-config-parse.js')).parseUserConfig(text, path);
  lastParsed = { path, text, config };
  return config;
}

