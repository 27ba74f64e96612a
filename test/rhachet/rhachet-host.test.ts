// A test host shaped like rhachet (`rhx keyrack …`): a manifest of slug → {vault, exid, meta}, and the commands
// set / unlock / get / relock / del calling keyrack-aws's vault adapter the way rhachet calls its vault adapters.
// A human's `rhx keyrack unlock aws` passes a LoginCapability; a robot's `rhx keyrack get` never can log in.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { createKeyrackAwsVault, KeyrackError, type AwsProfileMeta, type LoginCapability, type RhachetKeyGrant, type RhachetVaultAdapter } from '../../src/rhachet/index.js';
import { SECRET_MARKER } from '../../src/emulator/index.js';
import { createSandbox, lastSeq, type Sandbox } from '../helpers/keyrack.js';

const LOGIN_OPERATIONS = new Set(['RegisterClient', 'StartDeviceAuthorization', 'Authorize', 'AuthorizeDecision', 'DeviceVerification', 'DeviceDecision']);

interface ManifestEntry {
  vault: 'aws.config';
  exid: string;
  mech: string;
  meta: AwsProfileMeta;
}

/** The part of rhx keyrack this adapter serves. */
class TestRhx {
  readonly manifest = new Map<string, ManifestEntry>();
  constructor(private readonly vault: RhachetVaultAdapter) {}

  /** rhx keyrack set --key K --env E --vault aws.config --exid PROFILE */
  async set(slug: string, exid: string): Promise<ManifestEntry> {
    const r = await this.vault.set({ slug, exid, mech: null });
    const entry: ManifestEntry = { vault: 'aws.config', exid: r.exid, mech: r.mech, meta: r.meta };
    this.manifest.set(slug, entry);
    return entry;
  }

  /** rhx keyrack unlock aws --env E: unlock whatever is not unlocked yet. */
  async unlock(env: string, vault = this.vault): Promise<string[]> {
    const unlocked: string[] = [];
    for (const [slug, e] of this.manifest) {
      if (slug.split('.')[1] !== env) continue;
      if (await vault.isUnlocked({ exid: e.exid, meta: e.meta })) continue;
      await vault.unlock({ identity: null, silent: true, exid: e.exid, meta: e.meta, slug, owner: null });
      unlocked.push(slug);
    }
    return unlocked;
  }

  /** A robot's rhx keyrack get --key K --env E. */
  get(slug: string): Promise<RhachetKeyGrant | null> {
    const e = this.manifest.get(slug);
    return this.vault.get({ slug, exid: e?.exid ?? null, mech: e?.mech ?? null, meta: e?.meta ?? null });
  }

  relock(slug: string): Promise<void> {
    return this.vault.relock({ slug, exid: this.manifest.get(slug)?.exid ?? null });
  }

  async del(slug: string): Promise<void> {
    const e = this.manifest.get(slug);
    await this.vault.del({ slug, exid: e?.exid ?? null, owner: null, mech: e?.mech ?? null, meta: e?.meta ?? null });
    this.manifest.delete(slug);
  }
}

