// Checker for upstart 1.5 (Ubuntu 12.04) job files: reports what init 1.5
// would reject and the traps of its socket bridge, before an image is built
// on a machine where no 12.04 system can run.

import { parseJob } from './parse';
import { checkParsedJob } from './rules';
import { CheckOptions, ParsedJob, Problem } from './types';

export { BUILTIN_EVENTS } from './rules';
export type { CheckOptions, Problem, Severity } from './types';

export interface JobFile {
  fileName: string;
  text: string;
}

export interface FileReport {
  fileName: string;
  problems: Problem[];
}

function emitted(job: ParsedJob): string[] {
  return job.stanzas.filter((s) => s.keyword === 'emits').flatMap((s) => s.args.map((a) => a.text));
}

function sorted(problems: Problem[]): Problem[] {
  return [...problems].sort(
    (a, b) => a.line - b.line || (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1),
  );
}

function nameProblems(fileName: string): Problem[] {
  if (fileName.endsWith('.conf')) return [];
  return [
    {
      line: 1,
      severity: 'warning',
      message: `'${fileName}' does not end in .conf: upstart 1.5 only loads /etc/init/*.conf as jobs: rename it`,
    },
  ];
}

/**
 * Checks several job files as one /etc/init: an event that any of them
 * lists in `emits` counts as known in all of them.
 */
export function checkJobFiles(files: readonly JobFile[], options: CheckOptions = {}): FileReport[] {
  const parsed = files.map((f) => ({ file: f, job: parseJob(f.text) }));
  const knownEvents = [...(options.knownEvents ?? []), ...parsed.flatMap((p) => emitted(p.job))];
  return parsed.map(({ file, job }) => ({
    fileName: file.fileName,
    problems: sorted([...nameProblems(file.fileName), ...checkParsedJob(job, { knownEvents })]),
  }));
}

/** Checks one job file on its own; its own `emits` count as known events. */
export function checkJobFile(text: string, fileName: string, options: CheckOptions = {}): Problem[] {
  return checkJobFiles([{ fileName, text }], options)[0].problems;
}
