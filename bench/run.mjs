// keyrack benchmark: whole-process latency of the robot paths against the bundled emulator, as ratios to a bare
// `node -e 0` and to the real AWS CLI, all measured in the same run on the same machine. Run: `npm run bench`.
//
// Cases run interleaved: every round runs each case once, in a fresh random order, so a burst of load from
// elsewhere on the machine spreads over all cases instead of skewing one. The first rounds are warm-ups.
// Options (environment): BENCH_RUNS (measured rounds, default 20), BENCH_WARMUP (default 2),
// BENCH_CONCURRENCY (the burst, default 100).
//
// What each case is:
//   node -e 0                 Node start-up alone: the floor.
//   grant warm                a validation-cache hit, as a robot loop sees it (the fast path, src/cli/fast), through
//                             the installed command (package.json bin, dist/cli.cjs).
//   grant warm, full path     the same hit with KEYRACK_FAST_PATH=0 (citty and the whole grant), for reference.
//   grant cold                no validation cache (KEYRACK_VALIDATION_TTL=0) and no cached role credentials:
//                             GetRoleCredentials + GetCallerIdentity against the emulator.
//   floor: the same two calls
//                             bench/cold-floor.cjs: GetRoleCredentials + GetCallerIdentity over node:http and
//                             node:crypto with nothing else, so a cold grant's cost above it is keyrack's own.
//   credential-process warm   a keychain-mode profile's credential_process with its role credentials cached in a
//                             private gnome-keyring (skipped when the command or the keyring tools are missing).
//   floor: one keychain read  bench/keychain-floor.cjs: Node, the keychain binding and one Secret Service read of the
//                             same role credentials, with nothing else.
//   floor: an agent's answer  bench/socket-floor.cjs: Node, node:net and one answer on a Unix socket from this
//                             process, the floor of an in-memory agent that would spare the keychain reads.
//   aws sts get-caller-identity --profile P
//                             the AWS CLI v2 on the same SSO session, with no cached role credentials either, so it
//                             makes the same two calls as a cold grant.
// Then: peak RSS of a warm and a cold grant (kernel accounting via python3's getrusage), BENCH_CONCURRENCY
// grants started at once at the moment the access token expires (default validation TTL, as robots run it), and
// as its floor the same number of `node -e 0` started at once; both bursts through bench/burst.py, which times
// each process from its own start to its own exit.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startPrivateKeyring } from '../scripts/private-keyring.mjs';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
// The installed command (package.json `bin`).
const KEYRACK = join(ROOT, JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).bin.keyrack);
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100);
const AWS_CLI = '/usr/bin/aws';
const PROFILE = 'acme.prep';
// What keyrack.yml.example gives that profile, for the floor that calls AWS without keyrack.
const ACCOUNT = '111122223333';
const ROLE = 'Developer';
const REGION = 'us-east-1';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const { startEmulator } = await import(join(ROOT, 'dist', 'emulator.mjs'));
const keyrack = await import(join(ROOT, 'dist', 'index.mjs'));
const load0 = loadavg();

const emu = await startEmulator({ autoApprove: 'alice', autoApproveDelayMs: 10 });
const root = await mkdtemp(join(tmpdir(), 'keyrack-bench-'));
const repo = join(root, 'repo');
await mkdir(repo, { recursive: true });
await writeFile(join(repo, 'keyrack.yml'), await readFile(join(ROOT, 'keyrack.yml.example'), 'utf8'));
// The AWS CLI ignores AWS_ENDPOINT_URL_* (2.9): endpoint rule-set overrides in AWS_DATA_PATH route it instead.
const dataPath = join(root, 'aws-data');
for (const sv of ['sso-oidc/2019-06-10', 'sso/2019-06-10', 'sts/2011-06-15']) {
  await mkdir(join(dataPath, sv), { recursive: true });
  await writeFile(join(dataPath, sv, 'endpoint-rule-set-1.json'), JSON.stringify({ version: '1.0', parameters: {}, rules: [{ conditions: [], type: 'endpoint', endpoint: { url: emu.url, properties: {}, headers: {} } }] }));
}

function sandboxEnv(home, extra = {}) {
  return {
    PATH: process.env.PATH,
    HOME: home,
    XDG_STATE_HOME: join(home, '.local', 'state'),
    XDG_CONFIG_HOME: join(home, '.config'),
    AWS_CONFIG_FILE: join(home, '.aws', 'config'),
    AWS_ENDPOINT_URL_SSO: emu.url,
    AWS_ENDPOINT_URL_SSO_OIDC: emu.url,
    AWS_ENDPOINT_URL_STS: emu.url,
    AWS_DATA_PATH: dataPath,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    BROWSER: 'none',
    ...extra,
  };
}

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
async function unlock(env) {
  await keyrack.default.unlock(keyrack.createHumanContext(await keyrack.createRobotContext({ env, cwd: repo }), login), { env: 'prep' });
}

