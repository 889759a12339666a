/**
 * The scenario matrix: one cell per (scenario, init flavour, app server), in the order
 * `lab scenario run --all` runs them, and its deterministic split into shards balanced by the
 * measured durations, so that N machines (or N CI jobs) each run their share and
 * `lab report --merge` puts them together.
 */
import { FLAVOURS, type Flavour, isFlavour } from '../engine/flavour-images';
import { LabError, LabExit } from '../errors';
import { type Cost, typicalSeconds } from './durations';
import { CATALOGUE, findScenario } from '../scenarios/catalogue';
import { type Scenario, expectationFor, serversOf } from '../session/types';
import { SERVERS } from '../servers/types';
import { DEFAULT_SERVER, columnOf, serverFor } from '../servers';
import type { ServerName } from '../servers/types';

export interface Cell {
  scenario: string;
  flavour: Flavour;
  server: ServerName;
}

/** "bridge-inplace/bookworm/phoenix": a cell's name in summary.json and in plans. */
export const cellKey = (c: { scenario: string; flavour: string; server: string }): string =>
  `${c.scenario}/${c.flavour}/${c.server}`;

// The summary's column ("bookworm/unicorn") is the servers' labelling rule.
export { columnOf };

/** `--flavour`: precise, bookworm, all, or a comma-separated list. */
export function flavoursOf(value: string): Flavour[] {
  if (value === 'all') return [...FLAVOURS];
  const names = value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !isFlavour(n));
  if (unknown.length)
    throw new LabError(`--flavour ${value}: use ${FLAVOURS.join(', ')}, all or a list`, LabExit.USAGE);
  if (names.length === 0) throw new LabError('--flavour: name a flavour', LabExit.USAGE);
  return [...new Set(names.filter(isFlavour))];
}

/**
 * `--server` for one scenario: undefined = the server it is written for; all = every server
 * it has meaning for; a name = that server (not applicable where it has no meaning).
 */
export function serversFor(value: string | undefined, s: Scenario): ServerName[] {
  if (value === undefined) return [serversOf(s)[0]];
  if (value === 'all') return serversOf(s);
  return [serverFor(value).name];
}

/** Every cell `lab scenario run` would run for these scenarios, flavours and --server, in its order. */
export function planMatrix(scenarios: readonly Scenario[], flavours: readonly Flavour[], server?: string): Cell[] {
  if (server !== undefined && server !== 'all') serverFor(server);
  const cells: Cell[] = [];
  for (const s of scenarios)
    for (const v of serversFor(server, s))
      for (const f of flavours) cells.push({ scenario: s.name, flavour: f, server: v });
  return cells;
}

/** Whether the cell has meaning (a not-applicable cell is NOT RUN in no time). */
export function applicable(c: Cell): boolean {
  const s = findScenario(c.scenario);
  return s !== undefined && expectationFor(s, c.flavour, c.server).applicable;
}

export interface Shard {
  /** 1-based */
  index: number;
  count: number;
}

export const shardText = (s: Shard): string => `${s.index}/${s.count}`;

/** `--shard I/N`: 1 <= I <= N. */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count)
    throw new LabError(`--shard ${text}: give I/N with 1 <= I <= N (--shard 2/3: the second of three)`, LabExit.USAGE);
  return { index, count };
}

/**
 * The shard (1..count) of each cell, balanced by how long the cells take (`cost`, the measured
 * durations): longest first, each to the shard with the least time so far (lowest index on a
 * tie), then the not-applicable cells (which take no time) round-robin. Every cell is in
 * exactly one shard; no shard's total exceeds another's by more than the longest cell; and the
 * same matrix, count and table always give the same split: it depends on nothing but the list
 * and the committed table (no clock, no host, no randomness).
 */
export function assignShards(
  cells: readonly Cell[],
  count: number,
  runs: (c: Cell) => boolean = applicable,
  cost: Cost = typicalSeconds,
): number[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`shard count ${count}: at least 1`);
  const shardOf = new Map<Cell, number>();
  const load = new Array<number>(count).fill(0);
  for (const c of longestFirst(cells, runs, cost).filter(runs)) {
    const least = load.indexOf(Math.min(...load));
    shardOf.set(c, least + 1);
    load[least] += cost(c);
  }
  let next = 0;
  return cells.map((c) => shardOf.get(c) ?? (next++ % count) + 1);
}

/** The measured seconds of each shard's running cells, by the same table as the split. */
export function shardSeconds(
  cells: readonly Cell[],
  count: number,
  runs: (c: Cell) => boolean = applicable,
  cost: Cost = typicalSeconds,
): number[] {
  const of = assignShards(cells, count, runs, cost);
  const total = new Array<number>(count).fill(0);
  cells.forEach((c, i) => {
    if (runs(c)) total[of[i] - 1] += cost(c);
  });
  return total;
}

/** The cells of one shard, in the matrix's order. */
export function shardCells(
  cells: readonly Cell[],
  shard: Shard,
  runs: (c: Cell) => boolean = applicable,
  cost: Cost = typicalSeconds,
): Cell[] {
  const of = assignShards(cells, shard.count, runs, cost);
  return cells.filter((_, i) => of[i] === shard.index);
}

/**
 * The order a pool of jobs starts cells in: the longest first (then the matrix's order), so
 * that no job is left running a two-minute cell alone at the end while the others idle.
 */
export function longestFirst(
  cells: readonly Cell[],
  runs: (c: Cell) => boolean = applicable,
  cost: Cost = typicalSeconds,
): Cell[] {
  const s = cells.map((c, i) => ({ c, i, s: runs(c) ? cost(c) : 0 }));
  return s.sort((a, b) => b.s - a.s || a.i - b.i).map((x) => x.c);
}

/** The whole catalogue's matrix for these flavours and --server choice. */
export const catalogueMatrix = (flavours: readonly Flavour[], server?: string): Cell[] =>
  planMatrix(CATALOGUE, flavours, server);

/** Catalogue order of scenario names, then anything else by name: how the summary sorts its rows. */
export function scenarioOrder(names: Iterable<string>): string[] {
  const rank = new Map(CATALOGUE.map((s, i) => [s.name, i]));
  return [...new Set(names)].sort(
    (a, b) => (rank.get(a) ?? Infinity) - (rank.get(b) ?? Infinity) || (a < b ? -1 : a > b ? 1 : 0),
  );
}

/** Columns in init order (the drivers' registry), the default server first, then the others, then anything else. */
export function columnOrder(columns: Iterable<string>): string[] {
  const servers = [DEFAULT_SERVER, ...SERVERS.filter((s) => s !== DEFAULT_SERVER)];
  const known = FLAVOURS.flatMap((f) => servers.map((s) => columnOf(f, s)));
  const rank = new Map(known.map((c, i) => [c, i]));
  return [...new Set(columns)].sort(
    (a, b) => (rank.get(a) ?? Infinity) - (rank.get(b) ?? Infinity) || (a < b ? -1 : a > b ? 1 : 0),
  );
}
