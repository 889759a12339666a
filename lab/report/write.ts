import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { type ReportInput, renderReport } from './html';
import { type SummaryRow, renderSummary } from './summary';

/** Written whole or not at all: a summary or `lab report` reading concurrently never sees half a file. */
function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/**
 * Writes a run's report.html, result.json (everything but the raw requests, which can run to
 * megabytes) and records.json into `dir`; returns report.html's path. The report is written
 * last, so its presence means the run's files are complete.
 */
export function writeReport(dir: string, input: ReportInput): string {
  mkdirSync(dir, { recursive: true });
  const { records, ...rest } = input;
  writeAtomic(join(dir, 'records.json'), JSON.stringify(records));
  writeAtomic(join(dir, 'result.json'), JSON.stringify({ ...rest, recordsFile: 'records.json' }, null, 2) + '\n');
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
    href:
      reportPath === undefined
        ? undefined
        : relative(dirname(resolve(path)), resolve(reportPath))
            .split(sep)
            .map(encodeURIComponent)
            .join('/'),
  }));
  writeAtomic(path, renderSummary(rows, opts));
  return path;
}
