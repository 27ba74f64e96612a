// The default human login: PKCE authorization code with a loopback redirect, through the real binary.
// The "browser" is a tiny script that follows redirects, as a browser would after the user approves.
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSandbox, lastSeq, type Sandbox } from '../helpers/keyrack.js';

describe('unlock with the browser (PKCE) flow', () => {
  let sb: Sandbox;
  let browser: string;
  before(async () => {
    sb = await createSandbox(); // the emulator auto-approves as alice: /authorize redirects straight back
    browser = join(sb.root, 'follow-browser.mjs');
    await writeFile(
      browser,
      `#!${process.execPath}\nimport { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(join(sb.root, 'opened.log'))}, process.argv[2] + '\\n');\nconst r = await fetch(process.argv[2], { redirect: 'follow' });\nawait r.text();\n`,
    );
    await chmod(browser, 0o755);
  });
  after(async () => sb.close());

  it('opens the authorize URL, receives the code on the loopback redirect, exchanges it with the verifier', async () => {
    const since = await lastSeq(sb);
    const r = await sb.run(['unlock', 'aws', '--env', 'prep'], { tty: true, human: true, env: { BROWSER: browser } });
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /signed in \(browser\)/);
    const opened = (await readFile(join(sb.root, 'opened.log'), 'utf8')).trim();
    const url = new URL(opened);
    assert.equal(url.pathname, '/authorize');
    assert.equal(url.searchParams.get('response_type'), 'code');
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.match(url.searchParams.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.match(url.searchParams.get('redirect_uri') ?? '', /^http:\/\/127\.0\.0\.1:\d+\/oauth\/callback$/);
    assert.equal(url.searchParams.get('scopes'), 'sso:account:access');
    const calls = (await sb.emu.control.calls(since)).map((c) => `${c.operation}${c.grantType ? `:${c.grantType}` : ''}`);
    assert.ok(calls.includes('CreateToken:authorization_code'), calls.join(','));
    assert.ok(!calls.some((c) => c.startsWith('StartDeviceAuthorization')));
    const g = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep']);
    assert.equal(g.code, 0, g.stderr);
  });

  it('a registration made for PKCE is reused for the next PKCE login, and the device flow gets its own', async () => {
    await sb.run(['lock', '--logout']);
    const since = await lastSeq(sb);
    assert.equal((await sb.run(['unlock', 'aws', '--env', 'prep'], { tty: true, human: true, env: { BROWSER: browser } })).code, 0);
    const again = (await sb.emu.control.calls(since)).filter((c) => c.operation === 'RegisterClient');
    assert.equal(again.length, 0, 'PKCE registration reused');
    await sb.run(['lock', '--logout']);
    const since2 = await lastSeq(sb);
    assert.equal((await sb.unlock()).code, 0);
    assert.equal((await sb.emu.control.calls(since2)).filter((c) => c.operation === 'RegisterClient').length, 1, 'device flow registered anew');
  });
});
