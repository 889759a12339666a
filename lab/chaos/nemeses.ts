import { targetPid } from '../commands/signal';
import { execIn } from '../engine/containers';
import { formatStatus, type LabStatus } from '../inspect';
import { masterSignalTarget } from '../servers';
import type { ServerDriver } from '../servers/types';
import { type ScenarioContext, sleep } from '../session/context';
import type { FaultKind } from './faults';
import { appPids, OWNER_WAIT_MS, socketOwners } from './listeners';
import { HEADROOM_MB, oomKillMaster } from './oom';
import type { ChaosTarget } from './run';
import type { ScheduledFault } from './schedule';

/**
 * Each fault is one nemesis: a function that does it to the lab and says what it did, in one
 * line for the run's schedule. The schedule picks the fault; the verdict judges its cost; a
 * nemesis only acts (and throws when it cannot, with the lab's status).
 */
interface Hit {
  ctx: ScenarioContext;
  t: ChaosTarget;
  f: ScheduledFault;
  /** the lab as it was just before the fault */
  s: LabStatus;
  /** `#N kind`, for the timeline's markers */
  tag: string;
  /** '; not settled: ...' when the previous fault had not settled yet ('' when it had) */
  why: string;
  /** the pid `what` names, or an error that shows the lab's status */
  need(pid: number | undefined, what: string): number;
}

type Nemesis = (h: Hit) => Promise<string>;

/** Master-directed signals: to the master, or to unicorn-wrapper for unicorn (it forwards); the server driver says which. */
function masterTarget(s: LabStatus, server: ServerDriver): { pid?: number; who: string } {
  const to = masterSignalTarget(server, s);
  return { pid: to.pid, who: to.role === 'wrapper' ? 'the wrapper (forwards to the master)' : 'master' };
}

const shq = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

const signalMaster: Nemesis = async ({ ctx, t, f, s, tag, why, need }) => {
  const master = masterTarget(s, t.server);
  const pid = need(master.pid, master.who);
  const sig = f.kind.toUpperCase();
  await ctx.signal(sig, pid, master.who, `${tag}${why}`);
  return `${sig} -> ${master.who} ${pid}`;
};

const ttinTtou: Nemesis = async ({ ctx, t, s, tag, need }) => {
  const master = masterTarget(s, t.server);
  const pid = need(master.pid, master.who);
  await ctx.signal('TTIN', pid, master.who, tag);
  await sleep(1000);
  await ctx.signal('TTOU', pid, master.who, tag);
  return `TTIN, TTOU -> ${master.who} ${pid}`;
};

const killWorker: Nemesis = async ({ ctx, s, tag, why, need }) => {
  const pid = need(targetPid(s, 'worker', 0), 'worker');
  await ctx.signal('KILL', pid, 'worker 0', `${tag}${why}`);
  return `KILL -> worker ${pid}`;
};

const killMaster: Nemesis = async ({ ctx, s, tag, why, need }) => {
  // The real master, by its pid file: unicorn behind the wrapper too (the wrapper is not the master).
  const pid = need(s.pidFile ?? s.init.trackedPid, 'master');
  await ctx.signal('KILL', pid, 'master', `${tag}${why}`);
  return `KILL -> master ${pid}`;
};

const stopWorker: Nemesis = async ({ ctx, t, f, s, tag, need }) => {
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
};

const nginxReload: Nemesis = async ({ ctx, s, tag, need }) => {
  const pid = need(s.nginx.find((n) => n.role === 'master')?.pid, 'nginx master');
  await ctx.signal('HUP', pid, 'nginx', tag);
  return `HUP -> nginx ${pid}`;
};

const oomMaster: Nemesis = async ({ ctx, t, s, tag, why, need }) => {
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
};

const bridgeRestart: Nemesis = async ({ ctx, t, tag }) => {
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
};

/** The app's job, or nginx's: init stops it with its kill signal and starts it again. */
const restartThroughInit =
  (job: (t: ChaosTarget) => string): Nemesis =>
  async ({ ctx, t, tag }) => {
    const plan = t.driver.initctl(['restart', job(t)], t.server);
    if ('refuse' in plan) throw new Error(plan.refuse);
    const r = await ctx.act('initctl', `${plan.label} (${tag})`, () => ctx.sh(plan.cmd.map(shq).join(' ')));
    if (r.code !== 0) throw new Error(`${plan.label} exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
    return plan.label;
  };

const pause: Nemesis = async ({ ctx, t, f, tag }) => {
  ctx.mark('docker', `${tag}: docker pause (${f.holdMs} ms)`);
  await t.container.pause();
  try {
    await sleep(f.holdMs ?? 1000);
  } finally {
    await t.container.unpause();
    ctx.mark('docker', `${tag}: docker unpause`);
  }
  return `docker pause for ${f.holdMs} ms`;
};

/** Every fault's nemesis; a new fault kind does not compile until it has one. */
const NEMESES: Record<FaultKind, Nemesis> = {
  usr2: signalMaster,
  hup: signalMaster,
  'ttin-ttou': ttinTtou,
  'kill-worker': killWorker,
  'kill-master': killMaster,
  'stop-worker': stopWorker,
  'nginx-reload': nginxReload,
  'oom-master': oomMaster,
  'bridge-restart': bridgeRestart,
  restart: restartThroughInit((t) => t.server.job),
  'nginx-restart': restartThroughInit(() => 'nginx'),
  pause,
};

/** Does fault `f` to the lab seen as `s`; says what it did. `busy`: why the lab had not settled (or undefined). */
export function inject(
  ctx: ScenarioContext,
  t: ChaosTarget,
  f: ScheduledFault,
  s: LabStatus,
  busy: string | undefined,
): Promise<string> {
  return NEMESES[f.kind]({
    ctx,
    t,
    f,
    s,
    tag: `#${f.n} ${f.kind}`,
    why: busy ? `; not settled: ${busy}` : '',
    need: (pid, what) => {
      if (!pid) throw new Error(`no ${what} to act on:\n${formatStatus(s)}`);
      return pid;
    },
  });
}
