// Hardened mode end to end, with a real (private, throwaway) gnome-keyring: `token_store: keychain` for the
// session, `keyrack unlock` signs in, keeps every SSO secret in the OS keychain and turns the profile into a
// credential_process profile; the real AWS CLI and the JS SDK then work through `keyrack credential-process`,
// nothing under HOME holds a token or client secret, and after `keyrack lock` both fail with keyrack's reason.
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SECRET_MARKER } from '../../src/emulator/index.js';
import { ISSUED_SECRET } from '../../src/emulator/ids.js';
import type { AuditEvent } from '../../src/store/audit.js';
import { filesContaining, hardenedSandbox, keychainToken, sdkCallerIdentity, tokenFile, type HardenedBox } from '../helpers/hardened.js';

describe('hardened mode: OS-keychain token store', { timeout: 120_000 }, () => {
  let box: HardenedBox;
  before(async () => {
    box = await hardenedSandbox();
    const u = await box.sb.unlock();
    assert.equal(u.code, 0, u.stdout);
    assert.match(u.stdout, /signed in \(device code\)/);
  });
  after(async () => box.close());

  it('unlock keeps the token in the keychain and makes the profile run keyrack credential-process', async () => {
    const { sb } = box;
    const t = await keychainToken();
    assert.ok(t, 'the SSO token is in the keychain');
    assert.ok(t.accessToken.includes(SECRET_MARKER) && t.refreshToken?.includes(SECRET_MARKER) && t.clientSecret?.includes(SECRET_MARKER));
    assert.ok(Date.parse(t.expiresAt) > Date.now());
    await assert.rejects(stat(tokenFile(sb)), 'no token file in ~/.aws/sso/cache');

    const config = await readFile(join(sb.home, '.aws', 'config'), 'utf8');
    const section = /\[profile acme\.prep\]\n([^[]*)/.exec(config)?.[1] ?? '';
    assert.match(section, /^credential_process = \S+ \S+ credential-process --profile acme\.prep$/m);
    assert.match(section, /^region = us-east-1$/m);
    assert.doesNotMatch(section, /sso_/, 'no sso_* keys: the AWS CLI would prefer SSO and look for a token file');
    assert.match(config, /\[sso-session acme\]/, 'the session itself is left in place');
  });

  it('the real AWS CLI and the JS SDK (fromIni) get credentials through credential_process', async () => {
    const { sb } = box;
    const cli = await sb.aws(['sts', 'get-caller-identity', '--profile', 'acme.prep', '--output', 'json']);
    assert.equal(cli.code, 0, cli.stderr);
    const id = JSON.parse(cli.stdout) as { Account: string; Arn: string };
    assert.equal(id.Account, '111122223333');
    assert.match(id.Arn, /AWSReservedSSO_Developer_/);

    const sdk = await sdkCallerIdentity(sb, 'acme.prep');
    assert.equal(sdk.error, undefined, sdk.error);
    assert.match(sdk.arn ?? '', /^arn:aws:sts::111122223333:assumed-role\/AWSReservedSSO_Developer_/);
  });

  it('keyrack grant, status --check and list-roles work on a keychain-mode profile, writing no secret to a file', async () => {
    const { sb } = box;
    const g = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep']);
    assert.equal(g.code, 0, g.stderr);
    assert.equal(g.stdout, 'acme.prep\n');
    const c = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep', '--credentials'], { secretsOnStdout: true });
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /"AccessKeyId":"ASIA/);
    const st = await sb.run(['status', '--check', '--env', 'prep', '--json']);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /"check":\{"ok":true/);
    const lr = await sb.run(['list-roles', '--json']);
    assert.equal(lr.code, 0, lr.stderr);
    assert.match(lr.stdout, /"referenced":\[\{"role":"Developer"/);
  });

  it('no file under HOME holds the refresh token, the access token, the client secret, or any emulator secret', async () => {
    const t = await keychainToken();
    assert.ok(t?.refreshToken && t.clientSecret);
    const hits = await filesContaining(box.sb.home, [t.accessToken, t.refreshToken, t.clientSecret, ISSUED_SECRET]);
    assert.deepEqual(hits, {});
  });

  it('after keyrack lock, the AWS CLI and the SDK both fail with keyrack’s reason; the audit log tells the story', async () => {
    const { sb } = box;
    const lock = await sb.run(['lock', 'aws', '--env', 'prep']);
    assert.equal(lock.code, 0, lock.stderr);

    const cli = await sb.aws(['sts', 'get-caller-identity', '--profile', 'acme.prep']);
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /prep\/AWS_PROFILE is locked/);
    assert.match(cli.stderr, /keyrack unlock aws --env prep/);

    const sdk = await sdkCallerIdentity(sb, 'acme.prep');
    assert.equal(sdk.arn, undefined);
    assert.match(sdk.error ?? '', /prep\/AWS_PROFILE is locked/);

    const audit = await sb.run(['audit', '--json']);
    assert.equal(audit.code, 0, audit.stderr);
    const events = audit.stdout.trim().split('\n').map((l) => JSON.parse(l) as AuditEvent);
    const unlock = events.find((e) => e.command === 'unlock');
    assert.equal(unlock?.result, 'ok');
    assert.equal(unlock?.key, 'AWS_PROFILE');
    assert.match(unlock?.arn ?? '', /AWSReservedSSO_Developer_/);
    const served = events.filter((e) => e.command === 'credential-process' && e.result === 'ok');
    assert.ok(served.length >= 2, 'the CLI and the SDK calls are recorded');
    assert.equal(served[0]?.profile, 'acme.prep');
    assert.equal(served[0]?.env, 'prep');
    assert.match(served[0]?.arn ?? '', /AWSReservedSSO_Developer_/);
    const refused = events.filter((e) => e.command === 'credential-process' && e.result === 'refused');
    assert.ok(refused.length >= 2);
    assert.equal(refused[0]?.reason, 'locked');
    assert.equal(refused[0]?.key, 'AWS_PROFILE');
    assert.equal(typeof refused[0]?.caller.pid, 'number');
    assert.ok(!audit.stdout.includes(SECRET_MARKER));
  });

  it('unlock again: the credential_process profile is recognised, the keychain session reused, robots served again', async () => {
    const { sb } = box;
    const u = await sb.unlock();
    assert.equal(u.code, 0, u.stdout);
    assert.match(u.stdout, /sso acme: session reused/);
    const cli = await sb.aws(['sts', 'get-caller-identity', '--profile', 'acme.prep']);
    assert.equal(cli.code, 0, cli.stderr);
    await assert.rejects(stat(tokenFile(sb)), 'still no token file');
  });
});
