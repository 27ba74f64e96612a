import { defineCommand } from 'citty';
import { lock } from '../../aws/lock.js';
import { checkPlugin, fileArg, robotContext } from '../context.js';
import { reportAndExit } from '../report.js';

export default defineCommand({
  meta: { name: 'lock', description: 'Close keys to robots at once; --logout also ends the SSO session and deletes its caches' },
  args: {
    plugin: { type: 'positional', required: false, description: 'aws (the only plugin)' },
    env: { type: 'string', description: 'only this env (default: every unlocked env)' },
    logout: { type: 'boolean', description: 'also call SSO Logout and delete that session’s token and role-credential caches' },
    json: { type: 'boolean', description: 'print JSON' },
    ...fileArg,
  },
  async run({ args }) {
    try {
      checkPlugin(args.plugin);
      const ctx = await robotContext(args);
      const r = await lock(ctx, { ...(args.env ? { env: args.env } : {}), logout: args.logout === true });
      if (args.json) {
        process.stdout.write(`${JSON.stringify(r)}\n`);
        return;
      }
      const lines = [r.locked.length ? `locked: ${r.locked.join(', ')}` : 'nothing was unlocked'];
      for (const l of r.loggedOut) lines.push(`logged out of ${l.sso}${l.serverSide ? '' : ' (AWS did not confirm; local copies deleted anyway)'}`);
      if (args.logout) lines.push(`deleted ${r.deletedFiles} cache file(s)`);
      process.stdout.write(`${lines.join('\n')}\n`);
    } catch (e) {
      reportAndExit(e, { json: args.json === true });
    }
  },
});
