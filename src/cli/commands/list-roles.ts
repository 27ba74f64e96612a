import { defineCommand } from 'citty';
import { listRoles } from '../../aws/list-roles.js';
import { fileArg, robotContext } from '../context.js';
import { reportAndExit } from '../report.js';

export default defineCommand({
  meta: { name: 'list-roles', description: 'Robot-safe: every account and role the SSO session can reach (no login)' },
  args: {
    sso: { type: 'string', description: 'sso-session name (default: the one keyrack.yml uses)' },
    json: { type: 'boolean', description: 'print JSON' },
    ...fileArg,
  },
  async run({ args }) {
    try {
      const ctx = await robotContext(args);
      const listing = await listRoles(ctx, { ...(args.sso ? { sso: args.sso } : {}) });
      if (args.json) {
        process.stdout.write(`${JSON.stringify(listing)}\n`);
        return;
      }
      const lines = [`sso session ${listing.sso}: ${listing.accounts.length} account(s)`];
      for (const a of listing.accounts) {
        lines.push(`${a.accountId}  ${a.accountName}${a.emailAddress ? `  <${a.emailAddress}>` : ''}`);
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
