import { defineCommand } from 'citty';
import { formatError } from '../../core/errors.js';
import { checkDrift, driftError, type DriftReport } from '../../aws/drift.js';
import { listRoles } from '../../aws/list-roles.js';
import { fileArg, robotContext } from '../context.js';
import { reportAndExit } from '../report.js';
import { createStyle, withSpinner, type Style } from '../ui.js';

function renderCheck(r: DriftReport, s: Style): string {
  const lines: string[] = [];
  for (const i of r.items) {
    const mark = i.status === 'ok' ? s.green('ok   ') : i.status === 'drift' ? s.red('DRIFT') : s.yellow('?    ');
    const what = i.account ? `account ${i.account}${i.accountName ? ` (${i.accountName})` : ''}, role ${i.role ?? '?'}` : '';
    lines.push(`${mark} ${i.env}/${i.key} → ${i.profile}${what ? `  ${s.dim(what)}` : ''}`);
    for (const p of i.problems) lines.push(`      ${p.kind}: ${p.message}`);
  }
  const drift = r.items.filter((i) => i.status !== 'ok').length;
  lines.push(drift === 0 ? s.green(`all ${r.items.length} reference(s) match IAM Identity Center`) : `${drift} of ${r.items.length} reference(s) need attention`);
  return `${lines.join('\n')}\n`;
}

export default defineCommand({
  meta: { name: 'list-roles', description: 'Robot-safe: every account and role the SSO session can reach (no login); --check reports drift' },
  args: {
    sso: { type: 'string', description: 'sso-session name (default: the one keyrack.yml uses)' },
    check: { type: 'boolean', description: 'check every reference: account and role still assigned, profile matches the pins; exit 5 on drift' },
    env: { type: 'string', description: 'with --check: only this env' },
    json: { type: 'boolean', description: 'print JSON' },
    ...fileArg,
  },
  async run({ args }) {
    try {
      const ctx = await robotContext(args);
      const style = createStyle(process.stdout, ctx.runtime.env);
      if (args.check) {
        const spin = createStyle(process.stderr, ctx.runtime.env);
        const report = await withSpinner('checking references with IAM Identity Center…', () => checkDrift(ctx, { ...(args.env ? { env: args.env } : {}) }), { style: spin });
        process.stdout.write(args.json ? `${JSON.stringify(report)}\n` : renderCheck(report, style));
        const err = driftError(report);
        if (err) {
          process.stderr.write(`${formatError(err)}\n`);
          process.exitCode = err.exitCode;
        }
        return;
      }
      const listing = await listRoles(ctx, { ...(args.sso ? { sso: args.sso } : {}) });
      if (args.json) {
        process.stdout.write(`${JSON.stringify(listing)}\n`);
        return;
      }
      const lines = [`sso session ${listing.sso}: ${listing.accounts.length} account(s)`];
      for (const a of listing.accounts) {
        lines.push(`${a.accountId}  ${style.bold(a.accountName)}${a.emailAddress ? `  <${a.emailAddress}>` : ''}`);
        for (const role of a.roles) {
          const refs = a.referenced.filter((r) => r.role === role);
          lines.push(`    ${refs.length ? '*' : ' '} ${role}${refs.length ? `   ← ${refs.map((r) => `${r.env}/${r.key} (${r.profile})`).join(', ')}` : ''}`);
        }
      }
      lines.push('(* = referenced by keyrack.yml)');
      process.stdout.write(`${lines.join('\n')}\n`);
    } catch (e) {
      reportAndExit(e, { json: args.json === true });
    }
  },
});
