import { defineCommand } from 'citty';
import { KeyrackError } from '../../core/errors.js';
import { createLogger } from '../../core/log.js';
import { TELEGRAM_TOKEN_ACCOUNT } from '../../notify/channels.js';
import { createNotifier } from '../../notify/dispatch.js';
import { makeEvent } from '../../notify/events.js';
import { keychainDelete, keychainSet, KEYRACK_KEYCHAIN_SERVICE } from '../../store/keychain.js';
import { loadUserConfig } from '../../store/user-config.js';
import { processRuntime } from '../context.js';
import { reportAndExit } from '../report.js';

const test = defineCommand({
  meta: { name: 'test', description: 'Send a test event to every channel in config.yml and say which ones delivered it' },
  args: { json: { type: 'boolean', description: 'print JSON' } },
  async run({ args }) {
    try {
      const runtime = processRuntime();
      const config = await loadUserConfig(runtime.paths);
      const notifier = createNotifier({ runtime, config, log: createLogger({ enabled: runtime.env.KEYRACK_DEBUG === '1' }) });
      if (notifier.channels.length === 0) {
        throw new KeyrackError({ code: 'notify.none', reason: 'misconfigured', message: `no notification channel is configured in ${config.path}`, fix: 'add notify: { desktop: true } or a webhook, command or telegram entry (see docs/watch.md)' });
      }
      const out = await notifier.send(makeEvent(runtime.clock.now(), { event: 'test', title: 'test notification', message: 'keyrack notify test: if you can read this, this channel works.' }));
      if (args.json) process.stdout.write(`${JSON.stringify({ results: out.results })}\n`);
      else process.stdout.write(out.results.map((r) => `${r.ok ? 'ok    ' : 'FAILED'} ${r.channel}${r.error ? `: ${r.error}` : ''}`).join('\n') + '\n');
      const failed = out.results.filter((r) => !r.ok);
      if (failed.length > 0) {
        throw new KeyrackError({ code: 'notify.failed', reason: 'unavailable', message: `${failed.length} of ${out.results.length} channel(s) failed`, fix: 'see the lines above; fix the channel in config.yml and run keyrack notify test again' });
      }
    } catch (e) {
      reportAndExit(e, { json: args.json === true });
    }
  },
});

async function readStdin(): Promise<string> {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) text += String(chunk);
  return text.trim();
}

const telegramToken = defineCommand({
  meta: { name: 'telegram-token', description: 'Store the Telegram bot token in the OS keychain (read from stdin, or prompted for without echo); --delete removes it' },
  args: { delete: { type: 'boolean', description: 'remove the stored token' } },
  async run({ args }) {
    try {
      if (args.delete) {
        const gone = await keychainDelete(KEYRACK_KEYCHAIN_SERVICE, TELEGRAM_TOKEN_ACCOUNT, { interactive: process.stdin.isTTY === true });
        process.stdout.write(gone ? 'deleted the Telegram bot token from the OS keychain\n' : 'no Telegram bot token was stored\n');
        return;
      }
      let token: string;
      if (process.stdin.isTTY) {
        const { password } = await import('@inquirer/prompts');
        token = (await password({ message: 'Telegram bot token', mask: true })).trim();
      } else {
        token = await readStdin();
      }
      if (!/^\d{3,20}:[A-Za-z0-9_-]{20,}$/.test(token)) {
        throw new KeyrackError({ code: 'notify.telegram-token', reason: 'invalid-input', message: 'that does not look like a Telegram bot token (<bot id>:<secret>)', fix: 'paste the token BotFather gave you, on stdin: keyrack notify telegram-token < file' });
      }
      await keychainSet(KEYRACK_KEYCHAIN_SERVICE, TELEGRAM_TOKEN_ACCOUNT, token, { interactive: process.stdin.isTTY === true });
      process.stdout.write('stored the Telegram bot token in the OS keychain; set notify.telegram.chat_id in config.yml and run: keyrack notify test\n');
    } catch (e) {
      reportAndExit(e);
    }
  },
});

export default defineCommand({
  meta: { name: 'notify', description: 'Notifications (configured in $XDG_CONFIG_HOME/keyrack/config.yml): test every channel, store the Telegram bot token' },
  subCommands: { test, 'telegram-token': telegramToken },
});
