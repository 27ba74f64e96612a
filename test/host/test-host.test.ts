// A host (like `rhx keyrack unlock aws`) using only the public entry point `keyrack-aws`.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import aws, { createHumanContext, createRobotContext, KeyrackError, type LoginCapability } from 'keyrack-aws';
import { createSandbox, EXAMPLE_KEYRACK_YML, type Sandbox } from '../helpers/keyrack.js';

describe('a host driving the plugin through the public entry point', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox({ autoApprove: null });
    await mkdir(join(sb.home, '.aws'), { recursive: true });
    await writeFile(join(sb.repo, 'keyrack.yml'), EXAMPLE_KEYRACK_YML);
  });
  after(async () => sb.close());

  const opts = () => ({ env: { ...sb.env }, cwd: sb.repo });

  it('robot grant while locked is refused with a typed error (reason locked, exit 3)', async () => {
    const ctx = await createRobotContext(opts());
    await assert.rejects(aws.grant(ctx, { env: 'prep', key: 'AWS_PROFILE' }), (e: unknown) => e instanceof KeyrackError && e.reason === 'locked' && e.exitCode === 3);
  });

  it('a host-provided LoginCapability is the only way in: the host shows the code, a human approves, robots get grants', async () => {
    const shown: string[] = [];
    const login: LoginCapability = {
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
    };
    const human = createHumanContext(await createRobotContext(opts()), login);
    const r = await aws.unlock(human, { env: 'prep' });
    assert.equal(shown.length, 1);
    assert.equal(r.validated[0]?.identity.account, '111122223333');
    const g = await aws.grant(await createRobotContext(opts()), { env: 'prep', key: 'AWS_PROFILE' });
    assert.equal(g.profile, 'acme.prep');
  });

  it('a robot operation ignores a login capability even if a careless host passes one', async () => {
    let called = 0;
    const trap = new Proxy({}, { get: () => { called++; return () => undefined; } });
    await aws.lock(await createRobotContext(opts()), { logout: true });
    const robot = { ...(await createRobotContext(opts())), login: trap };
    await assert.rejects(aws.grant(robot, { env: 'prep', key: 'AWS_PROFILE' }), (e: unknown) => e instanceof KeyrackError && e.exitCode === 3);
    await assert.rejects(aws.listRoles(robot, {}), (e: unknown) => e instanceof KeyrackError && e.exitCode === 3);
    assert.equal(called, 0);
  });
});
