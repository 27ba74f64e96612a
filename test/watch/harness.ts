// In-process set-up for watcher tests: the emulator (optionally with a custom fixture), a sandboxed HOME, a
// Runtime whose clock is real time + the emulator's clock offset (moved together, in process), an
// ~/.aws/config and keyrack.yml as a user would have them, a login, an unlock record and a recording notifier.
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tokenCacheKey } from '../../src/aws/cache-keys.js';
import { formatAwsTimestamp, writeTokenFile } from '../../src/aws/token-cache.js';
import { createRobotContext } from '../../src/core/context.js';
import { createLogger, type Logger } from '../../src/core/log.js';
import type { RobotContext } from '../../src/core/plugin.js';
import { createRuntime, type Runtime } from '../../src/core/runtime.js';
import { normalizeFixture, type FixtureInput } from '../../src/emulator/index.js';
import type { Channel } from '../../src/notify/channels.js';
import { createNotifier, type Notifier } from '../../src/notify/dispatch.js';
import type { NotifyEvent } from '../../src/notify/events.js';
import { writeUnlockRecord } from '../../src/store/state.js';
import { defaultUserConfig, type UserConfig } from '../../src/store/user-config.js';
import { deviceLogin, START_URL, startTestEmulator, type TestEmulator } from '../helpers/emulator.js';

export const TOKEN_KEY = tokenCacheKey({ session: 'acme' });

export const AWS_CONFIG = `[sso-session acme]
sso_start_url = ${START_URL}
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile acme.prep]
sso_session = acme
sso_account_id = 111122223333
sso_role_name = Developer
region = us-east-1
`;

export const KEYRACK_YML = `sso:
  acme:
    start_url: ${START_URL}
    region: us-east-1
env.prep:
  AWS_PROFILE:
    aws: { profile: acme.prep, sso: acme, account: "111122223333", role: Developer }
`;

export interface Recorded {
  event: NotifyEvent;
  /** runtime clock when it was delivered */
  at: number;
}

export interface Harness {
  emu: TestEmulator;
  root: string;
  home: string;
  repo: string;
  env: Record<string, string>;
  runtime: Runtime;
  /** emulated ms = real ms + this */
  offsetMs(): number;
  /** Moves the emulator's clock and this runtime's clock together. */
  advance(seconds: number): Promise<void>;
  config: UserConfig;
  notifier: Notifier;
  recorded: Recorded[];
  log: Logger;
  robot(): Promise<RobotContext>;
  /** A device-code login as alice (through the emulator), written as the AWS CLI would; returns the login time. */
  login(): Promise<number>;
  unlock(at?: number): Promise<void>;
  close(): Promise<void>;
}

/** A memory-backed temp dir when the machine has one (fsync is then free: long soaks measure keyrack, not the disk). */
export async function fastTmpdir(): Promise<string> {
  try {
    await access('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

export async function createHarness(opts: { fixture?: FixtureInput; emulator?: TestEmulator; env?: Record<string, string>; memoryDisk?: boolean } = {}): Promise<Harness> {
  const emu = opts.emulator ?? (await startTestEmulator(opts.fixture ? { fixture: normalizeFixture(opts.fixture) } : {}));
  const root = await mkdtemp(join(opts.memoryDisk ? await fastTmpdir() : tmpdir(), 'keyrack-watch-'));
  const home = join(root, 'home');
  const repo = join(root, 'repo');
  await mkdir(join(home, '.aws'), { recursive: true, mode: 0o700 });
  await mkdir(repo, { recursive: true });
  await writeFile(join(home, '.aws', 'config'), AWS_CONFIG);
  await writeFile(join(repo, 'keyrack.yml'), KEYRACK_YML);
  const env: Record<string, string> = {
    HOME: home,
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    XDG_STATE_HOME: join(home, '.local', 'state'),
    XDG_CONFIG_HOME: join(home, '.config'),
    AWS_ENDPOINT_URL_SSO: emu.url,
    AWS_ENDPOINT_URL_SSO_OIDC: emu.url,
    AWS_ENDPOINT_URL_STS: emu.url,
    ...opts.env,
  };
  let offset = (await emu.control.clock()).offsetSeconds * 1000;
  const clock = { now: () => Date.now() + offset };
  const runtime = createRuntime({ env, cwd: repo, clock });
  const config = defaultUserConfig(join(runtime.paths.config, 'config.yml'));
  const recorded: Recorded[] = [];
  const recorder: Channel = { name: 'recorder', send: async (event) => void recorded.push({ event, at: clock.now() }) };
  const log = createLogger({ enabled: process.env.KEYRACK_DEBUG === '1' });
  const h: Harness = {
    emu,
    root,
    home,
    repo,
    env,
    runtime,
    offsetMs: () => offset,
    async advance(seconds) {
      // In process (the emulator runs here): a 90-day soak moves the clock 13 000 times; the control API's
      // POST /_emulator/clock does the same over HTTP (test/emulator covers it).
      offset = emu.advanceClock(seconds) * 1000;
    },
    config,
    notifier: createNotifier({ runtime, config, log, channels: [recorder] }),
    recorded,
    log,
    robot: () => createRobotContext({ env, cwd: repo, clock }),
    async login() {
      const l = await deviceLogin(emu);
      const at = clock.now();
      await writeTokenFile(runtime.paths, TOKEN_KEY, {
        startUrl: START_URL,
        region: 'us-east-1',
        accessToken: l.accessToken,
        expiresAt: formatAwsTimestamp(at + l.expiresIn * 1000),
        clientId: l.clientId,
        clientSecret: l.clientSecret,
        registrationExpiresAt: formatAwsTimestamp(at + 90 * 86_400_000),
        ...(l.refreshToken ? { refreshToken: l.refreshToken } : {}),
      });
      return at;
    },
    async unlock(at = clock.now()) {
      await writeUnlockRecord(runtime.paths.state, { version: 1, env: 'prep', keys: { AWS_PROFILE: { profile: 'acme.prep', sso: 'acme' } }, sessions: ['acme'], unlockedAt: at, file: join(repo, 'keyrack.yml') });
    },
    async close() {
      if (!opts.emulator) await emu.close();
      await rm(root, { recursive: true, force: true });
    },
  };
  return h;
}
