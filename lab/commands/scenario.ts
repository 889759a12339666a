import * as path from 'node:path';
import { type FlagValues, flagHelp, parseFlags } from '../args';
import { engineGone, engineIdentity, remoteEngineProblem } from '../engine/docker';
import { FLAVOURS, type Flavour } from '../engine/flavour-images';
import { LabError, LabExit } from '../errors';
import {
  type Cell,
  type Shard,
  applicable,
  cellKey,
  columnOf,
  flavoursOf,
  longestFirst,
  parseShard,
  planMatrix,
  shardCells,
  shardText,
} from '../matrix/cells';
import { typicalSeconds } from '../matrix/durations';
import { EXIT_INFRASTRUCTURE } from '../matrix/exit';
import { type RunEntry, buildSummary } from '../matrix/merge';
import { onInterrupt } from '../matrix/interrupt';
import { runPool } from '../matrix/pool';
import { type Where, makePlan, whereHere, writePlan, writeWhere } from '../matrix/where';
import { writeMatrixSummary } from '../report/write';
import { createRun, labHome } from '../runs';
import { CATALOGUE, findScenario } from '../scenarios/catalogue';
import { formatResult, formatRow } from '../session/format';
import { infrastructureVerdict, runScenario, saveRun } from '../session/runner';
import { type Scenario, type ScenarioResult, expectationFor, serversOf } from '../session/types';
import type { ServerName } from '../servers/types';
import { SERVER_BEFORE_CHOICE, serverFor } from '../servers';
import { driverFor } from '../flavours';
import { summarize } from '../check/continuity';
import type { Command } from './command';
import { docker } from './target';

const FLAGS = {
  flavour: { kind: 'string', help: 'precise, bookworm, all, or a list (precise,bookworm)', default: 'all' },
  server: {
    kind: 'string',
    help: "phoenix, unicorn or all (default: each scenario's own server; with all, every server it has meaning for)",
  },
  all: { kind: 'boolean', help: 'with run: every scenario, and a summary page' },
  image: { kind: 'string', help: "boot this image instead of the flavour's own (one flavour only)" },
  jobs: {
    kind: 'number',
    help: 'N runs at once on the engine, each in its own container and port (one live line per job)',
    default: 1,
  },
  shard: {
    kind: 'string',
    help: 'I/N: only the I-th of N shares of the matrix (scenario x init x server), for N machines or CI jobs',
  },
} as const;

const USAGE = `lab scenario list
lab scenario show NAME
lab scenario run NAME [--flavour precise|bookworm|all] [--server phoenix|unicorn|all] [--image IMAGE]
lab scenario run --all [--flavour precise|bookworm|all] [--server phoenix|unicorn|all] [--jobs N] [--shard I/N]

Each run boots a fresh lab container (its own name and 127.0.0.1 port), applies the scenario's
config, acts under load, observes, compares with what the scenario expects on that flavour and
prints the verdict with its numbers; the container is removed at the end (Ctrl-C too: every
container of every job). Results go to .lab/runs/<time>-<scenario>-<flavour>/ (result.json,
where.json, records.json, report.html); 'run --all' also writes a summary folder: summary.html
(the matrix of scenarios by init and server, with where and when each cell ran), summary.json
and plan.json (the whole matrix and this shard's share, for 'lab report --merge'). A scenario
with no meaning on a flavour is reported NOT RUN with the reason, never as passed.

--jobs N runs N cells at once on one engine, the longest first. --shard I/N runs the I-th of N
shares of the matrix, balanced by measured time: longest cell first to the shard with the least
time so far (lab/matrix/measured-durations.json; the not-applicable cells, which take no time,
go round-robin), so the same I/N with the same catalogue, --flavour and --server always picks
the same cells and every cell is in exactly one shard. Run one shard per machine or
engine (DOCKER_HOST or --docker-host), then 'lab report --merge DIR...' makes one summary.

Exit codes: 0 every run met its expectation (or was not applicable), 1 an outcome was
UNEXPECTED, 2 usage, 3 Docker or the image of a flavour asked for by name is unavailable,
4 the Docker engine went away mid-run: those runs are INFRASTRUCTURE (never UNEXPECTED), the
rest of the matrix ran; 1 wins over 4.

${flagHelp(FLAGS)}`;

