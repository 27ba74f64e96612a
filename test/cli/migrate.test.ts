// `keyrack migrate --to keychain|files`, with a real (private) gnome-keyring: the session moves both ways with
// its refresh token intact, the copy left behind is removed, profiles follow, the AWS CLI keeps working; a migrate
// interrupted after any step loses nothing (the AWS CLI still works and the refresh token is where the config
// says) and running it again finishes the job; an unusable keychain refuses and changes nothing.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { migrate, type MigrateStep, type MigrateTo } from '../../src/aws/migrate.js';
import { openTokenStore, tokenStoreKind } from '../../src/aws/token-store.js';
import { registrationAccount } from '../../src/aws/token-store-keychain.js';
import { KEYRACK_AWS_KEYCHAIN_SERVICE, keychainGet } from '../../src/store/keychain.js';
import { loadKeyrackFile } from '../../src/core/keyrack-file.js';
import { silentLogger } from '../../src/core/log.js';
import { createRuntime } from '../../src/core/runtime.js';
import { filesContaining, hardenedSandbox, KEYCHAIN_CONFIG, keychainToken, TOKEN_KEY, tokenFile, writeUserConfig, type HardenedBox, type StoredToken } from '../helpers/hardened.js';

const sso = { session: 'acme', tokenKey: TOKEN_KEY };

