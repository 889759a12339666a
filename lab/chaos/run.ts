import * as fs from 'node:fs';
import * as path from 'node:path';
import type Docker from 'dockerode';
import { summarize } from '../check/continuity';
import type { Flavour } from '../engine/flavour-images';
import type { InitDriver } from '../flavours/types';
import { formatStatus, type LabStatus } from '../inspect';
import type { RequestRecord } from '../load/record';
import { writeReport } from '../report/write';
import { createRun, labHome, type RunMeta, writeJson } from '../runs';
import { ScenarioContext, sleep } from '../session/context';
import { collectLogs } from '../session/runner';
import type { ServerDriver } from '../servers/types';
import { type Budget, budgetFor } from './budgets';
import { inject } from './nemeses';
import { FAULT_INFO, type FaultKind } from './faults';
import { type OutsiderRecord, startOutsider } from './outsider';
import type { ScheduledFault } from './schedule';
import { type ChaosVerdict, type DoneFault, judgeChaos } from './verdict';

/** The lab a chaos run acts on: booted by `lab chaos` itself, or a running `lab up` lab. */
export interface ChaosTarget {
  docker: Docker;
  container: Docker.Container;
  flavour: Flavour;
  driver: InitDriver;
  server: ServerDriver;
  origin: string;
  port: number;
  instance: string;
  workerTimeoutS: number;
}

export interface ChaosRunOptions {
  seed: number;
  durationMs: number;
  faults: FaultKind[];
  schedule: ScheduledFault[];
  /** the lab's own load */
  rate: number;
  concurrency: number;
  /** the independent client */
  outsiderRate: number;
  budgetOverrides?: Partial<Record<FaultKind, Budget>>;
  say: (line: string) => void;
  home?: string;
}

export interface ChaosResult {
  verdict: ChaosVerdict;
  dir: string;
  report: string;
  done: DoneFault[];
}

/** An upgrade or a replacement still under way: a .oldbin master, two serving masters, or two worker generations. */
export function inProgress(s: LabStatus): string | undefined {
  if (s.oldbin) return `a .oldbin master (${s.oldbin}) still lives`;
  const serving = s.masters.filter((m) => s.workers.some((w) => w.master === m.pid));
  if (serving.length > 1) return `${serving.length} masters serve`;
  const gens = new Set(s.workers.map((w) => w.generation));
  if (gens.size > 1) return `worker generations ${[...gens].join('+')} both alive`;
  if (s.workers.length === 0) return 'no worker is running';
  if (!s.init.trackedPid) return 'init tracks no process';
  return undefined;
}

