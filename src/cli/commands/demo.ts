// `keyrack demo`: the whole story on the embedded default, with no AWS account. The bundled emulator plays AWS
// (auto-approving logins as alice), a throwaway HOME plays your machine, and every robot step runs the real
// keyrack binary as a separate process, exactly as an agent would.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineCommand } from 'citty';
import { createHumanContext, createRobotContext } from '../../core/context.js';
import type { LoginCapability } from '../../core/plugin.js';
import { unlock } from '../../aws/unlock.js';
import { DEFAULT_FIXTURE_KEYRACK_YML } from '../../emulator/fixture.js';

const KEYRACK_YML = DEFAULT_FIXTURE_KEYRACK_YML;

const say = (s: string) => process.stdout.write(`\n\x1b[1m▸ ${s}\x1b[0m\n`.replace(/\x1b\[[0-9;]*m/g, process.stdout.isTTY && !process.env.NO_COLOR ? '$&' : ''));

function run(env: Record<string, string>, cwd: string, args: string[], shown?: string): Promise<number> {
  process.stdout.write(`  $ keyrack ${shown ?? args.join(' ')}\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [process.argv[1] ?? 'keyrack', ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const indent = (c: Buffer) => c.toString().replace(/^(?=.)/gm, '    ');
    child.stdout.on('data', (c: Buffer) => process.stdout.write(indent(c)));
    child.stderr.on('data', (c: Buffer) => process.stdout.write(indent(c)));
    child.on('close', (code) => {
      process.stdout.write(`    (exit ${code})\n`);
      resolve(code ?? 1);
    });
  });
}

export default defineCommand({
  meta: { name: 'demo', description: 'Walk through unlock, grant, exec, list-roles, status and lock against the bundled emulator (no AWS account needed)' },
  async run() {
    const root = await mkdtemp(join(tmpdir(), 'keyrack-demo-'));
    const { startEmulator } = await import('../../emulator/index.js');
    const emu = await startEmulator({ autoApprove: 'alice', autoApproveDelayMs: 800 });
    try {
      const home = join(root, 'home');
      const repo = join(root, 'repo');
      await import('node:fs/promises').then((fs) => Promise.all([fs.mkdir(home, { recursive: true }), fs.mkdir(repo, { recursive: true })]));
      await writeFile(join(repo, 'keyrack.yml'), KEYRACK_YML);
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        XDG_STATE_HOME: join(home, '.local', 'state'),
        XDG_CONFIG_HOME: join(home, '.config'),
        AWS_ENDPOINT_URL_SSO: emu.url,
        AWS_ENDPOINT_URL_SSO_OIDC: emu.url,
        AWS_ENDPOINT_URL_STS: emu.url,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        BROWSER: 'none',
        NO_COLOR: '1',
      };
      process.stdout.write(`keyrack demo: AWS is played by the bundled emulator at ${emu.url}; your machine by ${root}\n`);
      process.stdout.write(`keyrack.yml holds references only:\n${KEYRACK_YML.replace(/^/gm, '    ')}`);

      say('A robot asks for the profile before any human unlocked it: refused, exit 3, with the command to run');
      await run(env, repo, ['grant', 'AWS_PROFILE', '--env', 'prep']);

      say('The human runs `keyrack unlock aws --env prep --device-code` (the emulator approves as alice)');
      const login: LoginCapability = {
        canOpenBrowser: false,
        preferDeviceCode: true,
        openBrowser: async () => false,
        showDeviceCode: (p) => process.stdout.write(`    To sign in, open ${p.verificationUri} and enter the code ${p.userCode}\n    (the emulator approves it as alice in a moment)\n`),
        showAuthorizeUrl: () => undefined,
        waiting: () => undefined,
        done: () => undefined,
      };
      const human = createHumanContext(await createRobotContext({ env, cwd: repo }), login);
      const r = await unlock(human, { env: 'prep' });
      for (const v of r.validated) process.stdout.write(`    ${v.ref.key} → ${v.profile}\n      identity ${v.identity.arn}\n      credentials expire ${new Date(v.credentialsExpireAt).toISOString()}\n`);
      if (r.profilesWritten.length) process.stdout.write(`    wrote ${r.profilesWritten.join(', ')} to ~/.aws/config (AWS CLI compatible)\n`);

      say('A robot gets the reference, validated with STS first: AWS_PROFILE=$(keyrack grant AWS_PROFILE --env prep)');
      await run(env, repo, ['grant', 'AWS_PROFILE', '--env', 'prep']);
      await run(env, repo, ['grant', 'AWS_PROFILE', '--env', 'prep', '--format', 'json']);

      say('A robot runs a program with it: keyrack exec … -- node (the AWS SDK for JavaScript calls STS GetCallerIdentity)');
      const sts = createRequire(import.meta.url).resolve('@aws-sdk/client-sts');
      const script = `const { STSClient, GetCallerIdentityCommand } = require(${JSON.stringify(sts)}); new STSClient({ region: 'us-east-1' }).send(new GetCallerIdentityCommand({})).then((o) => console.log('the SDK sees', o.Arn), (e) => { console.error(e.name); process.exit(1); });`;
      await run(env, repo, ['exec', 'AWS_PROFILE', '--env', 'prep', '--', process.execPath, '-e', script], 'exec AWS_PROFILE --env prep -- node -e "<STS GetCallerIdentity with the SDK>"');

      say('Which accounts and roles can this session reach? (no login, marks what keyrack.yml references)');
      await run(env, repo, ['list-roles']);

      say('Status of every key');
      await run(env, repo, ['status']);

      say('The human locks: robots are refused at once, the AWS session stays for the next unlock');
      await run(env, repo, ['lock', 'aws']);
      await run(env, repo, ['grant', 'AWS_PROFILE', '--env', 'prep', '--format', 'json']);

      process.stdout.write('\nDone. Nothing outside the temporary directory was touched; it is removed now.\n');
    } finally {
      await emu.close();
      await rm(root, { recursive: true, force: true });
    }
  },
});
