import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunData, RunResult } from './types';

/** Written whole or not at all: a summary or `lab report` reading concurrently never sees half a file. */
export function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Writes a run's records.json and result.json (which names records.json) into `dir`. */
export function writeRunFiles(dir: string, run: RunData): void {
  mkdirSync(dir, { recursive: true });
  const { records, ...rest } = run;
  const result: RunResult & { recordsFile: string } = { ...rest, recordsFile: 'records.json' };
  writeAtomic(join(dir, 'records.json'), JSON.stringify(records));
  writeAtomic(join(dir, 'result.json'), JSON.stringify(result, null, 2) + '\n');
}
