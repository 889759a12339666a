/**
 * Where and when a cell ran, and what a shard meant to run: the two small files that let
 * `lab report --merge` put results from many shards, jobs and machines into one matrix.
 *
 *  - where.json, in each run folder (beside result.json): the host, the engine, the shard and
 *    the job slot, and an id that tells a copied folder (the same run) from a second run.
 *  - plan.json, in a `run --all` summary folder, written before the first cell starts: the
 *    whole matrix with the shard of every cell, and this shard's share. A shard that died
 *    still left its plan; a shard that never started left none, and its siblings' plans say
 *    which cells were its.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { EngineIdentity } from '../engine/docker';
import type { Flavour } from '../engine/flavour-images';
import { type Cell, type Shard, assignShards, cellKey, shardText } from './cells';

export interface Where {
  /** one id per run: a folder copied into two artifacts is the same run, not a duplicate */
  runId: string;
  host: string;
  /** DOCKER_HOST as the run used it */
  engine: string;
  engineName?: string;
  engineId?: string;
  /** "I/N" when the run was one shard of a matrix */
  shard?: string;
  /** the job slot (1..jobs) that ran it under --jobs */
  job?: number;
  jobs?: number;
  /** a CI runner's name and job, when there is one */
  runner?: string;
  pid: number;
}

/** Where this process runs its cells (everything but the run id and the job slot). */
export function whereHere(engine: EngineIdentity, shard?: Shard, jobs?: number): Omit<Where, 'runId' | 'job'> {
  const gh = process.env.GITHUB_ACTIONS ? [process.env.RUNNER_NAME, process.env.GITHUB_JOB].filter(Boolean) : [];
  return {
    host: os.hostname(),
    engine: engine.host,
    engineName: engine.name,
    engineId: engine.id,
    shard: shard ? shardText(shard) : undefined,
    jobs,
    runner: gh.length ? `github: ${gh.join(' / ')}` : undefined,
    pid: process.pid,
  };
}

export function writeWhere(dir: string, where: Omit<Where, 'runId'>): Where {
  const full: Where = { runId: randomUUID(), ...where };
  fs.writeFileSync(path.join(dir, 'where.json'), `${JSON.stringify(full, null, 1)}\n`);
  return full;
}

export const PLAN_KIND = 'upstart-unicorn-lab/plan';

export interface Plan {
  kind: typeof PLAN_KIND;
  version: 1;
  startedAt: string;
  flavours: Flavour[];
  /** --server as given; undefined: each scenario's own server */
  server?: string;
  /** the shard this plan is, when the matrix was split */
  shard?: { index: number; count: number };
  /** the whole matrix (every shard's cells), each with the shard it belongs to (1 unsplit) */
  cells: Array<{ key: string; shard: number }>;
  /** this shard's cells */
  mine: string[];
  where: Omit<Where, 'runId' | 'job'>;
}

export function makePlan(o: {
  matrix: readonly Cell[];
  flavours: Flavour[];
  server?: string;
  shard?: Shard;
  where: Omit<Where, 'runId' | 'job'>;
}): Plan {
  const count = o.shard?.count ?? 1;
  const of = assignShards(o.matrix, count);
  const cells = o.matrix.map((c, i) => ({ key: cellKey(c), shard: of[i] }));
  return {
    kind: PLAN_KIND,
    version: 1,
    startedAt: new Date().toISOString(),
    flavours: o.flavours,
    server: o.server,
    shard: o.shard ? { index: o.shard.index, count: o.shard.count } : undefined,
    cells,
    mine: cells.filter((c) => c.shard === (o.shard?.index ?? 1)).map((c) => c.key),
    where: o.where,
  };
}

export function writePlan(dir: string, plan: Plan): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'plan.json');
  fs.writeFileSync(file, `${JSON.stringify(plan, null, 1)}\n`);
  return file;
}

/** Plans of the same matrix split the same way, whichever shard they are. */
export const planGroup = (p: Pick<Plan, 'flavours' | 'server' | 'shard'>): string =>
  `${p.flavours.join(',')}|${p.server ?? 'own'}|${p.shard?.count ?? 1}`;
