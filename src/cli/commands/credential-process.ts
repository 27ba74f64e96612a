// `keyrack credential-process --profile P`: what a keychain-mode profile's `credential_process` runs (see
// src/aws/credential-process.ts). A robot path: it never logs in, never prompts, never reads stdin. On success
// it prints the Version 1 JSON on stdout; on refusal one line on stderr and the robot contract's exit code, which
// the AWS CLI and the SDKs pass on to whoever asked.
import { defineCommand } from 'citty';
import { credentialProcess, readProcessTarget, renderProcessOutput } from '../../aws/credential-process.js';
import { toKeyrackError, type KeyrackError } from '../../core/errors.js';
import { createLogger } from '../../core/log.js';
import type { RobotContext } from '../../core/plugin.js';
import { processRuntime } from '../context.js';
import { audit, recordRefusal } from '../record.js';
import { reportAndExit } from '../report.js';

/** One line: the AWS CLI prints it after "Error when retrieving credentials from custom-process:". */
function oneLine(e: KeyrackError): string {
  return `keyrack: ${e.message} [${e.reason}]${e.fix ? `; fix: ${e.fix}` : ''}`.replace(/[\r\n]+/g, ' ');
}

export default defineCommand({
  meta: { name: 'credential-process', description: 'Robot: role credentials for a keychain-mode profile, as the AWS CLI / SDK credential_process expects (Version 1 JSON). Never logs in.' },
  args: {
    profile: { type: 'string', required: true, description: 'the profile whose credential_process this is', valueHint: 'PROFILE' },
  },
  async run({ args }) {
    // Built as a CommonJS bundle of its own (scripts/build.mjs): every error is reported here, with this bundle's
    // KeyrackError; the launcher's reporter would not know it.
    await serve(args.profile).catch((e: unknown) => reportAndExit(e));
  },
});

async function serve(profile: string): Promise<void> {
  const runtime = processRuntime();
  const log = createLogger({ enabled: runtime.env.KEYRACK_DEBUG === '1' });
  // Runs from any directory: no keyrack.yml is read, the profile's recorded target says everything.
  const ctx: RobotContext = { runtime, log, file: { path: '(credential-process)', sso: {}, envs: {} } };
  try {
    const r = await credentialProcess(ctx, profile);
    await audit(runtime, { command: 'credential-process', env: r.env, key: r.key, profile: r.profile, ...(r.identity ? { arn: r.identity.arn } : {}), detail: { cached: r.cached, store: r.store } });
    process.stdout.write(renderProcessOutput(r.credentials));
  } catch (e) {
    const err = toKeyrackError(e);
    // No keyrack.yml here: the profile's recorded target names the key the refusal is about.
    const ref = (await readProcessTarget(runtime.paths.state, profile).catch(() => undefined))?.refs[0];
    await recordRefusal(undefined, runtime, 'credential-process', { ...(ref ? { env: ref.env, key: ref.key } : {}), profile }, err);
    process.stderr.write(`${oneLine(err)}\n`);
    process.exit(err.exitCode);
  }
}
