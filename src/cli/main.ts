// keyrack CLI entry (bundled to dist/cli.cjs). Subcommands load lazily so a robot's `grant` never pays for
// prompts, the emulator or the keychain binding; a fast path (src/cli/fast) answers before citty even loads.
// The robot commands and citty are CommonJS bundles, loaded with require(); the others are ES modules, loaded with
// import() (scripts/build.mjs checks which is which).
import type { ArgsDef, CommandDef } from 'citty';
import { homedir } from 'node:os';
import { codeCacheOptions, installCodeCache } from './code-cache.js';
import { fastPaths, processIo } from './fast/index.js';

declare const __KEYRACK_BUILD_ID__: string | undefined;

type Lazy = () => Promise<CommandDef>;
// Each command's own args type is erased here: citty only needs the shape.
const lazy = <T extends ArgsDef>(load: () => Promise<{ default: CommandDef<T> }>): Lazy => () => load().then((m) => m.default as unknown as CommandDef);

export const commands: Record<string, Lazy> = {
  unlock: lazy(() => import('./commands/unlock.js')),
  grant: lazy(() => Promise.resolve(require('./commands/grant.js') as typeof import('./commands/grant.js'))),
  exec: lazy(() => import('./commands/exec.js')),
  'list-roles': lazy(() => import('./commands/list-roles.js')),
  status: lazy(() => import('./commands/status.js')),
  lock: lazy(() => import('./commands/lock.js')),
  validate: lazy(() => import('./commands/validate.js')),
  emulator: lazy(() => import('./commands/emulator.js')),
  demo: lazy(() => import('./commands/demo.js')),
  watch: lazy(() => import('./commands/watch.js')),
  notify: lazy(() => import('./commands/notify.js')),
  audit: lazy(() => import('./commands/audit.js')),
  'credential-process': lazy(() => Promise.resolve(require('./commands/credential-process.js') as typeof import('./commands/credential-process.js'))),
  migrate: lazy(() => import('./commands/migrate.js')),
  init: lazy(() => import('./commands/init.js')),
  add: lazy(() => import('./commands/add.js')),
  sync: lazy(() => import('./commands/sync.js')),
  // Built from this very map, so every command and flag completes without a hand-kept list.
  completion: () => import('./commands/completion.js').then((m) => m.completionCommand(commands)),
};

// A plain object (citty's defineCommand is the identity): citty itself loads only when a command runs on the full path.
const main: CommandDef = {
  meta: { name: 'keyrack', version: '0.1.0', description: 'AWS IAM Identity Center sessions for humans, grants for robots' },
  subCommands: commands,
};

async function run(argv: string[]): Promise<void> {
  const beforeDashes = argv.indexOf('--') === -1 ? argv : argv.slice(0, argv.indexOf('--'));
  if (argv.length === 0 || beforeDashes.includes('--help') || beforeDashes.includes('-h')) {
    const name = beforeDashes.find((a) => !a.startsWith('-'));
    const load = name ? commands[name] : undefined;
    const { showUsage } = require('citty') as typeof import('citty');
    await showUsage(load ? await load() : main, load ? main : undefined);
    return;
  }
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    process.stdout.write('0.1.0\n');
    return;
  }
  const fast = Object.hasOwn(fastPaths, argv[0] ?? '') ? fastPaths[argv[0] as string] : undefined;
  if (fast && (await fast(argv.slice(1), processIo()))) return;
  // The bundles loaded from here on are compiled through the code cache (built launcher only: it has a build id).
  const cache = codeCacheOptions(process.env, typeof __KEYRACK_BUILD_ID__ === 'string' ? __KEYRACK_BUILD_ID__ : undefined, __dirname, process.env.HOME || homedir());
  if (cache) installCodeCache(cache);
  const { runCommand } = require('citty') as typeof import('citty');
  await runCommand(main, { rawArgs: argv });
}

// The SDK's Node-version notice is not actionable for a keyrack user and would pollute robot stderr.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Loaded on failure only, from the same build as the commands (scripts/build.mjs), so it knows their KeyrackError.
run(process.argv.slice(2)).catch(async (e: unknown) => (await import('./report.js')).reportAndExit(e));
