// `keyrack watch --install`: run the watcher from the OS scheduler, independent of any agent host (when the host
// is down — often because its credentials died — the watcher still runs and still tells the human).
//
// Linux, systemd user units in $XDG_CONFIG_HOME/systemd/user:
//   keyrack-watch.service  oneshot `keyrack watch --once --due`
//   keyrack-watch.timer    every watch.interval (and 2 min after boot)
//   keyrack-watch.path     at once when a robot writes a login-required signal
// macOS, a launchd agent ~/Library/LaunchAgents/com.keyrack.watch.plist: StartInterval + WatchPaths, same command.
//
// The units carry the environment keyrack needs to find the same files and endpoints as the shell that installed
// them (AWS_CONFIG_FILE, XDG dirs, endpoint overrides, KEYRACK_* settings, PATH for notifiers) — never a secret:
// none of those variables holds one.
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatDuration } from '../core/duration.js';
import { KeyrackError } from '../core/errors.js';
import type { EnvVars, Runtime } from '../core/runtime.js';
import { ensurePrivateDir } from '../store/files.js';
import { signalDir } from '../store/signal.js';

const SYSTEMD_SERVICE = 'keyrack-watch.service';
const SYSTEMD_TIMER = 'keyrack-watch.timer';
const SYSTEMD_PATH = 'keyrack-watch.path';
const LAUNCHD_LABEL = 'com.keyrack.watch';

/** Variables copied into the unit when set in the installing shell. */
const PASS_ENV = /^(PATH|LANG|AWS_CONFIG_FILE|XDG_STATE_HOME|XDG_CONFIG_HOME|AWS_ENDPOINT_URL(_[A-Z_]+)?|AWS_IGNORE_CONFIGURED_ENDPOINT_URLS|KEYRACK_[A-Z_]+)$/;
/** Never copied, whatever their name: they are secrets or per-session. */
const NEVER = /SECRET|TOKEN|PASSWORD|^KEYRACK_FILE$|^KEYRACK_DEBUG$/;

export interface UnitParams {
  /** absolute path of node */
  node: string;
  /** absolute path of keyrack's launcher (bin/keyrack.cjs) */
  bin: string;
  intervalMs: number;
  /** $XDG_STATE_HOME/keyrack: the signal directory below it is watched */
  state: string;
  env: EnvVars;
  /** macOS log directory (~/Library/Logs) */
  logDir: string;
}

export interface UnitFile {
  path: string;
  text: string;
}

function unitEnv(env: EnvVars): [string, string][] {
  return Object.entries(env)
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '' && PASS_ENV.test(e[0]) && !NEVER.test(e[0]))
    .sort(([a], [b]) => a.localeCompare(b));
}

function noNewline(what: string, v: string): string {
  if (/[\n\r\0]/.test(v)) throw new KeyrackError({ code: 'watch.unit-value', reason: 'invalid-input', message: `${what} contains a line break or NUL and cannot go into a unit file`, fix: 'use paths and values without line breaks' });
  return v;
}

