// Where notifications go: the desktop (notify-send on Linux, osascript on macOS), webhooks (JSON POST, or a
// Slack-compatible `{"text"}` body), commands (the event as JSON on stdin) and a Telegram bot whose token is read
// from the OS keychain at send time. Each channel either resolves or throws a ChannelError whose message is safe
// to print: a webhook shows only its origin (Slack-style URLs are secrets in their path), Telegram never shows its
// URL (the bot token is in it), commands never echo their output.
import { spawn } from 'node:child_process';
import type { EnvVars, Runtime } from '../core/runtime.js';
import type { NotifySettings } from '../store/user-config.js';
import { keychainGet, KEYRACK_KEYCHAIN_SERVICE } from '../store/keychain.js';
import { eventText, urlOrigin, type NotifyEvent } from './events.js';

export const TELEGRAM_TOKEN_ACCOUNT = 'telegram-bot-token';
export const CHANNEL_TIMEOUT_MS = 10_000;

export class ChannelError extends Error {
  override readonly name = 'ChannelError';
}

export interface Channel {
  /** For reports, e.g. `webhook https://hooks.example.com (slack)`; never a secret. */
  readonly name: string;
  send(event: NotifyEvent): Promise<void>;
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Spawn without a shell unless asked, feed stdin, kill the whole process group after the time limit. */
function runProgram(file: string, args: string[], env: EnvVars, stdin: string, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const childEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
    const child = spawn(file, args, { env: childEnv, stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    const timer = setTimeout(() => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
    child.stdin.on('error', () => undefined); // a program that does not read stdin is fine
    child.stdin.end(stdin);
  });
}

function failed(what: string, r: RunResult, timeoutMs: number): ChannelError {
  return new ChannelError(r.signal === 'SIGKILL' ? `${what} did not finish within ${timeoutMs / 1000}s` : `${what} exited with ${r.code ?? r.signal}`);
}

function notFound(e: unknown, what: string, fix: string): ChannelError {
  return new ChannelError((e as NodeJS.ErrnoException).code === 'ENOENT' ? `${what} not found (${fix})` : `${what} could not be started`);
}

/** AppleScript string literal, on one line (a notification shows a line or two anyway). */
const appleString = (s: string) => `"${s.replace(/\s*\n\s*/g, ' — ').replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function desktopChannel(runtime: Pick<Runtime, 'env'>, platform: NodeJS.Platform, timeoutMs = CHANNEL_TIMEOUT_MS): Channel {
  return {
    name: 'desktop',
    async send(e) {
      const body = eventText(e);
      const [file, args, fix] =
        platform === 'darwin'
          ? ['osascript', ['-e', `display notification ${appleString(body)} with title ${appleString(`keyrack: ${e.title}`)}`], 'it ships with macOS']
          : ['notify-send', ['--app-name=keyrack', `--urgency=${e.severity === 'critical' ? 'critical' : 'normal'}`, `keyrack: ${e.title}`, body], 'install libnotify-bin'];
      let r: RunResult;
      try {
        r = await runProgram(file, args, runtime.env, '', timeoutMs);
      } catch (err) {
        throw notFound(err, file, fix);
      }
      if (r.code !== 0) throw failed(file, r, timeoutMs);
    },
  };
}

export function commandChannel(runtime: Pick<Runtime, 'env'>, run: string, index: number, timeoutMs = CHANNEL_TIMEOUT_MS): Channel {
  const what = `command #${index + 1}`;
  return {
    name: what,
    async send(e) {
      let r: RunResult;
      try {
        r = await runProgram('/bin/sh', ['-c', run], { ...runtime.env, KEYRACK_EVENT: e.event }, `${JSON.stringify(e)}\n`, timeoutMs);
      } catch (err) {
        throw notFound(err, '/bin/sh', 'a POSIX shell is required');
      }
      if (r.code !== 0) throw failed(what, r, timeoutMs);
    },
  };
}

async function post(url: string, body: unknown, timeoutMs: number, what: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (e) {
    const timedOut = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
    const code = e instanceof Error && e.cause && typeof e.cause === 'object' && 'code' in e.cause && typeof e.cause.code === 'string' && /^[A-Z_]+$/.test(e.cause.code) ? ` (${e.cause.code})` : '';
    throw new ChannelError(timedOut ? `${what} did not answer within ${timeoutMs / 1000}s` : `${what} could not be reached${code}`);
  }
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new ChannelError(`${what} answered HTTP ${res.status}`);
}

export function webhookChannel(url: string, slack: boolean, timeoutMs = CHANNEL_TIMEOUT_MS): Channel {
  const what = `webhook ${urlOrigin(url)}${slack ? ' (slack)' : ''}`;
  return {
    name: what,
    send: (e) => post(url, slack ? { text: `*keyrack: ${e.title}*\n${eventText(e)}` } : e, timeoutMs, what),
  };
}

export function telegramChannel(runtime: Pick<Runtime, 'env'>, chatId: string, timeoutMs = CHANNEL_TIMEOUT_MS): Channel {
  const api = (runtime.env.KEYRACK_TELEGRAM_API_URL || 'https://api.telegram.org').replace(/\/+$/, '');
  return {
    name: 'telegram',
    async send(e) {
      let token: string | undefined;
      try {
        token = await keychainGet(KEYRACK_KEYCHAIN_SERVICE, TELEGRAM_TOKEN_ACCOUNT);
      } catch (err) {
        throw new ChannelError(`telegram: ${err instanceof Error ? err.message : 'the keychain failed'}`);
      }
      if (!token) throw new ChannelError('telegram: no bot token in the OS keychain (store it with: keyrack notify telegram-token)');
      await post(`${api}/bot${token}/sendMessage`, { chat_id: chatId, text: `keyrack: ${e.title}\n${eventText(e)}`, disable_web_page_preview: true }, timeoutMs, 'telegram');
    },
  };
}

/** Every channel the user config enables, in a stable order. */
export function channelsFromConfig(runtime: Pick<Runtime, 'env'>, notify: NotifySettings, platform: NodeJS.Platform): Channel[] {
  const out: Channel[] = [];
  if (notify.desktop) out.push(desktopChannel(runtime, platform));
  notify.webhook.forEach((w) => out.push(webhookChannel(w.url, w.slack)));
  notify.command.forEach((c, i) => out.push(commandChannel(runtime, c.run, i)));
  if (notify.telegram) out.push(telegramChannel(runtime, notify.telegram.chatId));
  return out;
}
