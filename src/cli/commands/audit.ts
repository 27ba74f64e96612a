import { defineCommand } from 'citty';
import { parseDuration } from '../../core/duration.js';
import { readAudit } from '../../store/audit.js';
import { processRuntime } from '../context.js';
import { reportAndExit } from '../report.js';

export default defineCommand({
  meta: { name: 'audit', description: 'Show the audit trail: every unlock, grant, refusal, credential-process, lock and watcher event' },
  args: {
    since: { type: 'string', description: 'only events newer than this, e.g. 1h, 7d', valueHint: 'DURATION' },
    key: { type: 'string', description: 'only events for this key' },
    json: { type: 'boolean', description: 'one JSON object per line' },
  },
  async run({ args }) {
    try {
      const rt = processRuntime();
      const since = args.since ? rt.clock.now() - parseDuration(args.since, '--since') * 1000 : undefined;
      const events = await readAudit(rt.paths.state, { ...(since !== undefined ? { since } : {}), ...(args.key ? { key: args.key } : {}) });
      if (args.json) {
        process.stdout.write(events.map((e) => `${JSON.stringify(e)}\n`).join(''));
        return;
      }
      for (const e of events) {
        const what = [e.env && e.key ? `${e.env}/${e.key}` : e.key, e.profile, e.arn].filter(Boolean).join(' ');
        const why = e.result === 'ok' ? 'ok' : `${e.result}${e.reason ? ` (${e.reason})` : ''}`;
        const who = `pid ${e.caller.pid}${e.caller.tty ? ' tty' : ''}${e.caller.parent ? ` ← ${e.caller.parent.slice(0, 60)}` : ''}`;
        process.stdout.write(`${e.time}  ${e.command.padEnd(18)} ${why.padEnd(22)} ${what}  [${who}]\n`);
      }
      if (events.length === 0) process.stdout.write('no audit events\n');
    } catch (e) {
      reportAndExit(e);
    }
  },
});