function list(): string {
  const w = Math.max(...CATALOGUE.map((s) => s.name.length));
  const cell = (s: Scenario, f: Flavour, v: ServerName) => {
    const tag = columnOf(f, v);
    return expectationFor(s, f, v).applicable ? tag : `(${tag}: n/a)`;
  };
  const cells = (s: Scenario) => serversOf(s).flatMap((v) => FLAVOURS.map((f) => cell(s, f, v)));
  return (
    `${CATALOGUE.map((s) => `  ${s.name.padEnd(w)}  ${s.title}  [${cells(s).join(', ')}]`).join('\n')}\n\n'lab ` +
    `scenario show NAME' tells the story and what each init is expected to do.\n`
  );
}

function show(s: Scenario): string {
  const lines = [`${s.name}: ${s.title}`, '', `story: ${s.story}`, ''];
  for (const v of serversOf(s)) {
    for (const f of FLAVOURS) {
      const e = expectationFor(s, f, v);
      const on = `${f} with ${v}`;
      lines.push(e.applicable ? `on ${on}: ${e.expect}` : `on ${on}: NOT APPLICABLE: ${e.reason}`);
      if (e.applicable) {
        // As bootLab does it: a scenario that puts the server in place itself replaces its activation.
        const own = s.boot(f, v);
        const label = own.activatesServer ? own.label : `${serverFor(v).activate(driverFor(f)).label}; ${own.label}`;
        lines.push(`  config at boot: ${label}`);
      }
      lines.push('');
    }
  }
  lines.push(`run it: lab scenario run ${s.name} [--flavour precise|bookworm] [--server ${serversOf(s).join('|')}]`);
  return `${lines.join('\n')}\n`;
}

/** A run that threw instead of returning (a bug, a full disk): recorded, judged, and the matrix goes on. */
async function crashed(s: Scenario, cell: Cell, err: unknown): Promise<ScenarioResult> {
  const message = (err as Error)?.message ?? String(err);
  const gone = await engineGone();
  const result: ScenarioResult = {
    scenario: s.name,
    title: s.title,
    flavour: cell.flavour,
    server: cell.server,
    expectation: expectationFor(s, cell.flavour, cell.server),
    verdict: gone
      ? infrastructureVerdict(gone, message)
      : {
          outcome: 'UNEXPECTED',
          checks: [{ what: 'the run could be carried out', expected: 'yes', seen: message, ok: false }],
          reasons: [`FAIL the run could not be carried out: ${message}`],
        },
    continuity: summarize([]),
    facts: {},
    actions: [],
    records: [],
    logs: [],
    startedAt: new Date().toISOString(),
    seconds: 0,
    error: message,
  };
  try {
    return saveRun(result, s.story);
  } catch {
    return result;
  }
}

/** A result as the summary shows it. */
function entryOf(r: ScenarioResult, where: Where | undefined): RunEntry {
  const c = r.continuity;
  return {
    scenario: r.scenario,
    flavour: r.flavour,
    server: r.server ?? SERVER_BEFORE_CHOICE,
    outcome: r.verdict.outcome,
    applicable: r.expectation.applicable,
    startedAt: r.startedAt,
    seconds: r.seconds,
    reasons: r.verdict.reasons,
    error: r.error,
    numbers: { sent: c.sent, failed: c.failed, longestGapMs: c.longestGapMs, p99Ms: c.latencyMs.p99 },
    where,
    dir: r.dir,
    report: r.report,
  };
}

