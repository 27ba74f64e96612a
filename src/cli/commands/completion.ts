// `keyrack completion bash|zsh|fish`: shell completion generated from the commands' own flag definitions, so a
// new flag completes without anyone editing a script. Env names and keys complete from the nearest keyrack.yml
// through `keyrack completion --list envs|keys` (robot-safe: it only reads keyrack.yml, silently).
import { defineCommand, type ArgDef, type CommandDef } from 'citty';
import { KeyrackError } from '../../core/errors.js';
import { findKeyrackFile, loadKeyrackFile } from '../../core/keyrack-file.js';
import { processRuntime } from '../context.js';
import { reportAndExit } from '../report.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

interface FlagSpec {
  name: string;
  description: string;
  /** Takes a value (string flags). */
  value: boolean;
  /** Where its values come from. */
  complete?: 'envs' | 'files' | 'shells';
}

interface CommandSpec {
  name: string;
  description: string;
  flags: FlagSpec[];
  /** What the first positional completes to. */
  positional?: { words?: string[]; dynamic?: 'keys' };
}

const POSITIONAL_WORDS: Record<string, string[]> = { plugin: ['aws'], shell: [...SHELLS] };

async function resolveValue<T>(v: T | (() => T | Promise<T>) | Promise<T>): Promise<T> {
  return typeof v === 'function' ? await (v as () => T | Promise<T>)() : await v;
}

export async function commandSpecs(commands: Record<string, () => Promise<CommandDef>>): Promise<CommandSpec[]> {
  const out: CommandSpec[] = [];
  for (const [name, load] of Object.entries(commands)) {
    const def = await load();
    const meta = (await resolveValue(def.meta ?? {})) as { description?: string };
    const args = (await resolveValue(def.args ?? {})) as Record<string, ArgDef>;
    const spec: CommandSpec = { name, description: meta.description ?? '', flags: [] };
    for (const [arg, d] of Object.entries(args)) {
      if (d.type === 'positional') {
        if (spec.positional) continue;
        spec.positional = POSITIONAL_WORDS[arg] ? { words: POSITIONAL_WORDS[arg] } : arg === 'key' ? { dynamic: 'keys' } : {};
        continue;
      }
      const flag: FlagSpec = { name: arg, description: d.description ?? '', value: d.type === 'string' || d.type === 'enum' };
      if (arg === 'env') flag.complete = 'envs';
      else if (arg === 'file' || arg === 'fixture') flag.complete = 'files';
      spec.flags.push(flag);
    }
    out.push(spec);
  }
  return out;
}

/** Descriptions go inside shell quotes: keep them to one safe line. */
function clean(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').replace(/['"`$\\[\]:]/g, '').replace(/\s+/g, ' ').trim().slice(0, 100);
}

export function bashScript(specs: CommandSpec[]): string {
  const names = specs.map((s) => s.name).join(' ');
  const valueFlags = [...new Set(specs.flatMap((s) => s.flags.filter((f) => f.value).map((f) => `--${f.name}`)))];
  const cases = specs
    .map((s) => {
      const pos = s.positional?.words ? s.positional.words.join(' ') : s.positional?.dynamic === 'keys' ? '$(keyrack completion --list keys 2>/dev/null)' : '';
      return `    ${s.name}) opts="${s.flags.map((f) => `--${f.name}`).join(' ')} --help"; pos="${pos}" ;;`;
    })
    .join('\n');
  return `# keyrack completion for bash. Install:
#   keyrack completion bash > ~/.local/share/bash-completion/completions/keyrack
# or add to ~/.bashrc:  source <(keyrack completion bash)
_keyrack() {
  local cur prev cmd opts pos
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  COMPREPLY=()
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${names} --help --version" -- "$cur") )
    return 0
  fi
  cmd="\${COMP_WORDS[1]}"
  case "$prev" in
    --env) COMPREPLY=( $(compgen -W "$(keyrack completion --list envs 2>/dev/null)" -- "$cur") ); return 0 ;;
    --file|--fixture) COMPREPLY=( $(compgen -f -- "$cur") ); return 0 ;;
    ${valueFlags.filter((f) => !['--env', '--file', '--fixture'].includes(f)).join('|') || '--never'}) return 0 ;;
  esac
  opts=""; pos=""
  case "$cmd" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
  else
    COMPREPLY=( $(compgen -W "$pos" -- "$cur") )
  fi
  return 0
}
complete -F _keyrack keyrack
`;
}