export async function runChaos(t: ChaosTarget, o: ChaosRunOptions): Promise<ChaosResult> {
  const startedAt = new Date().toISOString();
  const home = o.home ?? labHome();
  const dir = createRun('scenario', `chaos-${t.flavour}-${t.server.name}`, home);
  const meta: RunMeta = {
    name: 'chaos',
    kind: 'scenario',
    startedAt,
    origin: t.origin,
    instance: t.instance,
    flavour: t.flavour,
    options: {
      seed: o.seed,
      durationMs: o.durationMs,
      faults: o.faults,
      server: t.server.name,
      rate: o.rate,
      concurrency: o.concurrency,
      outsiderRate: o.outsiderRate,
      workerTimeoutS: t.workerTimeoutS,
      budgetOverrides: o.budgetOverrides ?? {},
    },
  };
  writeJson(path.join(dir, 'meta.json'), meta);
  // Saved before anything is done: a run killed half-way still says what it was going to do.
  writeJson(path.join(dir, 'schedule.json'), {
    seed: o.seed,
    durationMs: o.durationMs,
    faults: o.faults,
    schedule: o.schedule,
  });

  const ctx = new ScenarioContext(t.flavour, t.driver, t.server, t.docker, t.container, t.origin, o.say);
  const before = await ctx.inspect();
  const budgetOf = (k: FaultKind) => o.budgetOverrides?.[k] ?? budgetFor(t.flavour, t.server.name, k);

  ctx.load({ durationMs: o.durationMs, rate: o.rate, concurrency: o.concurrency, timeoutMs: 20_000 });
  const t0 = performance.now() - ctx.now();
  const outsider = startOutsider({
    port: t.port,
    rate: o.outsiderRate,
    concurrency: 2,
    timeoutMs: 20_000,
    t0,
  });

  const done: DoneFault[] = [];
  let records: RequestRecord[] = [];
  let outs: OutsiderRecord[] = [];
  try {
    for (const f of o.schedule) {
      const wait = f.at - ctx.now();
      if (wait > 0) await sleep(wait);
      const d: DoneFault = { n: f.n, kind: f.kind, at: f.at, holdMs: f.holdMs, detail: '' };
      done.push(d);
      // Faults are composed safely: the next one waits until the last has settled (an upgrade
      // finished, a replaced worker up); a USR2 during an upgrade is skipped, as unicorn would refuse it.
      let s = await ctx.inspect();
      const settleBy = ctx.now() + Math.min(8000, Math.max(2000, f.slotMs));
      while (inProgress(s) && ctx.now() < settleBy) {
        await sleep(250);
        s = await ctx.inspect();
      }
      const busy = inProgress(s);
      if (busy && f.kind === 'usr2') {
        d.skipped = `upgrade in progress: ${busy}`;
        ctx.mark('note', `#${f.n} usr2 skipped: ${busy}`);
        continue;
      }
      if (ctx.now() > o.durationMs - 500) {
        d.skipped = 'no time left in the run (the previous fault took long to settle)';
        ctx.mark('note', `#${f.n} ${f.kind} skipped: no time left`);
        continue;
      }
      d.startedAt = ctx.now();
      try {
        d.detail = await inject(ctx, t, f, s, busy);
      } catch (err) {
        d.detail = `failed: ${(err as Error).message}`;
        d.error = (err as Error).message.split('\n')[0];
        ctx.mark('note', `#${f.n} ${f.kind} could not be carried out: ${(err as Error).message}`);
      }
    }
    const left = o.durationMs - ctx.now();
    if (left > 0) await sleep(left);
  } finally {
    records = await ctx.allRecords();
    outs = await outsider.stop();
  }
  const endMs = Math.max(o.durationMs, ...records.map((r) => r.end));
  const verdict = judgeChaos({
    faults: done,
    records,
    outsider: outs,
    budgetOf,
    endMs,
    connections: o.concurrency,
  });
  const after = await ctx.inspect().catch(() => undefined);
  const logs = await collectLogs(ctx).catch(() => [] as string[]);
  writeJson(path.join(dir, 'outsider.json'), outs);
  writeJson(path.join(dir, 'chaos.json'), {
    seed: o.seed,
    flavour: t.flavour,
    server: t.server.name,
    ok: verdict.ok,
    costs: verdict.costs,
    baseline: verdict.baseline,
    lab: verdict.lab,
    outsider: verdict.outsider,
    missed: verdict.missed,
  });
  const report = writeReport(dir, {
    title: `lab chaos: seed ${o.seed}, ${o.schedule.length} faults on ${t.flavour} with ${t.server.name}`,
    scenario: 'chaos',
    flavour: t.flavour,
    verdict: { outcome: verdict.ok ? 'EXPECTED' : 'UNEXPECTED', reasons: verdict.lines },
    continuity: summarize(records),
    records,
    actions: ctx.actions(),
    initBefore: formatStatus(before),
    initAfter: after ? formatStatus(after) : undefined,
    logs: [`seed ${o.seed}; schedule in schedule.json; the independent client's requests in outsider.json`, ...logs],
    startedAt,
  });
  fs.writeFileSync(path.join(dir, 'verdict.txt'), `${verdict.lines.join('\n')}\n`);
  return { verdict, dir, report, done };
}

export const faultTitle = (k: FaultKind): string => FAULT_INFO[k].title;
