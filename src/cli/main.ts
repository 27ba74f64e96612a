// keyrack CLI entry (bundled to dist/cli.mjs). Subcommands load lazily so a robot's `grant` never pays for
// prompts, the emulator or the keychain binding.
import { defineCommand, runCommand, showUsage, type CommandDef } from 'citty';
import { reportAndExit } from './report.js';

type Lazy = () => Promise<CommandDef>;
const lazy = (load: () => Promise<{ default: CommandDef }>): Lazy => () => load().then((m) => m.default);

export const commands: Record<string, Lazy> = {
  emulator: lazy(() => import('./commands/emulator.js')),
};

const main = defineCommand({
  meta: { name: 'keyrack', version: '0.1.0', description: 'AWS IAM Identity Center sessions for humans, grants for robots' },
  subCommands: commands,
});

async function run(argv: string[]): Promise<void> {
  const beforeDashes = argv.indexOf('--') === -1 ? argv : argv.slice(0, argv.indexOf('--'));
  if (argv.length === 0 || beforeDashes.includes('--help') || beforeDashes.includes('-h')) {
    const name = beforeDashes.find((a) => !a.startsWith('-'));
    const load = name ? commands[name] : undefined;
    await showUsage(load ? await load() : main, load ? main : undefined);
    return;
  }
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    process.stdout.write('0.1.0\n');
    return;
  }
  await runCommand(main, { rawArgs: argv });
}

run(process.argv.slice(2)).catch(reportAndExit);
