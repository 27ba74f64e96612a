import { defineCommand } from 'citty';
import { parseFormat, renderGrant } from '../../core/output.js';
import { grant } from '../../aws/grant.js';
import { fileArg, robotContext } from '../context.js';
import { reportAndExit } from '../report.js';

export default defineCommand({
  meta: { name: 'grant', description: 'Robot: validate with AWS, then print the reference (or short-lived credentials). Never logs in.' },
  args: {
    key: { type: 'positional', required: true, description: 'key in keyrack.yml, e.g. AWS_PROFILE' },
    env: { type: 'string', description: 'env of keyrack.yml (required when it has more than one)' },
    format: { type: 'string', description: 'value (default) | shell | json | dotenv', valueHint: 'FORMAT' },
    credentials: { type: 'boolean', description: 'hand out the role credentials and their expiry instead of the profile name' },
    ...fileArg,
  },
  async run({ args }) {
    const json = args.format === 'json';
    try {
      const format = parseFormat(args.format, args.credentials === true);
      const ctx = await robotContext(args);
      const g = await grant(ctx, { key: args.key, ...(args.env ? { env: args.env } : {}), credentials: args.credentials === true });
      process.stdout.write(renderGrant(g, format));
    } catch (e) {
      reportAndExit(e, { json });
    }
  },
});
