// Robots cannot log in by construction: no robot entry point's module graph reaches the login code, and the
// contract types give robot operations no LoginCapability. Both are checked here.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { build } from 'esbuild';

async function moduleGraph(entry: string): Promise<string[]> {
  const r = await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', write: false, metafile: true, logLevel: 'silent', external: ['@aws-sdk/*', 'citty', 'yaml', '@inquirer/*', '@napi-rs/*'] });
  return Object.keys(r.metafile.inputs);
}

const LOGIN = /src\/aws\/login\//;

describe('plugin contract: robots cannot reach a login', () => {
  for (const robot of ['grant', 'exec', 'list-roles', 'status', 'lock', 'credential-process']) {
    it(`keyrack ${robot}: no module under src/aws/login is in its graph`, async () => {
      const graph = await moduleGraph(`src/cli/commands/${robot}.ts`);
      assert.ok(graph.some((m) => /src\/aws\/(validate|lock|list-roles|credential-process)\.ts$/.test(m)), 'the graph was actually computed');
      assert.deepEqual(graph.filter((m) => LOGIN.test(m)), []);
    });
  }

  it('the fast paths (answered before any command loads) reach no login code', async () => {
    const graph = await moduleGraph('src/cli/fast/index.ts');
    assert.ok(graph.some((m) => /src\/cli\/fast\/credential-process\.ts$/.test(m)), 'the graph was actually computed');
    assert.deepEqual(graph.filter((m) => LOGIN.test(m)), []);
  });

  it('the check can fail: unlock does reach the login code', async () => {
    const graph = await moduleGraph('src/cli/commands/unlock.ts');
    assert.ok(graph.some((m) => LOGIN.test(m)));
  });

  it('robot operations are typed without a LoginCapability (checked by the real type checker)', async () => {
    const { execFileSync } = await import('node:child_process');
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'test/core/fixtures/contract-types'], { stdio: 'pipe' });
  });
});
