import { LabError, LabExit } from './errors';

export type FlagSpec = Record<
  string,
  { kind: 'string' | 'number' | 'boolean'; help: string; default?: string | number | boolean }
>;
export type FlagValues<S extends FlagSpec> = {
  [K in keyof S]: S[K]['kind'] extends 'boolean'
    ? boolean
    : S[K]['kind'] extends 'number'
      ? number | undefined
      : string | undefined;
};

/** --name value / --name=value / --flag; everything else is positional. Unknown flags are errors. */
export function parseFlags<S extends FlagSpec>(
  command: string,
  argv: string[],
  spec: S,
): { flags: FlagValues<S>; positional: string[] } {
  const flags: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(spec)) flags[k] = s.default ?? (s.kind === 'boolean' ? false : undefined);
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(a);
    if (!m) {
      positional.push(a);
      continue;
    }
    const s = spec[m[1]];
    if (!s) throw new LabError(`lab ${command}: unknown option --${m[1]}; see 'lab ${command} --help'`, LabExit.USAGE);
    if (s.kind === 'boolean') {
      flags[m[1]] = true;
      continue;
    }
    const v = m[2] ?? argv[++i];
    if (v === undefined) throw new LabError(`lab ${command}: --${m[1]} needs a value`, LabExit.USAGE);
    if (s.kind === 'number') {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0)
        throw new LabError(`lab ${command}: --${m[1]} '${v}' is not a number`, LabExit.USAGE);
      flags[m[1]] = n;
    } else flags[m[1]] = v;
  }
  return { flags: flags as FlagValues<S>, positional };
}

export function flagHelp(spec: FlagSpec): string {
  return Object.entries(spec)
    .map(
      ([k, s]) =>
        `  --${k}${s.kind === 'boolean' ? '' : ` ${s.kind === 'number' ? 'N' : 'VALUE'}`}`.padEnd(26) +
        s.help +
        (s.default !== undefined && s.kind !== 'boolean' ? ` (default ${s.default})` : ''),
    )
    .join('\n');
}

/** Durations as people type them: 30s, 2m, 500ms, or plain seconds. */
export function parseDuration(v: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
  if (!m) throw new LabError(`${what}: '${v}' is not a duration (examples: 30s, 2m, 500ms)`, LabExit.USAGE);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
}
