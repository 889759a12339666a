import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RequestRecord } from './load/record';
import { LabError, LabExit } from './errors';

/**
 * A run is one folder under .lab/runs: records.json (every request), meta.json (what was
 * asked, when, against what), later report.html. Names sort by time, so "latest" is the last.
 */
export function labHome(cwd = process.cwd()): string {
  return process.env.LAB_HOME ?? path.join(cwd, '.lab');
}

export interface RunMeta {
  name: string;
  kind: 'load' | 'scenario';
  startedAt: string;
  origin: string;
  instance?: string;
  flavour?: string;
  options: Record<string, unknown>;
}

export function createRun(kind: RunMeta['kind'], label: string, home = labHome()): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = path.join(home, 'runs', `${stamp}-${label.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export function listRuns(home = labHome()): string[] {
  const root = path.join(home, 'runs');
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .filter((d) => fs.existsSync(path.join(root, d, 'meta.json')))
    .sort()
    .map((d) => path.join(root, d));
}

/** A run by folder path, by name (or a unique prefix of it), or the latest one. */
export function findRun(which: string | undefined, home = labHome()): string {
  if (which && fs.existsSync(path.join(which, 'meta.json'))) return path.resolve(which);
  const runs = listRuns(home);
  if (runs.length === 0)
    throw new LabError(`no recorded run under ${path.join(home, 'runs')}: record one with 'lab load'`, LabExit.USAGE);
  if (!which) return runs[runs.length - 1];
  const hits = runs.filter((r) => path.basename(r).startsWith(which) || path.basename(r).includes(which));
  if (hits.length === 1) return hits[0];
  throw new LabError(
    hits.length
      ? `'${which}' matches ${hits.length} runs; be more precise`
      : `no run named '${which}'; 'lab check' lists the latest run`,
    LabExit.USAGE,
  );
}

export function writeJson(file: string, value: unknown): void {
  fs.writeFileSync(file, `${JSON.stringify(value, null, 1)}\n`);
}

export function readRun(dir: string): { meta: RunMeta; records: RequestRecord[] } {
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as RunMeta;
  const records = JSON.parse(fs.readFileSync(path.join(dir, 'records.json'), 'utf8')) as RequestRecord[];
  return { meta, records };
}
