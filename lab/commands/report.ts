import * as fs from 'node:fs';
import * as path from 'node:path';
import { type FlagValues, flagHelp, parseFlags } from '../args';
import { formatContinuity, summarize } from '../check/continuity';
import { LabError, LabExit } from '../errors';
import { type AskedGroup, buildSummary, collect, expectedFrom } from '../matrix/merge';
import { assignShards, cellKey, flavoursOf, planMatrix } from '../matrix/cells';
import { writeMatrixSummary, writeReport } from '../report/write';
import { CATALOGUE, findScenario } from '../scenarios/catalogue';
import { actionsBetween } from '../journal';
import { createRun, findRun, labHome, readRun } from '../runs';
import type { Command } from './command';

const FLAGS = {
  summary: { kind: 'boolean', help: "the latest 'scenario run --all' summary page instead of a run's report" },
  merge: {
    kind: 'boolean',
    help: 'read the run folders (result.json) and plans under DIR... and write one summary (html + json)',
  },
  out: { kind: 'string', help: 'with --merge: the folder to write (default .lab/runs/<time>-merged)' },
  flavour: {
    kind: 'string',
    help: 'with --merge: the matrix to expect, as run --all takes it (a list: each flavour apart)',
  },
  server: {
    kind: 'string',
    help: "with --merge: phoenix, unicorn, all or a list (default each scenario's own; each apart)",
  },
  shards: { kind: 'number', help: 'with --merge: the expected matrix was split in N shards (names a missing one)' },
  bundle: { kind: 'boolean', help: "with --merge: copy each run's report into the output, so it stands alone" },
  title: { kind: 'string', help: 'with --merge: the summary page title' },
} as const;

const MERGE_USAGE = `lab report --merge DIR... [--out DIR] [--flavour F[,F]] [--server S[,S]] [--shards N] [--bundle]

Reads every run folder (result.json, where.json) and plan.json under each DIR, at any depth
(shard artifacts unpacked side by side, other machines' .lab folders, single run folders), and
writes one summary folder: summary.html, the matrix of scenarios by init and server with where
and when each cell ran, its verdict and its numbers; and summary.json, the same for machines.

The matrix it expects is every plan's (each 'run --all' writes one, with its shard's share),
plus the matrix --flavour/--server name (each flavour and server apart, as CI jobs run them; with
--shards N split as 'run --shard I/N' splits it). A cell with no result is MISSING, never
passed; a shard nothing came from is named; two results for one cell are both shown (the same
run copied twice counts once).

Exit codes: 0 every cell has a result and none is UNEXPECTED, INFRASTRUCTURE or skipped;
1 a cell is UNEXPECTED; 4 the matrix is incomplete (a cell missing, skipped, or INFRASTRUCTURE
only); 2 usage.`;

function serverChoices(value: string | undefined): Array<string | undefined> {
  if (value === undefined) return [undefined];
  const list = value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  if (list.length === 0) throw new LabError('--server: name a server, all, or a list', LabExit.USAGE);
  return [...new Set(list)];
}

/** The matrix --flavour/--server/--shards name, each flavour and server apart, as CI jobs run them. */
function askedGroups(flags: FlagValues<typeof FLAGS>, count: number): AskedGroup[] {
  if (flags.flavour === undefined && flags.server === undefined && flags.shards === undefined) return [];
  const asked: AskedGroup[] = [];
  for (const f of flavoursOf(flags.flavour ?? 'all'))
    for (const v of serverChoices(flags.server)) {
      const cells = planMatrix(CATALOGUE, [f], v);
      asked.push({
        label: `--flavour ${f}${v === undefined ? '' : ` --server ${v}`}`,
        cells,
        shardOf: assignShards(cells, count),
        count,
      });
    }
  return asked;
}

export interface MergeArgs {
  dirs: string[];
  asked: AskedGroup[];
  flags: FlagValues<typeof FLAGS>;
}

function parseMerge(dirs: string[], flags: FlagValues<typeof FLAGS>): MergeArgs {
  if (dirs.length === 0) throw new LabError('lab report --merge: name the folders to read (DIR...)', LabExit.USAGE);
  const count = flags.shards ?? 1;
  if (!Number.isInteger(count) || count < 1)
    throw new LabError(`--shards ${count}: a whole number, 1 or more`, LabExit.USAGE);
  return { dirs, asked: askedGroups(flags, count), flags };
}

