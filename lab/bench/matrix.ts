/**
 * npm run bench:matrix: the wall time of the bookworm matrix (`lab scenario run --all`) three
 * ways, in one run of this script, with the same verdicts asked of each:
 *   1. --jobs 1           one run at a time on one engine
 *   2. --jobs 2           two at once on one engine
 *   3. two engines        --shard 1/2 on the first engine and --shard 2/2 on a second one at
 *                         once (test/support/second-dockerd.sh), merged with lab report --merge
 * Writes results/bench-matrix-<time>.json (wall times, every cell's verdict in each, the cells
 * whose verdicts differ) and a table. Without the second engine, the third leg is reported as
 * skipped with the reason. A person starts it; it is not a CI step.
 *
 *   BENCH_MATRIX_FLAVOUR=bookworm   the flavour (default bookworm)
 *   BENCH_MATRIX_SERVER=all         --server for the matrix (default: each scenario's own)
 *   BENCH_MATRIX_LEGS=j1,j2,two     which legs to run
 *   LAB_D2_HOST=unix:///tmp/lab-d2/docker.sock   the second engine
 * Every leg runs a frozen copy of dist/ (see snapshot): the same code and catalogue in each.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { catalogueMatrix, flavoursOf, shardSeconds } from '../matrix/cells';
import { projectRoot } from '../engine/images';
import { OFFLINE_FLAVOUR } from '../flavours';
import type { MatrixSummary } from '../matrix/merge';

export const SECOND_ENGINE = process.env.LAB_D2_HOST ?? 'unix:///tmp/lab-d2/docker.sock';

/**
 * A frozen copy of what `lab` runs (dist/, images/, package.json; node_modules linked), so
 * every leg runs the same code and catalogue even when the working tree is rebuilt meanwhile
 * (several people share it). Its image tags are the repository's (the same inputs, the same
 * hash). Returns the copy's root, for startLab.
 */