const home = join(root, 'home');
await mkdir(home, { recursive: true });
const env = sandboxEnv(home);
await unlock(env);
// The SSO session's token file (the AWS CLI's name for it: SHA-1 of the session name).
const tokenPath = join(home, '.aws', 'sso', 'cache', `${createHash('sha1').update('acme').digest('hex')}.json`);

function runOnce(cmd, args, runEnv) {
  return new Promise((res, rej) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd: repo, env: runEnv, stdio: ['ignore', 'ignore', 'pipe'] });
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

/**
 * `n` copies of a command started at once (bench/burst.py: posix_spawn, and a thread in wait() that timestamps each
 * exit as it happens). Each run's time is its own start to its own exit.
 */
async function startAtOnce(n, argv, runEnv) {
  const errDir = await mkdtemp(join(root, 'burst-'));
  // Not spawnSync: the emulator runs in this process and must keep answering meanwhile.
  const child = spawn('python3', [join(ROOT, 'bench', 'burst.py'), String(n), repo, errDir, '--', ...argv], { env: runEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c) => (err += c));
  const code = await new Promise((res, rej) => child.on('error', rej).on('close', res));
  if (code !== 0) throw new Error(`bench/burst.py exited ${code}: ${err.slice(0, 500)}`);
  return JSON.parse(out);
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { median: s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2, min: s[0], max: s[s.length - 1], p99: q(0.99) };
};

const roleCache = join(home, '.aws', 'cli', 'cache');
const dropRoleCache = () => rm(roleCache, { recursive: true, force: true });
const grantArgs = [KEYRACK, 'grant', 'AWS_PROFILE', '--env', 'prep'];
const WARM_TTL = '5m';

// The warm cases need a validation younger than the TTL and the fast path's record for it: a full-path grant
// with a shorter TTL validates again when the last one is a minute old, one with the cases' TTL then hits and
// records. Done between cases (untimed), at most once a minute.
let primedAt = 0;
async function prime() {
  if (Date.now() - primedAt < 60_000) return;
  await runOnce(process.execPath, grantArgs, { ...env, KEYRACK_VALIDATION_TTL: '1m', KEYRACK_FAST_PATH: '0' });
  await runOnce(process.execPath, grantArgs, { ...env, KEYRACK_VALIDATION_TTL: WARM_TTL, KEYRACK_FAST_PATH: '0' });
  primedAt = Date.now();
}

const cases = [
  { id: 'node', label: '`node -e 0`', cmd: process.execPath, args: ['-e', '0'], env },
  { id: 'warm', label: '`keyrack grant` warm (validation-cache hit, fast path)', cmd: process.execPath, args: grantArgs, env: { ...env, KEYRACK_VALIDATION_TTL: WARM_TTL }, before: prime },
  { id: 'warm-full', label: '`keyrack grant` warm, full path (`KEYRACK_FAST_PATH=0`)', cmd: process.execPath, args: grantArgs, env: { ...env, KEYRACK_VALIDATION_TTL: WARM_TTL, KEYRACK_FAST_PATH: '0' }, before: prime },
  { id: 'cold', label: '`keyrack grant` cold (GetRoleCredentials + GetCallerIdentity)', cmd: process.execPath, args: grantArgs, env: { ...env, KEYRACK_VALIDATION_TTL: '0' }, before: dropRoleCache },
  // Its floor: the same two calls over node:http and node:crypto, nothing else (bench/cold-floor.cjs).
  { id: 'cold-floor', label: 'floor: the same two calls alone, node:http + node:crypto (`bench/cold-floor.cjs`)', cmd: process.execPath, args: [join(ROOT, 'bench', 'cold-floor.cjs'), tokenPath, ACCOUNT, ROLE, REGION], env },
];

