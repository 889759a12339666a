/**
 * The content hash of an image build's inputs: the files of its context (names,
 * modes, bytes), the Dockerfile's name and the build args. Same inputs, same
 * hash; any change, a new hash, so an image tagged with it is rebuilt exactly
 * when its inputs change.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';

/** One file of a build context: its name inside the context and where it is read from. */
export interface ContextFile {
  /** Relative, '/'-separated path inside the context, e.g. `Dockerfile` or `conf/nginx.conf`. */
  name: string;
  /** Path of the file on this machine (symlinks are followed). */
  source: string;
}

export interface BuildInputs {
  files: readonly ContextFile[];
  dockerfile?: string;
  buildArgs?: Readonly<Record<string, string>>;
}

/** Changing how the hash is computed must change every hash: bump this then. */
const SCHEME = 'upstart-unicorn-lab build inputs v1';

export class BuildContextError extends Error {
  override readonly name = 'BuildContextError';
}

/** Every regular file under `dir` (following symlinks), as context files named relative to `dir`. */
export async function listContextDir(dir: string): Promise<ContextFile[]> {
  const out: ContextFile[] = [];
  async function walk(rel: string): Promise<void> {
    const abs = path.join(dir, rel);
    for (const entry of await fs.readdir(abs)) {
      const relChild = rel === '' ? entry : `${rel}/${entry}`;
      const absChild = path.join(abs, entry);
      const st = await fs.stat(absChild);
      if (st.isDirectory()) await walk(relChild);
      else if (st.isFile()) out.push({ name: relChild, source: absChild });
      else
        throw new BuildContextError(
          `${absChild} is neither a file nor a directory; it cannot be part of a build context`,
        );
    }
  }
  try {
    await walk('');
  } catch (err) {
    if (err instanceof BuildContextError) throw err;
    const detail = err instanceof Error ? err.message : String(err);
    throw new BuildContextError(`cannot read the build context ${dir}: ${detail}`, { cause: err });
  }
  return out;
}

/** The files sorted by name; throws on names that are not plain relative paths or appear twice. */
export function checkContextFiles(files: readonly ContextFile[]): ContextFile[] {
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (let i = 0; i < sorted.length; i++) {
    const { name } = sorted[i];
    const parts = name.split('/');
    if (
      name === '' ||
      name.startsWith('/') ||
      name.includes('\\') ||
      name.includes('\0') ||
      parts.some((p) => p === '' || p === '.' || p === '..')
    ) {
      throw new BuildContextError(`"${name}" is not a plain relative path inside a build context`);
    }
    if (i > 0 && sorted[i - 1].name === name) {
      throw new BuildContextError(
        `"${name}" appears twice in the build context (${sorted[i - 1].source}, ${sorted[i].source})`,
      );
    }
  }
  return sorted;
}

function field(hash: Hash, ...values: string[]): void {
  for (const v of values) {
    const bytes = Buffer.from(v, 'utf8');
    hash.update(`${bytes.length}:`);
    hash.update(bytes);
  }
}

async function hashFile(hash: Hash, source: string): Promise<void> {
  for await (const chunk of createReadStream(source)) hash.update(chunk as Buffer);
}

/** sha256 (hex) of the build inputs. */
export async function hashBuildInputs(inputs: BuildInputs): Promise<string> {
  const files = checkContextFiles(inputs.files);
  const hash = createHash('sha256');
  field(hash, SCHEME, 'dockerfile', inputs.dockerfile ?? 'Dockerfile');
  const args = Object.entries(inputs.buildArgs ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [key, value] of args) field(hash, 'arg', key, value);
  for (const file of files) {
    let st;
    try {
      st = await fs.stat(file.source);
    } catch (err) {
      throw new BuildContextError(`build input ${file.name} (${file.source}) cannot be read`, { cause: err });
    }
    if (!st.isFile()) throw new BuildContextError(`build input ${file.name} (${file.source}) is not a regular file`);
    // The mode matters: COPY keeps it in the image.
    field(hash, 'file', file.name, (st.mode & 0o7777).toString(8), String(st.size));
    await hashFile(hash, file.source);
  }
  return hash.digest('hex');
}

/** The part of the hash used as an image tag. */
export function hashTag(hash: string): string {
  return hash.slice(0, 12);
}
