// Runs the real `keyrack` binary as a separate process in a sandboxed HOME against an in-process emulator.
// Every run is scanned for the emulator's secret marker, robot runs are checked for login attempts (emulator
// call log) and browser launches (recorder BROWSER / xdg-open / open).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { tokenCacheKey } from '../../src/aws/cache-keys.js';
import { DEFAULT_FIXTURE_KEYRACK_YML, SECRET_MARKER } from '../../src/emulator/index.js';
import { runAws, writeEndpointRules, type AwsResult } from './aws-cli.js';
import { startTestEmulator, type TestEmulator } from './emulator.js';

/** The installed `keyrack` command: package.json's bin (bin/keyrack.cjs, the path credential_process lines name, is tested on its own). */
export const KEYRACK_BIN = resolve((JSON.parse(readFileSync('package.json', 'utf8')) as { bin: { keyrack: string } }).bin.keyrack);
const LOGIN_OPERATIONS = new Set(['RegisterClient', 'StartDeviceAuthorization', 'Authorize', 'AuthorizeDecision', 'DeviceVerification', 'DeviceDecision']);

/** The keyrack.yml every sandbox starts with: the one made for the emulator's default fixture. */
export const EXAMPLE_KEYRACK_YML = DEFAULT_FIXTURE_KEYRACK_YML;

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Run inside a pseudo-terminal (util-linux `script`), as a human at a terminal would. */
  tty?: boolean;
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs?: number;
  /** `grant --credentials` and friends print credentials on stdout by request: skip the stdout leak scan. */
  secretsOnStdout?: boolean;
  /** Human commands may log in; robot commands (the default) must not. */
  human?: boolean;
  stdin?: string;
}

export interface Sandbox {
  root: string;
  home: string;
  repo: string;
  emu: TestEmulator;
  env: Record<string, string>;
  run(args: string[], opts?: RunOptions): Promise<RunResult>;
  /** The real AWS CLI v2 in the same HOME, routed to the emulator. */
  aws(args: string[], opts?: { timeoutMs?: number; onStdout?: (chunk: string) => void }): Promise<AwsResult>;
  browserLaunches(): Promise<string[]>;
  writeKeyrackYml(text: string): Promise<void>;
  /** `keyrack unlock` in a pseudo-terminal with the device flow (approved by the emulator's auto-approve). */
  unlock(args?: string[], opts?: RunOptions): Promise<RunResult>;
  close(): Promise<void>;
}