export function zshScript(specs: CommandSpec[]): string {
  const commands = specs.map((s) => `    '${s.name}:${clean(s.description)}'`).join('\n');
  const cases = specs
    .map((s) => {
      const flags = s.flags.map((f) => {
        const action = f.complete === 'envs' ? ':env:_keyrack_envs' : f.complete === 'files' ? ':file:_files' : f.value ? `:${f.name}: ` : '';
        return `'--${f.name}[${clean(f.description)}]${action}'`;
      });
      const pos = s.positional?.words ? `'1:${s.name === 'completion' ? 'shell' : 'plugin'}:(${s.positional.words.join(' ')})'` : s.positional?.dynamic === 'keys' ? `'1:key:_keyrack_keys'` : '';
      return `    (${s.name}) _arguments -s ${[...flags, pos].filter(Boolean).join(' ')} ;;`;
    })
    .join('\n');
  return `#compdef keyrack
# keyrack completion for zsh. Install: keyrack completion zsh > "\${fpath[1]}/_keyrack"
# or add to ~/.zshrc (after compinit):  source <(keyrack completion zsh)
_keyrack_envs() { local -a envs; envs=(\${(f)"$(keyrack completion --list envs 2>/dev/null)"}); _describe 'env' envs; }
_keyrack_keys() { local -a keys; keys=(\${(f)"$(keyrack completion --list keys 2>/dev/null)"}); _describe 'key' keys; }
_keyrack() {
  local -a commands
  commands=(
${commands}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  local cmd=$words[2]
  shift words
  (( CURRENT-- ))
  case $cmd in
${cases}
  esac
}
if [[ "\${funcstack[1]}" == "_keyrack" ]]; then _keyrack "$@"; else compdef _keyrack keyrack; fi
`;
}

export function fishScript(specs: CommandSpec[]): string {
  const q = (s: string) => `'${clean(s)}'`;
  const lines = [
    '# keyrack completion for fish. Install: keyrack completion fish > ~/.config/fish/completions/keyrack.fish',
    'complete -c keyrack -f',
    `complete -c keyrack -n '__fish_use_subcommand' -l help -d 'show help'`,
  ];
  for (const s of specs) lines.push(`complete -c keyrack -n '__fish_use_subcommand' -a ${s.name} -d ${q(s.description)}`);
  for (const s of specs) {
    const when = `-n '__fish_seen_subcommand_from ${s.name}'`;
    for (const f of s.flags) {
      const values = f.complete === 'envs' ? ` -x -a '(keyrack completion --list envs 2>/dev/null)'` : f.complete === 'files' ? ' -r -F' : f.value ? ' -x' : '';
      lines.push(`complete -c keyrack ${when} -l ${f.name}${values} -d ${q(f.description)}`);
    }
    if (s.positional?.words) lines.push(`complete -c keyrack ${when} -a '${s.positional.words.join(' ')}'`);
    if (s.positional?.dynamic === 'keys') lines.push(`complete -c keyrack ${when} -a '(keyrack completion --list keys 2>/dev/null)'`);
  }
  return `${lines.join('\n')}\n`;
}

/** Names for dynamic completion; any problem (no keyrack.yml, a broken one) is just "nothing to offer". */
async function listNames(what: string): Promise<string[]> {
  try {
    const rt = processRuntime();
    const file = await loadKeyrackFile(findKeyrackFile({ cwd: rt.cwd, env: rt.env }));
    if (what === 'envs') return Object.keys(file.envs);
    if (what === 'keys') return [...new Set(Object.values(file.envs).flatMap((k) => Object.keys(k)))];
  } catch {
    // nothing to complete
  }
  return [];
}

export function completionCommand(commands: Record<string, () => Promise<CommandDef>>): CommandDef {
  return defineCommand({
    meta: { name: 'completion', description: 'Print a shell completion script: keyrack completion bash|zsh|fish' },
    args: {
      shell: { type: 'positional', required: false, description: 'bash, zsh or fish' },
      list: { type: 'string', description: 'print env names or keys from keyrack.yml, one a line (used by the scripts)', valueHint: 'envs|keys' },
    },
    async run({ args }) {
      try {
        if (args.list) {
          const names = await listNames(args.list);
          if (names.length) process.stdout.write(`${names.join('\n')}\n`);
          return;
        }
        const shell = args.shell as string | undefined;
        if (!shell || !(SHELLS as readonly string[]).includes(shell)) {
          throw new KeyrackError({ code: 'cli.completion-shell', reason: 'invalid-input', message: shell ? 'unknown shell' : 'which shell?', fix: `keyrack completion ${SHELLS.join('|')}` });
        }
        const specs = await commandSpecs(commands);
        process.stdout.write(shell === 'bash' ? bashScript(specs) : shell === 'zsh' ? zshScript(specs) : fishScript(specs));
      } catch (e) {
        reportAndExit(e);
      }
    },
  }) as unknown as CommandDef;
}
