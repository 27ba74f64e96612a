// The default sign-in, end to end with a real browser: `keyrack unlock` opens the authorize URL through BROWSER,
// headless Chromium (playwright-core, a fresh profile) loads the emulator's consent page, picks the user and
// clicks Approve; the redirect reaches keyrack's loopback listener and the unlock completes. The emulator runs
// WITHOUT auto-approve: only the click approves.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';
import { SECRET_MARKER } from '../../src/emulator/index.js';
import { createSandbox, type Sandbox } from '../helpers/keyrack.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function waitForFile(path: string, timeoutMs: number): Promise<string> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const text = await readFile(path, 'utf8').catch(() => '');
    if (text.trim() !== '') return text.trim().split('\n')[0] as string;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`BROWSER was never called (no ${path})`);
}

describe('PKCE sign-in approved in a real headless Chromium', () => {
  let sb: Sandbox;
  let profileDir: string;
  let browser: BrowserContext | undefined;
  before(async () => {
    sb = await createSandbox({ autoApprove: null });
    profileDir = await mkdtemp(join(tmpdir(), 'keyrack-chromium-'));
  });
  after(async () => {
    await browser?.close();
    await rm(profileDir, { recursive: true, force: true });
    await sb.close();
  });

  it('keyrack unlock → BROWSER hands the URL over → Chromium approves as alice → unlocked; robots get grants', async () => {
    const urlFile = join(sb.root, 'authorize-url');
    const handOver = join(sb.root, 'bin', 'hand-over-browser');
    await writeFile(handOver, `#!/bin/sh\nprintf '%s\\n' "$1" > ${JSON.stringify(urlFile)}\n`);
    await chmod(handOver, 0o755);

    const unlock = sb.run(['unlock', 'aws', '--env', 'prep'], { tty: true, human: true, env: { BROWSER: handOver }, timeoutMs: 120_000 });
    const url = await waitForFile(urlFile, 60_000);
    assert.match(url, new RegExp(`^${sb.emu.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/authorize\\?response_type=code&client_id=[^&]+&redirect_uri=http%3A%2F%2F127\\.0\\.0\\.1%3A\\d+%2Foauth%2Fcallback&state=`));
    assert.ok(!url.includes(SECRET_MARKER));

    browser = await chromium.launchPersistentContext(profileDir, { executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
    const page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(url);
    assert.equal(await page.locator('h1').textContent(), 'Allow access?');
    assert.ok(!(await page.content()).includes(SECRET_MARKER), 'the consent page carries no secret');
    await page.locator('input[name="user"][value="alice"]').check();
    await Promise.all([page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/oauth\/callback\?/), page.locator('button[value="approve"]').click()]);
    assert.equal(await page.locator('h1').textContent(), 'keyrack is unlocked');
    assert.ok(!(await page.content()).includes(SECRET_MARKER));
    await browser.close();
    browser = undefined;

    const r = await unlock;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /If no browser opens, visit this URL on this machine/);
    assert.match(r.stdout, /sso acme: signed in \(browser\)/);
    assert.match(r.stdout, /arn:aws:sts::111122223333:assumed-role\/AWSReservedSSO_Developer_[0-9a-f]{16}\/alice/);

    // The emulator saw the page load and the click, and the code exchanged with PKCE.
    const ops = (await sb.emu.control.calls()).map((c) => c.operation);
    for (const op of ['RegisterClient', 'Authorize', 'AuthorizeDecision', 'CreateToken', 'GetRoleCredentials', 'GetCallerIdentity']) assert.ok(ops.includes(op), op);
    assert.ok(!ops.includes('StartDeviceAuthorization'));

    const g = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep']);
    assert.equal(g.code, 0, g.stderr);
    assert.equal(g.stdout, 'acme.prep\n');
  });
});
