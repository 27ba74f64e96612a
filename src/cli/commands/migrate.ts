// `keyrack migrate --to keychain|files [--sso NAME]`: move SSO sessions between the AWS CLI's files and the OS
// keychain (src/aws/migrate.ts). Safe to interrupt and to run again.
import { defineCommand } from 'citty';
import { migrate, type MigrateResult, type MigrateTo } from '../../aws/migrate.js';
import { KeyrackError, isKeyrackError } from '../../core/errors.js';
import type { KeyrackFile } from '../../core/keyrack-file.js';
import { createLogger } from '../../core/log.js';
import { fileArg, processRuntime, robotContext } from '../context.js';
import { audit, recordRefusal } from '../record.js';
import { reportAndExit } from '../report.js';

function render(r: MigrateResult): string {
  const where = r.to === 'keychain' ? 'the OS keychain' : 'the AWS CLI files (~/.aws/sso/cache)';
  const lines: string[] = [];
  for (const s of r.sessions) {
    lines.push(`sso ${s.sso}: now in ${where}`);
    lines.push(`  token ${s.token === 'moved' ? 'moved' : s.token === 'kept' ? 'already there (newer copy kept)' : 'none stored (the next keyrack unlock signs in)'}`);
    if (s.profiles.length > 0) lines.push(`  profiles rewritten: ${s.profiles.join(', ')}${r.to === 'keychain' ? ' (credential_process = keyrack credential-process)' : ' (sso_session)'}`);
    lines.push(`  ${s.removed} ${r.to === 'keychain' ? 'plaintext' : 'keychain'} cop${s.removed === 1 ? 'y' : 'ies'} removed`);
  }
  return `${lines.join('\n')}\n`;
}

export default defineCommand({
  meta: { name: 'migrate', description: 'Move SSO sessions between the AWS CLI cache files and the OS keychain (and remove the old copy)' },
  args: {
    to: { type: 'string', required: true, description: 'keychain | files', valueHint: 'STORE' },
    sso: { type: 'string', description: 'the sso-session to move (default: every one keyrack.yml references)', valueHint: 'NAME' },
    json: { type: 'boolean', description: 'print JSON' },
    ...fileArg,
  },
  async run({ args }) {
    let runtime = processRuntime();
    try {
      if (args.to !== 'keychain' && args.to !== 'files') {
        throw new KeyrackError({ code: 'cli.bad-store', reason: 'invalid-input', message: '--to must be keychain or files', fix: 'keyrack migrate --to keychain (or --to files) [--sso NAME]' });
      }
      let file: KeyrackFile | undefined;
      try {
        const robot = await robotContext(args);
        file = robot.file;
        runtime = robot.runtime;
      } catch (e) {
        // Without a keyrack.yml, --sso says which session; a broken keyrack.yml is still an error.
        if (!isKeyrackError(e) || e.code !== 'keyrack-file.not-found' || !args.sso) throw e;
      }
      const log = createLogger({ enabled: runtime.env.KEYRACK_DEBUG === '1' });
      const r = await migrate({ runtime, log, ...(file ? { file } : {}), interactive: process.stdin.isTTY === true }, { to: args.to as MigrateTo, ...(args.sso ? { sso: args.sso } : {}) });
      for (const s of r.sessions) await audit(runtime, { command: 'migrate', detail: { sso: s.sso, to: r.to, token: s.token, profiles: s.profiles.length, removed: s.removed } });
      process.stdout.write(args.json ? `${JSON.stringify(r)}\n` : render(r));
    } catch (e) {
      await recordRefusal(undefined, runtime, 'migrate', {}, e);
      reportAndExit(e, { json: args.json === true });
    }
  },
});
