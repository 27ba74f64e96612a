// Bundles the CLI, the library entry and the emulator with esbuild, then emits type declarations.
// One file per entry keeps robot start-up to a single module read; heavy parts stay behind dynamic import().
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  splitting: true,
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  // Native and optional pieces stay external: the keychain binding ships a .node file.
  external: ['@napi-rs/keyring', 'playwright-core'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
  legalComments: 'none',
};
await build({
  ...common,
  entryPoints: { cli: 'src/cli/main.ts', index: 'src/index.ts', emulator: 'src/emulator/index.ts', rhachet: 'src/rhachet/index.ts' },
});
if (!process.argv.includes('--no-types')) {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
