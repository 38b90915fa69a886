/** A small argument parser: positionals, `--flag`, `--key value`, `--key=value`, repeatable keys. */
export interface ParsedArguments {
  positionals: string[];
  options: Map<string, string[]>;
}

const BOOLEAN_FLAGS = new Set(['wait', 'hard', 'force', 'public-ip', 'help', 'json', 'stopped']);

export function parseArguments(argv: string[]): ParsedArguments {
  const positionals: string[] = [];
  const options = new Map<string, string[]>();
  const add = (key: string, value: string) => options.set(key, [...(options.get(key) ?? []), value]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      if (eq > 0) add(arg.slice(2, eq), arg.slice(eq + 1));
      else if (BOOLEAN_FLAGS.has(arg.slice(2))) add(arg.slice(2), 'true');
      else {
        const value = argv[i + 1];
        if (value === undefined) throw new Error(`${arg} needs a value`);
        add(arg.slice(2), value);
        i++;
      }
    } else positionals.push(arg);
  }
  return { positionals, options };
}

export function option(args: ParsedArguments, key: string, fallback?: string): string | undefined {
  const values = args.options.get(key);
  return values ? values[values.length - 1] : fallback;
}

export function flag(args: ParsedArguments, key: string): boolean {
  return option(args, key) === 'true';
}

export function options(args: ParsedArguments, key: string): string[] {
  return args.options.get(key) ?? [];
}
