/**
 * Building the lab's images with dockerode: tagged by the content hash of their
 * inputs (rebuilt only when those change), short progress on stderr, and the
 * failing step's own output in the error when a build fails.
 */
import type Docker from 'dockerode';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkContextFiles, hashBuildInputs, hashTag, listContextDir, type ContextFile } from './content-hash';
import { IMAGE_LABEL, INPUTS_LABEL, labLabels } from './labels';

export const IMAGE_REPOSITORY_PREFIX = 'upstart-unicorn-lab/';
export const ALIAS_TAG = 'latest';

export interface BuildSpec {
  /** Short image name: the image is `upstart-unicorn-lab/<name>:<hash>`. */
  name: string;
  /** Directory whose files (all of them) make the build context. */
  contextDir?: string;
  /** More context files from elsewhere (e.g. the node binary). */
  files?: readonly ContextFile[];
  /** Dockerfile path inside the context; default `Dockerfile`. */
  dockerfile?: string;
  buildArgs?: Readonly<Record<string, string>>;
  /** Labels besides the lab's own. */
  labels?: Readonly<Record<string, string>>;
  /** Rebuild even when an image with these inputs exists. */
  force?: boolean;
  /** Where progress lines go; default: stderr. */
  log?: (line: string) => void;
  /** Pass every line of the build's output to `log`, not only the steps. */
  verbose?: boolean;
}

export interface BuiltImage {
  /** `upstart-unicorn-lab/<name>:<hash12>` */
  ref: string;
  /** `upstart-unicorn-lab/<name>:latest`, pointing at the same image. */
  alias: string;
  /** Full sha256 of the inputs. */
  hash: string;
  /** False when an image with the same inputs was already there. */
  built: boolean;
  seconds: number;
}

/** A build that failed; the message holds the failing step and its output. */
export class ImageBuildError extends Error {
  override readonly name = 'ImageBuildError';
  constructor(
    message: string,
    readonly ref: string,
    readonly step: string | undefined,
    readonly output: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function imageName(name: string): string {
  if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/.test(name)) {
    throw new RangeError(`image name "${name}" must be lower-case letters and digits, separated by '.', '_' or '-'`);
  }
  return IMAGE_REPOSITORY_PREFIX + name;
}

export async function imageExists(docker: Docker, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch (err) {
    if (typeof err === 'object' && err !== null && (err as { statusCode?: unknown }).statusCode === 404) return false;
    throw err;
  }
}

function stderrLog(name: string): (line: string) => void {
  return (line) => process.stderr.write(`[build ${name}] ${line}\n`);
}

/** Copy the inputs into a fresh directory: exactly what was hashed is what docker gets. */
async function stageContext(files: readonly ContextFile[]): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'upstart-unicorn-lab-context-'));
  try {
    for (const file of files) {
      const target = path.join(dir, ...file.name.split('/'));
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.copyFile(file.source, target);
      await fs.chmod(target, (await fs.stat(file.source)).mode & 0o7777);
    }
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
  return dir;
}