// Keychain mode: a second sandbox whose session keeps its token in a private gnome-keyring, its profiles rewritten
// to `credential_process = … keyrack credential-process --profile P` by the unlock.
let keyring;
let agent;
if (existsSync(join(ROOT, 'dist', 'cli', 'commands', 'credential-process.cjs'))) {
  keyring = await startPrivateKeyring().catch(() => undefined); // no keyring tools here: the case is skipped
  if (keyring) {
    const home2 = join(root, 'home-keychain');
    await mkdir(join(home2, '.config', 'keyrack'), { recursive: true });
    await writeFile(join(home2, '.config', 'keyrack', 'config.yml'), 'sso:\n  acme:\n    token_store: keychain\n');
    const env2 = sandboxEnv(home2, { DBUS_SESSION_BUS_ADDRESS: keyring.address });
    process.env.DBUS_SESSION_BUS_ADDRESS = keyring.address; // the keychain binding in this process (the unlock)
    await unlock(env2);
    await runOnce(process.execPath, [KEYRACK, 'credential-process', '--profile', PROFILE], env2); // caches role credentials
    cases.push({ id: 'cp', label: '`keyrack credential-process` warm (keychain mode)', cmd: process.execPath, args: [KEYRACK, 'credential-process', '--profile', PROFILE], env: env2 });
    // Its floor: one read of the same keychain entry, nothing else (bench/keychain-floor.cjs). The entry's name is
    // spelt here as keyrack spells it (KEYRACK_AWS_KEYCHAIN_SERVICE, roleAccount() and the fast record's roleKey
    // at fastProcessPath()); none of them is public API. Should one change, the floor finds no entry and exits 1,
    // which stops the benchmark.
    const fast = JSON.parse(await readFile(join(home2, '.local', 'state', 'keyrack', 'fast', `process-${PROFILE}.json`), 'utf8'));
    cases.push({ id: 'cp-floor', label: 'floor: Node + keychain binding + one Secret Service read (`bench/keychain-floor.cjs`)', cmd: process.execPath, args: [join(ROOT, 'bench', 'keychain-floor.cjs'), 'keyrack-aws', `role-credentials:${fast.roleKey}`], env: env2 });
    // And the floor of the alternative to a keychain read, an agent answering from memory on a Unix socket
    // (bench/socket-floor.cjs; this process plays the agent, with a fixed answer).
    const agentSocket = join(root, 'agent.sock');
    agent = createServer((s) => s.once('data', () => s.end(JSON.stringify({ Version: 1, AccessKeyId: 'ASIAFLOOR', SecretAccessKey: 'floor', SessionToken: 'floor', Expiration: new Date(Date.now() + 3_600_000).toISOString() }))));
    await new Promise((res, rej) => agent.once('error', rej).listen(agentSocket, res));
    cases.push({ id: 'agent-floor', label: 'floor: Node + one answer from an agent on a Unix socket (`bench/socket-floor.cjs`)', cmd: process.execPath, args: [join(ROOT, 'bench', 'socket-floor.cjs'), agentSocket], env: env2 });
  }
}
if (existsSync(AWS_CLI)) {
  cases.push({ id: 'aws', label: '`aws sts get-caller-identity --profile acme.prep` (AWS CLI v2)', cmd: AWS_CLI, args: ['sts', 'get-caller-identity', '--profile', PROFILE], env, before: dropRoleCache });
}

const times = new Map(cases.map((c) => [c.id, []]));
for (let round = 0; round < WARMUP + RUNS; round++) {
  const order = [...cases].sort(() => Math.random() - 0.5);
  for (const c of order) {
    if (c.before) await c.before();
    const ms = await runOnce(c.cmd, c.args, c.env);
    if (round >= WARMUP) times.get(c.id).push(ms);
  }
}
const rows = cases.map((c) => ({ ...c, ...stats(times.get(c.id)) }));
const row = (id) => rows.find((r) => r.id === id);

// Peak RSS of one process, from the kernel's accounting of a finished child (python3's getrusage).
function peakRssMb(args, runEnv) {
  const py = 'import resource,subprocess,sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)';
  const r = spawnSync('python3', ['-c', py, process.execPath, ...args], { cwd: repo, env: runEnv, encoding: 'utf8' });
  const kb = Number(r.stdout?.trim());
  return r.status === 0 && kb > 0 ? kb / 1024 : undefined;
}
primedAt = 0;
await prime();
const rssWarm = peakRssMb(grantArgs, { ...env, KEYRACK_VALIDATION_TTL: WARM_TTL });
await dropRoleCache();
const rssCold = peakRssMb(grantArgs, { ...env, KEYRACK_VALIDATION_TTL: '0' });

// CONCURRENCY grants at the moment the access token expires: AWS ends it and the cached file says so too. The
// robots have been running with this environment before (one grant here), so the fast path has its record.
await runOnce(process.execPath, grantArgs, env);
const token = JSON.parse(await readFile(tokenPath, 'utf8'));
token.expiresAt = new Date(Date.now() - 1_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
await fetch(`${emu.url}/_emulator/expire`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ what: 'access-tokens' }) });
await writeFile(tokenPath, JSON.stringify(token), { mode: 0o600 });
await dropRoleCache();
const seqBefore = Math.max(0, ...(await (await fetch(`${emu.url}/_emulator/calls`)).json()).map((c) => c.seq));
const burst = await startAtOnce(CONCURRENCY, [process.execPath, ...grantArgs], env);
const burstWall = burst.wallMs;
const calls = await (await fetch(`${emu.url}/_emulator/calls?since=${seqBefore}`)).json();
const refreshes = calls.filter((c) => c.operation === 'CreateToken' && c.grantType === 'refresh_token').length;
const validations = calls.filter((c) => c.operation === 'GetCallerIdentity').length;
const ok = burst.runs.filter((r) => r.code === 0).map((r) => r.ms);
const burstStats = ok.length ? stats(ok) : undefined;
// The floor for that: the same number of bare Node start-ups at once, on the same 2 cores.
const floor = stats((await startAtOnce(CONCURRENCY, [process.execPath, '-e', '0'], env)).runs.map((r) => r.ms));
const failures = burst.runs.filter((r) => r.code !== 0).map((r) => `exit ${r.code}: ${r.stderr.split('\n')[0]}`);

