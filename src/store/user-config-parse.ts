// The YAML parser of the user config (see ./user-config.ts for the file and its rules). Its own module, loaded
// only when a config file exists, because it brings the YAML library with it.
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Node, type YAMLMap } from 'yaml';
import { parseDuration } from '../core/duration.js';
import { KeyrackError } from '../core/errors.js';
import { closest } from '../core/suggest.js';
import { DEFAULT_COOLDOWN_MS, DEFAULT_SSO, DEFAULT_WATCH, defaultUserConfig, type NotifySettings, type SsoSettings, type UserConfig, type WatchSettings } from './user-config.js';

const LIMITS = {
  interval: [10_000, 24 * 3_600_000],
  warnBefore: [60_000, 30 * 86_400_000],
  cooldown: [0, 7 * 86_400_000],
  sessionDuration: [15 * 60_000, 90 * 86_400_000],
  validationTtl: [0, 5 * 60_000],
  alertAfterFailures: [1, 100],
} as const;

const FIELDS = {
  top: ['watch', 'notify', 'sso', 'grant', 'validation_ttl'],
  watch: ['interval', 'warn_before', 'alert_after_failures'],
  notify: ['cooldown', 'desktop', 'webhook', 'command', 'telegram'],
  webhook: ['url', 'slack'],
  command: ['run'],
  telegram: ['chat_id'],
  sso: ['session_duration', 'device_code_push', 'token_store'],
  grant: ['validation_ttl'],
} as const;

/** A Telegram bot token: `<bot id>:<35 characters>`. */
const TELEGRAM_TOKEN = /\b\d{6,12}:[A-Za-z0-9_-]{30,}\b/;
const SSO_NAME = /^[A-Za-z0-9._-]+$/;

export function parseUserConfig(text: string, path: string): UserConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, version: '1.2' });
  const p = new Parser(path, lines);
  const tokenAt = TELEGRAM_TOKEN.exec(text);
  if (tokenAt) {
    throw p.error(tokenAt.index, 'secret', 'a Telegram bot token is written in the user config', 'remove it from the file and store it in the OS keychain: keyrack notify telegram-token');
  }
  const syntax = doc.errors[0];
  if (syntax) {
    const what = syntax.message.split('\n')[0]?.split(': ')[0] || 'invalid YAML';
    throw p.error(syntax.pos[0], 'yaml-syntax', `YAML syntax error: ${what}`, 'fix the YAML here (indentation, quoting, a space after ":")');
  }
  visit(doc, {
    Node: (_k, node) => {
      if (isAlias(node) || node.tag) throw p.error(node, 'unsupported-yaml', 'YAML aliases and tags are not supported in the user config', 'write plain values, maps and lists');
    },
  });
  const config = defaultUserConfig(path);
  config.exists = true;
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) return config;
  const top = p.map(root, '', FIELDS.top);
  if (top.watch) config.watch = p.watch(top.watch);
  if (top.notify) config.notify = p.notify(top.notify);
  if (top.sso) config.sso = p.sso(top.sso);
  if (top.grant) {
    const g = p.map(top.grant.value, 'grant', FIELDS.grant);
    if (g.validation_ttl) config.grant.validationTtlMs = p.duration(g.validation_ttl, LIMITS.validationTtl, true);
  }
  // The form the grant command has read since before these sections existed; both spellings mean the same.
  if (top.validation_ttl) {
    if (config.grant.validationTtlMs !== undefined) throw p.error(top.validation_ttl.key, 'duplicate', 'validation_ttl is set both at the top level and under grant', 'keep only grant.validation_ttl');
    config.grant.validationTtlMs = p.duration(top.validation_ttl, LIMITS.validationTtl, true);
  }
  return config;
}

interface Field {
  name: string;
  path: string;
  key: Node;
  value: Node | null;
}

