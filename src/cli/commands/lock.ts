import { defineCommand } from 'citty';
import { KeyrackError } from '../../core/errors.js';
import { createLogger } from '../../core/log.js';
import type { RobotContext } from '../../core/plugin.js';
import { lock, revoke, type RevokeResult } from '../../aws/lock.js';
import { checkPlugin, fileArg, processRuntime, robotContext } from '../context.js';
import { audit, recordRefusal } from '../record.js';
import { reportAndExit } from '../report.js';

function renderRevoke(r: RevokeResult): string {
  const lines: string[] = [];
  const w = r.watcher;
  const svc = w.service === 'not-installed' ? 'no watcher service installed' : w.service === 'stopped' ? 'watcher service stopped (still installed: keyrack watch --uninstall removes it)' : `watcher service could NOT be stopped${w.detail ? ` (${w.detail})` : ''}`;
  lines.push(`${svc}; ${w.stoppedPids.length ? `stopped watcher process(es) ${w.stoppedPids.join(', ')}` : 'no watcher process running'}`);
  lines.push(r.locked.length ? `locked: ${r.locked.join(', ')}` : 'nothing was unlocked');
  if (r.sessions.length === 0) lines.push('no SSO session to end');
  for (const s of r.sessions) {
    if (s.logout === 'no-token') lines.push(`${s.sso}: no token on this machine (already ended here)`);
    else if (s.logout === 'unreadable') lines.push(`${s.sso}: token unreadable (others could read it, or damaged): deleted without a logout, so AWS may still accept it; end the session in the console (below)`);
    else lines.push(`${s.sso}: SSO Logout ${s.logout === 'ok' ? 'done' : 'NOT confirmed'}; AWS ${s.ended === 'confirmed' ? 'refuses the old token now' : 'could not confirm the end (unreachable?)'}; token deleted`);
  }
  lines.push(`deleted ${r.deleted.tokens} SSO token file(s), ${r.deleted.roleCredentials} role-credential file(s), ${r.deleted.signals} robot signal(s), the validation cache`);
  for (const v of r.verified) lines.push(`verified: grant ${v.env}/${v.key} → exit ${v.exitCode} (${v.reason})`);
  lines.push('', 'Still to do by hand:', ...r.consoleSteps.map((s) => `  - ${s}`));
  return `${lines.join('\n')}\n`;
}

export default defineCommand({
  meta: { name: 'lock', description: 'Close keys to robots at once; --logout also ends the SSO session; --revoke is the kill switch for a leak' },
  args: {
    plugin: { type: 'positional', required: false, description: 'aws (the only plugin)' },
    env: { type: 'string', description: 'only this env (default: every unlocked env)' },
    logout: { type: 'boolean', description: 'also call SSO Logout and delete that session’s token and role-credential caches' },
    revoke: {
      type: 'boolean',
      description: 'kill switch: stop the watcher, lock, SSO Logout + delete token and role caches, remove signals and validation caches, verify grants exit 3, print the console steps for role sessions already issued',
    },
    all: { type: 'boolean', description: 'with --revoke: every unlock record and every SSO token / SSO role credential cached on this machine (no keyrack.yml needed)' },
    json: { type: 'boolean', description: 'print JSON' },
    ...fileArg,
  },
  async run({ args }) {
    try {
      checkPlugin(args.plugin);
      if (args.all && !args.revoke) throw new KeyrackError({ code: 'cli.usage', reason: 'invalid-input', message: '--all only works with --revoke', fix: 'use keyrack lock --revoke --all' });
      if (args.revoke) {
        let ctx: RobotContext | undefined;
        try {
          ctx = await robotContext(args);
        } catch (e) {
          // In an emergency, from any directory: --all needs no keyrack.yml.
          if (!(args.all && e instanceof KeyrackError && e.code === 'keyrack-file.not-found' && !args.file)) throw e;
        }
        const runtime = ctx?.runtime ?? processRuntime();
        const log = ctx?.log ?? createLogger({ enabled: runtime.env.KEYRACK_DEBUG === '1' });
        const platform = process.platform === 'darwin' ? 'darwin' : 'linux';
        const r = await revoke({ runtime, log, ...(ctx ? { file: ctx.file } : {}) }, { ...(args.env ? { env: args.env } : {}), all: args.all === true, platform });
        await audit(runtime, { command: 'lock --revoke', ...(args.env ? { env: args.env } : {}), detail: { all: args.all === true } });
        process.stdout.write(args.json ? `${JSON.stringify(r)}\n` : renderRevoke(r));
        const open = r.verified.filter((v) => v.exitCode !== 3);
        if (open.length > 0) {
          throw new KeyrackError({ code: 'lock.revoke-incomplete', reason: 'internal', message: `after revoking, a grant still ${open.map((v) => `${v.env}/${v.key} → exit ${v.exitCode}`).join(', ')}`, fix: 'run keyrack lock --revoke --all, and revoke the user’s active sessions in the IAM Identity Center console' });
        }
        if (r.watcher.service === 'failed') process.exitCode = 6;
        return;
      }
      const ctx = await robotContext(args);
      const r = await lock(ctx, { ...(args.env ? { env: args.env } : {}), logout: args.logout === true });
      await audit(ctx.runtime, { command: 'lock', ...(args.env ? { env: args.env } : {}), detail: { logout: args.logout === true, locked: r.locked.join(',') } });
      if (args.json) {
        process.stdout.write(`${JSON.stringify(r)}\n`);
        return;
      }
      const lines = [r.locked.length ? `locked: ${r.locked.join(', ')}` : 'nothing was unlocked'];
      for (const l of r.loggedOut) lines.push(`logged out of ${l.sso}${l.serverSide ? '' : ' (AWS did not confirm; local copies deleted anyway)'}`);
      if (args.logout) lines.push(`deleted ${r.deletedFiles} cache file(s)`);
      process.stdout.write(`${lines.join('\n')}\n`);
    } catch (e) {
      await recordRefusal(undefined, processRuntime(), args.revoke ? 'lock --revoke' : 'lock', { ...(args.env ? { env: args.env } : {}) }, e);
      reportAndExit(e, { json: args.json === true });
    }
  },
});