interface BuildMessage {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

const KEPT_LINES = 60;

/** Read the engine's JSON message stream; resolve with the image id or reject with the failing step's output. */
function followBuild(
  stream: NodeJS.ReadableStream,
  ref: string,
  log: (line: string) => void,
  verbose: boolean,
): Promise<string> {
  const started = Date.now();
  let step: string | undefined;
  let stepOutput: string[] = [];
  let imageId: string | undefined;
  let failure: string | undefined;
  let pending = '';

  const textLine = (raw: string): void => {
    // The classic builder colours a RUN's stderr: drop the escape sequences.
    const line = raw.replace(/\x1b\[[0-9;]*m/g, '');
    const m = /^Step (\d+\/\d+) : (.*)$/.exec(line);
    if (m) {
      step = `step ${m[1]}: ${m[2]}`;
      stepOutput = [];
      log(
        `${step.length > 160 ? `${step.slice(0, 157)}...` : step}  (+${((Date.now() - started) / 1000).toFixed(1)}s)`,
      );
      return;
    }
    if (line.trim() === '') return;
    stepOutput.push(line);
    if (stepOutput.length > KEPT_LINES) stepOutput.shift();
    if (verbose) log(`  ${line}`);
  };

  const message = (raw: string): void => {
    if (raw.trim() === '') return;
    let msg: BuildMessage;
    try {
      msg = JSON.parse(raw) as BuildMessage;
    } catch {
      textLine(raw);
      return;
    }
    if (msg.error !== undefined || msg.errorDetail?.message !== undefined) {
      failure = msg.errorDetail?.message ?? msg.error;
    }
    if (msg.aux?.ID !== undefined) imageId = msg.aux.ID;
    const text = msg.stream ?? msg.status;
    if (text !== undefined) for (const line of text.replace(/\r/g, '\n').split('\n')) textLine(line);
  };

  return new Promise((resolve, reject) => {
    stream.on('data', (chunk: Buffer | string) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) message(line);
    });
    stream.on('error', (err: unknown) => {
      const detail = err instanceof Error ? err.message : String(err);
      reject(
        new ImageBuildError(
          `building ${ref}: the connection to Docker failed: ${detail}`,
          ref,
          step,
          stepOutput.join('\n'),
          { cause: err },
        ),
      );
    });
    stream.on('end', () => {
      message(pending);
      const output = stepOutput.join('\n');
      if (failure !== undefined || imageId === undefined) {
        const reason = failure ?? 'the build ended without producing an image';
        reject(
          new ImageBuildError(
            `building ${ref} failed${step === undefined ? '' : ` at ${step}`}: ${reason}` +
              (output === '' ? '' : `\n--- output of that step (last ${KEPT_LINES} lines) ---\n${output}`),
            ref,
            step,
            output,
          ),
        );
        return;
      }
      resolve(imageId);
    });
  });
}

/** Build (or reuse) `upstart-unicorn-lab/<name>:<hash of the inputs>` and point `:latest` at it. */
export async function buildImage(docker: Docker, spec: BuildSpec): Promise<BuiltImage> {
  const started = Date.now();
  const repo = imageName(spec.name);
  const log = spec.log ?? stderrLog(spec.name);
  const dockerfile = spec.dockerfile ?? 'Dockerfile';
  const buildArgs = spec.buildArgs ?? {};
  const files = checkContextFiles([
    ...(spec.contextDir === undefined ? [] : await listContextDir(spec.contextDir)),
    ...(spec.files ?? []),
  ]);
  if (!files.some((f) => f.name === dockerfile)) {
    throw new ImageBuildError(`building ${repo}: the context has no ${dockerfile}`, repo, undefined, '');
  }
  const hash = await hashBuildInputs({ files, dockerfile, buildArgs });
  const tag = hashTag(hash);
  const ref = `${repo}:${tag}`;
  const alias = `${repo}:${ALIAS_TAG}`;
  const seconds = (): number => (Date.now() - started) / 1000;

  if (!spec.force && (await imageExists(docker, ref))) {
    await docker.getImage(ref).tag({ repo, tag: ALIAS_TAG });
    log(`${ref} is up to date`);
    return { ref, alias, hash, built: false, seconds: seconds() };
  }

  log(`building ${ref} (${files.length} context files)`);
  const context = await stageContext(files);
  try {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await docker.buildImage(
        { context, src: await fs.readdir(context) },
        {
          t: ref,
          dockerfile,
          buildargs: { ...buildArgs },
          labels: { ...labLabels(), [IMAGE_LABEL]: spec.name, [INPUTS_LABEL]: hash, ...spec.labels },
          rm: true,
          forcerm: true,
          pull: false,
          nocache: spec.force === true,
        },
      );
    } catch (err) {
      // The engine refused the build outright (bad Dockerfile path, daemon error).
      const detail = err instanceof Error ? err.message : String(err);
      throw new ImageBuildError(`building ${ref}: Docker refused the build: ${detail}`, ref, undefined, '', {
        cause: err,
      });
    }
    await followBuild(stream, ref, log, spec.verbose === true);
  } finally {
    await fs.rm(context, { recursive: true, force: true });
  }
  await docker.getImage(ref).tag({ repo, tag: ALIAS_TAG });
  log(`built ${ref} in ${seconds().toFixed(1)}s`);
  return { ref, alias, hash, built: true, seconds: seconds() };
}
