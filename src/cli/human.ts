// The human's side of a login: a terminal to show codes and progress on, and a browser to open.
// Built only by the unlock command, after it has checked that a person is at an interactive terminal.
import { spawn } from 'node:child_process';
import type { DeviceCodePrompt, LoginCapability } from '../core/plugin.js';
import type { EnvVars } from '../core/runtime.js';

export interface BrowserPolicy {
  noBrowser: boolean;
  deviceCode: boolean;
}

/** Whether a browser can be shown here: an explicit BROWSER, macOS/Windows, or a Linux display not over SSH. */
export function browserAvailable(env: EnvVars, platform: NodeJS.Platform): boolean {
  if (env.BROWSER) return env.BROWSER !== 'none';
  if (platform === 'darwin' || platform === 'win32') return !env.SSH_CONNECTION;
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}

function opener(env: EnvVars, platform: NodeJS.Platform, url: string): [string, string[]] {
  if (env.BROWSER) return ['/bin/sh', ['-c', `${env.BROWSER} "$1"`, 'keyrack-browser', url]];
  if (platform === 'darwin') return ['open', [url]];
  if (platform === 'win32') return ['cmd', ['/c', 'start', '""', url]];
  return ['xdg-open', [url]];
}

const SPIN = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

function mmss(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function terminalLogin(env: EnvVars, policy: BrowserPolicy, out: NodeJS.WriteStream = process.stderr): LoginCapability {
  const platform = process.platform;
  let frame = 0;
  let spinning = false;
  const clear = () => {
    if (spinning && out.isTTY) out.write('\r\x1b[2K');
    spinning = false;
  };
  return {
    canOpenBrowser: !policy.noBrowser && browserAvailable(env, platform),
    preferDeviceCode: policy.deviceCode,
    async openBrowser(url) {
      const [cmd, args] = opener(env, platform, url);
      return new Promise<boolean>((resolve) => {
        const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
        child.once('error', () => resolve(false));
        child.once('spawn', () => {
          child.unref();
          resolve(true);
        });
      });
    },
    showDeviceCode(p: DeviceCodePrompt) {
      out.write(`\nTo sign in, open ${p.verificationUri}\nand enter the code: ${p.userCode}\n(or open ${p.verificationUriComplete})\n\n`);
    },
    showAuthorizeUrl(url) {
      out.write(`\nIf no browser opens, visit this URL on this machine:\n${url}\n\n`);
    },
    waiting(message, remainingMs) {
      if (!out.isTTY) return;
      spinning = true;
      out.write(`\r\x1b[2K${SPIN[frame++ % SPIN.length]} ${message} (${mmss(remainingMs)} left, Ctrl-C to cancel)`);
    },
    done() {
      clear();
    },
  };
}
