// Runs the real AWS CLI v2 (/usr/bin/aws) against the in-process emulator, in a sandboxed HOME.
// aws-cli 2.9.19 ignores AWS_ENDPOINT_URL*, so it is routed with endpoint rule-set overrides on AWS_DATA_PATH:
// one unconditional rule per service pointing at the emulator. The CLI is spawned asynchronously because the
// emulator it talks to lives in this very process.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const AWS_CLI = '/usr/bin/aws';

/** service directory / API version, as bundled with aws-cli 2.9.19. */
const ROUTED_SERVICES = ['sso-oidc/2019-06-10', 'sso/2019-06-10', 'sts/2011-06-15'];

/** Writes `<dir>/<service>/<version>/endpoint-rule-set-1.json` sending every call to `url`. */
export async function writeEndpointRules(dir: string, url: string): Promise<void> {
  const ruleSet = { version: '1.0', parameters: {}, rules: [{ conditions: [], type: 'endpoint', endpoint: { url, properties: {}, headers: {} } }] };
  for (const sv of ROUTED_SERVICES) {
    await mkdir(join(dir, sv), { recursive: true });
    await writeFile(join(dir, sv, 'endpoint-rule-set-1.json'), JSON.stringify(ruleSet));
  }
}

export interface AwsResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface AwsCliSandbox {
  home: string;
  configFile: string;
  ssoCacheDir: string;
  cliCacheDir: string;
  env: Record<string, string>;
  writeConfig(text: string): Promise<void>;
  /** Runs /usr/bin/aws; onStdout sees output as it arrives (the device flow prints its code mid-run). */
  aws(args: string[], opts?: { timeoutMs?: number; onStdout?: (chunk: string) => void }): Promise<AwsResult>;
  tokenCachePath(sessionName: string): string;
  readTokenCache(sessionName: string): Promise<Record<string, unknown>>;
  writeTokenCache(sessionName: string, data: Record<string, unknown>): Promise<void>;
  clearCliCache(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function awsCliSandbox(emulatorUrl: string): Promise<AwsCliSandbox> {
  const home = await mkdtemp(join(tmpdir(), 'keyrack-awscli-'));
  const dataPath = join(home, 'aws-data');
  await writeEndpointRules(dataPath, emulatorUrl);
  const configFile = join(home, '.aws', 'config');
  await mkdir(join(home, '.aws'), { recursive: true, mode: 0o700 });
  const ssoCacheDir = join(home, '.aws', 'sso', 'cache');
  const cliCacheDir = join(home, '.aws', 'cli', 'cache');
  // Built from nothing: no AWS_PROFILE, AWS_REGION or credentials from the real environment can leak in.
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LANG: 'C.UTF-8',
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_STATE_HOME: join(home, '.local', 'state'),
    AWS_CONFIG_FILE: configFile,
    AWS_SHARED_CREDENTIALS_FILE: join(home, '.aws', 'credentials'),
    AWS_DATA_PATH: dataPath,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    AWS_CLI_AUTO_PROMPT: 'off',
    AWS_MAX_ATTEMPTS: '1',
  };
  const tokenCachePath = (s: string) => join(ssoCacheDir, `${createHash('sha1').update(s).digest('hex')}.json`);

  return {
    home,
    configFile,
    ssoCacheDir,
    cliCacheDir,
    env,
    tokenCachePath,
    writeConfig: (text) => writeFile(configFile, text, { mode: 0o600 }),
    aws: (args, opts = {}) => runAws(args, env, opts),
    async readTokenCache(s) {
      return JSON.parse(await readFile(tokenCachePath(s), 'utf8')) as Record<string, unknown>;
    },
    async writeTokenCache(s, data) {
      await mkdir(ssoCacheDir, { recursive: true, mode: 0o700 });
      await writeFile(tokenCachePath(s), JSON.stringify(data), { mode: 0o600 });
    },
    async clearCliCache() {
      const names = await readdir(cliCacheDir).catch(() => [] as string[]);
      await Promise.all(names.map((n) => rm(join(cliCacheDir, n), { force: true })));
    },
    cleanup: () => rm(home, { recursive: true, force: true }),
  };
}

export function runAws(args: string[], env: Record<string, string>, opts: { timeoutMs?: number; onStdout?: (chunk: string) => void } = {}): Promise<AwsResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(AWS_CLI, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      opts.onStdout?.(c);
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** An sso-session profile the way `aws configure sso` writes it (scopes make the session refreshable). */
export function ssoSessionConfig(opts: { session: string; profile: string; accountId: string; roleName: string; startUrl: string; region?: string }): string {
  const region = opts.region ?? 'us-east-1';
  return `[profile ${opts.profile}]
sso_session = ${opts.session}
sso_account_id = ${opts.accountId}
sso_role_name = ${opts.roleName}
region = ${region}
output = json

[sso-session ${opts.session}]
sso_start_url = ${opts.startUrl}
sso_region = ${region}
sso_registration_scopes = sso:account:access
`;
}
