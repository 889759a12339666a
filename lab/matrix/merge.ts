/**
 * Results from many places into one matrix: the run folders (result.json, where.json) and
 * plans (plan.json) of shards, jobs and machines, read from any number of directories, and
 * the cells the matrix should have. A cell with no result is MISSING, never passed; a cell
 * with two results shows both; what decides the exit code is written beside the page in
 * summary.json.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LabError, LabExit } from '../errors';
import type { Outcome } from '../results/types';
import { type Cell, cellKey, columnOf, columnOrder, scenarioOrder } from './cells';
import { EXIT_INFRASTRUCTURE } from './exit';
import { PLAN_KIND, type Plan, type Where, planGroup } from './where';
import { SERVER_BEFORE_CHOICE } from '../servers';

/** One run of one cell, as the summary shows it. */
export interface RunEntry {
  scenario: string;
  flavour: string;
  server: string;
  outcome: Outcome;
  /** false: the scenario has no meaning there (NOT RUN is then its right answer) */
  applicable: boolean;
  startedAt: string;
  seconds: number;
  reasons: string[];
  error?: string;
  numbers?: { sent: number; failed: number; longestGapMs: number; p99Ms: number };
  where?: Where;
  /** the run folder and its report.html, as found */
  dir?: string;
  report?: string;
}

export type CellStatus = Outcome | 'MISSING';

export interface SummaryCell {
  key: string;
  scenario: string;
  flavour: string;
  server: string;
  column: string;
  /** the matrix asked for it (a plan or --flavour/--server); false: a result nobody planned */
  planned: boolean;
  /** which shard was to run it ("2/3"), when the matrix was split */
  shard?: string;
  status: CellStatus;
  /** a NOT RUN of a cell that has meaning (its image could not be had): a skip, not an answer */
  skipped: boolean;
  duplicated: boolean;
  /** two results that do not say the same */
  disagree: boolean;
  results: RunEntry[];
}

export const SUMMARY_KIND = 'upstart-unicorn-lab/summary';

export interface MatrixSummary {
  kind: typeof SUMMARY_KIND;
  version: 1;
  title: string;
  generatedAt: string;
  /** the directories read, or "this run" */
  inputs: string[];
  rows: string[];
  columns: string[];
  cells: SummaryCell[];
  plans: Array<{ shard?: string; group: string; startedAt: string; host: string; engine: string; cells: number }>;
  /** "shard 2/2 of bookworm|phoenix|2": no plan and no result came from it */
  missingShards: string[];
  notes: string[];
  totals: {
    cells: number;
    results: number;
    expected: number;
    unexpected: number;
    notRun: number;
    infrastructure: number;
    missing: number;
    skipped: number;
    duplicated: number;
  };
  /** ok: every cell answered as expected; failed: an UNEXPECTED cell; incomplete: missing, skipped or infrastructure */
  status: 'ok' | 'failed' | 'incomplete';
  exitCode: number;
}

/** A cell's status from its results: a finding beats a pass, a pass beats a skip, a skip beats an engine that went away. */
export function cellStatus(results: readonly RunEntry[]): CellStatus {
  if (results.length === 0) return 'MISSING';
  for (const o of ['UNEXPECTED', 'EXPECTED', 'NOT RUN'] as const) if (results.some((r) => r.outcome === o)) return o;
  return 'INFRASTRUCTURE';
}

/** What the matrix should hold: its cells, and for split matrices the shard of each. */
export interface Expected {
  cells: Cell[];
  shardOf?: Map<string, string>;
  /** shards that left nothing at all */
  missingShards?: string[];
}

