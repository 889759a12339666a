import * as fs from 'node:fs';
import * as path from 'node:path';
import type Docker from 'dockerode';
import { summarize } from '../check/continuity';
import { targetPid } from '../commands/signal';
import type { Flavour } from '../engine/flavour-images';
import type { InitDriver } from '../flavours/types';
import { formatStatus, type LabStatus } from '../inspect';
import type { RequestRecord } from '../load/record';
import { writeReport } from '../report/write';
import { execIn } from '../engine/containers';
import { createRun, labHome, type RunMeta, writeJson } from '../runs';
import { ScenarioContext, sleep } from '../session/context';
import { collectLogs } from '../session/runner';
import { masterSignalTarget } from '../servers';
import type { ServerDriver } from '../servers/types';
import { type Budget, budgetFor } from './budgets';
import { FAULT_INFO, type FaultKind } from './faults';
import { appPids, OWNER_WAIT_MS, socketOwners } from './listeners';
import { HEADROOM_MB, oomKillMaster } from './oom';
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

/** Master-directed signals: to the master, or to unicorn-wrapper for unicorn (it forwards); the server driver says which. */
function masterTarget(s: LabStatus, server: ServerDriver): { pid?: number; who: string } {
  const to = masterSignalTarget(server, s);
  return { pid: to.pid, who: to.role === 'wrapper' ? 'the wrapper (forwards to the master)' : 'master' };
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

async function inject(
  ctx: ScenarioContext,
  t: ChaosTarget,
  f: ScheduledFault,
  s: LabStatus,
  busy: string | undefined,
): Promise<string> {
  const tag = `#${f.n} ${f.kind}`;
  const why = busy ? `; not settled: ${busy}` : '';
  const master = masterTarget(s, t.server);
  const need = (pid: number | undefined, what: string): number => {
    if (!pid) throw new Error(`no ${what} to act on:\n${formatStatus(s)}`);
    return pid;
  };
  switch (f.kind) {
    case 'usr2':
    case 'hup': {
      const pid = need(master.pid, master.who);
      const sig = f.kind.toUpperCase();
      await ctx.signal(sig, pid, master.who, `${tag}${why}`);
      return `${sig} -> ${master.who} ${pid}`;
    }
    case 'ttin-ttou': {
      const pid = need(master.pid, master.who);
      await ctx.signal('TTIN', pid, master.who, tag);
      await sleep(1000);
      await ctx.signal('TTOU', pid, master.who, tag);
      return `TTIN, TTOU -> ${master.who} ${pid}`;
    }
    case 'kill-worker': {
      const pid = need(targetPid(s, 'worker', 0), 'worker');
      await ctx.signal('KILL', pid, 'worker 0', `${tag}${why}`);
      return `KILL -> worker ${pid}`;
    }
    case 'kill-master': {
      // The real master, by its pid file: unicorn behind the wrapper too (the wrapper is not the master).
      const pid = need(s.pidFile ?? s.init.trackedPid, 'master');
      await ctx.signal('KILL', pid, 'master', `${tag}${why}`);
      return `KILL -> master ${pid}`;
    }
    case 'stop-worker': {
      const pid = need(targetPid(s, 'worker', 0), 'worker');
      await ctx.signal(
        'STOP',
        pid,
        'worker 0',
        `${tag}: held ${((f.holdMs ?? 0) / 1000).toFixed(1)} s, timeout ${t.workerTimeoutS} s`,
      );
      await sleep(f.holdMs ?? 0);
      // The master has SIGKILLed it by now; CONT is for a master that did not.
      const r = await ctx.sh(`kill -CONT ${pid} 2>/dev/null && echo alive || echo gone`);
      ctx.mark(
        'note',
        `${tag}: worker ${pid} ${r.stdout.trim() === 'alive' ? 'still alive, SIGCONT sent' : 'gone (killed by its master)'}`,
      );
      return `STOP -> worker ${pid} for ${f.holdMs} ms (${r.stdout.trim()})`;
    }
    case 'nginx-reload': {
      const pid = need(s.nginx.find((n) => n.role === 'master')?.pid, 'nginx master');
      await ctx.signal('HUP', pid, 'nginx', tag);
      return `HUP -> nginx ${pid}`;
    }
    case 'oom-master': {
      // The real master, as kill-master: the OOM killer hits the process that holds the memory.
      const pid = need(s.pidFile ?? s.init.trackedPid, 'master');
      ctx.mark('docker', `${tag}: memory limit on the container, master ${pid} the OOM killer's first choice${why}`);
      const exec = (cmd: string[]) => execIn(t.container, cmd);
      const o = await oomKillMaster({ docker: t.docker, container: t.container, exec }, pid);
      const what =
        `limit ${o.limitMb} MiB (${o.usageMb} used + ${HEADROOM_MB}), ` +
        (o.killed
          ? `master ${pid} killed by the kernel` +
            (o.hogKilled ? ', then the memory hog' : ` after ${o.hogMb} MiB more, ${o.ms} ms`)
          : `master ${pid} not killed`) +
        `, ${o.oomEvents} oom event${o.oomEvents === 1 ? '' : 's'} from the engine; limit lifted`;
      ctx.mark('docker', `${tag}: ${what}`);
      if (o.error) throw new Error(`${o.error} (${what})`);
      return `OOM killer -> master ${pid}: ${what}`;
    }
    case 'bridge-restart': {
      const plan = t.driver.restartSocketOwner(t.server);
      const r = await ctx.act('initctl', `${plan.label} (${tag})`, () => ctx.sh(plan.cmd.map(shq).join(' ')));
      if (r.code !== 0) throw new Error(`${plan.label} exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
      // The restarted owner must listen on the app's path again, or the next time the app stops
      // nothing starts it (upstart 1.5's bridge over its own stale socket file): said here, in
      // this fault's window, rather than as a later fault's endless 502s.
      const exec = (cmd: string[]) => execIn(t.container, cmd);
      const owners = await ctx.waitFor(
        async () => {
          // The app's pids seen before and after the holders are read: a worker or master born or
          // gone in between is still the app's, never taken for the socket's owner.
          const before = await ctx.inspect().catch(() => undefined);
          const holders = await socketOwners(exec, t.server.socketPath, before ? appPids(before) : []);
          const after = await ctx.inspect().catch(() => undefined);
          if (!before || !after) return undefined;
          const o = holders.filter((pid) => !appPids(after).includes(pid));
          return o.length ? o : undefined;
        },
        OWNER_WAIT_MS,
        250,
      );
      if (!owners)
        throw new Error(
          `after ${plan.label} nothing but the app listens on ${t.server.socketPath} (${OWNER_WAIT_MS / 1000} s): ` +
            'once the app stops, nothing starts it again',
        );
      ctx.mark('note', `${tag}: ${t.server.socketPath} listened on again by pid ${owners.join(', ')}`);
      return `${plan.label}; the socket's owner listens again (pid ${owners.join(', ')})`;
    }
    case 'restart':
    case 'nginx-restart': {
      // The app's job, or nginx's: init stops it with its kill signal and starts it again.
      const job = f.kind === 'restart' ? t.server.job : 'nginx';
      const plan = t.driver.initctl(['restart', job], t.server);
      if ('refuse' in plan) throw new Error(plan.refuse);
      const r = await ctx.act('initctl', `${plan.label} (${tag})`, () => ctx.sh(plan.cmd.map(shq).join(' ')));
      if (r.code !== 0) throw new Error(`${plan.label} exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
      return plan.label;
    }
    case 'pause': {
      ctx.mark('docker', `${tag}: docker pause (${f.holdMs} ms)`);
      await t.container.pause();
      try {
        await sleep(f.holdMs ?? 1000);
      } finally {
        await t.container.unpause();
        ctx.mark('docker', `${tag}: docker unpause`);
      }
      return `docker pause for ${f.holdMs} ms`;
    }
  }
}

const shq = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

export const faultTitle = (k: FaultKind): string => FAULT_INFO[k].title;
