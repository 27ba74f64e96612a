// keyrack benchmark: whole-process latency of the robot paths against the bundled emulator, as ratios to a bare
// `node -e 0` and to the real AWS CLI measured in the same run on the same machine. Run: `npm run bench`.
// Options: BENCH_RUNS (default 15), BENCH_CONCURRENCY (default 100).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const KEYRACK = join(ROOT, 'bin', 'keyrack.mjs');
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100);
const AWS_CLI = '/usr/bin/aws';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const { startEmulator } = await import(join(ROOT, 'dist', 'emulator.mjs'));
const keyrack = await import(join(ROOT, 'dist', 'index.mjs'));

const emu = await startEmulator({ autoApprove: 'alice', autoApproveDelayMs: 10 });
const root = await mkdtemp(join(tmpdir(), 'keyrack-bench-'));
const home = join(root, 'home');
const repo = join(root, 'repo');
await mkdir(home, { recursive: true });
await mkdir(repo, { recursive: true });
await writeFile(join(repo, 'keyrack.yml'), await readFile(join(ROOT, 'keyrack.yml.example'), 'utf8'));
const dataPath = join(root, 'aws-data');
for (const sv of ['sso-oidc/2019-06-10', 'sso/2019-06-10', 'sts/2011-06-15']) {
  await mkdir(join(dataPath, sv), { recursive: true });
  await writeFile(join(dataPath, sv, 'endpoint-rule-set-1.json'), JSON.stringify({ version: '1.0', parameters: {}, rules: [{ conditions: [], type: 'endpoint', endpoint: { url: emu.url, properties: {}, headers: {} } }] }));
}
const env = {
  PATH: process.env.PATH,
  HOME: home,
  XDG_STATE_HOME: join(home, '.local', 'state'),
  XDG_CONFIG_HOME: join(home, '.config'),
  AWS_ENDPOINT_URL_SSO: emu.url,
  AWS_ENDPOINT_URL_SSO_OIDC: emu.url,
  AWS_ENDPOINT_URL_STS: emu.url,
  AWS_DATA_PATH: dataPath,
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_PAGER: '',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  BROWSER: 'none',
};

// The human step, in-process through the public API (the CLI's unlock insists on a terminal).
const login = {
  canOpenBrowser: false,
  preferDeviceCode: true,
  openBrowser: async () => false,
  showDeviceCode: () => undefined,
  showAuthorizeUrl: () => undefined,
  waiting: () => undefined,
  done: () => undefined,
};
await keyrack.default.unlock(keyrack.createHumanContext(await keyrack.createRobotContext({ env, cwd: repo }), login), { env: 'prep' });

