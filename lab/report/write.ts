import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { MatrixSummary, RunEntry } from '../matrix/merge';
import { writeAtomic, writeRunFiles } from '../results/write';
import { type ReportInput, renderReport } from './html';
import { type SummaryRow, renderMatrixSummary, renderSummary } from './summary';

/**
 * A run's folder: its data files (lab/results writes result.json and records.json), then
 * report.html rendered from the same data; returns report.html's path. The report is written
 * last, so its presence means the run's files are complete.
 */
export function writeReport(dir: string, input: ReportInput): string {
  writeRunFiles(dir, input);
  const path = join(dir, 'report.html');
  writeAtomic(path, renderReport(input));
  return path;
}

export interface SummaryEntry extends Omit<SummaryRow, 'href'> {
  /** where the run's report.html is (absolute, or relative to the working directory) */
  reportPath?: string;
}

/** Writes `dir`/summary.html with links relative to it, so the whole tree can be moved or archived. */
export function writeSummary(
  dir: string,
  entries: readonly SummaryEntry[],
  opts: { title?: string; startedAt?: string } = {},
): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'summary.html');
  const rows: SummaryRow[] = entries.map(({ reportPath, ...row }) => ({
    ...row,
    href: reportPath === undefined ? undefined : linkFrom(dirname(resolve(path)), reportPath),
  }));
  writeAtomic(path, renderSummary(rows, opts));
  return path;
}

/** A relative, URL-encoded link from `fromDir` to `file`. */
function linkFrom(fromDir: string, file: string): string {
  return relative(fromDir, resolve(file)).split(sep).map(encodeURIComponent).join('/');
}

/**
 * Writes `dir`/summary.html (the matrix) and `dir`/summary.json (the same, for machines: every
 * cell, its status and results, the totals, the exit code). Links and paths are relative to
 * `dir`. With `bundle`, each run's report.html, result.json and where.json are copied under
 * `dir`/runs/ first, so the folder stands alone (a CI artifact).
 */
export function writeMatrixSummary(
  dir: string,
  summary: MatrixSummary,
  o: { bundle?: boolean; groupOf?: (scenario: string) => string | undefined } = {},
): { html: string; json: string } {
  mkdirSync(dir, { recursive: true });
  const root = resolve(dir);
  const reportOf = new Map<RunEntry, string | undefined>();
  const used = new Set<string>();
  for (const c of summary.cells)
    for (const r of c.results) {
      if (!o.bundle || !r.dir || !r.report) {
        reportOf.set(r, r.report);
        continue;
      }
      let name = basename(r.dir);
      for (let i = 2; used.has(name); i++) name = `${basename(r.dir)}-${i}`;
      used.add(name);
      const to = join(root, 'runs', name);
      mkdirSync(to, { recursive: true });
      for (const f of ['report.html', 'result.json', 'where.json', 'meta.json'])
        if (existsSync(join(r.dir, f))) copyFileSync(join(r.dir, f), join(to, f));
      reportOf.set(r, join(to, 'report.html'));
    }
  const href = (r: RunEntry) => {
    const report = reportOf.get(r);
    return report === undefined ? undefined : linkFrom(root, report);
  };
  const rel = (p: string | undefined) => (p === undefined ? undefined : relative(root, resolve(p)) || '.');
  const json = {
    ...summary,
    cells: summary.cells.map((c) => ({
      ...c,
      results: c.results.map((r) => ({ ...r, dir: rel(r.dir), report: rel(reportOf.get(r)) })),
    })),
  };
  const jsonPath = join(root, 'summary.json');
  writeAtomic(jsonPath, `${JSON.stringify(json, null, 1)}\n`);
  const htmlPath = join(root, 'summary.html');
  writeAtomic(htmlPath, renderMatrixSummary(summary, href, o.groupOf));
  return { html: htmlPath, json: jsonPath };
}
