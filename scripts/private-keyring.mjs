// A private, unlocked Secret Service: its own D-Bus session bus (dbus-daemon) and a throwaway gnome-keyring
// (secrets component only) whose "login" collection is created and unlocked with a random password. Nothing
// touches the machine's real session or keyrings; close() stops both daemons (by the pids started here) and
// deletes their directories. Needs the Debian packages dbus-daemon, dbus-bin and gnome-keyring (.ci/run).
// Used by the tests (test/helpers/keyring.ts) and the benchmark (bench/run.mjs); plain JavaScript so both can.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

function stop(child) {
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

/** `dbus-send --print-reply …` on the bus at `address`; its stdout. */
export async function busCall(address, args) {
  const { stdout } = await run('dbus-send', ['--session', '--print-reply', ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DBUS_SESSION_BUS_ADDRESS: address }, timeout: 5_000 });
  return stdout;
}

/** Starts one; throws (after cleaning up) when it cannot. */
export async function startPrivateKeyring() {
  const root = await mkdtemp(join(tmpdir(), 'keyrack-keyring-'));
  const data = join(root, 'data');
  const runtimeDir = join(root, 'run');
  await mkdir(data, { recursive: true });
  await mkdir(runtimeDir, { recursive: true });
  await Promise.all([chmod(data, 0o700), chmod(runtimeDir, 0o700)]);
  const baseEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, XDG_DATA_HOME: data, XDG_RUNTIME_DIR: runtimeDir, LANG: 'C.UTF-8' };
  const children = [];
  const close = async () => {
    for (const c of children.reverse()) await stop(c);
    await rm(root, { recursive: true, force: true });
  };
  try {
    const bus = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], { env: baseEnv, stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(bus);
    const address = await new Promise((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error('dbus-daemon printed no address')), 10_000);
      bus.once('error', reject);
      bus.stdout.setEncoding('utf8').on('data', (c) => {
        out += c;
        const line = out.split('\n')[0];
        if (out.includes('\n') && line) {
          clearTimeout(t);
          resolve(line.trim());
        }
      });
    });
    const gk = spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], { env: { ...baseEnv, DBUS_SESSION_BUS_ADDRESS: address }, stdio: ['pipe', 'ignore', 'ignore'] });
    children.push(gk);
    gk.once('error', () => undefined);
    gk.stdin.end(randomBytes(16).toString('hex'));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const owned = await busCall(address, ['--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner', 'string:org.freedesktop.secrets']).catch(() => '');
      if (owned.includes('boolean true')) break;
      if (Date.now() > deadline) throw new Error('gnome-keyring-daemon did not come up on the private bus');
      await sleep(50);
    }
    return { address, close };
  } catch (e) {
    await close();
    throw e;
  }
}
