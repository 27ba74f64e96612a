// `keyrack credential-process --profile P`: what a keychain-mode profile's `credential_process` runs (see
// src/aws/credential-process.ts). A robot path: it never logs in, never prompts, never reads stdin. On success
// it prints the Version 1 JSON on stdout; on refusal one line on stderr and the robot contract's exit code, which
// the AWS CLI and the SDKs pass on to whoever asked.
import { defineCommand } from 'citty';
import { credentialProcess, readProcessTarget, renderProcessOutput } from '../../aws/credential-process.js';
import { toKeyrackError, type KeyrackError } from '../../core/errors.js';
import { createLogger } from '../../core/log.js';
import type { RobotContext } from '../../core/plugin.js';
import { describeRequester, recordLoginRequired } from '../../store/signal.js';
import { processRuntime } from '../context.js';
import { audit } from '../record.js';
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
  // A locked keyring with a display shows an unlock dialog and waits for it forever: a robot never waits for a
  // person. Without these the keychain fails at once, with a clear error (exit 6).
  delete process.env.DISPLAY;
  delete process.env.WAYLAND_DISPLAY;
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
    const ref = (await readProcessTarget(runtime.paths.state, profile).catch(() => undefined))?.refs[0];
    await audit(runtime, {
      command: 'credential-process',
      result: err.reason === 'internal' ? 'error' : 'refused',
      reason: err.reason,
      code: err.code,
      ...(ref ? { env: ref.env, key: ref.key } : {}),
      profile,
    });
    if (ref && (err.reason === 'locked' || err.reason === 'expired')) {
      await recordLoginRequired(runtime, {
        env: ref.env,
        key: ref.key,
        profile,
        reason: err.reason,
        code: err.code,
        requester: describeRequester({ pid: process.pid, ppid: process.ppid, cwd: runtime.cwd, argv: ['keyrack', ...process.argv.slice(2)] }),
      }).catch(() => undefined);
    }
    process.stderr.write(`${oneLine(err)}\n`);
    process.exit(err.exitCode);
  }
}
