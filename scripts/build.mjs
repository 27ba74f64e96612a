// Bundles the CLI, the library entries and the emulator with esbuild, then emits type declarations.
//
// Start-up is what a robot pays on every call, and Node 20 pays for every ES module it loads (resolve, read,
// compile, link), so the CLI is several builds:
//   dist/cli.mjs         src/cli/main.ts and the fast paths (src/cli/fast) in ONE file, no chunks: a grant served
//                        from the validation cache loads bin/keyrack.mjs and this file, nothing else.
//   dist/cli/…, chunks   everything main.ts loads with import() — each command, citty, the failure reporter —
//                        built together with code splitting, so commands share their modules (one KeyrackError
//                        class for the commands and the reporter). main.ts's import() of ./commands/*, ./report.js
//                        and citty are rewritten to these files.
//   standalone commands  robot commands on the hot path (grant) get a split build of their own: a cold grant then
//                        loads a dozen files instead of thirty-odd small shared chunks. Such a command has its own
//                        copy of KeyrackError, so it must report every error itself (its run() catches everything
//                        and calls reportAndExit), as commands/grant.ts does; citty's usage errors are matched by
//                        name and need no shared class.
// The fast paths' few modules (runtime, state, output, …) are thus bundled more than once; the copy in cli.mjs never
// lets an error out (a fast path returns false and the full path decides).
// The library entries (index, emulator, rhachet) are one more build. `--metafile` writes dist/meta-*.json for
// inspecting what each build pulls in.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

const metafile = process.argv.includes('--metafile');
rmSync('dist', { recursive: true, force: true });

/** Which keyrack this is, for caches of its own results (src/store/parse-cache.ts): any source change is a new id. */
function buildId() {
  const h = createHash('sha256');
  const walk = (dir) => readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name)).forEach((d) => {
    const p = `${dir}/${d.name}`;
    if (d.isDirectory()) walk(p);
    else h.update(`${p}\0`).update(readFileSync(p));
  });
  walk('src');
  h.update(readFileSync('package.json'));
  return h.digest('hex').slice(0, 32);
}

const common = {
  define: { __KEYRACK_BUILD_ID__: JSON.stringify(buildId()) },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  // Native and optional pieces stay external: the keychain binding ships a .node file.
  external: ['@napi-rs/keyring', 'playwright-core'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
  legalComments: 'none',
  metafile,
};
const split = { ...common, splitting: true, outdir: 'dist', chunkNames: 'chunks/[name]-[hash]' };

/** Must catch and report every error of their own (see above). */
const STANDALONE = ['grant'];
const standalone = [];
for (const name of STANDALONE) standalone.push(await build({ ...split, entryPoints: { [`cli/commands/${name}`]: `src/cli/commands/${name}.ts` } }));

const commandFiles = readdirSync('src/cli/commands').filter((f) => f.endsWith('.ts') && !STANDALONE.includes(basename(f, '.ts')));
const full = await build({
  ...split,
  entryPoints: {
    ...Object.fromEntries(commandFiles.map((f) => [`cli/commands/${basename(f, '.ts')}`, `src/cli/commands/${f}`])),
    'cli/report': 'src/cli/report.ts',
    'cli/citty': 'citty',
  },
});

/** main.ts's lazy imports → the files of the build above (paths relative to dist/cli.mjs). */
const toFullBuild = {
  name: 'keyrack-full-cli',
  setup(b) {
    b.onResolve({ filter: /^(\.\/commands\/.+|\.\/report)\.js$|^citty$/ }, (args) => {
      if (!args.importer.endsWith('src/cli/main.ts')) return undefined;
      if (args.kind === 'import-statement' && args.path !== 'citty') throw new Error(`src/cli/main.ts must load ${args.path} with import(): it belongs to the full CLI build`);
      if (args.path === 'citty') return { path: './cli/citty.mjs', external: true };
      return { path: `./cli/${args.path.slice(2).replace(/\.js$/, '.mjs')}`, external: true };
    });
  },
};
// No CommonJS in this graph, so no `require` banner: one import less on every start.
const launcher = await build({ ...common, banner: {}, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist', plugins: [toFullBuild] });
// The same launcher as CommonJS, with a shebang: started as the entry point itself it spares Node its ES module
// loader until a command needs it (the fast paths never do), about 10 ms of a 40 ms warm grant. Used when the
// package's bin points at it; the ES module dist/cli.mjs serves bin/keyrack.mjs.
await build({ ...common, format: 'cjs', banner: { js: '#!/usr/bin/env node' }, outExtension: { '.js': '.cjs' }, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist', plugins: [toFullBuild] });
chmodSync('dist/cli.cjs', 0o755);

const library = await build({
  ...split,
  entryPoints: { index: 'src/index.ts', emulator: 'src/emulator/index.ts', rhachet: 'src/rhachet/index.ts' },
});

if (metafile) {
  const results = { full, launcher, library, ...Object.fromEntries(standalone.map((r, i) => [STANDALONE[i], r])) };
  for (const [name, r] of Object.entries(results)) writeFileSync(`dist/meta-${name}.json`, JSON.stringify(r.metafile));
}
if (!process.argv.includes('--no-types')) {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
