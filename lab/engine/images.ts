/**
 * The lab's two foundation images, made on demand:
 *  - upstart-unicorn-lab/base-bookworm:<hash of build.sh>  (images/base/bookworm/build.sh)
 *  - upstart-unicorn-lab/runtime:<hash of its inputs>      (images/runtime, FROM the base)
 */
import type Docker from 'dockerode';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { buildImage, imageExists, imageName, type BuiltImage } from './build';
import { hashTag } from './content-hash';
import { connect } from './docker';

export interface EnsureOptions {
  docker?: Docker;
  /** Rebuild even when the image exists. */
  force?: boolean;
  /** Progress lines; default: stderr. */
  log?: (line: string) => void;
}

/** The building of the base image failed; the message ends with the script's last lines. */
export class BaseImageBuildError extends Error {
  override readonly name = 'BaseImageBuildError';
}

/** The repository root: the nearest directory above this file that has images/runtime/Dockerfile. */
export function projectRoot(from: string = __dirname): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'images', 'runtime', 'Dockerfile'))) return dir;
    if (path.dirname(dir) === dir) {
      throw new Error(`cannot find the project's images/ directory above ${from}`);
    }
  }
}

const BASE_NAME = 'base-bookworm';
const RUNTIME_NAME = 'runtime';

export function baseBookwormScript(): string {
  return path.join(projectRoot(), 'images', 'base', 'bookworm', 'build.sh');
}

/** The base image's tag: like build.sh's own default, the first 12 hex digits of the script's sha256. */
export async function baseBookwormRef(): Promise<string> {
  const script = await fs.readFile(baseBookwormScript());
  return `${imageName(BASE_NAME)}:${hashTag(createHash('sha256').update(script).digest('hex'))}`;
}

function runScript(script: string, args: string[], env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<void> {
  const tail: string[] = [];
  return new Promise((resolve, reject) => {
    const child = spawn('sh', [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    const onLine = (line: string): void => {
      if (line === '') return;
      tail.push(line);
      if (tail.length > 40) tail.shift();
      log(line);
    };
    for (const out of [child.stdout, child.stderr]) {
      let pending = '';
      out.setEncoding('utf8');
      out.on('data', (chunk: string) => {
        const lines = (pending + chunk).split('\n');
        pending = lines.pop() ?? '';
        lines.forEach(onLine);
      });
      out.on('end', () => onLine(pending));
    }
    child.on('error', (err) => reject(new BaseImageBuildError(`cannot run ${script}: ${err.message}`, { cause: err })));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new BaseImageBuildError(
            `${script} failed (${signal === null ? `exit status ${code}` : `signal ${signal}`}); its last lines:\n${tail.join('\n')}`,
          ),
        );
    });
  });
}

const inFlight = new Map<string, Promise<string>>();

/** The bookworm base image's reference, running images/base/bookworm/build.sh first when it is missing. */
export async function ensureBaseBookworm(options: EnsureOptions = {}): Promise<string> {
  const docker = options.docker ?? connect();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const ref = await baseBookwormRef();
  if (!options.force && (await imageExists(docker, ref))) return ref;

  const running = inFlight.get(ref);
  if (running !== undefined) return running;
  const job = (async () => {
    const tag = ref.slice(ref.lastIndexOf(':') + 1);
    const env = { ...process.env, ...(options.force ? { FORCE: '1' } : {}) };
    await runScript(baseBookwormScript(), [tag], env, log);
    if (!(await imageExists(docker, ref))) {
      throw new BaseImageBuildError(`${baseBookwormScript()} succeeded but ${ref} is not there`);
    }
    return ref;
  })();
  inFlight.set(ref, job);
  try {
    return await job;
  } finally {
    inFlight.delete(ref);
  }
}

export interface EnsureRuntimeOptions extends EnsureOptions {
  /** The Node binary to make portable; default: the one running this code. */
  node?: string;
}

/**
 * The portable Node runtime image (its /opt/phoenix/runtime is the whole runtime,
 * for `COPY --from=`), built from this machine's node inside the bookworm base.
 */
export async function ensureRuntime(options: EnsureRuntimeOptions = {}): Promise<BuiltImage> {
  const docker = options.docker ?? connect();
  // A forced runtime build reuses the base: force that one with ensureBaseBookworm.
  const base = await ensureBaseBookworm({ ...options, docker, force: false });
  return buildImage(docker, {
    name: RUNTIME_NAME,
    contextDir: path.join(projectRoot(), 'images', 'runtime'),
    files: [{ name: 'node', source: options.node ?? process.execPath }],
    buildArgs: { BASE: base },
    force: options.force,
    log: options.log,
  });
}

// ---------------------------------------------------------------------------
// The precise base: Ubuntu 12.04 with nginx, unicorn, ruby-rack, socat, procps, curl (images/base/precise).

const PRECISE_BASE_NAME = 'base-precise';
/** The registry image the precise base is made from where a registry is reachable. */
export const UBUNTU_PRECISE = 'ubuntu:12.04';

/** A flavour's base image cannot be found or made here; the message names every way to get one. */
export class BaseUnavailableError extends Error {
  override readonly name: string = 'BaseUnavailableError';
}

/** No Ubuntu 12.04 base could be found or made. */
export class PreciseBaseUnavailableError extends BaseUnavailableError {
  override readonly name = 'PreciseBaseUnavailableError';
}

