// The runnable host example (examples/host.mjs) works as documented in docs/writing-a-host.md: it imports the
// package by name ('keyrack-aws', resolved to the built dist through the package's own exports), unlocks as a
// person at a terminal, and grants as a robot, against the emulator in a sandboxed HOME.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertNoLeak, createSandbox, type Sandbox } from '../helpers/keyrack.js';

const EXAMPLE = resolve('examples/host.mjs');
const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function runExample(sb: Sandbox, args: string[], tty: boolean): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const argv = [process.execPath, EXAMPLE, ...args];
  const [cmd, cmdArgs] = tty ? ['script', ['-qefc', argv.map(shq).join(' '), '/dev/null']] : [argv[0] as string, argv.slice(1)];
  return new Promise((res, rej) => {
    const child = spawn(cmd as string, cmdArgs as string[], { cwd: sb.repo, env: sb.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    if (!tty) child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', rej);
    child.on('close', (code) => {
      clearTimeout(timer);
      assertNoLeak(`examples/host.mjs ${args.join(' ')}`, stdout + stderr);
      res({ code, stdout, stderr });
    });
  });
}

describe('examples/host.mjs', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox(); // the emulator approves the device code as alice
  });
  after(async () => sb.close());

  it('a robot is refused while nothing is unlocked (exit 3, with the fix)', async () => {
    const r = await runExample(sb, ['grant', 'AWS_PROFILE', 'prep'], false);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /fix: a human runs: keyrack unlock aws --env prep/);
  });

  it('unlock is refused without a person at a terminal', async () => {
    const r = await runExample(sb, ['unlock', 'prep'], false);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /unlock needs a person at a terminal/);
  });

  it('a person unlocks (device code), then robots get the profile; status shows it', async () => {
    const u = await runExample(sb, ['unlock', 'prep'], true);
    assert.equal(u.code, 0, u.stdout);
    assert.match(u.stdout, /enter the code [A-Z]{4}-[A-Z]{4}/);
    assert.match(u.stdout, /prep\/AWS_PROFILE → acme\.prep as arn:aws:sts::111122223333:assumed-role\/AWSReservedSSO_Developer_[0-9a-f]{16}\/alice/);
    const g = await runExample(sb, ['grant', 'AWS_PROFILE', 'prep'], false);
    assert.equal(g.code, 0, g.stderr);
    assert.equal(g.stdout, 'acme.prep\n');
    const s = await runExample(sb, ['status', 'prep'], false);
    assert.match(s.stdout, /prep\/AWS_PROFILE → acme\.prep: unlocked, sso token valid/);
  });
});