const awsVersion = existsSync(AWS_CLI) ? spawnSync(AWS_CLI, ['--version'], { encoding: 'utf8', env }).stdout.trim().split(' ')[0] : undefined;
await emu.close();
await keyring?.close();
agent?.close();
await rm(root, { recursive: true, force: true });

const f = (ms) => `${ms.toFixed(0)} ms`;
const node = row('node').median;
const check = (ok) => (ok ? '✓' : '✗');
const load1 = loadavg();
console.log(
  `\nkeyrack benchmark — ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${availableParallelism()} CPUs, load average ${load0[0].toFixed(1)} → ${load1[0].toFixed(1)}` +
    `${awsVersion ? `, ${awsVersion}` : ''}; ${RUNS} interleaved rounds (after ${WARMUP} warm-up), emulator on 127.0.0.1\n`,
);
const dropped = ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS'].filter((k) => process.env[k]);
if (dropped.length) console.log(`(${dropped.join(', ')} set here, and left out of every case: each adds to every Node start)\n`);
console.log('| case | median | min–max | × `node -e 0` |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(`| ${r.label} | ${f(r.median)} | ${f(r.min)}–${f(r.max)} | ${(r.median / node).toFixed(2)} |`);
console.log('');
const targets = [];
const warm = row('warm');
const cold = row('cold');
const aws = row('aws');
const cp = row('cp');
targets.push(`${check(warm.median <= 1.2 * node)} warm grant: ${(warm.median / node).toFixed(2)} × \`node -e 0\` (target ≤ 1.2)`);
const coldFloor = row('cold-floor');
targets.push(
  `${check(cold.median <= 2 * node)} cold grant: ${(cold.median / node).toFixed(2)} × \`node -e 0\` (target ≤ 2);` +
    ` the same two calls alone: ${(coldFloor.median / node).toFixed(2)} ×, so keyrack's own part is ${f(cold.median - coldFloor.median)}`,
);
if (aws) targets.push(`${check(aws.median >= 5 * cold.median)} cold grant vs \`aws sts get-caller-identity\`: ${(aws.median / cold.median).toFixed(1)}× faster (target ≥ 5)`);
const cpFloor = row('cp-floor');
const agentFloor = row('agent-floor');
targets.push(
  cp
    ? `${check(cp.median <= 1.2 * node)} credential-process warm: ${(cp.median / node).toFixed(2)} × \`node -e 0\` (target ≤ 1.2);` +
        ` one keychain read alone: ${(cpFloor.median / node).toFixed(2)} ×; an agent's answer on a Unix socket alone: ${(agentFloor.median / node).toFixed(2)} ×`
    : '- credential-process: not measured (no command or no gnome-keyring here)',
);
targets.push(
  `${check(refreshes === 1 && ok.length === CONCURRENCY && burstStats && burstStats.p99 < 2000)} ${CONCURRENCY} grants at access-token expiry: ${ok.length}/${CONCURRENCY} succeeded, ${refreshes} refresh call(s), ${validations} validation(s) (GetCallerIdentity)` +
    `${burstStats ? `, p50 ${f(burstStats.median)}, p99 ${f(burstStats.p99)}, max ${f(burstStats.max)}, all done in ${f(burstWall)}` : ''} (target: 1 refresh, all succeed, p99 < 2 s);` +
    ` the floor, ${CONCURRENCY} × \`node -e 0\` at once: p50 ${f(floor.median)}, p99 ${f(floor.p99)}`,
);
if (failures.length) targets.push(`  failures: ${[...new Set(failures)].slice(0, 3).join(' | ')}`);
const rss = (mb) => (mb === undefined ? 'n/a (python3 missing)' : `${mb.toFixed(0)} MB`);
targets.push(`${check(rssWarm !== undefined && rssCold !== undefined && Math.max(rssWarm, rssCold) <= 80)} peak RSS: warm grant ${rss(rssWarm)}, cold grant ${rss(rssCold)} (target ≤ 80 MB)`);
for (const t of targets) console.log(`- ${t}`);