export function snapshot(into: string, root = projectRoot()): string {
  const dir = path.join(into, 'code');
  fs.mkdirSync(dir, { recursive: true });
  for (const name of ['dist', 'images', 'package.json'])
    fs.cpSync(path.join(root, name), path.join(dir, name), { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

export interface LabRun {
  args: string[];
  env: Record<string, string>;
  code: number | null;
  seconds: number;
  /** the last lines it printed */
  tail: string[];
  home: string;
}

/** `node dist/lab/cli.js ARGS` with its own LAB_HOME; lines go to `log` prefixed with `tag`. */
export function startLab(
  args: string[],
  o: { home: string; dockerHost?: string; tag: string; log?: (line: string) => void; root?: string },
): { child: ChildProcess; done: Promise<LabRun> } {
  const cli = path.join(o.root ?? projectRoot(), 'dist', 'lab', 'cli.js');
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run npm run build`);
  fs.mkdirSync(o.home, { recursive: true });
  const env: Record<string, string> = { LAB_HOME: o.home };
  if (o.dockerHost) env.DOCKER_HOST = o.dockerHost;
  const childEnv = { ...process.env, ...env };
  if (!o.dockerHost) delete childEnv.DOCKER_HOST;
  const t = Date.now();
  const child = spawn(process.execPath, [cli, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  const take = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > 400) tail.shift();
      o.log?.(`${o.tag} ${line}`);
    }
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  const done = new Promise<LabRun>((resolve) =>
    child.on('close', (code) => resolve({ args, env, code, seconds: (Date.now() - t) / 1000, tail, home: o.home })),
  );
  return { child, done };
}

/** The newest summary.json under a LAB_HOME (a run --all's), or under a merge's --out. */
export function latestSummaryJson(dir: string): MatrixSummary {
  const found: string[] = [];
  const walk = (d: string, depth: number) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isFile() && e.name === 'summary.json') found.push(p);
      else if (e.isDirectory() && depth < 3) walk(p, depth + 1);
    }
  };
  walk(dir, 0);
  if (found.length === 0) throw new Error(`no summary.json under ${dir}`);
  found.sort((a, b) => fs.statSync(a).mtimeMs - fs.statSync(b).mtimeMs);
  return JSON.parse(fs.readFileSync(found[found.length - 1], 'utf8')) as MatrixSummary;
}

/** cell -> its status ("EXPECTED", "MISSING", ...; with two results or more, the list). */
export function verdicts(s: MatrixSummary): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of s.cells)
    out[c.key] = c.results.length > 1 ? `${c.status} (${c.results.map((r) => r.outcome).join(' + ')})` : c.status;
  return out;
}

/** The cells whose verdicts differ between the legs (a cell absent from a leg counts as differing). */
export function differences(legs: Record<string, Record<string, string>>): Array<Record<string, string>> {
  const names = Object.keys(legs);
  const keys = [...new Set(names.flatMap((n) => Object.keys(legs[n])))].sort();
  const out: Array<Record<string, string>> = [];
  for (const k of keys) {
    const seen = names.map((n) => legs[n][k] ?? 'absent');
    if (new Set(seen).size > 1) out.push({ cell: k, ...Object.fromEntries(names.map((n, i) => [n, seen[i]])) });
  }
  return out;
}

/** Why the engine at `host` (a unix:// socket) does not answer, or undefined when it does. */
export async function engineAnswers(host: string): Promise<string | undefined> {
  const { assertDockerReachable, dockerSocketPath } = await import('../engine/docker');
  try {
    await assertDockerReachable({ socketPath: dockerSocketPath({ DOCKER_HOST: host }), timeoutMs: 3000 });
    return undefined;
  } catch (err) {
    return (err as Error).message.split(';')[0];
  }
}

const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);

interface Leg {
  name: string;
  what: string;
  seconds?: number;
  codes?: Array<number | null>;
  verdicts?: Record<string, string>;
  totals?: MatrixSummary['totals'];
  skipped?: string;
  /** two engines: each shard's wall time, and what the measured durations predicted of it */
  shards?: Array<{ shard: string; seconds: number; predictedSeconds: number }>;
}

async function main(): Promise<void> {
  // The offline flavour: the benchmark builds its images here, where precise's base may not exist.
  const flavour = process.env.BENCH_MATRIX_FLAVOUR ?? OFFLINE_FLAVOUR;
  const server = process.env.BENCH_MATRIX_SERVER;
  const legsAsked = (process.env.BENCH_MATRIX_LEGS ?? 'j1,j2,two').split(',').map((s) => s.trim());
  const root = projectRoot();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-matrix-'));
  const base = ['scenario', 'run', '--all', '--flavour', flavour, ...(server ? ['--server', server] : [])];
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const legs: Leg[] = [];
  const code = snapshot(work, root);
  say(`running a frozen copy of dist/ and images/: ${code}`);

  // The image first, outside the clock: a build must not count against the first leg.
  say(`building what is missing of the ${flavour} image (not timed)`);
  const build = await startLab(['build', '--flavour', flavour], {
    home: path.join(work, 'build'),
    tag: '[build]',
    root: code,
  }).done;
  if (build.code !== 0) throw new Error(`lab build failed:\n${build.tail.slice(-20).join('\n')}`);

  for (const jobs of [1, 2]) {
    const name = `j${jobs}`;
    if (!legsAsked.includes(name)) continue;
    say(`leg ${name}: ${base.join(' ')} --jobs ${jobs}`);
    const home = path.join(work, name);
    const r = await startLab([...base, '--jobs', String(jobs)], { home, tag: `[${name}]`, log, root: code }).done;
    const s = latestSummaryJson(home);
    legs.push({
      name,
      what: `one engine, --jobs ${jobs}`,
      seconds: r.seconds,
      codes: [r.code],
      verdicts: verdicts(s),
      totals: s.totals,
    });
    say(`leg ${name}: ${r.seconds.toFixed(0)} s, exit ${r.code}`);
  }

  if (legsAsked.includes('two')) {
    const gone = await engineAnswers(SECOND_ENGINE);
    if (gone) {
      legs.push({
        name: 'two',
        what: 'two engines, one shard each',
        skipped: `no second engine at ${SECOND_ENGINE} (${gone}): start it with test/support/second-dockerd.sh start`,
      });
      say(`leg two: SKIPPED: ${legs[legs.length - 1].skipped}`);
    } else {
      say(`leg two: --shard 1/2 on the first engine and --shard 2/2 on ${SECOND_ENGINE}, at once`);
      // The second engine needs the image the first one has: the same content-hash tag.
      const load = spawn(path.join(root, 'test', 'support', 'second-dockerd.sh'), ['load'], { stdio: 'inherit' });
      await new Promise((r) => load.on('close', r));
      const t = Date.now();
      const runs = await Promise.all([
        startLab([...base, '--shard', '1/2'], { home: path.join(work, 'two-a'), tag: '[two e1]', log, root: code })
          .done,
        startLab([...base, '--shard', '2/2'], {
          home: path.join(work, 'two-b'),
          dockerHost: SECOND_ENGINE,
          tag: '[two e2]',
          log,
          root: code,
        }).done,
      ]);
      const seconds = (Date.now() - t) / 1000;
      const out = path.join(work, 'two-merged');
      const merged = await startLab(
        ['report', '--merge', path.join(work, 'two-a'), path.join(work, 'two-b'), '--out', out],
        {
          home: path.join(work, 'two-m'),
          tag: '[merge]',
          log,
          root: code,
        },
      ).done;
      const s = latestSummaryJson(out);
      const predicted = shardSeconds(catalogueMatrix(flavoursOf(flavour), server), 2);
      legs.push({
        name: 'two',
        what: 'two engines, one shard each, merged',
        seconds,
        shards: runs.map((r, i) => ({ shard: `${i + 1}/2`, seconds: r.seconds, predictedSeconds: predicted[i] })),
        codes: [...runs.map((r) => r.code), merged.code],
        verdicts: verdicts(s),
        totals: s.totals,
      });
      say(`leg two: ${seconds.toFixed(0)} s, exits ${runs.map((r) => r.code).join(', ')}, merge ${merged.code}`);
      say(
        `leg two: shards took ${runs.map((r, i) => `${r.seconds.toFixed(0)} s (${predicted[i]} s of measured time)`).join(' and ')}`,
      );
    }
  }

  const ran = legs.filter((l) => l.verdicts);
  const diffs = differences(Object.fromEntries(ran.map((l) => [l.name, l.verdicts!])));
  const result = {
    kind: 'bench-matrix',
    at: new Date().toISOString(),
    host: { name: os.hostname(), cpus: os.cpus().length, loadavg: os.loadavg(), memGb: os.totalmem() / 2 ** 30 },
    flavour,
    server: server ?? "each scenario's own",
    code,
    legs,
    sameVerdicts: diffs.length === 0,
    differences: diffs,
    workDir: work,
  };
  const outDir = path.join(root, 'results');
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `bench-matrix-${stamp}.json`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);

  const j1 = legs.find((l) => l.name === 'j1')?.seconds;
  const rows = legs.map((l) => {
    if (l.skipped) return `${l.name.padEnd(5)} ${l.what.padEnd(38)} skipped: ${l.skipped}`;
    const t = l.totals!;
    const speedup = j1 && l.seconds ? `x${(j1 / l.seconds).toFixed(2)}` : '';
    return (
      `${l.name.padEnd(5)} ${l.what.padEnd(38)} ${l.seconds!.toFixed(0).padStart(5)} s ` +
      `${speedup.padStart(6)}  exit ${l.codes!.join(',')}  ${t.expected} expected ` +
      `${t.unexpected} unexpected ${t.notRun} not run ${t.infrastructure} infra ${t.missing} missing`
    );
  });
  process.stdout.write(
    `\nmatrix: ${flavour}, ${Object.keys(ran[0]?.verdicts ?? {}).length} cells\n${rows.join('\n')}\n`,
  );
  process.stdout.write(
    diffs.length === 0
      ? `verdicts: the same in every leg\n`
      : `verdicts differ in ${diffs.length} cell(s):\n${diffs.map((d) => `  ${JSON.stringify(d)}`).join('\n')}\n`,
  );
  process.stdout.write(`results: ${path.relative(process.cwd(), file)}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench:matrix: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  });
}
