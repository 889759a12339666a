import { flagHelp, parseFlags } from '../args';
import { formatContinuity, summarize } from '../check/continuity';
import { LabExit } from '../errors';
import { findRun, readRun } from '../runs';
import type { Command } from './command';

const FLAGS = {
  json: { kind: 'boolean', help: 'print the numbers as JSON' },
} as const;

export const check: Command = {
  name: 'check',
  summary: 'the continuity verdict of a recorded run (exit 1 when a request failed)',
  usage:
    `lab check [RUN] [--json]\n\nRUN is a run folder, a run name or part of it; default the ` +
    `latest run.\nPrints requests sent, succeeded, failed by class, the longest gap without a ` +
    `success,\np50/p99/max latency and the generations that served, with when each took over.\n\n${flagHelp(FLAGS)}`,
  async run(argv) {
    const { flags, positional } = parseFlags('check', argv, FLAGS, { names: ['[RUN]'] });
    const dir = findRun(positional[0]);
    const { meta, records } = readRun(dir);
    const c = summarize(records);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ run: dir, ...c }, null, 2)}\n`);
    } else {
      process.stdout.write(`run ${dir} (${meta.origin}, ${meta.startedAt})\n${formatContinuity(c)}\n`);
      for (const g of c.generations) {
        process.stdout.write(
          `  generation ${g.generation}: ${g.requests} requests from ${(g.first / 1000).toFixed(2)} ` +
            `s to ${(g.last / 1000).toFixed(2)} s, pids ${g.pids.join(',')}\n`,
        );
      }
      process.stdout.write(c.failed === 0 ? 'verdict: no request lost\n' : `verdict: ${c.failed} requests failed\n`);
    }
    return c.failed === 0 && c.sent > 0 ? LabExit.OK : LabExit.FAILED;
  },
};
