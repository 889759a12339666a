/**
 * The matrix and its split into shards: every cell in exactly one shard, the same split every
 * time, shards balanced by measured time; the job pool's order and prefixed progress; --docker-host and
 * whether an engine is on this machine.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { takeDockerHost } from '../../lab/args';
import { engineHost, engineLocality, remoteEngineProblem } from '../../lab/engine/docker';
import { FLAVOURS } from '../../lab/engine/flavour-images';
import { LabError } from '../../lab/errors';
import {
  type Cell,
  applicable,
  assignShards,
  catalogueMatrix,
  cellKey,
  longestFirst,
  parseShard,
  shardCells,
  shardSeconds,
} from '../../lab/matrix/cells';
import { costFrom, typicalSeconds } from '../../lab/matrix/durations';
import MEASURED from '../../lab/matrix/measured-durations.json';
import { runPool } from '../../lab/matrix/pool';
import { makePlan } from '../../lab/matrix/where';
import { CATALOGUE } from '../../lab/scenarios/catalogue';
import { serversOf } from '../../lab/session/types';

const every = [
  catalogueMatrix([...FLAVOURS]),
  catalogueMatrix([...FLAVOURS], 'all'),
  catalogueMatrix(['bookworm'], 'phoenix'),
  catalogueMatrix(['precise'], 'unicorn'),
];

describe('the matrix', () => {
  it('is scenario x init x server in run --all order, each cell once', () => {
    const m = catalogueMatrix([...FLAVOURS], 'all');
    const want = CATALOGUE.reduce((n, s) => n + serversOf(s).length * FLAVOURS.length, 0);
    assert.equal(m.length, want);
    assert.equal(new Set(m.map(cellKey)).size, m.length, 'no cell twice');
    assert.equal(m[0].scenario, CATALOGUE[0].name);
    // default --server: each scenario's own server only
    assert.equal(catalogueMatrix(['bookworm']).length, CATALOGUE.length);
  });

  it('parses --shard I/N and refuses anything else', () => {
    assert.deepEqual(parseShard('2/3'), { index: 2, count: 3 });
    assert.deepEqual(parseShard(' 1 / 1 '), { index: 1, count: 1 });
    for (const bad of ['0/2', '3/2', '1/0', '1', '/2', 'a/b', '1/2/3', '-1/2'])
      assert.throws(() => parseShard(bad), LabError, bad);
  });
});

describe('the split', () => {
  for (const matrix of every)
    for (const n of [1, 2, 3, 4, 7, matrix.length, matrix.length + 3]) {
      it(`${matrix.length} cells in ${n} shards: each cell in exactly one, shards balanced by time`, () => {
        const shards = Array.from({ length: n }, (_, i) => shardCells(matrix, { index: i + 1, count: n }));
        const all = shards.flat().map(cellKey);
        assert.equal(all.length, matrix.length, 'no cell lost, none twice');
        assert.deepEqual(new Set(all), new Set(matrix.map(cellKey)));
        // the measured time is spread: no shard outlasts another by more than the longest cell
        const seconds = shards.map((s) => s.filter(applicable).reduce((t, c) => t + typicalSeconds(c), 0));
        const longest = Math.max(0, ...matrix.filter(applicable).map(typicalSeconds));
        assert.ok(Math.max(...seconds) - Math.min(...seconds) <= longest, `seconds per shard: ${seconds.join(', ')}`);
        assert.deepEqual(seconds, shardSeconds(matrix, n));
        // each shard keeps the matrix's order
        for (const s of shards) {
          const idx = s.map((c) => matrix.findIndex((m) => cellKey(m) === cellKey(c)));
          assert.deepEqual(
            idx,
            [...idx].sort((a, b) => a - b),
          );
        }
      });
    }

  it('is the same every time, in this process and in another', () => {
    const m = catalogueMatrix([...FLAVOURS], 'all');
    const here = JSON.stringify([1, 2, 3].map((i) => shardCells(m, { index: i, count: 3 }).map(cellKey)));
    assert.equal(JSON.stringify([1, 2, 3].map((i) => shardCells(m, { index: i, count: 3 }).map(cellKey))), here);
    const script = `
      const { catalogueMatrix, shardCells, cellKey } = require(${JSON.stringify(path.resolve(__dirname, '../../lab/matrix/cells'))});
      const m = catalogueMatrix(['precise', 'bookworm'], 'all');
      process.stdout.write(JSON.stringify([1, 2, 3].map((i) => shardCells(m, { index: i, count: 3 }).map(cellKey))));`;
    // Compiled, the module beside this file is JavaScript; as TypeScript it needs ts-node.
    const loader = __filename.endsWith('.ts') ? ['--require', 'ts-node/register'] : [];
    const other = spawnSync(process.execPath, [...loader, '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
    });
    assert.equal(other.status, 0, other.stderr);
    assert.equal(other.stdout, here);
  });

  it('depends on the list and the durations only: longest first to the least-loaded shard, then the rest', () => {
    const cells: Cell[] = ['a', 'b', 'c', 'd', 'e', 'f'].map((s) => ({
      scenario: s,
      flavour: 'bookworm',
      server: 'phoenix',
    }));
    const runs = (c: Cell) => c.scenario !== 'b';
    const seconds: Record<string, number> = { a: 10, b: 99, c: 120, d: 30, e: 30, f: 60 };
    const cost = (c: { scenario: string }) => seconds[c.scenario];
    // c (120) -> 1; f (60) -> 2; d (30) -> 2; e (30) -> 2 (90 < 120); a (10) -> 1 (120 = 120, lower index)
    assert.deepEqual(assignShards(cells, 2, runs, cost), [1, 1, 1, 2, 2, 2]);
    assert.deepEqual(shardSeconds(cells, 2, runs, cost), [130, 120]);
    // round-robin by position would have given 160 against 90
    assert.deepEqual(assignShards(cells, 1, runs, cost), [1, 1, 1, 1, 1, 1]);
    assert.throws(() => assignShards(cells, 0, runs, cost), RangeError);
    // a pool of jobs starts the longest first, the cells that do not run last
    assert.deepEqual(
      longestFirst(cells, runs, cost).map((c) => c.scenario),
      ['c', 'f', 'd', 'e', 'a', 'b'],
    );
  });

  it('balances the bookworm matrix in two by the committed measurements', () => {
    // Round-robin by position gave shards of 314 s and 508 s when measured on two engines; the
    // table (medians of recorded runs) must split them to within the longest cell of each other.
    const m = catalogueMatrix(['bookworm'], 'all');
    const [a, b] = shardSeconds(m, 2);
    assert.ok(Math.abs(a - b) <= Math.max(...m.filter(applicable).map(typicalSeconds)), `${a} s against ${b} s`);
    assert.ok(Math.abs(a - b) / Math.max(a, b) < 0.1, `${a} s against ${b} s`);
  });

  it('gives a cell with no record of its own the nearest measured one', () => {
    const cost = costFrom({
      seconds: { 'x/precise/phoenix': 40, 'x/bookworm/phoenix': 20, 'y/bookworm/unicorn': 100, 'z/precise/phoenix': 2 },
    });
    assert.equal(cost({ scenario: 'x', flavour: 'bookworm', server: 'phoenix' }), 20, 'its own');
    assert.equal(cost({ scenario: 'x', flavour: 'bookworm', server: 'unicorn' }), 20, 'the same scenario and init');
    assert.equal(cost({ scenario: 'y', flavour: 'precise', server: 'unicorn' }), 100, 'the same scenario elsewhere');
    assert.equal(cost({ scenario: 'new', flavour: 'precise', server: 'phoenix' }), 30, "the table's median");
    assert.equal(costFrom({ seconds: {} })({ scenario: 'a', flavour: 'b', server: 'c' }), 1, 'never 0');
    // every cell of the catalogue has a measured time of its own or its scenario's
    for (const c of catalogueMatrix([...FLAVOURS], 'all').filter(applicable))
      assert.ok(
        Object.keys(MEASURED.seconds).some((k) => k.startsWith(`${c.scenario}/`)),
        `${cellKey(c)}: no run of ${c.scenario} recorded: npm run matrix:durations`,
      );
  });

  it("a plan records the whole matrix with each cell's shard, and this shard's share", () => {
    const m = catalogueMatrix(['bookworm']);
    const where = { host: 'h', engine: 'unix:///x', pid: 1 };
    const p1 = makePlan({ matrix: m, flavours: ['bookworm'], shard: { index: 1, count: 2 }, where });
    const p2 = makePlan({ matrix: m, flavours: ['bookworm'], shard: { index: 2, count: 2 }, where });
    assert.deepEqual(p1.cells, p2.cells);
    assert.deepEqual(p1.mine, shardCells(m, { index: 1, count: 2 }).map(cellKey));
    assert.equal(p1.mine.length + p2.mine.length, m.length);
    assert.deepEqual(makePlan({ matrix: m, flavours: ['bookworm'], where }).mine, m.map(cellKey));
  });
});

describe('the job pool', () => {
  it('runs at most N at once and returns results in the items order', async () => {
    let live = 0;
    let most = 0;
    const items = [50, 10, 30, 5, 20, 1];
    const out = await runPool(items, { jobs: 3, label: (n) => `item ${n}`, tty: false }, async (n, job) => {
      live++;
      most = Math.max(most, live);
      assert.ok(job.index >= 1 && job.index <= 3);
      await new Promise((r) => setTimeout(r, n));
      live--;
      return n * 2;
    });
    assert.deepEqual(
      out,
      items.map((n) => n * 2),
    );
    assert.equal(most, 3);
  });

  it('prefixes every progress line with its job, including what a run writes to stderr itself', async () => {
    const seen: string[] = [];
    const write = process.stderr.write;
    const capture = ((chunk: string | Uint8Array) => {
      seen.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    process.stderr.write = capture;
    try {
      await runPool(['a', 'b'], { jobs: 2, label: (s) => `cell-${s}`, tty: false }, async (s, job) => {
        job.say(`[${s}] booting`);
        await new Promise((r) => setTimeout(r, 5));
        // the load's own progress line, written straight to stderr from inside the run
        process.stderr.write(`\r\x1b[2K  bookworm load ${s}`);
        await new Promise((r) => setTimeout(r, 5));
        job.say(`[${s}] done`);
      });
      process.stderr.write('outside any job\n');
    } finally {
      process.stderr.write = write;
    }
    const text = seen.join('');
    assert.match(text, /^j1 \[a\] booting$/m);
    assert.match(text, /^j2 \[b\] booting$/m);
    assert.match(text, /^j1 \[cell-a\] bookworm load a$/m);
    assert.match(text, /^j2 \[cell-b\] bookworm load b$/m);
    assert.match(text, /^outside any job$/m);
    assert.ok(!text.includes('\x1b['), 'no terminal codes in a log');
    assert.equal(process.stderr.write, write, 'stderr is given back');
  });

  it('with one job, writes exactly what a plain loop would', async () => {
    const write = process.stderr.write;
    const seen: string[] = [];
    process.stderr.write = ((c: string | Uint8Array) => (seen.push(String(c)), true)) as typeof process.stderr.write;
    try {
      await runPool(['x'], { jobs: 4, label: String }, async (_s, job) => job.say('[x] line'));
    } finally {
      process.stderr.write = write;
    }
    assert.deepEqual(seen, ['[x] line\n']);
  });
});

describe('the engine', () => {
  it('--docker-host, anywhere on the line, sets DOCKER_HOST and leaves the rest', () => {
    const env: NodeJS.ProcessEnv = {};
    assert.deepEqual(takeDockerHost(['scenario', 'run', '--docker-host', 'unix:///tmp/d.sock', '--all'], env), [
      'scenario',
      'run',
      '--all',
    ]);
    assert.equal(env.DOCKER_HOST, 'unix:///tmp/d.sock');
    assert.deepEqual(takeDockerHost(['--docker-host=tcp://127.0.0.1:2375', 'status'], env), ['status']);
    assert.equal(env.DOCKER_HOST, 'tcp://127.0.0.1:2375');
    assert.deepEqual(takeDockerHost(['initctl', '--', '--docker-host', 'x'], env), [
      'initctl',
      '--',
      '--docker-host',
      'x',
    ]);
    assert.throws(() => takeDockerHost(['status', '--docker-host'], env), LabError);
    assert.throws(() => takeDockerHost(['--docker-host', 'somehost:2375'], env), LabError);
  });

  it('tells an engine on this machine from one elsewhere', () => {
    assert.equal(engineHost({}), 'unix:///var/run/docker.sock');
    assert.equal(engineLocality({}).local, true);
    assert.equal(engineLocality({ DOCKER_HOST: 'unix:///tmp/lab-d2/docker.sock' }).local, true);
    assert.equal(engineLocality({ DOCKER_HOST: 'tcp://127.0.0.1:2375' }).local, true);
    assert.equal(engineLocality({ DOCKER_HOST: 'tcp://localhost:2376' }).local, true);
    assert.equal(engineLocality({ DOCKER_HOST: `ssh://me@${os.hostname()}` }).local, true);
    assert.equal(engineLocality({ DOCKER_HOST: 'tcp://docker.example.com:2376' }).local, false);
    assert.equal(engineLocality({ DOCKER_HOST: 'ssh://me@build-host.example.com' }).local, false);
    assert.equal(remoteEngineProblem({}), undefined);
    const msg = remoteEngineProblem({ DOCKER_HOST: 'tcp://docker.example.com:2376' }) ?? '';
    assert.match(msg, /not on this machine/);
    assert.match(msg, /127\.0\.0\.1/);
    assert.match(msg, /--shard/);
  });
});