/** Fails the test if any output carries a secret the emulator issued. */
export function assertNoLeak(label: string, text: string): void {
  assert.ok(!text.includes(SECRET_MARKER), `${label} leaked a secret (found ${SECRET_MARKER})`);
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export async function createSandbox(opts: { emulator?: TestEmulator; autoApprove?: string | null; keyrackYml?: string } = {}): Promise<Sandbox> {
  const emu = opts.emulator ?? (await startTestEmulator(opts.autoApprove === null ? {} : { autoApprove: opts.autoApprove ?? 'alice', autoApproveDelayMs: 50 }));
  const root = await mkdtemp(join(tmpdir(), 'keyrack-test-'));
  const home = join(root, 'home');
  const repo = join(root, 'repo');
  const bin = join(root, 'bin');
  const launches = join(root, 'browser-launches.log');
  await Promise.all([mkdir(home, { recursive: true }), mkdir(repo, { recursive: true }), mkdir(bin, { recursive: true })]);
  // Any attempt to open a browser is recorded, whichever way it is made.
  const recorder = `#!/bin/sh\necho "$0 $*" >> ${shellQuote(launches)}\n`;
  for (const name of ['browser-recorder', 'xdg-open', 'open', 'sensible-browser', 'x-www-browser']) {
    await writeFile(join(bin, name), recorder);
    await chmod(join(bin, name), 0o755);
  }
  await writeEndpointRules(join(root, 'aws-data'), emu.url);
  const env: Record<string, string> = {
    PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    LANG: 'C.UTF-8',
    HOME: home,
    XDG_STATE_HOME: join(home, '.local', 'state'),
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    AWS_ENDPOINT_URL_SSO: emu.url,
    AWS_ENDPOINT_URL_SSO_OIDC: emu.url,
    AWS_ENDPOINT_URL_STS: emu.url,
    AWS_DATA_PATH: join(root, 'aws-data'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    BROWSER: join(bin, 'browser-recorder'),
    NO_COLOR: '1',
  };
  await writeFile(join(repo, 'keyrack.yml'), opts.keyrackYml ?? EXAMPLE_KEYRACK_YML);

  const run = async (args: string[], o: RunOptions = {}): Promise<RunResult> => {
    const before = o.human ? 0 : Math.max(0, ...(await emu.control.calls()).map((c) => c.seq));
    const launchesBefore = o.human ? 0 : (await readFile(launches, 'utf8').catch(() => '')).length;
    const childEnv: Record<string, string> = { ...env };
    for (const [k, v] of Object.entries(o.env ?? {})) {
      if (v === undefined) delete childEnv[k];
      else childEnv[k] = v;
    }
    const argv = [process.execPath, KEYRACK_BIN, ...args];
    const [cmd, cmdArgs] = o.tty
      ? ['script', ['-qefc', argv.map(shellQuote).join(' '), '/dev/null']]
      : [argv[0] as string, argv.slice(1)];
    const result = await new Promise<RunResult>((res, rej) => {
      const child = spawn(cmd as string, cmdArgs as string[], { cwd: o.cwd ?? repo, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      if (o.stdin !== undefined) child.stdin.end(o.stdin);
      else if (!o.tty) child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
      child.on('error', (e) => { clearTimeout(timer); rej(e); });
      child.on('close', (code) => { clearTimeout(timer); res({ code, stdout, stderr }); });
    });
    assertNoLeak(`keyrack ${args.join(' ')} stderr`, result.stderr);
    if (!o.secretsOnStdout) assertNoLeak(`keyrack ${args.join(' ')} stdout`, result.stdout);
    if (!o.human) {
      const logins = (await emu.control.calls(before)).filter((c) => LOGIN_OPERATIONS.has(c.operation));
      assert.deepEqual(logins, [], `robot command keyrack ${args.join(' ')} started a login`);
      const opened = (await readFile(launches, 'utf8').catch(() => '')).slice(launchesBefore);
      assert.equal(opened, '', `robot command keyrack ${args.join(' ')} tried to open a browser`);
    }
    return result;
  };

  return {
    root,
    home,
    repo,
    emu,
    env,
    run,
    aws: (args, o = {}) => runAws(args, { ...env, AWS_CONFIG_FILE: join(home, '.aws', 'config'), AWS_SHARED_CREDENTIALS_FILE: join(home, '.aws', 'credentials'), AWS_MAX_ATTEMPTS: '1' }, o),
    browserLaunches: async () => (await readFile(launches, 'utf8').catch(() => '')).split('\n').filter(Boolean),
    writeKeyrackYml: (text) => writeFile(join(repo, 'keyrack.yml'), text),
    unlock: (args = ['--env', 'prep'], o = {}) => run(['unlock', 'aws', '--device-code', ...args], { tty: true, human: true, ...o }),
    async close() {
      if (!opts.emulator) await emu.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** The default fixture's SSO token file (session acme) in the sandbox. */
export const tokenFile = (sb: Pick<Sandbox, 'home'>) => join(sb.home, '.aws', 'sso', 'cache', `${tokenCacheKey({ session: 'acme' })}.json`);

/** The emulator's last call so far: pass it to `calls(since)` to see only what came after. */
export const lastSeq = async (sb: Pick<Sandbox, 'emu'>) => Math.max(0, ...(await sb.emu.control.calls()).map((c) => c.seq));

/** $XDG_CONFIG_HOME/keyrack/config.yml in the sandbox. */
export async function writeUserConfig(sb: Pick<Sandbox, 'home'>, text: string): Promise<void> {
  await mkdir(join(sb.home, '.config', 'keyrack'), { recursive: true });
  await writeFile(join(sb.home, '.config', 'keyrack', 'config.yml'), text);
}
