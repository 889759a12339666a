import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './root';

/**
 * After an incremental build, removes each dist/ file whose TypeScript source is gone. tsc never
 * deletes output, so a renamed or deleted test would otherwise still run from dist/test/, and a
 * deleted module would still be copied into the images from dist/src/.
 */
function prune(dir: string): number {
  let removed = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      removed += prune(full);
      if (fs.readdirSync(full).length === 0) fs.rmdirSync(full);
      continue;
    }
    const m = /^(.*)\.(js|d\.ts|js\.map)$/.exec(entry.name);
    if (!m) continue;
    const source = path.join(ROOT, path.relative(path.join(ROOT, 'dist'), dir), `${m[1]}.ts`);
    if (!fs.existsSync(source)) {
      fs.rmSync(full);
      removed++;
    }
  }
  return removed;
}

const dist = path.join(ROOT, 'dist');
if (fs.existsSync(dist)) {
  for (const top of ['src', 'lab', 'test']) {
    const dir = path.join(dist, top);
    if (fs.existsSync(dir)) {
      const n = prune(dir);
      if (n > 0) process.stdout.write(`prune-dist: removed ${n} compiled file(s) whose source is gone\n`);
    }
  }
}
