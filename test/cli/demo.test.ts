// The README's main-job command: `keyrack demo` runs the whole story on the bundled emulator.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { assertNoLeak, KEYRACK_BIN } from '../helpers/keyrack.js';

it('keyrack demo walks unlock → grant → exec → list-roles → status → lock → refused grant, and cleans up', async () => {
  const home = await mkdtemp(join(tmpdir(), 'keyrack-demo-test-'));
  try {
    const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
      const child = spawn(process.execPath, [KEYRACK_BIN, 'demo'], { env: { PATH: process.env.PATH ?? '', HOME: home, TMPDIR: home, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (c: Buffer) => (text += c.toString()));
      child.stderr.on('data', (c: Buffer) => (text += c.toString()));
      child.on('close', (code) => resolve({ code, text }));
    });
    assert.equal(out.code, 0, out.text);
    assertNoLeak('keyrack demo', out.text);
    const steps = ['(exit 3)', 'enter the code', 'acme.prep\n    (exit 0)', 'the SDK sees arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Developer_', '* Developer', 'locked: prep', '"reason":"locked"'];
    let at = 0;
    for (const s of steps) {
      const i = out.text.indexOf(s, at);
      assert.ok(i >= 0, `missing or out of order: ${s}`);
      at = i;
    }
    assert.deepEqual((await readdir(home)).filter((n) => n.startsWith('keyrack-demo-')), [], 'the demo removed its sandbox');
    assert.deepEqual((await readdir(home)).filter((n) => n === '.aws'), [], 'the real HOME was not touched');
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});
