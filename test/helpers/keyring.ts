// A private, unlocked Secret Service for one test: its own D-Bus session bus (dbus-daemon) and a throwaway
// gnome-keyring (secrets component only) whose "login" collection is created and unlocked with a random password.
// Nothing touches the machine's real session or keyrings; close() stops both daemons (by the pids we started)
// and deletes their directories. Needs the Debian packages dbus-daemon, dbus-bin and gnome-keyring (.ci/run).
// A test that cannot start one fails (startTestKeyring throws); it never skips.
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

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

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 2_000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
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

async function busCall(address: string, args: string[]): Promise<string> {
  const { stdout } = await run('dbus-send', ['--session', '--print-reply', ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DBUS_SESSION_BUS_ADDRESS: address }, timeout: 5_000 });
  return stdout;
}

export async function startTestKeyring(): Promise<TestKeyring> {
  const root = await mkdtemp(join(tmpdir(), 'keyrack-keyring-'));
  const data = join(root, 'data');
  const runtimeDir = join(root, 'run');
  await run('mkdir', ['-p', data, runtimeDir]);
  await Promise.all([chmod(data, 0o700), chmod(runtimeDir, 0o700)]);
  const baseEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, XDG_DATA_HOME: data, XDG_RUNTIME_DIR: runtimeDir, LANG: 'C.UTF-8' };

  const bus = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], { env: baseEnv, stdio: ['ignore', 'pipe', 'ignore'] });
  const children: ChildProcess[] = [bus];
  const cleanup = async () => {
    for (const c of children.reverse()) await stop(c);
    await rm(root, { recursive: true, force: true });
  };
  try {
    const address = await new Promise<string>((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error('dbus-daemon printed no address')), 10_000);
      bus.once('error', reject);
      bus.stdout?.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        const line = out.split('\n')[0];
        if (out.includes('\n') && line) {
          clearTimeout(t);
          resolve(line.trim());
        }
      });
    });
    const password = randomBytes(16).toString('hex');
    const gk = spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], { env: { ...baseEnv, DBUS_SESSION_BUS_ADDRESS: address }, stdio: ['pipe', 'ignore', 'ignore'] });
    children.push(gk);
    gk.stdin?.end(password);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const owned = await busCall(address, ['--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner', 'string:org.freedesktop.secrets']).catch(() => '');
      if (owned.includes('boolean true')) break;
      if (Date.now() > deadline) throw new Error('gnome-keyring-daemon did not come up on the private bus');
      await sleep(50);
    }
    return {
      env: { DBUS_SESSION_BUS_ADDRESS: address },
      async lock() {
        await busCall(address, ['--dest=org.freedesktop.secrets', '/org/freedesktop/secrets', 'org.freedesktop.Secret.Service.Lock', 'array:objpath:/org/freedesktop/secrets/collection/login']);
      },
      set: (service, account, secret) => childSet(address, service, account, secret),
      close: cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
