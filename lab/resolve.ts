import type Docker from 'dockerode';
import { ensureFlavourImage } from './engine/flavour-images';
import { BaseUnavailableError } from './engine/images';
import { LabError, LabExit } from './errors';
import { DEFAULT_FLAVOUR, DRIVERS, type Flavour } from './flavours';
import type { InitDriver } from './flavours/types';
import { DEFAULT_SERVER, SERVER_DRIVERS } from './servers';
import type { ServerDriver, ServerName } from './servers/types';

/** What a command's --flavour/--server flags chose (already checked by the parser's kinds). */
export interface LabFlags {
  flavour?: Flavour;
  server?: ServerName;
  /** boot this image instead of the flavour's own */
  image?: string;
}

/** The drivers a command runs with: no image yet, so a dry run or a usage check needs no Docker. */
export interface LabChoice {
  init: InitDriver;
  server: ServerDriver;
  /** the flavour was named on the command line: no fallback to another init */
  named: boolean;
}

export interface ResolvedLab extends LabChoice {
  image: string;
  /** the flavour asked for by default that could not be had, when the lab fell back from it */
  fellBackFrom?: Flavour;
}

/** The drivers for the flags, with the command's defaults (a demo tells the seed's story on unicorn). */
export function chooseLab(flags: LabFlags, defaults: { server?: ServerName } = {}): LabChoice {
  return {
    init: DRIVERS[flags.flavour ?? DEFAULT_FLAVOUR],
    server: SERVER_DRIVERS[flags.server ?? defaults.server ?? DEFAULT_SERVER],
    named: flags.flavour !== undefined,
  };
}

/** Long lines (a registry error quoted whole) are wrapped, so the box fits a terminal. */
function wrap(line: string, width: number): string[] {
  const out: string[] = [];
  let rest = line;
  while (rest.length > width) {
    const cut = rest.lastIndexOf(' ', width) > width / 2 ? rest.lastIndexOf(' ', width) : width;
    out.push(rest.slice(0, cut));
    rest = `    ${rest.slice(cut).trimStart()}`;
  }
  out.push(rest);
  return out;
}

/** A box of #s that a person scrolling past a build log cannot miss. */
export function banner(text: string[]): string {
  const lines = text.flatMap((l) => wrap(l, 96));
  const w = Math.max(...lines.map((l) => l.length));
  const bar = '#'.repeat(w + 4);
  return [bar, ...lines.map((l) => `# ${l.padEnd(w)} #`), bar].join('\n');
}

export interface ResolveOptions {
  docker: Docker;
  /** build progress lines */
  log: (line: string) => void;
  /** where the fallback banner goes (default stderr) */
  warn?: (text: string) => void;
  defaults?: { server?: ServerName };
  /** builds (or finds) a flavour's image; ensureFlavourImage unless a command caches its own */
  imageOf?: (flavour: Flavour, log: (line: string) => void) => Promise<string>;
}

/**
 * The one way `lab up`, `lab chaos` and `lab demo` get their init driver, server driver and
 * image. A flavour nobody named whose base cannot be had (precise, where ubuntu:12.04 cannot be
 * pulled) falls back to the driver's `image.fallback`, with a banner naming what is missing; a
 * flavour named on the command line never falls back. Errors: LabError, ENVIRONMENT.
 */
export async function resolveLab(flags: LabFlags, o: ResolveOptions): Promise<ResolvedLab> {
  const choice = chooseLab(flags, o.defaults);
  if (flags.image) return { ...choice, image: flags.image };
  const imageOf =
    o.imageOf ?? ((f: Flavour, log: (line: string) => void) => ensureFlavourImage(f, { docker: o.docker, log }));
  const warn = o.warn ?? ((t: string) => void process.stderr.write(t));
  const { init } = choice;
  try {
    return { ...choice, image: await imageOf(init.name, o.log) };
  } catch (err) {
    const fallback = init.image.fallback;
    if (!(err instanceof BaseUnavailableError))
      throw new LabError(`building the ${init.name} image failed:\n${(err as Error).message}`, LabExit.ENVIRONMENT);
    if (choice.named || fallback === undefined) throw new LabError(err.message, LabExit.ENVIRONMENT);
    const instead = DRIVERS[fallback];
    warn(
      `\n${banner([
        `THE ${init.name.toUpperCase()} FLAVOUR (${init.init}) CANNOT BE BUILT HERE`,
        ...err.message.split('\n'),
        `Starting the ${instead.name} twin (${instead.init}) instead.`,
      ])}\n\n`,
    );
    return { ...choice, init: instead, image: await imageOf(instead.name, o.log), fellBackFrom: init.name };
  }
}