function runOnce(cmd, args, extraEnv = {}) {
  return new Promise((res, rej) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd: repo, env: { ...env, ...extraEnv }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.on('error', rej);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) rej(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.slice(0, 300)}`));
      else res(ms);
    });
  });
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { median: q(0.5), min: s[0], max: s[s.length - 1], p99: q(0.99) };
};

async function measure(label, cmd, args, { extraEnv = {}, before } = {}) {
  for (let i = 0; i < 2; i++) {
    if (before) await before();
    await runOnce(cmd, args, extraEnv);
  }
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    if (before) await before();
    times.push(await runOnce(cmd, args, extraEnv));
  }
  return { label, ...stats(times) };
}

const dropRoleCache = () => rm(join(home, '.aws', 'cli', 'cache'), { recursive: true, force: true });
const grantArgs = [KEYRACK, 'grant', 'AWS_PROFILE', '--env', 'prep'];
const rows = [];
rows.push(await measure('node -e 0', process.execPath, ['-e', '0']));
rows.push(await measure('keyrack grant (warm: validation cache hit)', process.execPath, grantArgs, { extraEnv: { KEYRACK_VALIDATION_TTL: '5m' } }));
rows.push(await measure('keyrack grant (cold: GetRoleCredentials + GetCallerIdentity)', process.execPath, grantArgs, { extraEnv: { KEYRACK_VALIDATION_TTL: '0' }, before: dropRoleCache }));
const hasCredentialProcess = (await readFile(join(ROOT, 'dist', 'cli.mjs'), 'utf8')).includes('credential-process');
if (hasCredentialProcess) {
  rows.push(await measure('keyrack credential-process (warm)', process.execPath, [KEYRACK, 'credential-process', '--profile', 'acme.prep']));
}
const hasAws = existsSync(AWS_CLI);
if (hasAws) {
  rows.push(await measure('aws sts get-caller-identity --profile (AWS CLI v2)', AWS_CLI, ['sts', 'get-caller-identity', '--profile', 'acme.prep'], { extraEnv: { AWS_CONFIG_FILE: join(home, '.aws', 'config') } }));
}

// Peak RSS of one cold grant, read from the kernel's accounting of a finished child (python3's getrusage).
async function peakRssMb() {
  await dropRoleCache();
  const py = 'import resource,subprocess,sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)';
  return new Promise((res) => {
    const c = spawn('python3', ['-c', py, process.execPath, ...grantArgs], { cwd: repo, env: { ...env, KEYRACK_VALIDATION_TTL: '0' } });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('error', () => res(undefined));
    c.on('close', () => res(out.trim() ? Number(out.trim()) / 1024 : undefined));
  });
}
const rss = await peakRssMb();

// N concurrent grants at the moment the access token needs a refresh: one refresh, all succeed.
const { createHash } = await import('node:crypto');
const tokenPath = join(home, '.aws', 'sso', 'cache', `${createHash('sha1').update('acme').digest('hex')}.json`);
const token = JSON.parse(await readFile(tokenPath, 'utf8'));
token.expiresAt = new Date(Date.now() + 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
await writeFile(tokenPath, JSON.stringify(token), { mode: 0o600 });
await dropRoleCache();
const seqBefore = Math.max(0, ...(await (await fetch(`${emu.url}/_emulator/calls`)).json()).map((c) => c.seq));
const burst = await Promise.allSettled(Array.from({ length: CONCURRENCY }, () => runOnce(process.execPath, grantArgs, { KEYRACK_VALIDATION_TTL: '0' })));
const calls = (await (await fetch(`${emu.url}/_emulator/calls?since=${seqBefore}`)).json());
const refreshes = calls.filter((c) => c.operation === 'CreateToken' && c.grantType === 'refresh_token').length;
const ok = burst.filter((b) => b.status === 'fulfilled').map((b) => b.value);
const burstStats = ok.length ? stats(ok) : undefined;

await emu.close();
await rm(root, { recursive: true, force: true });

const node = rows[0].median;
const f = (ms) => `${ms.toFixed(0)} ms`;
console.log(`\nkeyrack benchmark — ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${RUNS} runs per case (after 2 warm-ups), emulator on 127.0.0.1\n`);
console.log('| case | median | min–max | × node -e 0 |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(`| ${r.label} | ${f(r.median)} | ${f(r.min)}–${f(r.max)} | ${(r.median / node).toFixed(2)} |`);
const cold = rows.find((r) => r.label.startsWith('keyrack grant (cold'));
const aws = rows.find((r) => r.label.startsWith('aws sts'));
console.log('');
if (aws && cold) console.log(`- cold grant vs AWS CLI get-caller-identity: ${(aws.median / cold.median).toFixed(1)}× faster`);
console.log(`- ${CONCURRENCY} concurrent grants at access-token refresh: ${ok.length}/${CONCURRENCY} succeeded, ${refreshes} refresh call(s)${burstStats ? `, p50 ${f(burstStats.median)}, p99 ${f(burstStats.p99)}` : ''}`);
console.log(`- peak RSS of a cold grant: ${rss === undefined ? 'n/a (python3 missing)' : `${rss.toFixed(0)} MB`}`);
