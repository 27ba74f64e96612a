import { defineCommand } from 'citty';
import { status } from '../../aws/status.js';
import type { KeyStatus } from '../../aws/status.js';
import { fileArg, robotContext } from '../context.js';
import { reportAndExit } from '../report.js';
import { inFromNow, iso } from '../time.js';

function render(rows: KeyStatus[], now: number): string {
  const lines: string[] = [];
  for (const s of rows) {
    lines.push(`${s.env}/${s.key} → ${s.profile}`);
    lines.push(`    unlock       ${s.unlocked ? (s.until ? `until ${iso(s.until)} (${inFromNow(s.until, now)})` : 'open until lock / session end') : 'locked'}`);
    lines.push(`    sso token    ${s.token}${s.tokenExpiresAt ? `, expires ${iso(s.tokenExpiresAt)} (${inFromNow(s.tokenExpiresAt, now)})` : ''}${s.sso ? `  [${s.sso}]` : ''}`);
    if (s.deviceCodePush) lines.push(`    device-code push ON for ${s.sso}: keyrack watch may start a device-code sign-in when a robot is blocked (a human approves it in a browser)`);
    if (s.registrationExpiresAt) lines.push(`    registration expires ${iso(s.registrationExpiresAt)} (${inFromNow(s.registrationExpiresAt, now)})`);
    if (s.problem) lines.push(`    problem      ${s.problem.reason}: ${s.problem.message}`);
    if (s.check?.ok) lines.push(`    check        ok: ${s.check.identity.arn}, credentials expire ${iso(s.check.credentialsExpireAt)}`);
    else if (s.check) lines.push(`    check        ${s.check.reason}: ${s.check.message}`);
  }
  return `${lines.join('\n')}\n`;
}

export default defineCommand({
  meta: { name: 'status', description: 'Robot-safe: per key, unlock state and SSO token state; --check validates with AWS' },
  args: {
    env: { type: 'string', description: 'only this env' },
    json: { type: 'boolean', description: 'print JSON' },
    check: { type: 'boolean', description: 'also validate every key with AWS (exit 3/4/5/6 when one fails)' },
    ...fileArg,
  },
  async run({ args }) {
    try {
      const ctx = await robotContext(args);
      const rows = await status(ctx, { ...(args.env ? { env: args.env } : {}), check: args.check === true });
      process.stdout.write(args.json ? `${JSON.stringify({ keys: rows })}\n` : render(rows, ctx.runtime.clock.now()));
      const failed = rows.find((r) => r.check && !r.check.ok);
      if (failed?.check && !failed.check.ok) process.exitCode = { locked: 3, expired: 3, unavailable: 4, mismatch: 5, denied: 5, misconfigured: 6 }[failed.check.reason] ?? 1;
    } catch (e) {
      reportAndExit(e, { json: args.json === true });
    }
  },
});
