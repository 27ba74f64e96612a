import { defineCommand } from 'citty';
import { parseDuration } from '../../core/duration.js';
import { KeyrackError } from '../../core/errors.js';
import { parseFormat, renderGrant } from '../../core/output.js';
import type { RobotContext } from '../../core/plugin.js';
import { grant, grantWaiting } from '../../aws/grant.js';
import { fileArg, processRuntime, robotContext } from '../context.js';
import { audit, recordRefusal } from '../record.js';
import { reportAndExit } from '../report.js';

/** Every value of a repeatable string flag (citty keeps only the last one). */
function repeated(rawArgs: string[], flag: string): string[] {
  const end = rawArgs.indexOf('--') === -1 ? rawArgs.length : rawArgs.indexOf('--');
  const out: string[] = [];
  for (let i = 0; i < end; i++) {
    const a = rawArgs[i] as string;
    if (a === `--${flag}` && i + 1 < end) out.push(rawArgs[++i] as string);
    else if (a.startsWith(`--${flag}=`)) out.push(a.slice(flag.length + 3));
  }
  return out;
}

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
    task: { type: 'string', description: 'task-scoped grant: the task id (RoleSessionName, TaskId tag); needs --purpose and a scope in keyrack.yml', valueHint: 'ID' },
    purpose: { type: 'string', description: 'task-scoped grant: a purpose declared under the key’s scope', valueHint: 'NAME' },
    resource: { type: 'string', description: 'task-scoped grant: a resource ARN the task may touch (repeatable)', valueHint: 'ARN' },
    duration: { type: 'string', description: 'task-scoped grant: lifetime, clamped to the declared max and 1 h', valueHint: 'DURATION' },
    'dry-run': { type: 'boolean', description: 'task-scoped grant: print the exact policy and parameters without calling AWS' },
    ...fileArg,
  },
  async run({ args, rawArgs }) {
    const json = args.format === 'json';
    const runtime = processRuntime();
    let ctx: RobotContext | undefined;
    try {
      ctx = await robotContext(args);
      if (args.task !== undefined || args.purpose !== undefined) {
        if (!args.task || !args.purpose) {
          throw new KeyrackError({ code: 'cli.scope-flags', reason: 'invalid-input', message: 'a task-scoped grant needs both --task and --purpose', fix: 'keyrack grant KEY --task ID --purpose NAME [--resource ARN …] [--duration 10m]' });
        }
        const { scopedGrant, renderPlan } = await import('../../aws/scope/index.js');
        const r = await scopedGrant(ctx, {
          key: args.key,
          ...(args.env ? { env: args.env } : {}),
          task: args.task,
          purpose: args.purpose,
          resources: repeated(rawArgs, 'resource'),
          ...(args.duration ? { durationSeconds: parseDuration(args.duration, '--duration') } : {}),
          dryRun: args['dry-run'] === true,
        });
        if (!r.grant) {
          process.stdout.write(renderPlan(r.plan, json ? 'json' : 'text'));
          return;
        }
        await audit(runtime, { command: 'grant --task', env: r.plan.env, key: args.key, profile: r.grant.profile, arn: r.grant.identity.arn, detail: { task: r.plan.roleSessionName, purpose: args.purpose, durationSeconds: r.plan.durationSeconds } });
        process.stdout.write(renderGrant(r.grant, parseFormat(args.format ?? 'json', true)));
        return;
      }
      const format = parseFormat(args.format, args.credentials === true);
      const waitMs = args.wait !== undefined ? parseDuration(args.wait, '--wait') * 1000 : 0;
      const req = { key: args.key, ...(args.env ? { env: args.env } : {}), credentials: args.credentials === true };
      const g = waitMs > 0 ? await grantWaiting(ctx, req, { waitMs, onWaiting: (line) => process.stderr.write(`${line}\n`) }) : await grant(ctx, req);
      await audit(runtime, { command: 'grant', env: g.env, key: g.key, profile: g.profile, arn: g.identity.arn, detail: { cached: g.cached, credentials: req.credentials } });
      process.stdout.write(renderGrant(g, format));
    } catch (e) {
      await recordRefusal(ctx, runtime, 'grant', { ...(args.env ? { env: args.env } : {}), key: args.key }, e);
      reportAndExit(e, { json });
    }
  },
});