export function buildSummary(
  runs: readonly RunEntry[],
  expected: Expected,
  o: { title: string; inputs: string[]; plans?: readonly Plan[]; notes?: string[] },
): MatrixSummary {
  const byKey = new Map<string, RunEntry[]>();
  for (const r of runs) {
    const key = cellKey(r);
    byKey.set(key, [...(byKey.get(key) ?? []), r]);
  }
  const planned = new Map(expected.cells.map((c) => [cellKey(c), c]));
  const keys = new Set([...planned.keys(), ...byKey.keys()]);
  const cells: SummaryCell[] = [...keys].map((key) => {
    const results = [...(byKey.get(key) ?? [])].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    const c = planned.get(key) ?? results[0];
    const status = cellStatus(results);
    return {
      key,
      scenario: c.scenario,
      flavour: c.flavour,
      server: c.server,
      column: columnOf(c.flavour, c.server),
      planned: planned.has(key),
      shard: expected.shardOf?.get(key),
      status,
      skipped: status === 'NOT RUN' && results.some((r) => r.outcome === 'NOT RUN' && r.applicable),
      duplicated: results.length > 1,
      disagree: new Set(results.map((r) => r.outcome)).size > 1,
      results,
    };
  });
  const rows = scenarioOrder(cells.map((c) => c.scenario));
  const columns = columnOrder(cells.map((c) => c.column));
  const rank = (c: SummaryCell) => rows.indexOf(c.scenario) * 1000 + columns.indexOf(c.column);
  cells.sort((a, b) => rank(a) - rank(b));
  const n = (f: (c: SummaryCell) => boolean) => cells.filter(f).length;
  const totals = {
    cells: cells.length,
    results: runs.length,
    expected: n((c) => c.status === 'EXPECTED'),
    unexpected: n((c) => c.status === 'UNEXPECTED'),
    notRun: n((c) => c.status === 'NOT RUN'),
    infrastructure: n((c) => c.status === 'INFRASTRUCTURE'),
    missing: n((c) => c.status === 'MISSING'),
    skipped: n((c) => c.skipped),
    duplicated: n((c) => c.duplicated),
  };
  const status: MatrixSummary['status'] =
    totals.unexpected > 0
      ? 'failed'
      : totals.missing + totals.infrastructure + totals.skipped > 0 || (expected.missingShards ?? []).length > 0
        ? 'incomplete'
        : 'ok';
  const notes = [...(o.notes ?? [])];
  if (expected.cells.length === 0)
    notes.push('no plan and no --flavour/--server given: the matrix is what was found, so no cell can be told missing');
  return {
    kind: SUMMARY_KIND,
    version: 1,
    title: o.title,
    generatedAt: new Date().toISOString(),
    inputs: o.inputs,
    rows,
    columns,
    cells,
    plans: (o.plans ?? []).map((p) => ({
      shard: p.shard ? `${p.shard.index}/${p.shard.count}` : undefined,
      group: planGroup(p),
      startedAt: p.startedAt,
      host: p.where.host,
      engine: p.where.engine,
      cells: p.mine.length,
    })),
    missingShards: expected.missingShards ?? [],
    notes,
    totals,
    status,
    exitCode: status === 'failed' ? LabExit.FAILED : status === 'incomplete' ? EXIT_INFRASTRUCTURE : LabExit.OK,
  };
}

/** A matrix asked for on the command line (`--flavour F --server S --shards N`), split as `run --shard` splits it. */
export interface AskedGroup {
  /** "--flavour bookworm --server phoenix" */
  label: string;
  cells: Cell[];
  /** the shard (1..count) of each cell */
  shardOf: number[];
  count: number;
}

/**
 * The expected matrix: the cells of every plan found and of every matrix asked for; the shard
 * of each cell (a plan's word first); and the shards nothing came from. A shard counts as
 * present when its plan.json was found, or a result of one of its cells says it came from
 * that shard (where.json; a plan can be lost with a half-uploaded artifact).
 */
export function expectedFrom(
  plans: readonly Plan[],
  asked: readonly AskedGroup[] = [],
  hasResult: (key: string, shard: string | undefined) => boolean = () => false,
): Expected {
  const cells = new Map<string, Cell>();
  const shardOf = new Map<string, string>();
  for (const p of plans) {
    const count = p.shard?.count ?? 1;
    for (const c of p.cells) {
      const cell = parseKey(c.key);
      if (!cell) continue;
      cells.set(c.key, cell);
      if (count > 1 && !shardOf.has(c.key)) shardOf.set(c.key, `${c.shard}/${count}`);
    }
  }
  const groups = new Map<string, { label: string; count: number; cells: Array<{ key: string; shard: number }> }>();
  for (const p of plans) {
    const id = planGroup(p);
    if (!groups.has(id)) {
      const [flavours, server] = id.split('|');
      const label = `--flavour ${flavours}${server === 'own' ? '' : ` --server ${server}`}`;
      groups.set(id, { label, count: p.shard?.count ?? 1, cells: p.cells });
    }
  }
  for (const g of asked) {
    g.cells.forEach((c, i) => {
      cells.set(cellKey(c), c);
      if (g.count > 1 && !shardOf.has(cellKey(c))) shardOf.set(cellKey(c), `${g.shardOf[i]}/${g.count}`);
    });
    groups.set(`asked|${g.label}|${g.count}`, {
      label: g.label,
      count: g.count,
      cells: g.cells.map((c, i) => ({ key: cellKey(c), shard: g.shardOf[i] })),
    });
  }
  const missingShards: string[] = [];
  for (const g of groups.values())
    for (let i = 1; i <= g.count; i++) {
      const its = g.cells.filter((c) => c.shard === i).map((c) => c.key);
      const tag = g.count > 1 ? `${i}/${g.count}` : undefined;
      const itsPlan = plans.some(
        (p) => (p.shard?.count ?? 1) === g.count && (p.shard?.index ?? 1) === i && p.mine.some((k) => its.includes(k)),
      );
      if (its.length === 0 || itsPlan || its.some((k) => hasResult(k, tag))) continue;
      missingShards.push(
        `${g.count > 1 ? `shard ${i}/${g.count}` : 'the run'} of ${g.label} (${its.length} cells): nothing came from it`,
      );
    }
  return { cells: [...cells.values()], shardOf, missingShards: [...new Set(missingShards)] };
}

