/**
 * Merging results from shards, jobs and machines: a missing cell is MISSING (never passed), a
 * shard that left nothing is named, two results for one cell are both shown, a failed cell
 * fails the merge, INFRASTRUCTURE is neither a pass nor a finding; the same run reached twice
 * counts once. Run folders are written the way runs write them (result.json, meta.json,
 * where.json, plan.json), then read back by `lab report --merge` itself.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { report } from '../../lab/commands/report';
import type { Flavour } from '../../lab/engine/flavour-images';
import { LabError } from '../../lab/errors';
import { type Cell, applicable, catalogueMatrix, cellKey, shardCells } from '../../lab/matrix/cells';
import { EXIT_INFRASTRUCTURE } from '../../lab/matrix/exit';
import { type MatrixSummary, type RunEntry, buildSummary, cellStatus, expectedFrom } from '../../lab/matrix/merge';
import { makePlan, writePlan } from '../../lab/matrix/where';
import type { Outcome } from '../../lab/results/types';
import { renderMatrixSummary } from '../../lab/report/summary';

const root = mkdtempSync(join(tmpdir(), 'lab-merge-'));
after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A run folder as runScenario + scenario.ts write it. */
function runFolder(
  under: string,
  c: Cell,
  outcome: Outcome,
  o: { shard?: string; host?: string; applicable?: boolean; error?: string; runId?: string } = {},
): string {
  const dir = join(under, 'runs', `2026-01-01T00-00-${String(n).padStart(2, '0')}-000Z-${c.scenario}-${c.flavour}`);
  mkdirSync(dir, { recursive: true });
  n++;
  writeFileSync(
    join(dir, 'result.json'),
    JSON.stringify({
      title: `${c.scenario}: test`,
      scenario: c.scenario,
      flavour: c.flavour,
      verdict: { outcome, reasons: [`${outcome} because`] },
      continuity: { sent: 100 + n, failed: outcome === 'UNEXPECTED' ? 7 : 0, longestGapMs: 40, latencyMs: { p99: 12 } },
      startedAt: `2026-01-01T00:00:${String(n).padStart(2, '0')}.000Z`,
      expectation: o.applicable === false ? { applicable: false, reason: 'n/a' } : { applicable: true, expect: 'x' },
      seconds: 12.5,
      error: o.error,
      recordsFile: 'records.json',
    }),
  );
  writeFileSync(
    join(dir, 'meta.json'),
    JSON.stringify({ name: c.scenario, kind: 'scenario', options: { scenario: c.scenario, server: c.server } }),
  );
  writeFileSync(join(dir, 'report.html'), '<!doctype html><title>r</title>');
  writeFileSync(
    join(dir, 'where.json'),
    JSON.stringify({
      runId: o.runId ?? `run-${n}`,
      host: o.host ?? 'machine-a',
      engine: 'unix:///var/run/docker.sock',
      shard: o.shard,
      job: 1,
      pid: 42,
    }),
  );
  return dir;
}

/** `lab report --merge`, as a person runs it (in this process: the command itself, its stdout captured). */
async function merge(args: string[]): Promise<{ status: number; out: string; summary: MatrixSummary; html: string }> {
  const out = join(root, `merged-${n++}`);
  const chunks: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((c: string | Uint8Array) => (chunks.push(String(c)), true)) as typeof process.stdout.write;
  let status: number;
  try {
    status = await report.run(['--merge', ...args, '--out', out]);
  } finally {
    process.stdout.write = write;
  }
  return {
    status,
    out: chunks.join(''),
    summary: JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as MatrixSummary,
    html: readFileSync(join(out, 'summary.html'), 'utf8'),
  };
}

const bookworm: Flavour[] = ['bookworm'];
const matrix = catalogueMatrix(bookworm);
const shards = [1, 2].map((i) => shardCells(matrix, { index: i, count: 2 }));
const plan = (i: number) =>
  makePlan({
    matrix,
    flavours: bookworm,
    shard: { index: i, count: 2 },
    where: { host: `m${i}`, engine: 'e', pid: i },
  });
const outcomeOf = (c: Cell): Outcome => (applicable(c) ? 'EXPECTED' : 'NOT RUN');

/** Two complete shards in two folders, as two machines leave them. */
function twoShards(tag: string): string[] {
  return [1, 2].map((i) => {
    const dir = join(root, `${tag}-shard${i}`);
    writePlan(join(dir, 'runs', `summary-${i}`), plan(i));
    for (const c of shards[i - 1])
      runFolder(dir, c, outcomeOf(c), { shard: `${i}/2`, host: `m${i}`, applicable: applicable(c) });
    return dir;
  });
}

