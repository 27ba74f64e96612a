// The keychain wrapper against a real Secret Service (a private gnome-keyring on a private D-Bus), plus the
// failure modes a robot or the watcher meets: no bus, a locked keyring while a display is set (must fail fast,
// never wait for an unlock dialog). Calls that could block run in a child process with a hard time limit.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { KeyrackError } from '../../src/core/errors.js';
import { keychainDelete, keychainGet, keychainSet } from '../../src/store/keychain.js';
import { startTestKeyring, type TestKeyring } from '../helpers/keyring.js';

const SERVICE = 'keyrack-test';

/** Run one keychain call in a child (tsx), with the given environment; resolves its JSON answer. */
function inChild(env: Record<string, string>, call: string, timeoutMs = 15_000): Promise<{ ok?: unknown; error?: { code: string; reason: string; message: string; fix?: string }; timedOut?: boolean }> {
  const script = `import('./src/store/keychain.ts').then(async (k) => { try { const v = await ${call}; process.stdout.write(JSON.stringify({ ok: v ?? null })); } catch (e) { process.stdout.write(JSON.stringify({ error: { code: e.code, reason: e.reason, message: e.message, fix: e.fix } })); } })`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearTimeout(t);
      if (signal === 'SIGKILL') return resolve({ timedOut: true });
      try {
        resolve(JSON.parse(out) as { ok?: unknown; error?: { code: string; reason: string; message: string } });
      } catch {
        reject(new Error(`child printed no JSON: ${out}`));
      }
    });
  });
}

describe('store/keychain: OS keychain wrapper', () => {
  let kr: TestKeyring;
  const saved = { DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS, DISPLAY: process.env.DISPLAY };
  before(async () => {
    kr = await startTestKeyring();
    process.env.DBUS_SESSION_BUS_ADDRESS = kr.env.DBUS_SESSION_BUS_ADDRESS;
  });
  after(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await kr.close();
  });

  it('set, get, overwrite and delete a secret in the Secret Service', async () => {
    assert.equal(await keychainGet(SERVICE, 'alpha'), undefined);
    await keychainSet(SERVICE, 'alpha', 'first-EMU-value');
    assert.equal(await keychainGet(SERVICE, 'alpha'), 'first-EMU-value');
    await keychainSet(SERVICE, 'alpha', 'second-value');
    assert.equal(await keychainGet(SERVICE, 'alpha'), 'second-value');
    assert.equal(await keychainGet(SERVICE, 'beta'), undefined, 'accounts are separate');
    assert.equal(await keychainDelete(SERVICE, 'alpha'), true);
    assert.equal(await keychainDelete(SERVICE, 'alpha'), false);
    assert.equal(await keychainGet(SERVICE, 'alpha'), undefined);
  });

  it('DISPLAY is put back after a call (it is only hidden during the call)', async () => {
    process.env.DISPLAY = ':97';
    await keychainSet(SERVICE, 'gamma', 'v');
    assert.equal(process.env.DISPLAY, ':97');
    assert.equal(await keychainDelete(SERVICE, 'gamma'), true);
    delete process.env.DISPLAY;
  });

  it('an empty secret is refused before the keychain is touched', async () => {
    await assert.rejects(keychainSet(SERVICE, 'alpha', ''), (e: unknown) => e instanceof KeyrackError && e.code === 'keychain.empty');
  });

  it('no D-Bus session bus: one misconfigured error with the fix, quickly', async () => {
    const r = await inChild({}, `k.keychainGet('${SERVICE}', 'alpha')`);
    assert.equal(r.error?.code, 'keychain.unavailable');
    assert.equal(r.error?.reason, 'misconfigured');
    assert.match(r.error?.message ?? '', /no D-Bus session bus/);
    assert.match(r.error?.fix ?? '', /unlocked keyring/);
  });

  // With a real display the Secret Service would wait for its unlock dialog; here no X server answers on :97, so
  // this guards the outcome (a fast, mapped error) on every machine, including desktops where DISPLAY is live.
  it('a locked keyring with DISPLAY set fails fast instead of waiting for an unlock dialog', async () => {
    await keychainSet(SERVICE, 'locked', 'v');
    await kr.lock();
    const r = await inChild({ ...kr.env, DISPLAY: ':97', WAYLAND_DISPLAY: 'wayland-97' }, `k.keychainGet('${SERVICE}', 'locked')`, 20_000);
    assert.notEqual(r.timedOut, true, 'the call hung');
    assert.equal(r.error?.code, 'keychain.unavailable');
    assert.match(r.error?.message ?? '', /locked/);
  });
});