class Parser {
  constructor(
    private readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  error(at: Node | number, code: string, message: string, fix: string): KeyrackError {
    const offset = typeof at === 'number' ? at : (at.range?.[0] ?? 0);
    const { line, col } = this.lines.linePos(offset);
    return new KeyrackError({ code: `user-config.${code}`, reason: 'misconfigured', message, location: `${this.file}:${line}:${col}`, fix });
  }

  private at(f: Field): Node {
    return f.value ?? f.key;
  }

  /** A map whose keys are all in `allowed` (or any key, when `allowed` is undefined). */
  map<K extends string>(node: Node | null, path: string, allowed: readonly K[] | undefined): Partial<Record<K, Field>> & Record<string, Field> {
    const where = path || 'the file';
    if (!isMap(node)) {
      throw this.error(node ?? 0, 'type', `${where} must be a map of settings, found ${kindOf(node)}`, 'write it as `name: value` lines indented under it');
    }
    const out: Record<string, Field> = {};
    for (const item of (node as YAMLMap<unknown, unknown>).items) {
      const key = item.key as Node;
      if (!isScalar(key) || (typeof key.value !== 'string' && typeof key.value !== 'number')) throw this.error(key, 'type', `a key in ${where} is not a plain name`, 'use plain names as keys');
      const name = String(key.value);
      const full = path ? `${path}.${name}` : name;
      if (allowed && !(allowed as readonly string[]).includes(name)) {
        const suggestion = closest(name, allowed);
        const extra = path === 'notify.telegram' && /token|secret|key/i.test(name) ? 'the bot token lives in the OS keychain: keyrack notify telegram-token' : undefined;
        throw this.error(key, 'unknown-field', `unknown setting ${full}`, extra ?? (suggestion ? `did you mean ${path ? `${path}.` : ''}${suggestion}?` : `allowed here: ${allowed.join(', ')}`));
      }
      Object.defineProperty(out, name, { value: { name, path: full, key, value: (item.value as Node | null) ?? null }, enumerable: true, configurable: true, writable: true });
    }
    return out as Partial<Record<K, Field>> & Record<string, Field>;
  }

  private list(f: Field): Node[] {
    if (!isSeq(f.value)) throw this.error(this.at(f), 'type', `${f.path} must be a list, found ${kindOf(f.value)}`, 'write one `- item` per line');
    return f.value.items as Node[];
  }

  private scalar(f: Field): unknown {
    if (!isScalar(f.value)) throw this.error(this.at(f), 'type', `${f.path} must be a single value, found ${kindOf(f.value)}`, 'write a plain value');
    return f.value.value;
  }

  string(f: Field, fix: string): string {
    const v = this.scalar(f);
    if (typeof v !== 'string' || v.trim() === '') throw this.error(this.at(f), 'type', `${f.path} must be a non-empty string`, fix);
    return v;
  }

  bool(f: Field): boolean {
    const v = this.scalar(f);
    if (typeof v !== 'boolean') throw this.error(this.at(f), 'type', `${f.path} must be true or false`, 'write true or false');
    return v;
  }

  int(f: Field, [min, max]: readonly [number, number]): number {
    const v = this.scalar(f);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw this.error(this.at(f), 'range', `${f.path} must be a whole number from ${min} to ${max}`, `write a number from ${min} to ${max}`);
    return v;
  }

  /** A duration like `10m` (or `0` where zero is allowed), in ms. */
  duration(f: Field, [min, max]: readonly [number, number], zeroOk = false, node: Node | null = f.value): number {
    const at = node ?? f.key;
    const v = isScalar(node) ? node.value : undefined;
    let ms: number;
    if (zeroOk && (v === 0 || v === '0')) ms = 0;
    else if (typeof v === 'string') {
      try {
        ms = parseDuration(v, f.path) * 1000;
      } catch (e) {
        throw this.error(at, 'duration', e instanceof KeyrackError ? e.message : `${f.path} is not a duration`, 'write it as e.g. 30s, 10m, 24h, 90d');
      }
    } else {
      throw this.error(at, 'duration', `${f.path} is not a duration${typeof v === 'number' ? ' (a unit is required)' : ''}`, 'write it as e.g. 30s, 10m, 24h, 90d');
    }
    if (ms < min || ms > max) throw this.error(at, 'range', `${f.path} must be between ${human(min)} and ${human(max)}`, `pick a value from ${human(min)} to ${human(max)}`);
    return ms;
  }

  watch(f: Field): WatchSettings {
    const m = this.map(f.value, 'watch', FIELDS.watch);
    const out: WatchSettings = { ...DEFAULT_WATCH, warnBeforeMs: [...DEFAULT_WATCH.warnBeforeMs] };
    if (m.interval) out.intervalMs = this.duration(m.interval, LIMITS.interval);
    if (m.alert_after_failures) out.alertAfterFailures = this.int(m.alert_after_failures, LIMITS.alertAfterFailures);
    if (m.warn_before) {
      const list = m.warn_before;
      const values = this.list(list).map((n) => this.duration(list, LIMITS.warnBefore, false, n));
      out.warnBeforeMs = [...new Set(values)].sort((a, b) => b - a);
    }
    return out;
  }

  notify(f: Field): NotifySettings {
    const m = this.map(f.value, 'notify', FIELDS.notify);
    const out: NotifySettings = { cooldownMs: DEFAULT_COOLDOWN_MS, desktop: false, webhook: [], command: [] };
    if (m.cooldown) out.cooldownMs = this.duration(m.cooldown, LIMITS.cooldown, true);
    if (m.desktop) out.desktop = this.bool(m.desktop);
    if (m.webhook) {
      this.list(m.webhook).forEach((node, i) => {
        const w = this.map(node, `notify.webhook[${i}]`, FIELDS.webhook);
        if (!w.url) throw this.error(node, 'missing', `notify.webhook[${i}] has no url`, 'add url: https://…');
        const url = this.string(w.url, 'write the webhook URL, https://…');
        if (!webhookUrlOk(url)) {
          throw this.error(this.at(w.url), 'url', `notify.webhook[${i}].url must be an https URL (http only to this machine)`, 'use https://…, or http://127.0.0.1:PORT/… for a local receiver');
        }
        out.webhook.push({ url, slack: w.slack ? this.bool(w.slack) : false });
      });
    }
    if (m.command) {
      this.list(m.command).forEach((node, i) => {
        const c = this.map(node, `notify.command[${i}]`, FIELDS.command);
        if (!c.run) throw this.error(node, 'missing', `notify.command[${i}] has no run`, 'add run: /path/to/program (it gets the event as JSON on stdin)');
        out.command.push({ run: this.string(c.run, 'write the command to run') });
      });
    }
    if (m.telegram) {
      const t = this.map(m.telegram.value, 'notify.telegram', FIELDS.telegram);
      if (!t.chat_id) throw this.error(m.telegram.key, 'missing', 'notify.telegram has no chat_id', 'add chat_id: <the chat to message>');
      const v = this.scalar(t.chat_id);
      const chatId = typeof v === 'number' && Number.isInteger(v) ? String(v) : typeof v === 'string' ? v.trim() : '';
      if (!/^(-?\d{1,20}|@[A-Za-z0-9_]{5,64})$/.test(chatId)) throw this.error(this.at(t.chat_id), 'type', 'notify.telegram.chat_id must be a numeric chat id or an @channel name', 'write the chat id, e.g. chat_id: "123456789"');
      out.telegram = { chatId };
    }
    return out;
  }

  sso(f: Field): Record<string, SsoSettings> {
    const m = this.map(f.value, 'sso', undefined);
    const out: Record<string, SsoSettings> = {};
    for (const [name, field] of Object.entries(m)) {
      if (!SSO_NAME.test(name)) throw this.error(field.key, 'name', `sso.${name} is not an sso-session name`, 'use the name of the [sso-session NAME] in ~/.aws/config (letters, digits, . _ -)');
      const s = this.map(field.value, `sso.${name}`, FIELDS.sso);
      const settings: SsoSettings = { ...DEFAULT_SSO };
      if (s.session_duration) settings.sessionDurationMs = this.duration(s.session_duration, LIMITS.sessionDuration);
      if (s.device_code_push) settings.deviceCodePush = this.bool(s.device_code_push);
      if (s.token_store) {
        const v = this.scalar(s.token_store);
        if (v !== 'aws-cli' && v !== 'keychain') throw this.error(this.at(s.token_store), 'type', `sso.${name}.token_store must be aws-cli or keychain`, 'write token_store: aws-cli (the AWS CLI cache files) or keychain');
        settings.tokenStore = v;
      }
      Object.defineProperty(out, name, { value: settings, enumerable: true, configurable: true, writable: true });
    }
    return out;
  }
}

function webhookUrlOk(text: string): boolean {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return false;
  }
  if (u.username || u.password) return false;
  if (u.protocol === 'https:') return true;
  return u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
}

function kindOf(node: Node | null): string {
  if (node === null || (isScalar(node) && node.value === null)) return 'nothing';
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  return isScalar(node) ? `a ${typeof node.value}` : 'something else';
}

function human(ms: number): string {
  if (ms === 0) return '0';
  const units: [number, string][] = [[86_400_000, 'd'], [3_600_000, 'h'], [60_000, 'm'], [1000, 's']];
  for (const [size, unit] of units) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}
