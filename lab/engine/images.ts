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
      else reject(new BaseImageBuildError(
        `${script} failed (${signal === null ? `exit status ${code}` : `signal ${signal}`}); its last lines:\n${tail.join('\n')}`,
      ));
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
