// `keyrack sync`: write every profile keyrack.yml references but this machine lacks. No network, no login.
import { defineCommand } from 'citty';
import { KeyrackError, formatError } from '../../core/errors.js';
import type { AwsProfileRef, KeyrackFile } from '../../core/keyrack-file.js';
import type { Paths } from '../../core/runtime.js';
import { syncProfiles, type SyncResult } from '../../aws/profile-writer.js';
import { displayPathFor } from '../../aws/config-file.js';
import { fileArg, robotContext } from '../context.js';
import { reportAndExit } from '../report.js';
import { createStyle, type Style } from '../ui.js';

export function refsToSync(file: KeyrackFile, env?: string): AwsProfileRef[] {
  const envs = env ? [env.replace(/^env\./, '')] : Object.keys(file.envs);
  return envs.flatMap((e) => {
    const keys = Object.hasOwn(file.envs, e) ? file.envs[e] : undefined;
    if (!keys) {
      throw new KeyrackError({ code: 'keyrack-file.unknown-env', reason: 'invalid-input', message: `env ${e} is not defined in ${file.path}`, fix: `use one of: ${Object.keys(file.envs).join(', ')}` });
    }
    return Object.values(keys).filter((r): r is AwsProfileRef => r.kind === 'profile');
  });
}

/** Sync and summarise; also used by `unlock --write-profiles`. */
export async function runSync(paths: Paths, file: KeyrackFile, opts: { env?: string; force?: boolean; dryRun?: boolean }): Promise<SyncResult> {
  return syncProfiles(paths, file, refsToSync(file, opts.env), { force: opts.force === true, dryRun: opts.dryRun === true });
}

export function renderSync(r: SyncResult, paths: Paths, s: Style, dryRun = false): string {
  const where = displayPathFor(paths.awsConfig, paths.home);
  const verb = dryRun ? 'would write' : 'wrote';
  const lines: string[] = [];
  const sessions = new Set<string>();
  for (const i of r.items) {
    if (i.session && !sessions.has(i.session.name)) {
      sessions.add(i.session.name);
      lines.push(`${s.green('+')} ${dryRun ? 'would write' : i.session.change === 'added' ? 'wrote' : 'updated'} [sso-session ${i.session.name}] to ${where}`);
    }
    const label = `${i.env}/${i.key} → ${i.profile}`;
    if (i.status === 'written') lines.push(`${s.green('+')} ${verb} [profile ${i.profile}] to ${where}  ${s.dim(`(${i.env}/${i.key})`)}`);
    else if (i.status === 'updated') lines.push(`${s.yellow('~')} ${dryRun ? 'would update' : 'updated'} [profile ${i.profile}] in ${where}  ${s.dim(`(${i.env}/${i.key})`)}`);
    else if (i.status === 'present') lines.push(`${s.dim('=')} ${label}: already in ${where}`);
    else lines.push(`${s.red('!')} ${label}: ${i.status === 'differs' ? 'differs, left alone' : 'not written'}: ${i.detail ?? ''}${i.fix ? `\n    fix: ${i.fix}` : ''}`);
  }
  if (r.items.length === 0) lines.push('keyrack.yml references no AWS profiles');
  return `${lines.join('\n')}\n`;
}

/** Sync leaves the file as complete as it could; what it could not do is a misconfiguration (exit 6). */
export function syncError(r: SyncResult): KeyrackError | undefined {
  const bad = r.items.filter((i) => i.status === 'differs' || i.status === 'unwritable');
  if (bad.length === 0) return undefined;
  return new KeyrackError({
    code: 'sync.incomplete',
    reason: 'misconfigured',
    message: `${bad.length} profile(s) were not written: ${[...new Set(bad.map((i) => i.profile))].join(', ')}`,
    fix: bad.some((i) => i.status === 'differs') ? 'see above; rerun with --force to let keyrack update differing profiles' : 'see above',
  });
}

export default defineCommand({
  meta: { name: 'sync', description: 'Write every profile keyrack.yml references but ~/.aws/config lacks (no login, no network)' },
  args: {
    env: { type: 'string', description: 'only the references of this env (default: all)' },
    force: { type: 'boolean', description: 'also update existing profiles that differ from their reference' },
    'dry-run': { type: 'boolean', description: 'show what would be written, write nothing' },
    json: { type: 'boolean', description: 'print JSON' },
    ...fileArg,
  },
  async run({ args }) {
    try {
      const ctx = await robotContext(args);
      const dryRun = args['dry-run'] === true;
      const r = await runSync(ctx.runtime.paths, ctx.file, { ...(args.env ? { env: args.env } : {}), force: args.force === true, dryRun });
      if (args.json) {
        process.stdout.write(`${JSON.stringify({ written: r.written, changed: r.changed, dryRun, items: r.items })}\n`);
      } else {
        process.stdout.write(renderSync(r, ctx.runtime.paths, createStyle(process.stdout, ctx.runtime.env), dryRun));
      }
      const err = syncError(r);
      if (err) {
        process.stderr.write(`${formatError(err)}\n`);
        process.exitCode = err.exitCode;
      }
    } catch (e) {
      reportAndExit(e, { json: args.json === true });
    }
  },
});
