// A strict reader for the few command lines a fast path answers. It accepts less than citty does, never more:
// anything it does not recognise (another flag, a repeated flag, `--`, a flag without its value, a second
// positional) makes it return undefined and the command runs on the full path, where citty reports it.

export interface FlagSpec {
  /** `--name VALUE` or `--name=VALUE` */
  strings: readonly string[];
  /** `--name` alone */
  booleans: readonly string[];
}

export interface ParsedArgs {
  positionals: string[];
  strings: Record<string, string>;
  booleans: Set<string>;
}

export function parseStrict(argv: readonly string[], spec: FlagSpec, maxPositionals: number): ParsedArgs | undefined {
  const out: ParsedArgs = { positionals: [], strings: {}, booleans: new Set() };
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('-')) {
      if (out.positionals.length === maxPositionals) return undefined;
      out.positionals.push(a);
      continue;
    }
    if (!a.startsWith('--') || a === '--') return undefined;
    const eq = a.indexOf('=');
    const name = eq === -1 ? a.slice(2) : a.slice(2, eq);
    if (seen.has(name)) return undefined;
    seen.add(name);
    if (spec.booleans.includes(name)) {
      if (eq !== -1) return undefined;
      out.booleans.add(name);
    } else if (spec.strings.includes(name)) {
      const value = eq !== -1 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined || (eq === -1 && value.startsWith('-'))) return undefined;
      out.strings[name] = value;
    } else {
      return undefined;
    }
  }
  return out;
}
