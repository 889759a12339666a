import * as fs from 'node:fs';
import * as path from 'node:path';
import { flagHelp, parseFlags } from '../args';
import { formatContinuity, summarize } from '../check/continuity';
import { LabError, LabExit } from '../errors';
import { writeReport } from '../report/write';
import { actionsBetween } from '../journal';
import { findRun, labHome, readRun } from '../runs';
import type { Command } from './command';

const FLAGS = {
  summary: { kind: 'boolean', help: "the latest 'scenario run --all' summary page instead of a run's report" },
} as const;

/** The newest summary.html under .lab/runs, if any. */
export function latestSummary(home = labHome()): string | undefined {
  const root = path.join(home, 'runs');
  if (!fs.existsSync(root)) return undefined;
  const dirs = fs
    .readdirSync(root)
    .filter((d) => fs.existsSync(path.join(root, d, 'summary.html')))
    .sort();
  return dirs.length ? path.join(root, dirs[dirs.length - 1], 'summary.html') : undefined;
}

/**
 * A run recorded by `lab load` has no report yet: one is made from its records. It has no
 * scenario and so no expectation beyond "no request fails", which is what its verdict says.
 */
export function reportForLoadRun(dir: string): string {
  const { meta, records } = readRun(dir);
  const c = summarize(records);
  return writeReport(dir, {
    title: `load run ${path.basename(dir)}`,
    verdict: {
      outcome: c.failed === 0 ? 'EXPECTED' : 'UNEXPECTED',
      reasons: [
        'a plain load run (no scenario): the expectation is that no request fails',
        ...formatContinuity(c).split('\n'),
      ],
    },
    continuity: c,
    records,
    // What lab signal/initctl/apply did to this lab while the load ran, from the journal.
    actions: actionsBetween(meta.instance, Date.parse(meta.startedAt), Date.parse(meta.startedAt) + c.durationMs),
    flavour: meta.flavour,
    startedAt: meta.startedAt,
  });
}

export const report: Command = {
  name: 'report',
  summary: "print the path of a run's HTML report (the latest run by default)",
  usage: `lab report [RUN] [--summary]\n\nRUN is a run folder, a run name or part of it; default the latest run. A scenario run has\nits report already; for a 'lab load' run one is made from its records first.\n\n${flagHelp(FLAGS)}`,
  async run(argv) {
    const { flags, positional } = parseFlags('report', argv, FLAGS, { names: ['[RUN]'] });
    if (flags.summary) {
      const file = latestSummary();
      if (!file) throw new LabError("no summary yet: 'lab scenario run --all' writes one", LabExit.USAGE);
      process.stdout.write(`${path.resolve(file)}\n`);
      return LabExit.OK;
    }
    const dir = findRun(positional[0]);
    const file = path.join(dir, 'report.html');
    process.stdout.write(`${path.resolve(fs.existsSync(file) ? file : reportForLoadRun(dir))}\n`);
    return LabExit.OK;
  },
};