describe('lab report --merge', () => {
  it('two complete shards make one complete matrix: exit 0, where each cell ran', async () => {
    const dirs = twoShards('ok');
    const m = await merge(dirs);
    assert.equal(m.status, 0, m.out);
    assert.equal(m.summary.status, 'ok');
    assert.equal(m.summary.totals.cells, matrix.length);
    assert.equal(m.summary.totals.missing, 0);
    assert.deepEqual(m.summary.missingShards, []);
    for (const c of m.summary.cells) {
      assert.equal(c.results.length, 1);
      assert.equal(c.results[0].where?.shard, c.shard, `${c.key} ran in the shard its plan gave it`);
      assert.equal(c.results[0].where?.host, `m${c.shard?.split('/')[0]}`);
    }
    assert.ok(m.html.includes('<b>m1</b>') && m.html.includes('<b>m2</b>'));
    assert.ok(m.html.includes('shard 1/2') && m.html.includes('shard 2/2'));
    // links go to each run's report, relative to the summary
    assert.match(m.html, /href="\.\.\/ok-shard1\/runs\/[^"]+\/report\.html"/);
  });

  it('a missing shard: its cells are MISSING, never passed, the shard is named, exit 4', async () => {
    const [one] = twoShards('half');
    const m = await merge([one]);
    assert.equal(m.status, EXIT_INFRASTRUCTURE, m.out);
    assert.equal(m.summary.status, 'incomplete');
    assert.equal(m.summary.totals.missing, shards[1].length);
    for (const c of shards[1]) {
      const cell = m.summary.cells.find((x) => x.key === cellKey(c));
      assert.equal(cell?.status, 'MISSING', cellKey(c));
      assert.equal(cell?.shard, '2/2');
    }
    assert.equal(m.summary.missingShards.length, 1);
    assert.match(m.summary.missingShards[0], /shard 2\/2 of --flavour bookworm/);
    assert.match(m.out, /missing: shard 2\/2/);
    assert.equal((m.html.match(/data-status="MISSING"/g) ?? []).length, shards[1].length);
    assert.ok(!/data-status="MISSING"[^>]*>[^<]*<[^>]*EXPECTED/.test(m.html));
  });

  it('a missing shard is named from --flavour/--server/--shards even when no plan of its matrix came', async () => {
    const [one] = twoShards('asked');
    const m = await merge([one, '--flavour', 'bookworm,precise', '--shards', '2']);
    assert.equal(m.status, EXIT_INFRASTRUCTURE);
    const named = m.summary.missingShards.join('\n');
    assert.match(named, /shard 2\/2 of --flavour bookworm/);
    assert.match(named, /shard 1\/2 of --flavour precise/);
    assert.match(named, /shard 2\/2 of --flavour precise/);
    assert.ok(!/shard 1\/2 of --flavour bookworm/.test(named));
    assert.equal(m.summary.totals.missing, shards[1].length + catalogueMatrix(['precise']).length);
  });

  it('two results for one cell are both shown; a failed one fails the merge (exit 1)', async () => {
    const dirs = twoShards('dup');
    const again = join(root, 'dup-rerun');
    const c = shards[0][0];
    runFolder(again, c, 'UNEXPECTED', { host: 'machine-b' });
    const m = await merge([...dirs, again]);
    assert.equal(m.status, 1, m.out);
    const cell = m.summary.cells.find((x) => x.key === cellKey(c));
    assert.equal(cell?.results.length, 2);
    assert.deepEqual(cell?.results.map((r) => r.outcome).sort(), ['EXPECTED', 'UNEXPECTED']);
    assert.equal(cell?.status, 'UNEXPECTED');
    assert.equal(cell?.duplicated, true);
    assert.equal(cell?.disagree, true);
    assert.match(m.html, /data-results="2"/);
    assert.match(m.html, /2 results, differing/);
    assert.ok(m.html.includes('machine-b') && m.html.includes('m1'));
  });

  it('the same run reached twice (a copied artifact) counts once', async () => {
    const dirs = twoShards('copy');
    const copy = join(root, 'copy-again');
    cpSync(dirs[0], copy, { recursive: true });
    const m = await merge([...dirs, copy, dirs[0]]);
    assert.equal(m.status, 0, m.out);
    assert.equal(m.summary.totals.duplicated, 0);
    assert.equal(m.summary.totals.results, matrix.length);
  });

  it('INFRASTRUCTURE cells and skipped cells make the merge incomplete (exit 4), never passed or failed', async () => {
    const dirs = twoShards('infra');
    const [a, b] = shards[1].filter(applicable);
    // overwrite: a second engine that went away, a flavour that could not be had
    rmSync(dirs[1], { recursive: true });
    writePlan(join(dirs[1], 'runs', 'summary-2'), plan(2));
    runFolder(dirs[1], a, 'INFRASTRUCTURE', { shard: '2/2' });
    runFolder(dirs[1], b, 'NOT RUN', { shard: '2/2', error: 'no image' });
    const m = await merge(dirs);
    assert.equal(m.status, EXIT_INFRASTRUCTURE, m.out);
    const cellOf = (c: Cell) => m.summary.cells.find((x) => x.key === cellKey(c));
    assert.equal(cellOf(a)?.status, 'INFRASTRUCTURE');
    assert.equal(cellOf(b)?.status, 'NOT RUN');
    assert.equal(cellOf(b)?.skipped, true);
    assert.equal(m.summary.totals.infrastructure, 1);
    assert.equal(m.summary.totals.skipped, 1);
    // the rest of shard 2 never ran: missing, but the shard itself is there (its plan)
    assert.equal(m.summary.totals.missing, shards[1].length - 2);
    assert.deepEqual(m.summary.missingShards, []);
    assert.match(m.html, /data-outcome="INFRASTRUCTURE"/);
  });

  it('without a plan or --flavour nothing can be told missing, and the page says so', async () => {
    const dir = join(root, 'noplan');
    runFolder(dir, matrix[0], 'EXPECTED');
    const m = await merge([dir]);
    assert.equal(m.status, 0);
    assert.equal(m.summary.totals.cells, 1);
    assert.match(m.summary.notes.join('\n'), /no plan/);
  });

  it('refuses a folder that does not exist and a call without folders (usage, exit 2)', async () => {
    await assert.rejects(report.run(['--merge']), (e: unknown) => e instanceof LabError && e.exitCode === 2);
    await assert.rejects(
      report.run(['--merge', join(root, 'nope')]),
      (e: unknown) => e instanceof LabError && e.exitCode === 2,
    );
    await assert.rejects(report.run(['--out', root]), (e: unknown) => e instanceof LabError && e.exitCode === 2);
  });
});

