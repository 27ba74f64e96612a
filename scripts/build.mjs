// Bundles the CLI, the library entries and the emulator with esbuild, then emits type declarations.
//
// Start-up is what a robot pays on every call. Node 20 pays for every ES module it loads (resolve, read, compile,
// link) and for starting its ES module loader at all, while CommonJS files are read and compiled one by one with
// no loader to start. So the robot's paths are CommonJS and the rest is split ES modules:
//   dist/cli.cjs         src/cli/main.ts and the fast paths (src/cli/fast) in ONE CommonJS file, started by
//                        bin/keyrack.cjs: a grant served from the validation cache loads these two files, nothing else.
//   robot commands       grant and credential-process, each ONE CommonJS bundle (dist/cli/commands/<name>.cjs),
//                        required by main.ts with citty's CommonJS bundle (dist/cli/citty.cjs): a cold grant never
//                        starts the ES module loader. What they load lazily (the YAML parser, the request client) is
//                        in the bundle, compiled only when called; the AWS SDK packages stay in node_modules and are
//                        required only on the paths that still use them (KEYRACK_AWS_SDK=1, FIPS, dual-stack).
//                        Such a command has its own copy of KeyrackError, so it must report every error itself (its
//                        run() catches everything), as both do; citty's usage errors are matched by name.
//   dist/cli/…, chunks   every other command and the failure reporter, imported by main.ts with import(),
//                        built together with code splitting, so they share their modules (one KeyrackError class for
//                        the commands and the reporter).
// The fast paths' few modules (runtime, state, output, …) are thus bundled more than once; the copy in cli.cjs never
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

/** Robot commands built as CommonJS bundles of their own; they catch and report every error themselves (above). */
const ROBOT_COMMANDS = ['grant', 'credential-process'];
const cjs = {
  ...common,
  format: 'cjs',
  outExtension: { '.js': '.cjs' },
  outdir: 'dist',
  banner: {},
  // The SDK packages are CommonJS already: required from node_modules when (rarely) needed, not bundled.
  external: [...common.external, '@aws-sdk/*', '@smithy/*', '@inquirer/*'],
  // import.meta does not exist in CommonJS; the one use (locating this package) gets the file's own URL.
  define: { ...common.define, 'import.meta.url': '__keyrack_import_meta_url' },
  inject: ['scripts/cjs-import-meta.js'],
};
/**
 * The YAML parsers (a parse is needed only when keyrack.yml changed, or when a user config exists) are CommonJS
 * files of their own, required on first use: in a command's bundle their 270 KB would be compiled on every start.
 */
const PARSERS = { 'src/core/keyrack-load.ts': ['./keyrack-file.js', 'keyrack-file'], 'src/store/user-config.ts': ['./user-config-parse.js', 'user-config'] };
const parsersApart = {
  name: 'keyrack-parsers-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/(keyrack-file|user-config-parse)\.js$/ }, (args) => {
      const hit = Object.entries(PARSERS).find(([importer, [path]]) => args.importer.endsWith(importer) && args.path === path);
      if (!hit) return undefined;
      if (args.kind !== 'dynamic-import') throw new Error(`${args.importer} must load ${args.path} with import(): it is built apart`);
      return { path: `../parsers/${hit[1][1]}.cjs`, external: true };
    });
  },
};
// import() of what is external becomes require(): all of these are CommonJS.
const robotCjs = { ...cjs, supported: { 'dynamic-import': false } };
const robot = {};
for (const name of ROBOT_COMMANDS) robot[name] = await build({ ...robotCjs, entryPoints: { [`cli/commands/${name}`]: `src/cli/commands/${name}.ts` }, plugins: [parsersApart] });
robot.citty = await build({ ...robotCjs, entryPoints: { 'cli/citty': 'citty' } });
robot.parsers = await build({ ...robotCjs, entryPoints: { 'cli/parsers/keyrack-file': 'src/core/keyrack-file.ts', 'cli/parsers/user-config': 'src/store/user-config-parse.ts' } });

const commandFiles = readdirSync('src/cli/commands').filter((f) => f.endsWith('.ts') && !ROBOT_COMMANDS.includes(basename(f, '.ts')));
const full = await build({
  ...split,
  entryPoints: {
    ...Object.fromEntries(commandFiles.map((f) => [`cli/commands/${basename(f, '.ts')}`, `src/cli/commands/${f}`])),
    'cli/report': 'src/cli/report.ts',
  },
});

/** main.ts's lazy loads → the files of the builds above (paths relative to dist/cli.cjs). */
const toCommandBuilds = {
  name: 'keyrack-command-builds',
  setup(b) {
    b.onResolve({ filter: /^(\.\/commands\/.+|\.\/report)\.js$|^citty$/ }, (args) => {
      if (!args.importer.endsWith('src/cli/main.ts')) return undefined;
      if (args.kind === 'import-statement' && args.path !== 'citty') throw new Error(`src/cli/main.ts must load ${args.path} lazily: it belongs to another build`);
      const name = args.path === 'citty' ? 'citty' : args.path.slice(2, -3);
      const commonJs = args.path === 'citty' || ROBOT_COMMANDS.includes(name.replace(/^commands\//, ''));
      if (commonJs !== (args.kind === 'require-call')) throw new Error(`src/cli/main.ts: load ${args.path} with ${commonJs ? 'require()' : 'import()'}`);
      return { path: `./cli/${name}.${commonJs ? 'cjs' : 'mjs'}`, external: true };
    });
  },
};
// The launcher, with a shebang. No `require` banner: CommonJS has its own.
const launcher = await build({ ...common, format: 'cjs', banner: { js: '#!/usr/bin/env node' }, outExtension: { '.js': '.cjs' }, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist', plugins: [toCommandBuilds] });
chmodSync('dist/cli.cjs', 0o755);

const library = await build({
  ...split,
  entryPoints: { index: 'src/index.ts', emulator: 'src/emulator/index.ts', rhachet: 'src/rhachet/index.ts' },
});

if (metafile) {
  const results = { full, launcher, library, ...robot };
  for (const [name, r] of Object.entries(results)) writeFileSync(`dist/meta-${name}.json`, JSON.stringify(r.metafile));
}
if (!process.argv.includes('--no-types')) {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