/** A systemd quoted word: backslash and double quote escaped, `%` specifiers (and in a command `$` expansion) off. */
function sd(v: string, what: string, command = false): string {
  const q = noNewline(what, v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%');
  return `"${command ? q.replace(/\$/g, '$$$$') : q}"`;
}

function seconds(ms: number): string {
  return `${Math.max(10, Math.round(ms / 1000))}s`;
}

function systemdUnits(p: UnitParams, dir: string): UnitFile[] {
  const env = unitEnv(p.env).map(([k, v]) => `Environment=${sd(`${k}=${v}`, k)}`);
  const service = [
    '[Unit]',
    'Description=keyrack watch: keep SSO sessions alive and tell the human before robots stall',
    'After=network.target',
    '',
    '[Service]',
    'Type=oneshot',
    `ExecStart=${sd(p.node, 'node path', true)} ${sd(p.bin, 'keyrack path', true)} watch --once --due`,
    ...env,
    'UMask=0077',
    'Nice=10',
    // A pushed device code (opt-in) is waited for until it expires (AWS: 10 minutes).
    'TimeoutStartSec=20min',
    '',
  ].join('\n');
  const timer = [
    '[Unit]',
    `Description=keyrack watch every ${formatDuration(Math.round(p.intervalMs / 1000))}`,
    '',
    '[Timer]',
    'OnBootSec=2min',
    `OnUnitActiveSec=${seconds(p.intervalMs)}`,
    'AccuracySec=30s',
    `Unit=${SYSTEMD_SERVICE}`,
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ].join('\n');
  const path = [
    '[Unit]',
    'Description=keyrack watch when a robot signals that a human login is required',
    '',
    '[Path]',
    `PathChanged=${noNewline('state directory', signalDir(p.state))}`,
    'MakeDirectory=yes',
    'DirectoryMode=0700',
    `Unit=${SYSTEMD_SERVICE}`,
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
  return [
    { path: join(dir, SYSTEMD_SERVICE), text: service },
    { path: join(dir, SYSTEMD_TIMER), text: timer },
    { path: join(dir, SYSTEMD_PATH), text: path },
  ];
}

const xml = (v: string) => noNewline('plist value', v).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function launchdPlist(p: UnitParams, dir: string): UnitFile[] {
  const str = (v: string) => `<string>${xml(v)}</string>`;
  const env = unitEnv(p.env);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    '<dict>',
    `  <key>Label</key>${str(LAUNCHD_LABEL)}`,
    '  <key>ProgramArguments</key>',
    '  <array>',
    ...[p.node, p.bin, 'watch', '--once', '--due'].map((a) => `    ${str(a)}`),
    '  </array>',
    `  <key>StartInterval</key><integer>${Math.max(10, Math.round(p.intervalMs / 1000))}</integer>`,
    '  <key>WatchPaths</key>',
    '  <array>',
    `    ${str(signalDir(p.state))}`,
    '  </array>',
    '  <key>RunAtLoad</key><true/>',
    '  <key>ProcessType</key><string>Background</string>',
    '  <key>LowPriorityIO</key><true/>',
    '  <key>Umask</key><integer>63</integer>',
    ...(env.length ? ['  <key>EnvironmentVariables</key>', '  <dict>', ...env.map(([k, v]) => `    <key>${xml(k)}</key>${str(v)}`), '  </dict>'] : []),
    `  <key>StandardOutPath</key>${str(join(p.logDir, 'keyrack-watch.log'))}`,
    `  <key>StandardErrorPath</key>${str(join(p.logDir, 'keyrack-watch.log'))}`,
    '</dict>',
    '</plist>',
    '',
  ];
  return [{ path: join(dir, `${LAUNCHD_LABEL}.plist`), text: lines.join('\n') }];
}

export type Platform = 'linux' | 'darwin';

function unitDir(runtime: Pick<Runtime, 'paths' | 'env'>, platform: Platform): string {
  if (platform === 'darwin') return join(runtime.paths.home, 'Library', 'LaunchAgents');
  const xdg = runtime.env.XDG_CONFIG_HOME || join(runtime.paths.home, '.config');
  return join(xdg, 'systemd', 'user');
}

export function unitFiles(runtime: Pick<Runtime, 'paths' | 'env'>, platform: Platform, p: Omit<UnitParams, 'state' | 'env' | 'logDir'>): UnitFile[] {
  const params: UnitParams = { ...p, state: runtime.paths.state, env: runtime.env, logDir: join(runtime.paths.home, 'Library', 'Logs') };
  return platform === 'darwin' ? launchdPlist(params, unitDir(runtime, platform)) : systemdUnits(params, unitDir(runtime, platform));
}

/** Runs a service-manager command with the runtime's environment; resolves its exit code and stderr's first line. */
function runTool(env: EnvVars, file: string, args: string[]): Promise<{ code: number; detail: string }> {
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
  return new Promise((resolve) => {
    const child = execFile(file, args, { env: childEnv, timeout: 30_000 }, (err, _stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
      resolve({ code, detail: String(stderr).split('\n').find((l) => l.trim() !== '')?.trim().slice(0, 200) ?? '' });
    });
    child.stdin?.end(); // nothing to say; a tool that reads stdin must not wait for us
  });
}

function uid(): number {
  return process.getuid?.() ?? 0;
}

function toolFailed(what: string, detail: string, fix: string): KeyrackError {
  return new KeyrackError({ code: 'watch.service-manager', reason: 'misconfigured', message: `${what} failed${detail ? ` (${detail})` : ''}`, fix });
}

export interface InstallResult {
  files: string[];
  commands: string[];
}

export async function installUnits(runtime: Pick<Runtime, 'paths' | 'env'>, platform: Platform, files: UnitFile[]): Promise<InstallResult> {
  const dir = unitDir(runtime, platform);
  await mkdir(dir, { recursive: true });
  await ensurePrivateDir(signalDir(runtime.paths.state));
  for (const f of files) await writeFile(f.path, f.text, { mode: 0o644 });
  const commands: string[] = [];
  const run = async (file: string, args: string[], fix: string, tolerate = false) => {
    commands.push([file, ...args].join(' '));
    const r = await runTool(runtime.env, file, args);
    if (r.code !== 0 && !tolerate) throw toolFailed(`${file} ${args.join(' ')}`, r.detail, fix);
  };
  if (platform === 'darwin') {
    const plist = files[0]?.path ?? '';
    await run('launchctl', ['bootout', `gui/${uid()}/${LAUNCHD_LABEL}`], '', true);
    await run('launchctl', ['bootstrap', `gui/${uid()}`, plist], 'run it from your logged-in macOS session (not over plain ssh), then retry');
  } else {
    const fix = 'a systemd user manager must be running: log in to a session, or run `loginctl enable-linger $USER` for a headless machine';
    await run('systemctl', ['--user', 'daemon-reload'], fix);
    await run('systemctl', ['--user', 'enable', '--now', SYSTEMD_TIMER, SYSTEMD_PATH], fix);
  }
  return { files: files.map((f) => f.path), commands };
}

export async function uninstallUnits(runtime: Pick<Runtime, 'paths' | 'env'>, platform: Platform): Promise<InstallResult> {
  const dir = unitDir(runtime, platform);
  const commands: string[] = [];
  const files: string[] = [];
  const run = async (file: string, args: string[]) => {
    commands.push([file, ...args].join(' '));
    await runTool(runtime.env, file, args);
  };
  if (platform === 'darwin') {
    await run('launchctl', ['bootout', `gui/${uid()}/${LAUNCHD_LABEL}`]);
    files.push(join(dir, `${LAUNCHD_LABEL}.plist`));
  } else {
    await run('systemctl', ['--user', 'disable', '--now', SYSTEMD_TIMER, SYSTEMD_PATH]);
    await run('systemctl', ['--user', 'stop', SYSTEMD_SERVICE]);
    files.push(join(dir, SYSTEMD_SERVICE), join(dir, SYSTEMD_TIMER), join(dir, SYSTEMD_PATH));
  }
  for (const f of files) await rm(f, { force: true });
  if (platform !== 'darwin') await run('systemctl', ['--user', 'daemon-reload']);
  return { files, commands };
}

/** Stop the installed service (not uninstall): the kill switch. `installed` is false when no unit file exists. */
export async function stopService(runtime: Pick<Runtime, 'paths' | 'env'>, platform: Platform, exists: (p: string) => Promise<boolean>): Promise<{ installed: boolean; stopped: boolean; detail?: string }> {
  const dir = unitDir(runtime, platform);
  if (platform === 'darwin') {
    if (!(await exists(join(dir, `${LAUNCHD_LABEL}.plist`)))) return { installed: false, stopped: false };
    const r = await runTool(runtime.env, 'launchctl', ['bootout', `gui/${uid()}/${LAUNCHD_LABEL}`]);
    return { installed: true, stopped: r.code === 0, ...(r.code ? { detail: r.detail } : {}) };
  }
  if (!(await exists(join(dir, SYSTEMD_TIMER))) && !(await exists(join(dir, SYSTEMD_SERVICE)))) return { installed: false, stopped: false };
  const r = await runTool(runtime.env, 'systemctl', ['--user', 'stop', SYSTEMD_TIMER, SYSTEMD_PATH, SYSTEMD_SERVICE]);
  return { installed: true, stopped: r.code === 0, ...(r.code ? { detail: r.detail } : {}) };
}