describe('the summary model', () => {
  const entry = (outcome: Outcome, extra: Partial<RunEntry> = {}): RunEntry => ({
    scenario: 'bridge-inplace',
    flavour: 'bookworm',
    server: 'phoenix',
    outcome,
    applicable: true,
    startedAt: '2026-01-01T00:00:00Z',
    seconds: 1,
    reasons: [],
    ...extra,
  });

  it("a cell's status: a finding beats a pass beats a skip beats an engine that went away", () => {
    assert.equal(cellStatus([]), 'MISSING');
    assert.equal(cellStatus([entry('EXPECTED'), entry('UNEXPECTED')]), 'UNEXPECTED');
    assert.equal(cellStatus([entry('INFRASTRUCTURE'), entry('EXPECTED')]), 'EXPECTED');
    assert.equal(cellStatus([entry('INFRASTRUCTURE'), entry('NOT RUN')]), 'NOT RUN');
    assert.equal(cellStatus([entry('INFRASTRUCTURE')]), 'INFRASTRUCTURE');
  });

  it('a run again after an engine went away completes the cell; both results stay', () => {
    const cells = catalogueMatrix(['bookworm']).filter((c) => c.scenario === 'bridge-inplace');
    const s = buildSummary(
      [entry('INFRASTRUCTURE'), entry('EXPECTED')],
      expectedFrom([], [{ label: 'x', cells, shardOf: [1], count: 1 }], () => true),
      {
        title: 't',
        inputs: [],
      },
    );
    assert.equal(s.status, 'ok');
    assert.equal(s.cells[0].results.length, 2);
    assert.equal(s.cells[0].disagree, true);
  });

  it('a result nobody planned is shown, marked as such', () => {
    const other = entry('EXPECTED', { scenario: 'not-in-catalogue' });
    const s = buildSummary([other], { cells: [] }, { title: 't', inputs: [] });
    assert.equal(s.cells[0].planned, false);
    assert.match(renderMatrixSummary(s), /not in the plan/);
  });

  it("puts the scenarios of a group (unicorn in production) under one heading, in the matrix's order", () => {
    const s = buildSummary(
      [
        entry('EXPECTED', { scenario: 'a' }),
        entry('EXPECTED', { scenario: 'u1' }),
        entry('EXPECTED', { scenario: 'u2' }),
      ],
      { cells: [] },
      { title: 't', inputs: [] },
    );
    const group = (name: string) => (name.startsWith('u') ? 'unicorn in production' : undefined);
    const html = renderMatrixSummary(s, undefined, group);
    const headings = [...html.matchAll(/<tr class="group"><th[^>]*>([^<]*)</g)].map((m) => m[1]);
    assert.deepEqual(headings, ['init and app server', 'unicorn in production']);
    assert.ok(html.indexOf('unicorn in production') < html.indexOf('<th>u1</th>'));
    assert.ok(html.indexOf('<th>u1</th>') < html.indexOf('<th>u2</th>'));
    // Without groups, no heading rows at all.
    assert.ok(!renderMatrixSummary(s).includes('class="group"'));
  });

  it('escapes what it shows and links only relatively', () => {
    const s = buildSummary(
      [entry('UNEXPECTED', { reasons: ['<b>x</b>'], where: { runId: 'r', host: '<h>', engine: 'e', pid: 1 } })],
      { cells: [] },
      { title: '<t>', inputs: [] },
    );
    const html = renderMatrixSummary(s, () => 'javascript:alert(1)');
    assert.ok(!html.includes('<b>x</b>') && !html.includes('<h>') && !html.includes('javascript:'));
  });
});
