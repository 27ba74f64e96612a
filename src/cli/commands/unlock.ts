import { defineCommand } from 'citty';
import { parseDuration } from '../../core/duration.js';
import { KeyrackError } from '../../core/errors.js';
import type { HumanContext, UnlockResult } from '../../core/plugin.js';
import { unlock } from '../../aws/unlock.js';
import type { SyncResult } from '../../aws/profile-writer.js';
import { checkPlugin, fileArg, processRuntime, robotContext } from '../context.js';
import { terminalLogin } from '../human.js';
import { audit, recordRefusal } from '../record.js';
import { reportAndExit } from '../report.js';
import { inFromNow, iso } from '../time.js';
import { createStyle, type Style } from '../ui.js';
import { renderSync, runSync } from './sync.js';

function render(r: UnlockResult, now: number, s: Style): string {
  const lines = [`${s.green('unlocked')} env ${s.bold(r.env)} ${r.until ? `until ${iso(r.until)} (${inFromNow(r.until, now)})` : 'until keyrack lock or the SSO session ends'}`];
  for (const p of r.profilesWritten) lines.push(`  wrote profile ${p} to ~/.aws/config`);
  for (const l of r.logins) lines.push(`  sso ${l.sso}: ${{ reused: 'session reused', refreshed: 'session refreshed silently', pkce: 'signed in (browser)', 'device-code': 'signed in (device code)' }[l.how]}`);
  for (const v of r.validated) {
    lines.push(`  ${v.ref.key} → ${v.profile}`);
    lines.push(`      identity     ${v.identity.arn}`);
    lines.push(`      account      ${v.identity.account}${v.identity.role ? `   role ${v.identity.role}` : ''}`);
    lines.push(`      credentials  expire ${iso(v.credentialsExpireAt)} (${inFromNow(v.credentialsExpireAt, now)})`);
    if (v.tokenExpiresAt) lines.push(`      sso token    expires ${iso(v.tokenExpiresAt)} (${inFromNow(v.tokenExpiresAt, now)}), refreshed automatically`);
    if (v.sessionExpiresAt) lines.push(`      sso session  ends ${iso(v.sessionExpiresAt)} (${inFromNow(v.sessionExpiresAt, now)})`);
  }
  return `${lines.join('\n')}\n`;
}

function toJson(r: UnlockResult, sync: SyncResult | undefined): string {
  return `${JSON.stringify({
    env: r.env,
    ...(r.until !== undefined ? { until: new Date(r.until).toISOString() } : {}),
    profilesWritten: [...new Set([...(sync?.written ?? []), ...r.profilesWritten])],
    logins: r.logins,
    validated: r.validated.map((v) => ({
      key: v.ref.key,
      profile: v.profile,
      identity: v.identity,
      credentialsExpireAt: new Date(v.credentialsExpireAt).toISOString(),
      ...(v.tokenExpiresAt ? { tokenExpiresAt: new Date(v.tokenExpiresAt).toISOString() } : {}),
    })),
    ...(sync ? { sync: sync.items } : {}),
  })}\n`;
}

export default defineCommand({
  meta: { name: 'unlock', description: 'Human: sign in if needed, validate every referenced profile, and open the keys to robots' },
  args: {
    plugin: { type: 'positional', required: false, description: 'aws (the only plugin)' },
    env: { type: 'string', description: 'env of keyrack.yml (required when it has more than one)' },
    key: { type: 'string', description: 'unlock only this key' },
    'device-code': { type: 'boolean', description: 'sign in with a device code instead of the browser redirect' },
    'no-browser': { type: 'boolean', description: 'do not open a browser; print the URL instead' },
    for: { type: 'string', description: 'close the keys again after this long, e.g. 8h', valueHint: 'DURATION' },
    'write-profiles': { type: 'boolean', description: 'first write every profile keyrack.yml references but ~/.aws/config lacks (as keyrack sync does)' },
    force: { type: 'boolean', description: 'with --write-profiles: also update existing profiles that differ from their reference' },
    json: { type: 'boolean', description: 'print JSON' },
    ...fileArg,
  },
  async run({ args }) {
    checkPlugin(args.plugin);
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.on('SIGINT', onSigint);
    let runtime = processRuntime();
    try {
      if (!process.stdin.isTTY || !process.stderr.isTTY) {
        throw new KeyrackError({
          code: 'unlock.not-interactive',
          reason: 'locked',
          message: 'unlock needs a person at an interactive terminal; robots cannot unlock',
          fix: `a human runs it in a terminal: keyrack unlock aws${args.env ? ` --env ${args.env}` : ''}`,
        });
      }
      const forSeconds = args.for ? parseDuration(args.for, '--for') : undefined;
      const robot = await robotContext(args, abort.signal);
      runtime = robot.runtime;
      const style = createStyle(process.stdout, robot.runtime.env);
      // Explicit: every reference in keyrack.yml, reported. Implicit (always): the missing ones this env needs.
      let sync: SyncResult | undefined;
      if (args['write-profiles']) {
        sync = await runSync(robot.runtime.paths, robot.file, { force: args.force === true });
        if (!args.json) process.stdout.write(renderSync(sync, robot.runtime.paths, style));
      }
      const ctx: HumanContext = {
        ...robot,
        login: terminalLogin(robot.runtime.env, { noBrowser: args['no-browser'] === true || args.browser === false, deviceCode: args['device-code'] === true }),
      };
      const result = await unlock(ctx, {
        ...(args.env ? { env: args.env } : {}),
        ...(args.key ? { key: args.key } : {}),
        ...(forSeconds !== undefined ? { forSeconds } : {}),
        ...(args['write-profiles'] ? { writeProfiles: true } : {}),
      });
      for (const v of result.validated) {
        await audit(runtime, { command: 'unlock', env: result.env, key: v.ref.key, profile: v.profile, arn: v.identity.arn, detail: { ...(result.until !== undefined ? { until: new Date(result.until).toISOString() } : {}), how: result.logins.map((l) => `${l.sso}:${l.how}`).join(',') } });
      }
      process.stdout.write(args.json ? toJson(result, sync) : render(result, robot.runtime.clock.now(), style));
    } catch (e) {
      await recordRefusal(undefined, runtime, 'unlock', { ...(args.env ? { env: args.env } : {}), ...(args.key ? { key: args.key } : {}) }, e);
      reportAndExit(e, { json: args.json === true });
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
});
