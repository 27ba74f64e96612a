// The OS keychain (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows) for the few
// secrets keyrack keeps outside files: get / set / delete a password by service + account. Generic on purpose.
//
// Linux: pinned to the Secret Service. @napi-rs/keyring otherwise falls back silently to the kernel keyutils
// store, which forgets everything at logout. A locked keyring with a display (DISPLAY / WAYLAND_DISPLAY) makes
// the Secret Service show an unlock dialog and the call waits for it forever; a robot or the watcher must never
// wait for a person, so unless the caller is interactive those two variables are removed from the process
// environment for the duration of the call (the calls are synchronous, so no other code of this process runs
// in between and sees the change). Without them a locked keyring fails at once, with an error.
//
// Every failure becomes one KeyrackError `keychain.unavailable` (reason misconfigured, exit 6) with the fix.
// Messages never carry the secret, nor the library's own text.
//
// Entries are made once per (service, account) and reused: a new Entry costs a D-Bus handshake (~10 ms), a reused
// one ~1 ms per call. An entry that failed is dropped, so the next call starts afresh.
import { KeyrackError } from '../core/errors.js';

export const KEYRACK_KEYCHAIN_SERVICE = 'keyrack';
/** The service under which the AWS plugin keeps SSO tokens, client registrations and role credentials. */
export const KEYRACK_AWS_KEYCHAIN_SERVICE = 'keyrack-aws';

export interface KeychainOptions {
  /** A person is at this terminal: a locked keyring may show its unlock dialog. Default false. */
  interactive?: boolean;
}

interface EntryLike {
  getPassword(): string | null;
  setPassword(password: string): void;
  deletePassword(): boolean;
}
type EntryCtor = new (service: string, account: string, options?: { linux?: { store?: 'secret-service' | 'keyutils' } }) => EntryLike;

let binding: Promise<EntryCtor> | undefined;

/**
 * The binding through require() where there is one (the CommonJS bundles; the ES module chunks get one from their
 * banner, scripts/build.mjs), else import() (the sources run directly). It is a CommonJS package: require() loads
 * it in ~4 ms, import() first starts Node's ES module loader (10–20 ms more).
 */
function requireBinding(): EntryCtor | undefined {
  return typeof require === 'function' ? (require('@napi-rs/keyring') as { Entry: EntryCtor }).Entry : undefined;
}

function loadBinding(): Promise<EntryCtor> {
  // Loaded on first use: the native module is not something a robot's grant should pay for at start-up.
  binding ??= Promise.resolve().then(() => requireBinding() ?? import('@napi-rs/keyring').then((m) => m.Entry as EntryCtor));
  return binding;
}

const DISPLAY_VARS = ['DISPLAY', 'WAYLAND_DISPLAY'] as const;

const entries = new Map<string, EntryLike>();

function withoutDisplay<T>(fn: () => T): T {
  const saved: [string, string][] = [];
  for (const k of DISPLAY_VARS) {
    const v = process.env[k];
    if (v !== undefined) {
      saved.push([k, v]);
      delete process.env[k];
    }
  }
  try {
    return fn();
  } finally {
    for (const [k, v] of saved) process.env[k] = v;
  }
}

/** The library's text, reduced to a known situation (its wording is not ours to repeat). */
function why(e: unknown): string {
  const text = e instanceof Error ? `${e.message} ${e.cause instanceof Error ? e.cause.message : ''}` : '';
  if (/autolaunch|DBUS_SESSION_BUS_ADDRESS|Failed to connect to socket|connect.*bus/i.test(text)) return 'no D-Bus session bus';
  if (/org\.freedesktop\.secrets|was not provided|ServiceUnknown/i.test(text)) return 'no Secret Service (e.g. gnome-keyring) is running';
  if (/locked|prompt|dismissed|no result found/i.test(text)) return 'the keyring is locked';
  if (/Cannot find (module|package)|ERR_MODULE_NOT_FOUND|ERR_DLOPEN|invalid ELF|dlopen/i.test(text)) return 'the keychain binding could not be loaded on this platform';
  return 'the keychain refused the request';
}

function unavailable(what: string, e: unknown): KeyrackError {
  return new KeyrackError({
    code: 'keychain.unavailable',
    reason: 'misconfigured',
    message: `the OS keychain could not ${what} (${why(e)})`,
    fix: 'run inside a desktop session with an unlocked keyring (Linux: gnome-keyring or another Secret Service on the D-Bus session bus; macOS: your login keychain), then retry',
    cause: e,
  });
}

async function run<T>(what: string, service: string, account: string, opts: KeychainOptions, op: (entry: EntryLike) => T): Promise<T> {
  if (!service || !account) throw new KeyrackError({ code: 'keychain.invalid', reason: 'internal', message: 'keychain service and account must be non-empty' });
  let Entry: EntryCtor;
  try {
    Entry = await loadBinding();
  } catch (e) {
    binding = undefined;
    throw unavailable(what, e);
  }
  const id = `${service}\0${account}`;
  const call = () => {
    let entry = entries.get(id);
    if (!entry) {
      entry = new Entry(service, account, { linux: { store: 'secret-service' } });
      entries.set(id, entry);
    }
    return op(entry);
  };
  try {
    return opts.interactive ? call() : withoutDisplay(call);
  } catch (e) {
    entries.delete(id);
    throw unavailable(what, e);
  }
}

/** The stored password, or undefined when there is none. */
export async function keychainGet(service: string, account: string, opts: KeychainOptions = {}): Promise<string | undefined> {
  return run('be read', service, account, opts, (e) => e.getPassword() ?? undefined);
}

export async function keychainSet(service: string, account: string, secret: string, opts: KeychainOptions = {}): Promise<void> {
  if (secret === '') throw new KeyrackError({ code: 'keychain.empty', reason: 'invalid-input', message: 'refusing to store an empty secret', fix: 'provide the secret on stdin' });
  return run('store the secret', service, account, opts, (e) => e.setPassword(secret));
}

/** True when something was deleted. */
export async function keychainDelete(service: string, account: string, opts: KeychainOptions = {}): Promise<boolean> {
  return run('delete the secret', service, account, opts, (e) => e.deletePassword());
}

/**
 * keychainGet for the fast paths (src/cli/fast): synchronous, never interactive, and only where require() is at
 * hand; undefined when the entry is absent. Any failure throws (the caller then takes the full path, which
 * reports it).
 */
export function keychainGetSync(service: string, account: string): string | undefined {
  const Entry = requireBinding();
  if (!Entry) throw new Error('no require() in this build');
  return withoutDisplay(() => new Entry(service, account, { linux: { store: 'secret-service' } }).getPassword() ?? undefined);
}
