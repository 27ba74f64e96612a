import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { KeyrackError } from '../../src/core/errors.js';
import { DEFAULT_COOLDOWN_MS, loadUserConfig, ssoSettings } from '../../src/store/user-config.js';
import { parseUserConfig } from '../../src/store/user-config-parse.js';

const P = '/home/u/.config/keyrack/config.yml';
const H = 3_600_000;

function refused(text: string, location: RegExp, message: RegExp, fix?: RegExp): KeyrackError {
  let caught: unknown;
  try {
    parseUserConfig(text, P);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof KeyrackError, `expected a KeyrackError for:\n${text}`);
  assert.equal(caught.reason, 'misconfigured');
  assert.match(caught.location ?? '', location);
  assert.match(caught.message, message);
  if (fix) assert.match(caught.fix ?? '', fix);
  return caught;
}

describe('user config ($XDG_CONFIG_HOME/keyrack/config.yml)', () => {
  it('a missing file means every default', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keyrack-uc-'));
    try {
      const c = await loadUserConfig({ config: join(dir, 'keyrack') });
      assert.equal(c.exists, false);
      assert.equal(c.watch.intervalMs, 10 * 60_000);
      assert.deepEqual(c.watch.warnBeforeMs, [24 * H, H]);
      assert.equal(c.watch.alertAfterFailures, 3);
      assert.equal(c.notify.cooldownMs, DEFAULT_COOLDOWN_MS);
      assert.equal(c.notify.desktop, false);
      assert.deepEqual(ssoSettings(c, 'acme'), { deviceCodePush: false, tokenStore: 'aws-cli' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads every section', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keyrack-uc-'));
    try {
      await mkdir(join(dir, 'keyrack'));
      await writeFile(
        join(dir, 'keyrack', 'config.yml'),
        `# mine
watch:
  interval: 5m
  warn_before: [1h, 2d, 1h]
  alert_after_failures: 4
notify:
  cooldown: 30m
  desktop: true
  webhook:
    - url: https://hooks.example.com/x
      slack: true
    - url: http://127.0.0.1:9999/hook
  command:
    - run: /usr/local/bin/page-me --loud
  telegram:
    chat_id: -100123
sso:
  acme:
    session_duration: 90d
    device_code_push: true
    token_store: keychain
  other.sso: {}
grant:
  validation_ttl: 0
`,
      );
      const c = await loadUserConfig({ config: join(dir, 'keyrack') });
      assert.equal(c.exists, true);
      assert.deepEqual(c.watch, { intervalMs: 5 * 60_000, warnBeforeMs: [48 * H, H], alertAfterFailures: 4 });
      assert.deepEqual(c.notify, {
        cooldownMs: 30 * 60_000,
        desktop: true,
        webhook: [{ url: 'https://hooks.example.com/x', slack: true }, { url: 'http://127.0.0.1:9999/hook', slack: false }],
        command: [{ run: '/usr/local/bin/page-me --loud' }],
        telegram: { chatId: '-100123' },
      });
      assert.deepEqual(ssoSettings(c, 'acme'), { sessionDurationMs: 90 * 24 * H, deviceCodePush: true, tokenStore: 'keychain' });
      assert.deepEqual(ssoSettings(c, 'other.sso'), { deviceCodePush: false, tokenStore: 'aws-cli' });
      assert.equal(c.grant.validationTtlMs, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('accepts the top-level validation_ttl the grant command already reads, but not both spellings', () => {
    assert.equal(parseUserConfig('validation_ttl: 45s\n', P).grant.validationTtlMs, 45_000);
    refused('validation_ttl: 45s\ngrant:\n  validation_ttl: 10s\n', /config\.yml:1:1$/, /both/);
  });

  it('an empty file or a comment-only file is the defaults', () => {
    assert.equal(parseUserConfig('', P).watch.intervalMs, 600_000);
    assert.equal(parseUserConfig('# nothing yet\n', P).notify.webhook.length, 0);
  });

  it('unknown settings are refused at file:line:col with a suggestion', () => {
    refused('watch:\n  intervall: 5m\n', /config\.yml:2:3$/, /unknown setting watch\.intervall/, /did you mean watch\.interval\?/);
    refused('notfy:\n  desktop: true\n', /config\.yml:1:1$/, /unknown setting notfy/, /did you mean notify\?/);
    refused('sso:\n  acme:\n    session_length: 8h\n', /config\.yml:3:5$/, /sso\.acme\.session_length/, /allowed here|did you mean/);
  });

  it('a Telegram bot token is refused wherever it is, without echoing it', () => {
    const token = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1';
    const e = refused(`notify:\n  telegram:\n    chat_id: "1"\n    # ${token}\n`, /config\.yml:4:7$/, /Telegram bot token/, /OS keychain: keyrack notify telegram-token/);
    assert.ok(!e.message.includes(token) && !(e.fix ?? '').includes(token));
    refused('notify:\n  telegram:\n    chat_id: "1"\n    bot_token: x\n', /config\.yml:4:5$/, /unknown setting notify\.telegram\.bot_token/, /OS keychain/);
  });

  it('wrong types and ranges name the setting, never the value', () => {
    refused('watch:\n  interval: 10\n', /2:13$/, /watch\.interval is not a duration \(a unit is required\)/);
    refused('watch:\n  interval: 1s\n', /2:13$/, /watch\.interval must be between 10s and 1d/);
    refused('watch:\n  alert_after_failures: 0\n', /2:25$/, /whole number from 1 to 100/);
    refused('watch:\n  warn_before: 24h\n', /2:16$/, /must be a list/);
    refused('watch:\n  warn_before: [24h, soon]\n', /2:22$/, /warn_before is not a duration/);
    refused('notify:\n  desktop: yes please\n', /2:12$/, /true or false/);
    refused('notify:\n  webhook:\n    - url: ftp://x.example.com\n', /3:12$/, /https URL/);
    refused('notify:\n  webhook:\n    - url: http://hooks.example.com/x\n', /3:12$/, /http only to this machine/);
    refused('notify:\n  webhook:\n    - url: https://user:pw@hooks.example.com/x\n', /3:12$/, /https URL/);
    refused('notify:\n  webhook:\n    - slack: true\n', /3:7$/, /has no url/);
    refused('notify:\n  command:\n    - run: ""\n', /3:12$/, /non-empty string/);
    refused('notify:\n  telegram:\n    chat_id: hello\n', /3:14$/, /numeric chat id/);
    refused('sso:\n  acme:\n    session_duration: 100d\n', /3:23$/, /between 15m and 90d/);
    refused('sso:\n  acme:\n    token_store: vault\n', /3:18$/, /aws-cli or keychain/);
    refused('sso:\n  "bad name":\n    device_code_push: true\n', /2:3$/, /not an sso-session name/);
    refused('grant:\n  validation_ttl: 10m\n', /2:19$/, /between 0 and 5m/);
    refused('- a\n- b\n', /1:1$/, /the file must be a map/);
  });

  it('YAML syntax errors, duplicate keys, aliases and tags are refused with a position', () => {
    refused('watch:\n  interval: [5m\n', /config\.yml:\d+:\d+$/, /YAML syntax error/);
    refused('watch:\n  interval: 5m\n  interval: 6m\n', /config\.yml:3:\d+$/, /YAML syntax error/);
    refused('a: &x 5m\nwatch:\n  interval: *x\n', /config\.yml:\d+:\d+$/, /aliases and tags/);
  });
});
