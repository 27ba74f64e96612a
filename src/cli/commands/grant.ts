import { defineCommand } from 'citty';
import { parseDuration } from '../../core/duration.js';
import { parseFormat, renderGrant } from '../../core/output.js';
import { grant, grantWaiting } from '../../aws/grant.js';
import { fileArg, robotContext } from '../context.js';
import { reportAndExit } from '../report.js';

export default defineCommand({
  meta: { name: 'grant', description: 'Robot: validate with AWS, then print the reference (or short-lived credentials). Never logs in.' },
  args: {
    key: { type: 'positional', required: true, description: 'key in keyrack.yml, e.g. AWS_PROFILE' },
    env: { type: 'string', description: 'env of keyrack.yml (required when it has more than one)' },
    format: { type: 'string', description: 'value (default) | shell | json | dotenv', valueHint: 'FORMAT' },
    credentials: { type: 'boolean', description: 'hand out the role credentials and their expiry instead of the profile name' },
    wait: {
      type: 'string',
      description: 'when locked or expired, wait up to this long (e.g. 5m) for a human to unlock, then grant; the command to run is printed once to stderr',
      valueHint: 'DURATION',
    },
    ...fileArg,
  },
  async run({ args }) {
    const json = args.format === 'json';
    try {
      const format = parseFormat(args.format, args.credentials === true);
      const waitMs = args.wait !== undefined ? parseDuration(args.wait, '--wait') * 1000 : 0;
      const ctx = await robotContext(args);
      const req = { key: args.key, ...(args.env ? { env: args.env } : {}), credentials: args.credentials === true };
      const g = waitMs > 0 ? await grantWaiting(ctx, req, { waitMs, onWaiting: (line) => process.stderr.write(`${line}\n`) }) : await grant(ctx, req);
      process.stdout.write(renderGrant(g, format));
    } catch (e) {
      reportAndExit(e, { json });
    }
  },
});