function parseKey(key: string): Cell | undefined {
  const [scenario, flavour, server] = key.split('/');
  return scenario && flavour && server ? ({ scenario, flavour, server } as Cell) : undefined;
}

interface ResultFile {
  scenario?: unknown;
  flavour?: unknown;
  verdict?: { outcome?: unknown; reasons?: unknown };
  expectation?: { applicable?: unknown };
  startedAt?: unknown;
  seconds?: unknown;
  error?: unknown;
  continuity?: { sent?: number; failed?: number; longestGapMs?: number; latencyMs?: { p99?: number } };
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** One run folder as the summary sees it; undefined when result.json is not a scenario run's. */
export function readRunFolder(dir: string): RunEntry | undefined {
  const r = readJson<ResultFile>(path.join(dir, 'result.json'));
  if (typeof r.scenario !== 'string' || typeof r.verdict?.outcome !== 'string') return undefined;
  let meta: { options?: { server?: string }; flavour?: string } = {};
  if (fs.existsSync(path.join(dir, 'meta.json'))) meta = readJson(path.join(dir, 'meta.json'));
  const where = fs.existsSync(path.join(dir, 'where.json')) ? readJson<Where>(path.join(dir, 'where.json')) : undefined;
  const c = r.continuity;
  const report = path.join(dir, 'report.html');
  return {
    scenario: r.scenario,
    flavour: String(r.flavour ?? meta.flavour ?? '?'),
    // results written before servers were a choice ran phoenix
    server: meta.options?.server ?? SERVER_BEFORE_CHOICE,
    outcome: r.verdict.outcome as Outcome,
    applicable: r.expectation?.applicable !== false,
    startedAt: typeof r.startedAt === 'string' ? r.startedAt : '',
    seconds: typeof r.seconds === 'number' ? r.seconds : 0,
    reasons: Array.isArray(r.verdict.reasons) ? r.verdict.reasons.map(String) : [],
    error: typeof r.error === 'string' ? r.error : undefined,
    numbers:
      c && typeof c.sent === 'number'
        ? { sent: c.sent, failed: c.failed ?? 0, longestGapMs: c.longestGapMs ?? 0, p99Ms: c.latencyMs?.p99 ?? 0 }
        : undefined,
    where,
    dir,
    report: fs.existsSync(report) ? report : undefined,
  };
}

/** The same run reached twice (overlapping directories, a folder copied into two artifacts) counts once. */
function runIdentity(r: RunEntry): string {
  return r.where?.runId ?? `${r.scenario}/${r.flavour}/${r.server}|${r.startedAt}|${r.seconds}`;
}

/**
 * Every scenario run folder (a folder with result.json) and every plan.json under `dirs`,
 * at any depth: artifacts unpacked side by side, LAB_HOME folders, single run folders.
 */
export function collect(dirs: readonly string[]): { runs: RunEntry[]; plans: Plan[]; problems: string[] } {
  const runs = new Map<string, RunEntry>();
  const plans = new Map<string, Plan>();
  const problems: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      problems.push(`${dir}: ${(err as Error).message}`);
      return;
    }
    const names = new Set(entries.map((e) => e.name));
    if (names.has('result.json')) {
      try {
        const r = readRunFolder(dir);
        if (r) runs.set(runIdentity(r), runs.get(runIdentity(r)) ?? r);
      } catch (err) {
        problems.push(`${path.join(dir, 'result.json')}: unreadable (${(err as Error).message})`);
      }
    }
    if (names.has('plan.json')) {
      try {
        const p = readJson<Plan>(path.join(dir, 'plan.json'));
        if (p.kind === PLAN_KIND) plans.set(`${p.startedAt}|${p.where?.host}|${p.where?.pid}|${planGroup(p)}`, p);
      } catch (err) {
        problems.push(`${path.join(dir, 'plan.json')}: unreadable (${(err as Error).message})`);
      }
    }
    if (depth >= 12) return;
    for (const e of entries)
      if (e.isDirectory() && e.name !== 'node_modules' && e.name !== '.git') walk(path.join(dir, e.name), depth + 1);
  };
  for (const d of dirs) {
    if (!fs.existsSync(d) || !fs.statSync(d).isDirectory())
      throw new LabError(`lab report --merge: ${d} is not a directory`, LabExit.USAGE);
    walk(path.resolve(d), 0);
  }
  return { runs: [...runs.values()], plans: [...plans.values()], problems };
}