interface RunOptions {
  image?: string;
  summary: boolean;
  explicitFlavour: boolean;
  server?: string;
  jobs: number;
  shard?: Shard;
}

async function run(names: Scenario[], flavours: Flavour[], o: RunOptions): Promise<number> {
  const matrix = planMatrix(names, flavours, o.server);
  const cells = o.shard ? shardCells(matrix, o.shard) : matrix;
  // The load runs here and goes to 127.0.0.1: an engine on another machine is said so now, once.
  const remote = remoteEngineProblem();
  if (remote) throw new LabError(remote, LabExit.ENVIRONMENT);
  const engine = await docker();
  const jobs = Math.max(1, Math.min(o.jobs, cells.length || 1));
  const here = whereHere(await engineIdentity(engine), o.shard, jobs);
  const t = Date.now();
  let dir: string | undefined;
  if (o.summary) {
    dir = createRun('scenario', o.shard ? `summary-shard-${o.shard.index}of${o.shard.count}` : 'summary', labHome());
    writePlan(dir, makePlan({ matrix, flavours, server: o.server, shard: o.shard, where: here }));
  }
  if (o.shard) {
    const running = cells.filter(applicable);
    const minutes = running.reduce((n, c) => n + typicalSeconds(c), 0) / 60;
    process.stderr.write(
      `lab: shard ${shardText(o.shard)}: ${cells.length} of the matrix's ${matrix.length} cells ` +
        `(${running.length} that run, about ${minutes.toFixed(0)} min one at a time by the measured durations)\n`,
    );
  }
  if (jobs > 1) process.stderr.write(`lab: ${jobs} runs at once on ${here.engine}, each in its own container\n`);
  const wheres = new Map<ScenarioResult, Where>();
  // Ctrl-C: no further cell starts, and every container of every job goes.
  const interrupt = onInterrupt(engine);
  // Several jobs start the longest cells first; the results are read back in the matrix's order.
  const order = jobs > 1 ? longestFirst(cells) : cells;
  const ran = await runPool(
    order,
    {
      jobs,
      label: (c) => `${c.scenario}/${columnOf(c.flavour, c.server)}`,
      logFile: dir ? path.join(dir, 'progress.log') : undefined,
      stop: interrupt.stopped,
    },
    async (cell, job) => {
      const s = findScenario(cell.scenario)!;
      const r = await runScenario(s, cell.flavour, { image: o.image, server: cell.server, say: job.say }).catch(
        (err: unknown) => crashed(s, cell, err),
      );
      if (r.dir) wheres.set(r, writeWhere(r.dir, { ...here, job: job.index }));
      job.print(`${formatResult(r)}\n`);
      return r;
    },
  ).finally(interrupt.dispose);
  const byCell = new Map(order.map((c, i) => [cellKey(c), ran[i]]));
  const results = cells.map((c) => byCell.get(cellKey(c))).filter((r): r is ScenarioResult => r !== undefined);
  if (results.length > 1) {
    process.stdout.write(`${results.map(formatRow).join('\n')}\n`);
    process.stdout.write(
      `${results.length} runs in ${((Date.now() - t) / 1000).toFixed(0)} s${jobs > 1 ? ` (${jobs} at once)` : ''}\n`,
    );
  }
  if (dir) {
    const summary = buildSummary(
      results.map((r) => entryOf(r, wheres.get(r))),
      { cells },
      {
        title: `Scenarios by init and server${o.shard ? ` (shard ${shardText(o.shard)})` : ''}`,
        inputs: [`this run (${here.host}, ${here.engine})`],
      },
    );
    const file = writeMatrixSummary(dir, summary, { groupOf: (name) => findScenario(name)?.group });
    process.stdout.write(`summary: ${path.resolve(file.html)}\n`);
  }
  const infra = results.filter((r) => r.verdict.outcome === 'INFRASTRUCTURE');
  if (infra.length)
    process.stderr.write(
      `lab: ${infra.length} run(s) INFRASTRUCTURE: the Docker engine went away (${here.engine}); run them again\n`,
    );
  if (results.some((r) => r.verdict.outcome === 'UNEXPECTED')) return LabExit.FAILED;
  if (infra.length) return EXIT_INFRASTRUCTURE;
  // A flavour asked for by name that could not run at all is an environment problem, not a pass.
  if (
    o.explicitFlavour &&
    results.length > 0 &&
    results.every((r) => r.error !== undefined && r.verdict.outcome === 'NOT RUN')
  )
    return LabExit.ENVIRONMENT;
  return LabExit.OK;
}