/** `lab report --merge DIR...`: one summary from many shards, jobs and machines. */
function merge({ dirs, asked, flags }: MergeArgs): number {
  const { runs, plans, problems } = collect(dirs);
  const seen = new Set(runs.map((r) => `${cellKey(r)}|${r.where?.shard ?? ''}`));
  const expected = expectedFrom(plans, asked, (k, shard) => seen.has(`${k}|${shard ?? ''}`));
  const summary = buildSummary(runs, expected, {
    title: flags.title ?? `Scenarios by init and server: ${runs.length} results merged`,
    inputs: dirs.map((d) => path.resolve(d)),
    plans,
    notes: problems,
  });
  const out = flags.out ?? createRun('scenario', 'merged', labHome());
  const files = writeMatrixSummary(out, summary, {
    bundle: flags.bundle,
    groupOf: (name) => findScenario(name)?.group,
  });
  const t = summary.totals;
  process.stdout.write(
    `merged ${t.results} results from ${plans.length} plan(s) into ${t.cells} cells: ${t.expected} expected, ` +
      `${t.unexpected} unexpected, ${t.notRun} not run (${t.skipped} skipped), ${t.infrastructure} infrastructure, ` +
      `${t.missing} missing, ${t.duplicated} with two results or more: ${summary.status}\n`,
  );
  for (const m of summary.missingShards) process.stdout.write(`  missing: ${m}\n`);
  for (const c of summary.cells.filter((c) => c.status !== 'EXPECTED' && c.status !== 'NOT RUN'))
    process.stdout.write(`  ${c.status.padEnd(14)} ${c.key}${c.shard ? ` (shard ${c.shard})` : ''}\n`);
  for (const p of problems) process.stdout.write(`  could not read: ${p}\n`);
  process.stdout.write(`summary: ${path.resolve(files.html)}\nsummary.json: ${path.resolve(files.json)}\n`);
  return summary.exitCode;
}

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

export type ReportArgs = { mode: 'merge'; merge: MergeArgs } | { mode: 'summary' } | { mode: 'report'; run?: string };

export function parseReport(argv: string[]): ReportArgs {
  const { flags, positional } = parseFlags('report', argv, FLAGS, { names: ['[RUN | DIR...]'], rest: true });
  if (flags.merge) return { mode: 'merge', merge: parseMerge(positional, flags) };
  const mergeOnly = (['out', 'flavour', 'server', 'shards', 'title'] as const).filter((k) => flags[k] !== undefined);
  if (mergeOnly.length || flags.bundle)
    throw new LabError(
      `lab report: --${mergeOnly[0] ?? 'bundle'} goes with --merge; see 'lab report --help'`,
      LabExit.USAGE,
    );
  if (positional.length > 1)
    throw new LabError(
      `lab report: unexpected argument '${positional.slice(1).join(' ')}' (takes [RUN]; --merge takes DIR...)`,
      LabExit.USAGE,
    );
  return flags.summary ? { mode: 'summary' } : { mode: 'report', run: positional[0] };
}

export const report: Command = {
  name: 'report',
  summary: "print the path of a run's HTML report (the latest run by default)",
  usage:
    `lab report [RUN] [--summary]\n${MERGE_USAGE}\n\nRUN is a run folder, a run name or part ` +
    `of it; default the latest run. A scenario run has\nits report already; for a 'lab load' ` +
    `run one is made from its records first.\n\n${flagHelp(FLAGS)}`,
  parse: parseReport,
  async run(argv) {
    const args = parseReport(argv);
    if (args.mode === 'merge') return merge(args.merge);
    if (args.mode === 'summary') {
      const file = latestSummary();
      if (!file) throw new LabError("no summary yet: 'lab scenario run --all' writes one", LabExit.USAGE);
      process.stdout.write(`${path.resolve(file)}\n`);
      return LabExit.OK;
    }
    const dir = findRun(args.run);
    const file = path.join(dir, 'report.html');
    process.stdout.write(`${path.resolve(fs.existsSync(file) ? file : reportForLoadRun(dir))}\n`);
    return LabExit.OK;
  },
};
