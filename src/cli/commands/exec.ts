import { spawn } from 'node:child_process';
import { defineCommand } from 'citty';
import { KeyrackError } from '../../core/errors.js';
import { grantVariables } from '../../core/output.js';
import { grant } from '../../aws/grant.js';
import { fileArg, robotContext } from '../context.js';
import { reportAndExit } from '../report.js';

export default defineCommand({
  meta: { name: 'exec', description: 'Robot: grant, then run a command with the variables set; passes its exit code through' },
  args: {
    key: { type: 'positional', required: true, description: 'key in keyrack.yml' },
    env: { type: 'string', description: 'env of keyrack.yml' },
    credentials: { type: 'boolean', description: 'set AWS_ACCESS_KEY_ID/… instead of the profile variable' },
    ...fileArg,
  },
  async run({ args, rawArgs }) {
    try {
      const dash = rawArgs.indexOf('--');
      const command = dash === -1 ? [] : rawArgs.slice(dash + 1);
      const [cmd, ...cmdArgs] = command;
      if (!cmd) throw new KeyrackError({ code: 'cli.exec-command', reason: 'invalid-input', message: 'no command given', fix: 'keyrack exec KEY --env E -- CMD ARGS…' });
      const ctx = await robotContext(args);
      const g = await grant(ctx, { key: args.key, ...(args.env ? { env: args.env } : {}), credentials: args.credentials === true });
      const env: NodeJS.ProcessEnv = { ...process.env, ...grantVariables(g) };
      // Credentials in the environment must win over any profile the caller had selected.
      if (g.credentials) delete env.AWS_PROFILE;
      const child = spawn(cmd, cmdArgs, { stdio: 'inherit', env });
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
      const code = await new Promise<number>((resolve) => {
        child.once('error', () => resolve(127));
        child.once('exit', (c, s) => resolve(c ?? (s ? 128 + 15 : 1)));
      });
      process.exit(code);
    } catch (e) {
      reportAndExit(e);
    }
  },
});
