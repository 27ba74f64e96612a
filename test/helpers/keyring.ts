// A private, unlocked Secret Service for one test (scripts/private-keyring.mjs starts it), with what tests do to
// it: lock it as a screensaver would, and store a secret from another process. A test that cannot start one
// fails (startTestKeyring throws); it never skips.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { busCall, startPrivateKeyring } from '../../scripts/private-keyring.mjs';

const run = promisify(execFile);

export interface TestKeyring {
  /** Environment for processes that should use this keyring (no DISPLAY: nothing may prompt). */
  env: { DBUS_SESSION_BUS_ADDRESS: string };
  /** Lock the login collection, as a screensaver would. */
  lock(): Promise<void>;
  /** Store a secret in this keyring from a separate process (so this process's keychain entries stay on its own bus). */
  set(service: string, account: string, secret: string): Promise<void>;
  close(): Promise<void>;
}

/** One @napi-rs/keyring call in a child node on `address` (the secret travels in the environment, not argv). */
async function childSet(address: string, service: string, account: string, secret: string): Promise<void> {
  const script = `import('@napi-rs/keyring').then(({ Entry }) => new Entry(process.env.KR_SERVICE, process.env.KR_ACCOUNT, { linux: { store: 'secret-service' } }).setPassword(process.env.KR_SECRET))`;
  await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DBUS_SESSION_BUS_ADDRESS: address, KR_SERVICE: service, KR_ACCOUNT: account, KR_SECRET: secret },
    timeout: 10_000,
  });
}

export async function startTestKeyring(): Promise<TestKeyring> {
  const { address, close } = await startPrivateKeyring();
  return {
    env: { DBUS_SESSION_BUS_ADDRESS: address },
    async lock() {
      await busCall(address, ['--dest=org.freedesktop.secrets', '/org/freedesktop/secrets', 'org.freedesktop.Secret.Service.Lock', 'array:objpath:/org/freedesktop/secrets/collection/login']);
    },
    set: (service, account, secret) => childSet(address, service, account, secret),
    close,
  };
}
