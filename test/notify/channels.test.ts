// Every notification channel against a real receiver: a webhook server on loopback, a command notifier, a fake
// notify-send on PATH, a fake Telegram Bot API with the bot token in a real (private) Secret Service.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/core/log.js';
import { commandChannel, desktopChannel, TELEGRAM_TOKEN_ACCOUNT, telegramChannel, webhookChannel, type Channel } from '../../src/notify/channels.js';
import { createNotifier, dedupeKey } from '../../src/notify/dispatch.js';
import { makeEvent, type NotifyEvent } from '../../src/notify/events.js';
import { keychainDelete, keychainSet, KEYRACK_KEYCHAIN_SERVICE } from '../../src/store/keychain.js';
import { defaultUserConfig } from '../../src/store/user-config.js';
import { startTestKeyring, type TestKeyring } from '../helpers/keyring.js';
import { fakeProgram, startReceiver, type Receiver } from './receivers.js';

const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
const event = (over: Partial<NotifyEvent> = {}): NotifyEvent =>
  makeEvent(T0, { event: 'session-expiring', title: 'acme ends in 1h', message: 'The SSO session acme ends at 13:00Z.', sso: 'acme', command: 'keyrack unlock aws --env prep', ...over });

describe('notify channels against real receivers', () => {
  let root: string;
  let rx: Receiver;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'keyrack-notify-'));
    rx = await startReceiver();
  });
  after(async () => {
    await rx.close();
    await rm(root, { recursive: true, force: true });
  });

  it('webhook: the event JSON is POSTed as application/json', async () => {
    rx.received.length = 0;
    await webhookChannel(`${rx.url}/hook?x=1`, false).send(event());
    assert.equal(rx.received.length, 1);
    const got = rx.received[0];
    assert.equal(got?.method, 'POST');
    assert.equal(got?.path, '/hook?x=1');
    assert.equal(got?.contentType, 'application/json');
    const body = JSON.parse(got?.body ?? '') as NotifyEvent;
    assert.equal(body.source, 'keyrack');
    assert.equal(body.event, 'session-expiring');
    assert.equal(body.severity, 'warning');
    assert.equal(body.sso, 'acme');
    assert.equal(body.at, new Date(T0).toISOString());
  });

  it('webhook with slack: true sends a Slack-compatible {"text"} body', async () => {
    rx.received.length = 0;
    await webhookChannel(`${rx.url}/slack`, true).send(event());
    const body = JSON.parse(rx.received[0]?.body ?? '') as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['text']);
    assert.match(String(body.text), /^\*keyrack: acme ends in 1h\*\nThe SSO session acme ends at 13:00Z\.\nRun: keyrack unlock aws --env prep/);
  });

  it('webhook failures name the origin only (a webhook path is a secret), with the status or the time limit', async () => {
    rx.status = 500;
    await assert.rejects(webhookChannel(`${rx.url}/T000/B000/SECRETPATH`, false).send(event()), (e: Error) => e.name === 'ChannelError' && e.message === `webhook ${rx.url} answered HTTP 500`);
    rx.status = 200;
    rx.delayMs = 2_000;
    await assert.rejects(webhookChannel(`${rx.url}/SECRETPATH`, false, 200).send(event()), (e: Error) => /did not answer within 0\.2s/.test(e.message) && !e.message.includes('SECRETPATH'));
    rx.delayMs = 0;
    await assert.rejects(webhookChannel('http://127.0.0.1:1/SECRETPATH', false).send(event()), (e: Error) => /could not be reached/.test(e.message) && !e.message.includes('SECRETPATH'));
  });

  it('command: runs through the shell with the event JSON on stdin and KEYRACK_EVENT set', async () => {
    const log = join(root, 'cmd.log');
    const prog = await fakeProgram(join(root, 'bin'), 'page-me', log);
    await commandChannel({ env: { PATH: '/usr/bin:/bin' } }, `"${prog}" --loud "$KEYRACK_EVENT"`, 0).send(event({ event: 'robot-blocked', severity: 'critical' }));
    assert.deepEqual(JSON.parse((await readFile(log, 'utf8')).trim()), ['--loud', 'robot-blocked']);
    const stdin = JSON.parse(await readFile(`${log}.stdin`, 'utf8')) as NotifyEvent;
    assert.equal(stdin.event, 'robot-blocked');
    assert.equal(stdin.command, 'keyrack unlock aws --env prep');
  });

  it('command: a failing or hanging command is reported (and the hung one is killed)', async () => {
    await assert.rejects(commandChannel({ env: { PATH: '/usr/bin:/bin' } }, 'exit 7', 1).send(event()), (e: Error) => e.message === 'command #2 exited with 7');
    const started = process.hrtime.bigint();
    await assert.rejects(commandChannel({ env: { PATH: '/usr/bin:/bin' } }, 'sleep 30', 0, 300).send(event()), (e: Error) => /did not finish within 0\.3s/.test(e.message));
    assert.ok(process.hrtime.bigint() - started < 20_000_000_000n, 'the hung command was killed');
  });

  it('desktop: notify-send from PATH gets the title, the text and the urgency', async () => {
    const bin = join(root, 'desktop-bin');
    const log = join(root, 'notify-send.log');
    await fakeProgram(bin, 'notify-send', log);
    await desktopChannel({ env: { PATH: `${bin}:/usr/bin:/bin` } }, 'linux').send(event({ event: 'session-expired', severity: 'critical', title: 'acme has ended' }));
    const args = JSON.parse((await readFile(log, 'utf8')).trim()) as string[];
    assert.deepEqual(args.slice(0, 3), ['--app-name=keyrack', '--urgency=critical', 'keyrack: acme has ended']);
    assert.match(args[3] ?? '', /^The SSO session acme ends at 13:00Z\.\nRun: keyrack unlock aws --env prep\n/);
    await assert.rejects(desktopChannel({ env: { PATH: join(root, 'empty') } }, 'linux').send(event()), (e: Error) => e.message === 'notify-send not found (install libnotify-bin)');
  });

  it('desktop on macOS: osascript gets a properly quoted AppleScript', async () => {
    const bin = join(root, 'mac-bin');
    const log = join(root, 'osascript.log');
    await fakeProgram(bin, 'osascript', log);
    await desktopChannel({ env: { PATH: `${bin}:/usr/bin:/bin` } }, 'darwin').send(event({ title: 'say "hi" \\o/', message: 'x' }));
    const args = JSON.parse((await readFile(log, 'utf8')).trim()) as string[];
    assert.equal(args[0], '-e');
    assert.match(args[1] ?? '', /^display notification "x — Run: keyrack unlock aws --env prep — \([^)]*\)" with title "keyrack: say \\"hi\\" \\\\o\/"$/);
  });

  describe('telegram, with the bot token in the OS keychain', () => {
    let kr: TestKeyring;
    const savedBus = process.env.DBUS_SESSION_BUS_ADDRESS;
    const TOKEN = '123456789:TESTtokenEMUSECRETabcdefghijklmnopq';
    before(async () => {
      kr = await startTestKeyring();
      process.env.DBUS_SESSION_BUS_ADDRESS = kr.env.DBUS_SESSION_BUS_ADDRESS;
    });
    after(async () => {
      if (savedBus === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
      else process.env.DBUS_SESSION_BUS_ADDRESS = savedBus;
      await kr.close();
    });

    it('no token stored: a clear error naming the command that stores it', async () => {
      await assert.rejects(telegramChannel({ env: { KEYRACK_TELEGRAM_API_URL: rx.url } }, '42').send(event()), (e: Error) => /no bot token in the OS keychain \(store it with: keyrack notify telegram-token\)/.test(e.message));
    });

    it('sendMessage to the chat; failures never show the URL (the token is in it)', async () => {
      await keychainSet(KEYRACK_KEYCHAIN_SERVICE, TELEGRAM_TOKEN_ACCOUNT, TOKEN);
      rx.received.length = 0;
      const ch = telegramChannel({ env: { KEYRACK_TELEGRAM_API_URL: `${rx.url}/` } }, '-10042');
      await ch.send(event({ event: 'login-approval', approval: { verificationUri: 'https://x/device', verificationUriComplete: 'https://x/device?user_code=ABCD-EFGH', userCode: 'ABCD-EFGH', expiresAt: '2026-01-15T12:10:00.000Z' } }));
      assert.equal(rx.received[0]?.path, `/bot${TOKEN}/sendMessage`);
      const body = JSON.parse(rx.received[0]?.body ?? '') as { chat_id: string; text: string };
      assert.equal(body.chat_id, '-10042');
      assert.match(body.text, /Approve in a browser: https:\/\/x\/device\?user_code=ABCD-EFGH\nCode: ABCD-EFGH/);
      rx.status = 401;
      await assert.rejects(ch.send(event()), (e: Error) => e.message === 'telegram answered HTTP 401' && !e.message.includes(TOKEN));
      rx.status = 200;
      assert.equal(await keychainDelete(KEYRACK_KEYCHAIN_SERVICE, TELEGRAM_TOKEN_ACCOUNT), true);
    });
  });

  describe('dispatch: every channel, deduplicated per event and session with a cooldown', () => {
    const clock = { t: T0, now() { return this.t; } };
    let state: string;
    const recorder = () => {
      const got: NotifyEvent[] = [];
      const ch: Channel = { name: 'recorder', send: async (e) => void got.push(e) };
      return { got, ch };
    };
    const failing: Channel = { name: 'broken', send: async () => { throw Object.assign(new Error('broken answered HTTP 503'), { name: 'ChannelError' }); } };
    before(() => {
      state = join(root, 'state');
    });

    it('sends to every channel; one broken channel does not stop the others', async () => {
      const r = recorder();
      const config = defaultUserConfig(join(root, 'config.yml'));
      const n = createNotifier({ runtime: { env: {}, paths: { state } as never, clock }, config, log: silentLogger, channels: [failing, r.ch] });
      const out = await n.send(event());
      assert.equal(out.sent, true);
      assert.deepEqual(out.results, [{ channel: 'broken', ok: false, error: 'broken answered HTTP 503' }, { channel: 'recorder', ok: true }]);
      assert.equal(r.got.length, 1);
    });

    it('the same event and session is held back until the cooldown has passed; other slots and sessions are not', async () => {
      const r = recorder();
      const config = defaultUserConfig(join(root, 'config.yml'));
      config.notify.cooldownMs = 3_600_000;
      const n = createNotifier({ runtime: { env: {}, paths: { state } as never, clock }, config, log: silentLogger, channels: [r.ch] });
      const key = dedupeKey('robot-blocked', 'acme');
      assert.equal((await n.send(event(), { dedupeKey: key })).sent, true);
      clock.t += 59 * 60_000;
      assert.deepEqual(await n.send(event(), { dedupeKey: key }), { sent: false, suppressed: 'cooldown', results: [] });
      assert.equal((await n.send(event(), { dedupeKey: dedupeKey('robot-blocked', 'other') })).sent, true);
      assert.equal((await n.send(event(), { dedupeKey: dedupeKey('robot-blocked', 'acme', 'slot2') })).sent, true);
      clock.t += 60_000;
      assert.equal((await n.send(event(), { dedupeKey: key })).sent, true);
      assert.equal(r.got.length, 4);
      // the state is shared through the file: a second notifier (another watcher) honours it too
      const r2 = recorder();
      const n2 = createNotifier({ runtime: { env: {}, paths: { state } as never, clock }, config, log: silentLogger, channels: [r2.ch] });
      assert.equal((await n2.send(event(), { dedupeKey: key })).suppressed, 'cooldown');
    });

    it('an event no channel delivered is not recorded, so the next probe tries again', async () => {
      const config = defaultUserConfig(join(root, 'config.yml'));
      const n = createNotifier({ runtime: { env: {}, paths: { state } as never, clock }, config, log: silentLogger, channels: [failing] });
      const key = dedupeKey('session-expired', 'zeta');
      assert.equal((await n.send(event(), { dedupeKey: key })).sent, false);
      const r = recorder();
      const n2 = createNotifier({ runtime: { env: {}, paths: { state } as never, clock }, config, log: silentLogger, channels: [r.ch] });
      assert.equal((await n2.send(event(), { dedupeKey: key })).sent, true);
    });
  });
});
