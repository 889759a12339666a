import { existsSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The repository root, found from here whether the tests run as TypeScript (test/support/) or
 * compiled (dist/test/support/): the nearest directory above with a package.json, which dist/
 * never has. A path counted in '..' from __dirname is right in only one of the two.
 */
function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const ROOT = findRoot(__dirname);
