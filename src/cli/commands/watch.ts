import { installedLauncher } from '../../core/launcher.js';
import { defineCommand } from 'citty';
import { KeyrackError } from '../../core/errors.js';
import { createLogger } from '../../core/log.js';
import { loadUserConfig } from '../../store/user-config.js';
import type { RunReport } from '../../watch/probe.js';
import { runWatcher } from '../../watch/run.js';
import { installUnits, uninstallUnits, unitFiles, type Platform } from '../../watch/units.js';
import { processRuntime } from '../context.js';
import { reportAndExit } from '../report.js';
import { iso, inFromNow } from '../time.js';

function renderReport(r: RunReport): string {
  const lines: string[] = [];
  if (r.sessions.length === 0) lines.push('no unlocked SSO session to watch');
  for (const s of r.sessions) {
    const token = s.tokenExpiresAt !== undefined ? `, token until ${iso(s.tokenExpiresAt)}` : '';
    const end = s.endsAt !== undefined ? `, session ends ~${iso(s.endsAt)} (${inFromNow(s.endsAt, r.at)}, ${s.endsAtSource} login + session_duration)` : ', session end unknown';
    const err = s.error ? `: ${s.error.reason}: ${s.error.message}` : '';
    lines.push(`${s.sso} [${s.envs.join(', ')}]: ${s.status}${s.probed ? '' : ' (not due)'}${err}${token}${end}`);
  }
  for (const p of r.problems) lines.push(`problem: ${p}`);
  if (r.signals.pending || r.signals.cleared) lines.push(`robot signals: ${r.signals.pending} waiting, ${r.signals.cleared} cleared`);
  return `${lines.join('\n')}\n`;
}

function platformOf(arg: string | undefined): Platform {
  const p = arg ?? process.platform;
  if (p === 'linux' || p === 'darwin') return p;
  throw new KeyrackError({ code: 'watch.platform', reason: 'invalid-input', message: `no service manager support for ${p}`, fix: 'run `keyrack watch` in the foreground under your own scheduler' });
}

export default defineCommand({
  meta: { name: 'watch', description: 'Keep unlocked SSO sessions alive, warn before they end, tell the human when robots are blocked (runs independently of any agent host)' },
  args: {
    once: { type: 'boolean', description: 'one pass over every unlocked session, then exit' },
    due: { type: 'boolean', description: 'with --once: only the sessions whose interval has passed (what the installed service runs)' },
    install: { type: 'boolean', description: 'install and start a systemd user service + timer (Linux) or a launchd agent (macOS)' },
    uninstall: { type: 'boolean', description: 'stop and remove the installed service' },
    print: { type: 'boolean', description: 'with --install: print the unit files instead of installing them' },
    platform: { type: 'string', description: 'with --install --print: linux or darwin (default: this machine)', valueHint: 'OS' },
    json: { type: 'boolean', description: 'print each pass as JSON' },
  },
  async run({ args }) {
    try {
      const runtime = processRuntime();
      const log = createLogger({ enabled: runtime.env.KEYRACK_DEBUG === '1' });
      if (args.install || args.uninstall) {
        const platform = platformOf(args.platform);
        if (args.platform && !args.print) {
          throw new KeyrackError({ code: 'cli.usage', reason: 'invalid-input', message: '--platform only works with --install --print', fix: 'drop --platform to install for this machine' });
        }
        if (args.uninstall) {
          const r = await uninstallUnits(runtime, platform);
          process.stdout.write(`removed ${r.files.join(', ')}\n`);
          return;
        }
        const config = await loadUserConfig(runtime.paths);
        const files = unitFiles(runtime, platform, { ...installedLauncher(), intervalMs: config.watch.intervalMs });
        if (args.print) {
          process.stdout.write(files.map((f) => `# ${f.path}\n${f.text}`).join('\n'));
          return;
        }
        const r = await installUnits(runtime, platform, files);
        process.stdout.write(`installed ${r.files.join(', ')}\nran: ${r.commands.join('; ')}\n`);
        return;
      }
      if (args.due && !args.once) throw new KeyrackError({ code: 'cli.usage', reason: 'invalid-input', message: '--due only works with --once', fix: 'use keyrack watch --once --due' });
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const out = (line: string) => process.stdout.write(`${line}\n`);
      await runWatcher(runtime, log, {
        once: args.once === true,
        dueOnly: args.due === true,
        signal: stop.signal,
        onReport: (r) => {
          const { pushes: _p, ...rest } = r;
          process.stdout.write(args.json ? `${JSON.stringify(rest)}\n` : args.once ? renderReport(r) : '');
          if (!args.json && !args.once) for (const s of r.sessions.filter((x) => x.probed)) out(`${iso(r.at)} ${s.sso}: ${s.status}${s.error ? ` (${s.error.reason})` : ''}`);
        },
        onEvent: (e, results) => {
          if (args.json) return;
          const failed = results.filter((x) => !x.ok).map((x) => x.error);
          out(`${e.at.replace(/\.\d{3}Z$/, 'Z')} notify ${e.event}: ${e.title}${failed.length ? ` (failed: ${failed.join('; ')})` : ''}`);
        },
        onPush: (p) => out(`device-code push for ${p.sso}: ${p.outcome}${p.detail ? ` (${p.detail})` : ''}`),
        onError: (m) => process.stderr.write(`keyrack watch: ${m}\n`),
      });
    } catch (e) {
      reportAndExit(e, { json: args.json === true });
    }
  },
});
