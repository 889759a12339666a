/**
 * The images the lab boots, one per flavour:
 *  - upstart-unicorn-lab/precise:<hash>   Ubuntu 12.04, upstart 1.5 as PID 1 (images/precise)
 *  - upstart-unicorn-lab/bookworm:<hash>  Debian 12, systemd as PID 1 (images/bookworm)
 * Both hold nginx, the portable node runtime, the compiled wrappers (phoenix
 * and unicorn-wrapper) and Ruby unicorn with its app, jobs and units
 * (images/conf/unicorn, not active by default). The build context is the
 * part of the repository the Dockerfile uses (the flavour's directory,
 * images/conf, dist/src, package.json) under the same names; the tag is the
 * hash of all of that and of the build args, so an image is rebuilt exactly
 * when one of them changes.
 */
import type Docker from 'dockerode';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { buildImage, type BuiltImage } from './build';
import { BuildContextError, listContextDir, type ContextFile } from './content-hash';
import { connect } from './docker';
import { DRIVERS, type Flavour, isFlavour } from '../flavours';
import { ensureRuntime, projectRoot, type EnsureOptions } from './images';

// The flavour names live with their drivers (lab/flavours); many modules import them from here.
export { FLAVOURS, type Flavour, isFlavour } from '../flavours';

/** On flavour images: which flavour, and what they were built from. */
export const FLAVOUR_LABEL = 'upstart-unicorn-lab.flavour';
export const BASE_LABEL = 'upstart-unicorn-lab.base';
export const RUNTIME_LABEL = 'upstart-unicorn-lab.runtime';
export const VERSION_LABEL = 'upstart-unicorn-lab.version';
export const STRATEGY_LABEL = 'upstart-unicorn-lab.strategy';

/** dist/ is missing or incomplete: the wrapper has not been compiled. */
export class WrapperNotBuiltError extends Error {
  override readonly name = 'WrapperNotBuiltError';
}

export interface FlavourImageOptions extends EnsureOptions {
  /** The base image to build on, as it is. Default: the init driver's image.ensureBase(). */
  base?: string;
  /** The runtime image (default: ensureRuntime()). */
  runtime?: string;
  /** A job strategy the flavour's image takes (its driver's image.strategies; default the first). */
  strategy?: string;
  /** Pass every line of the build's output to the log, not only the steps. */
  verbose?: boolean;
  /** The project's root directory (default: found from this file). */
  root?: string;
}

export interface FlavourImage extends BuiltImage {
  flavour: Flavour;
  /** The base image as named (PRECISE_BASE's value, or the base's content tag). */
  base: string;
  runtime: string;
}

/** The compiled entry points the images run: phoenix and the unicorn wrapper (under dist/src). */
export const WRAPPER_ENTRY_POINTS = ['cli.js', 'unicorn-wrapper/cli.js'] as const;

async function requireWrapper(root: string): Promise<string> {
  const distSrc = path.join(root, 'dist', 'src');
  for (const entry of WRAPPER_ENTRY_POINTS) {
    const file = path.join(distSrc, ...entry.split('/'));
    if (!existsSync(file)) {
      throw new WrapperNotBuiltError(
        `the compiled wrapper is missing (${file}): run npm run build, then build the image again`,
      );
    }
  }
  return distSrc;
}

/** Ruby unicorn's app, which both Dockerfiles COPY to /opt/unicorn/app. */
export const UNICORN_APP_FILES = ['images/conf/unicorn/config.ru', 'images/conf/unicorn/unicorn.rb'] as const;

/**
 * Everything the flavour's Dockerfile may COPY, named as in the repository (the
 * Dockerfile is images/<flavour>/Dockerfile), so the same Dockerfile also builds
 * from the repository's root (docker-compose.yml).
 */
