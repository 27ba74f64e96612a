// Reproduces the figures in research/robots-under-faults.md: the real keyrack binary against the local emulator,
// through the test sandbox (so every run is also leak-scanned and checked for login attempts).
//   node scripts/build.mjs --no-types && node --import tsx research/robots-under-faults.measure.ts [--quick]
// Process wall times include Node start-up; `in-process` is the last debug line's +ms (grant() start to finish).
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tokenCacheKey } from '../src/aws/cache-keys.js';
import { createSandbox, type RunResult, type Sandbox } from '../test/helpers/keyrack.js';

const QUICK = process.argv.includes('--quick');
const REPS = QUICK ? 5 : 25;
const KEY = tokenCacheKey({ session: 'acme' });

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const fmt = (xs: number[]) => `median ${Math.round(pct(xs, 50))} ms, p90 ${Math.round(pct(xs, 90))} ms (n=${xs.length})`;

async function timed(sb: Sandbox, args: string[], env: Record<string, string> = {}, secrets = false): Promise<{ r: RunResult; wall: number; inner: number }> {
  const t0 = performance.now();
  const r = await sb.run(args, { env: { KEYRACK_DEBUG: '1', ...env }, secretsOnStdout: secrets, timeoutMs: 120_000 });
  const wall = performance.now() - t0;
  const last = r.stderr.split('\n').filter((l) => l.startsWith('keyrack[debug] +')).pop() ?? '';
  const inner = Number(/\+(\d+)ms/.exec(last)?.[1] ?? NaN);
  return { r, wall, inner };
}

async function expireLocally(sb: Sandbox): Promise<void> {
  const p = join(sb.home, '.aws', 'sso', 'cache', `${KEY}.json`);
  const t = JSON.parse(await readFile(p, 'utf8')) as Record<string, string>;
  t.expiresAt = new Date(Date.now() - 1_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  await writeFile(p, JSON.stringify(t), { mode: 0o600 });
}

async function series(label: string, n: number, prep: () => Promise<void>, run: () => Promise<{ r: RunResult; wall: number; inner: number }>, expect = 0): Promise<void> {
  const wall: number[] = [];
  const inner: number[] = [];
  for (let i = 0; i < n; i++) {
    await prep();
    const x = await run();
    if (x.r.code !== expect) throw new Error(`${label}: exit ${x.r.code}\n${x.r.stderr}`);
    wall.push(x.wall);
    inner.push(x.inner);
  }
  console.log(`${label}\n  process: ${fmt(wall)}\n  in-process: ${fmt(inner)}`);
}

const sb = await createSandbox();
try {
  if ((await sb.unlock()).code !== 0) throw new Error('unlock failed');
  const grant = ['grant', 'AWS_PROFILE', '--env', 'prep'];
  const noCache = { KEYRACK_VALIDATION_TTL: '0' };
  const roleCache = join(sb.home, '.aws', 'cli', 'cache');
  const nothing = async () => undefined;

  console.log('# latency (emulator on loopback: a floor, real AWS adds its round trips)');
  await series('baseline: keyrack --version (Node start-up)', REPS, nothing, async () => {
    const t0 = performance.now();
    const r = await sb.run(['--version']);
    return { r, wall: performance.now() - t0, inner: 0 };
  });
  await timed(sb, grant); // fill the validation cache
  await series('warm: validation-cache hit (no AWS call)', REPS, nothing, () => timed(sb, grant));
  await series('validated, role credentials cached (ListAccounts + GetCallerIdentity)', REPS, nothing, () => timed(sb, grant, noCache));
  await series('cold: no role credentials cached (GetRoleCredentials + GetCallerIdentity)', REPS, () => rm(roleCache, { recursive: true, force: true }), () => timed(sb, grant, noCache));
  await series('cold + refresh: access token expired (CreateToken + GetCallerIdentity)', REPS, () => expireLocally(sb), () => timed(sb, grant, noCache));

  console.log('\n# AWS unavailable, default limits (3 s connect, 5 s per attempt, 10 s overall, 3 attempts)');
  const faults: [string, Record<string, unknown>][] = [
    ['STS 503 on every attempt', { operation: 'GetCallerIdentity', status: 503, errorType: 'ServiceUnavailable' }],
    ['STS Throttling on every attempt', { operation: 'GetCallerIdentity', status: 400, errorType: 'Throttling' }],
    ['portal connection reset on every attempt', { operation: 'ListAccounts', reset: true }],
    ['STS answer never comes (blackhole)', { operation: 'GetCallerIdentity', delayMs: 60_000 }],
  ];
  for (const [label, f] of faults) {
    await sb.emu.control.fault({ ...(f as { operation: string }), count: 1_000 } as Parameters<typeof sb.emu.control.fault>[0]);
    const n = label.includes('blackhole') ? 2 : QUICK ? 3 : 5;
    await series(`${label} → exit 4`, n, nothing, () => timed(sb, grant, noCache), 4);
    await sb.emu.control.clearFaults();
  }

  console.log('\n# a tight loop of 20 grants: AWS calls made');
  for (const [label, env] of [['TTL 0 (disabled)', noCache], ['TTL 30 s (default)', {}]] as const) {
    await rm(join(sb.home, '.local', 'state', 'keyrack', 'validated'), { recursive: true, force: true });
    const since = Math.max(0, ...(await sb.emu.control.calls()).map((c) => c.seq));
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) await timed(sb, grant, env);
    const calls = (await sb.emu.control.calls(since)).length;
    console.log(`${label}: ${calls} AWS calls for 20 grants, ${Math.round((performance.now() - t0) / 20)} ms per grant`);
  }

  console.log('\n# 50 concurrent grants');
  for (const outage of [false, true]) {
    await sleep(2_100); // past any shared-failure window
    await sb.emu.control.expire('access-tokens');
    await expireLocally(sb);
    if (outage) await sb.emu.control.fault({ operation: '*', status: 503, errorType: 'ServiceUnavailable', count: 1_000_000 });
    const since = Math.max(0, ...(await sb.emu.control.calls()).map((c) => c.seq));
    const t0 = performance.now();
    const rs = await Promise.all(Array.from({ length: 50 }, () => sb.run(grant, { env: { KEYRACK_TOTAL_TIMEOUT_MS: '60000' }, timeoutMs: 120_000 })));
    const wall = Math.round(performance.now() - t0);
    const codes: Record<string, number> = {};
    for (const r of rs) codes[String(r.code)] = (codes[String(r.code)] ?? 0) + 1;
    const ops: Record<string, number> = {};
    for (const c of await sb.emu.control.calls(since)) ops[c.operation] = (ops[c.operation] ?? 0) + 1;
    console.log(`${outage ? 'outage (every call 503)' : 'at token expiry'}: exits ${JSON.stringify(codes)}, AWS calls ${JSON.stringify(ops)}, ${wall} ms for all`);
    await sb.emu.control.clearFaults();
  }
} finally {
  await sb.close();
}