/** What `lab scenario ...` asks for, every argument checked. */
export type ScenarioArgs =
  | { verb: 'list' }
  | { verb: 'show'; scenario: Scenario }
  | { verb: 'run'; scenarios: Scenario[]; flavours: Flavour[]; options: RunOptions };

function parseRun(flags: FlagValues<typeof FLAGS>, name: string | undefined): ScenarioArgs {
  const flavours = flavoursOf(flags.flavour ?? 'all');
  if (flags.image && flavours.length !== 1)
    throw new LabError('--image names one image: give one --flavour with it', LabExit.USAGE);
  const jobs = flags.jobs ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1)
    throw new LabError(`--jobs ${jobs}: a whole number of runs at once, 1 or more`, LabExit.USAGE);
  const shard = flags.shard === undefined ? undefined : parseShard(flags.shard);
  if (flags.server !== undefined && flags.server !== 'all') serverFor(flags.server);
  const options = { image: flags.image, explicitFlavour: flags.flavour !== 'all', server: flags.server, jobs, shard };
  if (flags.all) {
    if (name) throw new LabError('lab scenario run: give a NAME or --all, not both', LabExit.USAGE);
    return { verb: 'run', scenarios: [...CATALOGUE], flavours, options: { ...options, summary: true } };
  }
  const s = name ? findScenario(name) : undefined;
  if (!s)
    throw new LabError(
      `lab scenario run: ${name ? `no scenario '${name}'` : 'name a scenario or give --all'}; 'lab scenario list' lists them`,
      LabExit.USAGE,
    );
  return { verb: 'run', scenarios: [s], flavours, options: { ...options, summary: false } };
}

export function parseScenario(argv: string[]): ScenarioArgs {
  const { flags, positional } = parseFlags('scenario', argv, FLAGS, {
    names: ['list|show|run', '[NAME]'],
    required: 1,
  });
  const [verb, name] = positional;
  switch (verb) {
    case 'list':
      if (name !== undefined)
        throw new LabError(`lab scenario list: unexpected argument '${name}' (takes none)`, LabExit.USAGE);
      return { verb };
    case 'show': {
      const s = name ? findScenario(name) : undefined;
      if (!s)
        throw new LabError(
          `lab scenario show: ${name ? `no scenario '${name}'` : 'name a scenario'}; 'lab scenario list' lists them`,
          LabExit.USAGE,
        );
      return { verb, scenario: s };
    }
    case 'run':
      return parseRun(flags, name);
    default:
      throw new LabError(
        `lab scenario: ${verb ? `unknown '${verb}'` : 'say what to do'}: list, show NAME, run NAME or run --all`,
        LabExit.USAGE,
      );
  }
}

export const scenario: Command = {
  name: 'scenario',
  summary: 'list, show and run the catalogue of production failures, with a verdict and a report',
  usage: USAGE,
  parse: parseScenario,
  async run(argv) {
    const args = parseScenario(argv);
    switch (args.verb) {
      case 'list':
        process.stdout.write(list());
        return LabExit.OK;
      case 'show':
        process.stdout.write(show(args.scenario));
        return LabExit.OK;
      case 'run':
        return run(args.scenarios, args.flavours, args.options);
    }
  },
};
