// The watcher must never start a login except through the opt-in device-code push, and robots must not even load
// that code. Checked on the real module graphs (esbuild's metafile): the watcher's static graph has no
// src/aws/login; the only way there is the dynamic import of src/watch/device-push.ts; and the robot commands that
// now reach watcher code (lock, for the kill switch; status) include neither.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { build, type Metafile } from 'esbuild';

const LOGIN = /src\/aws\/login\//;
const PUSH = /src\/watch\/device-push\.ts$/;

async function metafile(entry: string): Promise<Metafile> {
  const r = await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', write: false, metafile: true, logLevel: 'silent', external: ['@aws-sdk/*', 'citty', 'yaml', '@inquirer/*', '@napi-rs/*'] });
  return r.metafile;
}

/** Modules reachable from `entry` through static imports only. */
function staticGraph(meta: Metafile, entry: string): Set<string> {
  const seen = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const m = todo.pop() as string;
    if (seen.has(m)) continue;
    seen.add(m);
    for (const i of meta.inputs[m]?.imports ?? []) if (!i.external && i.kind !== 'dynamic-import') todo.push(i.path);
  }
  return seen;
}

describe('module graphs: the watcher starts no login, robots cannot reach the push', () => {
  it('keyrack watch: no module under src/aws/login is statically reachable', async () => {
    const entry = 'src/cli/commands/watch.ts';
    const meta = await metafile(entry);
    const graph = [...staticGraph(meta, entry)];
    assert.ok(graph.some((m) => m.endsWith('src/watch/probe.ts')), 'the graph was computed');
    assert.deepEqual(graph.filter((m) => LOGIN.test(m) || PUSH.test(m)), []);
  });

  it('the only way from the watcher to the login code is the dynamic import of device-push.ts', async () => {
    const meta = await metafile('src/watch/probe.ts');
    const edges = Object.entries(meta.inputs).flatMap(([from, m]) => m.imports.map((i) => ({ from, to: i.path, kind: i.kind })));
    const intoPush = edges.filter((e) => PUSH.test(e.to));
    assert.deepEqual(intoPush.map((e) => [e.from, e.kind]), [['src/watch/probe.ts', 'dynamic-import']]);
    const intoLogin = edges.filter((e) => LOGIN.test(e.to) && !LOGIN.test(e.from));
    assert.deepEqual([...new Set(intoLogin.map((e) => e.from))], ['src/watch/device-push.ts']);
  });

  it('keyrack watch: no AWS SDK package is statically reachable (its calls are hand-built; the SDK is a fallback)', async () => {
    const entry = 'src/cli/commands/watch.ts';
    const meta = await metafile(entry);
    const graph = staticGraph(meta, entry);
    assert.ok(graph.has('src/watch/aws-probe.ts'), 'the graph was computed');
    const sdk = [...graph].flatMap((m) => (meta.inputs[m]?.imports ?? []).filter((i) => i.external && i.kind !== 'dynamic-import' && i.path.startsWith('@aws-sdk/')).map((i) => `${m} -> ${i.path}`));
    assert.deepEqual(sdk, []);
  });

  for (const robot of ['lock', 'status', 'grant']) {
    it(`keyrack ${robot} (robot): neither src/aws/login nor the device-code push is anywhere in its bundle`, async () => {
      const meta = await metafile(`src/cli/commands/${robot}.ts`);
      const all = Object.keys(meta.inputs);
      assert.deepEqual(all.filter((m) => LOGIN.test(m) || PUSH.test(m)), []);
    });
  }

  it('the signal a robot writes pulls in no watcher code', async () => {
    const meta = await metafile('src/store/signal.ts');
    assert.deepEqual(Object.keys(meta.inputs).filter((m) => /src\/(watch|notify|aws)\//.test(m)), []);
  });
});