async function moduleGraph(entry: string): Promise<string[]> {
  const r = await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', write: false, metafile: true, logLevel: 'silent', external: ['@aws-sdk/*', 'citty', 'yaml', '@inquirer/*', '@napi-rs/*'] });
  return Object.keys(r.metafile.inputs);
}

describe('keyrack-aws/rhachet: the AWS plugin as a rhachet vault adapter', () => {
  let sb: Sandbox;
  let robotRhx: TestRhx;
  let humanVault: RhachetVaultAdapter;
  const shown: string[] = [];
  const SLUG = 'acme.prep.AWS_PROFILE';

  /** The person at the host's terminal: reads the code and approves it in "the browser" (the control API). */
  const personAtTerminal = (): LoginCapability => ({
    canOpenBrowser: false,
    preferDeviceCode: true,
    openBrowser: async () => false,
    showDeviceCode: (p) => {
      shown.push(p.userCode);
      void sb.emu.control.approve({ userCode: p.userCode }, 'alice');
    },
    showAuthorizeUrl: () => undefined,
    waiting: () => undefined,
    done: () => undefined,
  });

  /** Runs `fn` and fails if the emulator saw any login call meanwhile. */
  const noLogin = async <T>(fn: () => Promise<T>): Promise<T> => {
    const before = await lastSeq(sb);
    try {
      return await fn();
    } finally {
      const logins = (await sb.emu.control.calls(before)).filter((c) => LOGIN_OPERATIONS.has(c.operation));
      assert.deepEqual(logins, [], 'a robot operation started a login');
    }
  };

  before(async () => {
    sb = await createSandbox({ autoApprove: null });
    assert.equal((await sb.run(['sync'])).code, 0); // the profiles exist, as after `keyrack add aws`
    robotRhx = new TestRhx(createKeyrackAwsVault({ env: sb.env, cwd: sb.repo }));
    humanVault = createKeyrackAwsVault({ env: sb.env, cwd: sb.repo, login: personAtTerminal });
  });
  after(async () => sb.close());

  it('set validates the reference: a missing or non-SSO profile and a foreign mech are refused', async () => {
    await assert.rejects(robotRhx.set(SLUG, 'nowhere'), (e: unknown) => e instanceof KeyrackError && e.reason === 'misconfigured' && /profile "nowhere" does not exist/.test(e.message));
    await assert.rejects(createKeyrackAwsVault({ env: sb.env }).set({ slug: SLUG, exid: 'acme.prep', mech: 'PERMANENT_VIA_REPLICA' }), (e: unknown) => e instanceof KeyrackError && e.reason === 'invalid-input');
    const entry = await noLogin(() => robotRhx.set(SLUG, 'acme.prep'));
    assert.deepEqual(entry.meta, { accountId: '111122223333', roleName: 'Developer', validated: false, ssoSession: 'acme' });
  });

  it('a robot\'s get before any unlock is refused (expired, exit 3) and starts no login; isUnlocked is false', async () => {
    await noLogin(() => assert.rejects(robotRhx.get(SLUG), (e: unknown) => e instanceof KeyrackError && e.exitCode === 3 && e.fix === 'a human runs: rhx keyrack unlock'));
    assert.equal(await noLogin(() => createKeyrackAwsVault({ env: sb.env }).isUnlocked({ exid: 'acme.prep' })), false);
  });

  it('without a host-provided login and without a terminal, unlock refuses: robots cannot unlock', async () => {
    await noLogin(() => assert.rejects(robotRhx.unlock('prep'), (e: unknown) => e instanceof KeyrackError && e.code === 'rhachet.not-interactive' && e.exitCode === 3));
  });

  it('rhx keyrack unlock aws: the person approves once; then isUnlocked, and a robot\'s get returns the profile name with its expiry', async () => {
    const unlocked = await robotRhx.unlock('prep', humanVault);
    assert.deepEqual(unlocked, [SLUG]);
    assert.equal(shown.length, 1, 'exactly one sign-in');
    assert.equal(await noLogin(() => createKeyrackAwsVault({ env: sb.env }).isUnlocked({ exid: 'acme.prep' })), true);
    const grant = await noLogin(() => robotRhx.get(SLUG));
    assert.ok(grant);
    assert.deepEqual({ ...grant, expiresAt: '' }, {
      slug: SLUG,
      key: { secret: 'acme.prep', grade: { protection: 'reference', duration: 'ephemeral' } },
      source: { vault: 'aws.config', mech: 'EPHEMERAL_VIA_AWS_SSO' },
      env: 'prep',
      org: 'acme',
      expiresAt: '',
    });
    assert.ok(Date.parse(grant.expiresAt) > Date.now() + 30 * 60_000, grant.expiresAt);
    assert.ok(!JSON.stringify(grant).includes(SECRET_MARKER));
    assert.equal(await robotRhx.get('acme.prep.NOT_SET'), null, 'no exid, nothing to get');
  });

  it('set again now proves the profile and records who it belongs to; another user\'s meta is not unlocked', async () => {
    const entry = await noLogin(() => robotRhx.set(SLUG, 'acme.prep'));
    assert.equal(entry.meta.validated, true);
    assert.equal(entry.meta.awsSsoUsername, 'alice');
    const vault = createKeyrackAwsVault({ env: sb.env });
    assert.equal(await vault.isUnlocked({ exid: 'acme.prep', meta: { awsSsoUsername: 'bob' } }), false);
    await assert.rejects(vault.get({ slug: SLUG, exid: 'acme.prep', meta: { awsSsoUsername: 'bob' } }), (e: unknown) => e instanceof KeyrackError && e.reason === 'mismatch');
  });

  it('a second unlock reuses the session: no sign-in', async () => {
    await humanVault.unlock({ identity: null, silent: true, exid: 'acme.prep', slug: SLUG });
    assert.equal(shown.length, 1);
  });

  it('relock ends the session (Logout) and deletes its caches; get is refused again without a login', async () => {
    await noLogin(() => robotRhx.relock(SLUG));
    assert.ok((await sb.emu.control.calls()).some((c) => c.operation === 'Logout' && c.status === 200));
    assert.equal(await createKeyrackAwsVault({ env: sb.env }).isUnlocked({ exid: 'acme.prep' }), false);
    await noLogin(() => assert.rejects(robotRhx.get(SLUG), (e: unknown) => e instanceof KeyrackError && e.exitCode === 3));
  });

  it('del leaves ~/.aws/config alone (the profile is the user\'s), and drops only the host\'s manifest entry', async () => {
    const config = await readFile(join(sb.home, '.aws', 'config'), 'utf8');
    await robotRhx.del(SLUG);
    assert.equal(robotRhx.manifest.has(SLUG), false);
    assert.equal(await readFile(join(sb.home, '.aws', 'config'), 'utf8'), config);
    const again = await noLogin(() => robotRhx.set(SLUG, 'acme.prep'));
    assert.equal(again.exid, 'acme.prep');
  });

  it('by construction: the robot half of the adapter cannot reach the login code; the human half does', async () => {
    const robotGraph = await moduleGraph('src/rhachet/robot.ts');
    assert.ok(robotGraph.some((m) => m.endsWith('src/aws/validate.ts')), 'the graph was computed');
    assert.deepEqual(robotGraph.filter((m) => /src\/aws\/login\//.test(m)), []);
    const humanGraph = await moduleGraph('src/rhachet/human.ts');
    assert.ok(humanGraph.some((m) => /src\/aws\/login\//.test(m)));
  });
});