describe('keyrack migrate', { timeout: 150_000 }, () => {
  let box: HardenedBox;
  let original: StoredToken;
  before(async () => {
    box = await hardenedSandbox({ keychain: false });
    const u = await box.sb.unlock();
    assert.equal(u.code, 0, u.stdout);
    original = JSON.parse(await readFile(tokenFile(box.sb), 'utf8')) as StoredToken;
  });
  after(async () => box.close());

  const ssoCacheFiles = async () => (await readdir(join(box.sb.home, '.aws', 'sso', 'cache')).catch(() => [] as string[])).filter((n) => n.endsWith('.json'));
  const profileSection = async () => /\[profile acme\.prep\]\n([^[]*)/.exec(await readFile(join(box.sb.home, '.aws', 'config'), 'utf8'))?.[1] ?? '';
  const userConfig = () => readFile(join(box.sb.home, '.config', 'keyrack', 'config.yml'), 'utf8').catch(() => '');
  const awsWorks = async () => {
    const r = await box.sb.aws(['sts', 'get-caller-identity', '--profile', 'acme.prep', '--output', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { Account: string }).Account, '111122223333');
  };

  it('--to keychain: token and registration move into the keychain, no plaintext copy is left, the profile runs credential-process', async () => {
    const { sb } = box;
    assert.equal((await ssoCacheFiles()).length, 2, 'token and client registration files before');
    const registrationKey = (await ssoCacheFiles()).find((n) => n !== `${TOKEN_KEY}.json`)?.slice(0, -5) ?? '';
    const r = await sb.run(['migrate', '--to', 'keychain', '--sso', 'acme']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /sso acme: now in the OS keychain/);
    assert.match(r.stdout, /token moved/);
    assert.match(r.stdout, /profiles rewritten: acme\.prep/);

    const t = await keychainToken();
    assert.equal(t?.refreshToken, original.refreshToken);
    assert.equal(t?.accessToken, original.accessToken);
    const registration = await keychainGet(KEYRACK_AWS_KEYCHAIN_SERVICE, registrationAccount(registrationKey));
    assert.equal(registration && (JSON.parse(registration) as { clientId?: string }).clientId, original.clientId, 'the client registration moved too');
    assert.deepEqual(await ssoCacheFiles(), [], 'token and registration files removed');
    assert.deepEqual(await readdir(join(sb.home, '.aws', 'cli', 'cache')).catch(() => []), [], 'role credential files removed');
    assert.match(await userConfig(), /acme:\s+token_store: keychain/);
    assert.match(await profileSection(), /^credential_process = .* credential-process --profile acme\.prep$/m);
    assert.doesNotMatch(await profileSection(), /sso_/);
    assert.ok(original.refreshToken && original.clientSecret);
    assert.deepEqual(await filesContaining(sb.home, [original.accessToken, original.refreshToken, original.clientSecret]), {});
    await awsWorks();
    const audit = await sb.run(['audit', '--json']);
    const events = audit.stdout.trim().split('\n').map((l) => JSON.parse(l) as { command: string; result: string; detail?: Record<string, unknown> });
    assert.ok(events.some((e) => e.command === 'migrate' && e.result === 'ok' && e.detail?.to === 'keychain' && e.detail.sso === 'acme'), 'audited');
  });

  it('--to files: back to the AWS CLI cache file and an sso_session profile; the keychain copy is removed', async () => {
    const { sb } = box;
    const r = await sb.run(['migrate', '--to', 'files', '--sso', 'acme']);
    assert.equal(r.code, 0, r.stderr);
    const file = JSON.parse(await readFile(tokenFile(sb), 'utf8')) as StoredToken;
    assert.equal(file.refreshToken, original.refreshToken);
    assert.equal((await ssoCacheFiles()).length, 2, 'token and client registration files are back');
    assert.equal(await keychainToken(), undefined);
    assert.match(await userConfig(), /token_store: aws-cli/);
    const section = await profileSection();
    assert.match(section, /^sso_session = acme$/m);
    assert.match(section, /^sso_account_id = 111122223333$/m);
    assert.match(section, /^sso_role_name = Developer$/m);
    assert.doesNotMatch(section, /credential_process/);
    await awsWorks();
    const g = await sb.run(['grant', 'AWS_PROFILE', '--env', 'prep']);
    assert.equal(g.code, 0, g.stderr);
  });

  it('interrupted after any step, in either direction: nothing is lost, and running it again finishes the job', async () => {
    const { sb } = box;
    const runtime = createRuntime({ env: { ...sb.env }, cwd: sb.repo });
    const file = await loadKeyrackFile(join(sb.repo, 'keyrack.yml'));
    const refreshTokenWhereConfigSays = async () => {
      const store = await openTokenStore(runtime, await tokenStoreKind(runtime, sso));
      return (await store.readToken(sso))?.refreshToken;
    };
    const steps: MigrateStep[] = ['copied', 'switched', 'profiles', 'cleaned'];
    for (const step of steps) {
      for (const to of ['keychain', 'files'] as MigrateTo[]) {
        const crash = (s: MigrateStep) => {
          if (s === step) throw new Error(`interrupted after ${s}`);
        };
        await assert.rejects(migrate({ runtime, log: silentLogger, file, afterStep: crash }, { to, sso: 'acme' }), /interrupted/);
        assert.equal(await refreshTokenWhereConfigSays(), original.refreshToken, `${to}, after ${step}: the refresh token is where the config says`);
        await awsWorks();

        const done = await migrate({ runtime, log: silentLogger, file }, { to, sso: 'acme' });
        assert.equal(done.sessions[0]?.sso, 'acme');
        assert.equal(await tokenStoreKind(runtime, sso), to === 'keychain' ? 'keychain' : 'aws-cli');
        assert.equal(await refreshTokenWhereConfigSays(), original.refreshToken);
        if (to === 'keychain') assert.deepEqual(await ssoCacheFiles(), [], `${to}, after ${step}: no plaintext left`);
        else assert.equal(await keychainToken(), undefined, `${to}, after ${step}: no keychain copy left`);
      }
    }
    await awsWorks();
  });

  it('with no usable keychain, --to keychain refuses (exit 6) and changes nothing', async () => {
    const { sb } = box;
    const before = await readFile(tokenFile(sb), 'utf8');
    const config = await userConfig();
    const r = await sb.run(['migrate', '--to', 'keychain', '--sso', 'acme'], { env: { DBUS_SESSION_BUS_ADDRESS: undefined } });
    assert.equal(r.code, 6, r.stderr);
    assert.match(r.stderr, /OS keychain could not be read \(no D-Bus session bus\)/);
    assert.equal(await readFile(tokenFile(sb), 'utf8'), before);
    assert.equal(await userConfig(), config);
    await awsWorks();
  });

  it('token_store: keychain set by hand: the next unlock takes the file token into the keychain (no new sign-in) and deletes the plaintext', async () => {
    const { sb } = box;
    await writeUserConfig(sb, KEYCHAIN_CONFIG);
    const u = await sb.unlock();
    assert.equal(u.code, 0, u.stdout);
    assert.match(u.stdout, /sso acme: session reused/);
    assert.equal((await keychainToken())?.refreshToken, original.refreshToken);
    assert.deepEqual(await ssoCacheFiles(), []);
    assert.match(await profileSection(), /credential-process --profile acme\.prep$/m);
    assert.ok(original.refreshToken && original.clientSecret);
    assert.deepEqual(await filesContaining(sb.home, [original.accessToken, original.refreshToken, original.clientSecret]), {});
    await awsWorks();
  });
});
