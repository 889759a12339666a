import { parseArgs } from 'node:util';
import { LabError, LabExit } from './errors';
import { driverFor, type Flavour } from './flavours';
import { serverFor } from './servers';
import type { ServerName } from './servers/types';

/**
 * Flags of every `lab` command, declared once per command: the declaration is what node's
 * `util.parseArgs` (strict) parses and what the help text is generated from. parseArgs is
 * node's own (no dependency, Node 20 has it) and strict mode refuses unknown options; the
 * positional arguments each command takes are declared too, so a stray word is refused
 * instead of silently ignored (`lab signal USR2 --to worker 99`).
 */
export type FlagSpec = Record<
  string,
  {
    /** flavour and server: a name the registries know, refused with their list otherwise */
    kind: 'string' | 'number' | 'boolean' | 'flavour' | 'server';
    help: string;
    default?: string | number | boolean;
  }
>;
export type FlagValues<S extends FlagSpec> = {
  [K in keyof S]: S[K]['kind'] extends 'boolean'
    ? boolean
    : S[K]['kind'] extends 'number'
      ? number | undefined
      : S[K]['kind'] extends 'flavour'
        ? Flavour | undefined
        : S[K]['kind'] extends 'server'
          ? ServerName | undefined
          : string | undefined;
};

/** How many positional arguments a command takes: names for the help text; `rest` = any number more. */
export interface PositionalSpec {
  names: string[];
  /** required positionals, from the front */
  required?: number;
  /** takes any number of further positionals (files, initctl arguments) */
  rest?: boolean;
}

const NONE: PositionalSpec = { names: [] };

export function parseFlags<S extends FlagSpec>(
  command: string,
  argv: string[],
  spec: S,
  positionals: PositionalSpec = NONE,
): { flags: FlagValues<S>; positional: string[] } {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [k, s] of Object.entries(spec)) options[k] = { type: s.kind === 'boolean' ? 'boolean' : 'string' };
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true }) as typeof parsed;
  } catch (err) {
    // parseArgs's own words name the option ("Unknown option '--x'"); say where to look.
    const why = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new LabError(`lab ${command}: ${why}; see 'lab ${command} --help'`, LabExit.USAGE);
  }
  const flags: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(spec)) {
    const v = parsed.values[k];
    const given = v ?? s.default;
    if (given === undefined) flags[k] = s.kind === 'boolean' ? false : undefined;
    else if (v !== undefined && s.kind === 'number') flags[k] = toNumber(command, k, v as string, s.help);
    else if (s.kind === 'flavour') flags[k] = named(command, k, () => driverFor(String(given)).name);
    else if (s.kind === 'server') flags[k] = named(command, k, () => serverFor(String(given)).name);
    else flags[k] = given;
  }
  const positional = parsed.positionals;
  const max = positionals.names.length;
  if (!positionals.rest && positional.length > max) {
    const stray = positional.slice(max).join(' ');
    const takes = max === 0 ? 'takes no arguments' : `takes ${positionals.names.join(' ')}`;
    throw new LabError(
      `lab ${command}: unexpected argument '${stray}' (${takes}); see 'lab ${command} --help'`,
      LabExit.USAGE,
    );
  }
  const required = positionals.required ?? 0;
  if (positional.length < required) {
    throw new LabError(
      `lab ${command}: ${positionals.names.slice(positional.length, required).join(' ')} missing; see 'lab ${command} --help'`,
      LabExit.USAGE,
    );
  }
  return { flags: flags as FlagValues<S>, positional };
}

/** A registry's own refusal ("unknown flavour 'x': use ..."), said as this command's flag. */
function named<T>(command: string, flag: string, lookUp: () => T): T {
  try {
    return lookUp();
  } catch (err) {
    throw new LabError(`lab ${command}: --${flag}: ${(err as Error).message}`, LabExit.USAGE);
  }
}

function toNumber(command: string, flag: string, v: string, help: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n))
    throw new LabError(`lab ${command}: --${flag} '${v}' is not a number`, LabExit.USAGE);
  // A negative number is a number: say what is wrong with it instead, and what the flag takes.
  if (n < 0) throw new LabError(`lab ${command}: --${flag} '${v}' is negative: give ${help}, 0 or more`, LabExit.USAGE);
  return n;
}

export function flagHelp(spec: FlagSpec): string {
  return Object.entries(spec)
    .map(
      ([k, s]) =>
        `  --${k}${s.kind === 'boolean' ? '' : ` ${s.kind === 'number' ? 'N' : s.kind === 'string' ? 'VALUE' : s.kind.toUpperCase()}`}`.padEnd(
          26,
        ) +
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

/**
 * --docker-host URL (or --docker-host=URL), anywhere on the line, for every command: it sets
 * DOCKER_HOST for this process and what it starts (image builds), exactly as if it were in the
 * environment. Removed from argv before the command parses its own flags.
 */
export function takeDockerHost(argv: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    let value: string | undefined;
    if (a === '--docker-host') {
      value = argv[++i];
      if (value === undefined || value.startsWith('--'))
        throw new LabError('--docker-host needs a URL (unix:///path, tcp://host:port, ssh://user@host)', LabExit.USAGE);
    } else if (a.startsWith('--docker-host=')) value = a.slice('--docker-host='.length);
    if (value === undefined) {
      out.push(a);
      continue;
    }
    if (!/^(unix|tcp|http|https|ssh|npipe):\/\//.test(value))
      throw new LabError(
        `--docker-host ${value}: give a URL (unix:///path, tcp://host:port, ssh://user@host)`,
        LabExit.USAGE,
      );
    env.DOCKER_HOST = value;
  }
  return out;
}