export async function flavourContextFiles(flavour: Flavour, root: string = projectRoot()): Promise<ContextFile[]> {
  await requireWrapper(root);
  const under = async (rel: string): Promise<ContextFile[]> =>
    (await listContextDir(path.join(root, ...rel.split('/')))).map((f) => ({
      name: `${rel}/${f.name}`,
      source: f.source,
    }));
  const files = [
    ...(await under(`images/${DRIVERS[flavour].image.dir}`)),
    // All of it: jobs, units, nginx sites, shims, and unicorn's app (images/conf/unicorn).
    ...(await under('images/conf')),
    // Only the compiled JS (phoenix and dist/src/unicorn-wrapper): no .d.ts or maps (tsconfig
    // makes none today; a later change must not put them in the image or in the hash).
    ...(await under('dist/src')).filter((f) => f.name.endsWith('.js')),
    { name: 'package.json', source: path.join(root, 'package.json') },
  ];
  for (const name of UNICORN_APP_FILES) {
    if (!files.some((f) => f.name === name)) {
      throw new BuildContextError(`${name} is missing: the ${flavour} image installs unicorn's app from it`);
    }
  }
  return files;
}

/** The Dockerfile of a flavour, inside the context flavourContextFiles makes. */
export function flavourDockerfile(flavour: Flavour): string {
  return `images/${DRIVERS[flavour].image.dir}/Dockerfile`;
}

async function imageId(docker: Docker, ref: string): Promise<string> {
  return (await docker.getImage(ref).inspect()).Id;
}

async function packageVersion(root: string): Promise<string> {
  try {
    return (
      (JSON.parse(await fs.readFile(path.join(root, 'package.json'), 'utf8')) as { version?: string }).version ??
      'unknown'
    );
  } catch {
    return 'unknown';
  }
}

/**
 * Build (or reuse) `upstart-unicorn-lab/<flavour>:<hash>` and point `:latest` at it.
 * Builds the bookworm base, the runtime and (precise) finds or builds its base first.
 * Throws WrapperNotBuiltError without dist/, PreciseBaseUnavailableError when precise has
 * no base, ImageBuildError (with the failing step's output) when the build fails.
 */
export async function buildFlavourImage(flavour: Flavour, options: FlavourImageOptions = {}): Promise<FlavourImage> {
  if (!isFlavour(flavour))
    throw new RangeError(`unknown flavour "${String(flavour)}": use ${Object.keys(DRIVERS).join(' or ')}`);
  const spec = DRIVERS[flavour].image;
  const root = options.root ?? projectRoot();
  const docker = options.docker ?? connect();
  const files = await flavourContextFiles(flavour, root);
  const strategy = options.strategy ?? spec.strategies[0];
  if (options.strategy !== undefined && !spec.strategies.includes(options.strategy)) {
    throw new RangeError(
      spec.strategies.length
        ? `unknown ${flavour} strategy "${options.strategy}": use ${spec.strategies.join(', ')}`
        : `the ${flavour} image takes no strategy (given "${options.strategy}")`,
    );
  }

  const common = { docker, log: options.log };
  const base = options.base ?? (await spec.ensureBase({ ...common, force: false }));
  const runtime = options.runtime ?? (await ensureRuntime({ ...common, force: false })).ref;

  // FROM the base's image id, not its name: a base rebuilt under the same name
  // (PRECISE_BASE=image:tag, :latest) changes the build args, hence the hash.
  const buildArgs: Record<string, string> = { BASE: await imageId(docker, base), RUNTIME: runtime };
  if (strategy !== undefined) buildArgs.STRATEGY = strategy;

  const built = await buildImage(docker, {
    name: flavour,
    files,
    dockerfile: flavourDockerfile(flavour),
    buildArgs,
    labels: {
      [FLAVOUR_LABEL]: flavour,
      [BASE_LABEL]: base,
      [RUNTIME_LABEL]: runtime,
      [VERSION_LABEL]: await packageVersion(root),
      ...(strategy !== undefined ? { [STRATEGY_LABEL]: strategy } : {}),
    },
    force: options.force,
    log: options.log,
    verbose: options.verbose,
  });
  return { ...built, flavour, base, runtime };
}

/** The flavour image's tag (`upstart-unicorn-lab/<flavour>:<hash>`), built when missing. */
export async function ensureFlavourImage(flavour: Flavour, options: FlavourImageOptions = {}): Promise<string> {
  return (await buildFlavourImage(flavour, options)).ref;
}
