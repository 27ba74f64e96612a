// A person at a real terminal (tmux): the device code and a countdown are shown, Ctrl-C cancels cleanly and
// leaves nothing behind.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { createSandbox, KEYRACK_BIN, type Sandbox } from '../helpers/keyrack.js';

const sh = promisify(execFile);

describe('unlock in a real terminal (tmux)', () => {
  let sb: Sandbox;
  const session = `keyrack-test-${process.pid}`;
  before(async () => {
    sb = await createSandbox({ autoApprove: null }); // nobody approves: the person will cancel
  });
  after(async () => {
    await sh('tmux', ['kill-session', '-t', session]).catch(() => undefined);
    await sb.close();
  });

  const screen = async () => (await sh('tmux', ['capture-pane', '-p', '-t', session])).stdout;
  async function waitFor(re: RegExp, ms = 20_000): Promise<string> {
    const until = Date.now() + ms;
    for (;;) {
      const s = await screen();
      if (re.test(s)) return s;
      if (Date.now() > until) throw new Error(`screen never matched ${re}:\n${s}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('shows the code and time left; Ctrl-C cancels, writes no token, exits non-zero', async () => {
    const env = Object.entries(sb.env).map(([k, v]) => `${k}=${v}`);
    const cmd = `cd ${sb.repo} && env ${env.map((e) => `'${e}'`).join(' ')} ${process.execPath} ${KEYRACK_BIN} unlock aws --env prep --device-code; echo "exit=$?"; sleep 30`;
    await sh('tmux', ['new-session', '-d', '-s', session, '-x', '200', '-y', '50', cmd]);
    const shown = await waitFor(/waiting for approval of code [A-Z]{4}-[A-Z]{4} \(\d+:\d\d left, Ctrl-C to cancel\)/);
    assert.match(shown, /enter the code: [A-Z]{4}-[A-Z]{4}/);
    await sh('tmux', ['send-keys', '-t', session, 'C-c']);
    const done = await waitFor(/exit=\d+/);
    assert.match(done, /login cancelled; nothing was written/);
    assert.match(done, /exit=3/);
    const cache = await readdir(join(sb.home, '.aws', 'sso', 'cache')).catch(() => [] as string[]);
    // The registration may be cached (as the AWS CLI does); no token file may exist.
    for (const f of cache) {
      const { readFile } = await import('node:fs/promises');
      assert.doesNotMatch(await readFile(join(sb.home, '.aws', 'sso', 'cache', f), 'utf8'), /accessToken/);
    }
    assert.equal((await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep'])).code, 3);
  });
});