export interface EnsurePreciseBaseOptions extends EnsureOptions {
  /** Any local image to use as the base as it is (default: env PRECISE_BASE). */
  base?: string;
  /** An Ubuntu mirror holding precise, for debootstrap and apt (default: env PRECISE_MIRROR). */
  mirror?: string;
  /** Try `docker pull ubuntu:12.04` when it is not local (default true). */
  pull?: boolean;
}

export function basePreciseDir(): string {
  return path.join(projectRoot(), 'images', 'base', 'precise');
}

/** The message for a machine with no way to the precise base. */
export function preciseBaseMissingMessage(pullError?: string): string {
  return [
    `The precise flavour needs an Ubuntu 12.04 base image (${imageName(PRECISE_BASE_NAME)}) and none can be had here:`,
    `${UBUNTU_PRECISE} is not on this machine` +
      (pullError === undefined
        ? ''
        : ` and \`docker pull ${UBUNTU_PRECISE}\` failed (${pullError.split('\n')[0].trim()})`) +
      ', and no mirror was given.',
    'Get it one of two ways:',
    `  1. where a registry is reachable: docker pull ${UBUNTU_PRECISE}   (then build again);`,
    '  2. without a registry: PRECISE_MIRROR=http://YOUR-MIRROR/ubuntu (an internal mirror holding precise,',
    '     or http://old-releases.ubuntu.com/ubuntu) builds it with debootstrap (images/base/precise/build.sh).',
    'Or use any local image as the base: PRECISE_BASE=image:tag.',
  ].join('\n');
}

async function pullImage(docker: Docker, ref: string, log: (line: string) => void): Promise<void> {
  const stream = await docker.pull(ref);
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null) => (err ? reject(err) : resolve()),
      (event: { status?: string; id?: string; error?: string }) => {
        if (event.error !== undefined) reject(new Error(event.error));
        else if (event.status !== undefined && event.id === undefined) log(`pull ${ref}: ${event.status}`);
      },
    );
  });
}

/**
 * The precise base image's reference, made when missing. In this order:
 *  1. PRECISE_BASE (or options.base): any local image, used as it is;
 *  2. ubuntu:12.04 present locally: images/base/precise/Dockerfile on it (content-hash tag);
 *  3. PRECISE_MIRROR (or options.mirror): images/base/precise/build.sh (debootstrap);
 *  4. upstart-unicorn-lab/base-precise:latest made earlier by either way;
 *  5. `docker pull ubuntu:12.04`, then 2.
 * Otherwise a PreciseBaseUnavailableError naming both ways to get it.
 */
export async function ensurePreciseBase(options: EnsurePreciseBaseOptions = {}): Promise<string> {
  const docker = options.docker ?? connect();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const given = options.base ?? (process.env.PRECISE_BASE || undefined);
  if (given !== undefined) {
    if (!(await imageExists(docker, given))) {
      throw new PreciseBaseUnavailableError(
        `PRECISE_BASE=${given} is not an image on this machine (docker image inspect ${given} finds nothing); ` +
          'give a local image, or unset PRECISE_BASE to build the base from ubuntu:12.04 or a mirror.',
      );
    }
    return given;
  }
  const mirror = options.mirror ?? (process.env.PRECISE_MIRROR || undefined);
  const fromUbuntu = async (): Promise<string> =>
    (
      await buildImage(docker, {
        name: PRECISE_BASE_NAME,
        contextDir: basePreciseDir(),
        buildArgs: { UBUNTU: UBUNTU_PRECISE, ...(mirror === undefined ? {} : { MIRROR: mirror }) },
        force: options.force,
        log: options.log,
      })
    ).ref;

  if (await imageExists(docker, UBUNTU_PRECISE)) return fromUbuntu();

  if (mirror !== undefined) {
    const dir = basePreciseDir();
    const hash = createHash('sha256');
    for (const file of ['build.sh', 'Dockerfile']) hash.update(await fs.readFile(path.join(dir, file)));
    hash.update(mirror);
    const ref = `${imageName(PRECISE_BASE_NAME)}:${hashTag(hash.digest('hex'))}`;
    if (!options.force && (await imageExists(docker, ref))) return ref;
    const env = { ...process.env, MIRROR: mirror, ...(options.force ? { FORCE: '1' } : {}) };
    await runScript(path.join(dir, 'build.sh'), [ref.slice(ref.lastIndexOf(':') + 1)], env, log);
    if (!(await imageExists(docker, ref)))
      throw new BaseImageBuildError(`${path.join(dir, 'build.sh')} succeeded but ${ref} is not there`);
    return ref;
  }

  const latest = `${imageName(PRECISE_BASE_NAME)}:latest`;
  if (!options.force && (await imageExists(docker, latest))) {
    log(`using ${latest}, made earlier (neither ${UBUNTU_PRECISE} nor PRECISE_MIRROR is here to rebuild it)`);
    return latest;
  }

  if (options.pull === false) throw new PreciseBaseUnavailableError(preciseBaseMissingMessage());
  try {
    await pullImage(docker, UBUNTU_PRECISE, log);
  } catch (err) {
    throw new PreciseBaseUnavailableError(preciseBaseMissingMessage(err instanceof Error ? err.message : String(err)), {
      cause: err,
    });
  }
  return fromUbuntu();
}
