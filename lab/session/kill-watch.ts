import type { ScenarioContext } from './context';
import { appJobEvents } from './job-events';
import { sleep } from './context';
import { ExitCode } from '../../src/errors';
import { initState, mastersStarted, parseLifecycle, startFailed, statusLine, trackedServingMaster } from './observe';

/**
 * SIGKILL of the master (or a worker) under load, then watching how init and the master
 * recover: when init tracks a new master, when a new worker answers, what became of the
 * socket. Shared by master-killed, master-killed-respawn and worker-killed.
 */
export type KillFacts = {
  killedPid: number;
  /** init's state at the first look after the kill */
  initRightAfter: string;
  /** init's tracked pid before the kill (the master itself, or the wrapper in front of it) */
  trackedBefore: number;
  /** init's tracked pid at the end of the watch (null: nothing) */
  trackedAfter: number | null;
  /** ms from the kill until what init tracks served again through a new master (null: never within the watch) */
  initTracksAgainMs: number | null;
  /** ms from the kill until a worker that did not exist before answered */
  newWorkerAnsweredMs: number | null;
  /** requests that ended after the kill and failed (those in flight at the kill included) */
  failedAfterKill: number;
  failuresAfterKill: string;
  socketAfter: string;
  /** phoenix refused an inherited fd (UPSTART_FDS naming a closed descriptor after a respawn) */
  badInheritedFd: number;
  mastersStarted: number;
  /** upstart, from its own job events (the job-events task, where the boot installs it): starts of the job after the kill */
  jobStartsAfterKill: number;
  /** ...and the job's failed stops after the kill, and how each ended ('the respawn limit', 'exit 1') */
  jobRunsFailedAfterKill: number;
  jobFailedStatuses: string;
  socketEvents: number;
  /** single requests sent during the watch, each a new visitor (a new connection to the socket) */
  probes: number;
  probesOk: number;
  /** systemd: NRestarts of phoenix.service at the end */
  systemdRestarts: number;
  initStateAfter: string;
  samples: string[];
};

export async function killUnderLoad(
  ctx: ScenarioContext,
  o: { target: 'master' | 'worker'; watchMs: number },
): Promise<KillFacts> {
  await ctx.warmUp();
  const first = await ctx.inspect();
  // The master that serves: init's own process, or the one the wrapper init tracks runs.
  const master = trackedServingMaster(first);
  if (!master) throw new Error(`nothing init tracks serves after the first request: ${statusLine(first)}`);
  const worker = first.workers.find((w) => w.master === master)?.pid;
  const pid = o.target === 'master' ? master : worker;
  if (!pid) throw new Error(`no ${o.target} to kill: ${statusLine(first)}`);
  const oldWorkers = new Set(first.workers.map((w) => w.pid));

  ctx.load({ durationMs: 120_000, slowEvery: 10, slowMs: 300 });
  await sleep(800);
  const killedAt = ctx.now();
  const t = Date.now();
  await ctx.signal('KILL', pid, o.target);
  let initRightAfter = '';
  let tracksAgain: number | null = null;
  const samples: string[] = [];
  let probes = 0;
  let probesOk = 0;
  const pending: Promise<void>[] = [];
  while (Date.now() - t < o.watchMs) {
    // The load has a fixed number of connections, which can all be stuck in a queue nobody
    // accepts; real sites keep getting new visitors, and each one is a new connection (a new
    // `socket` event for the bridge). One such visitor per look, not waited for.
    probes++;
    pending.push(ctx.get('/health').then((r) => void (r.status === 200 && probesOk++)));
    const s = await ctx.inspect();
    if (!initRightAfter) initRightAfter = initState(s);
    // A master counts once it has workers: a respawned one that is about to fail does not.
    const serving = trackedServingMaster(s);
    if (tracksAgain === null && serving !== undefined && (o.target === 'worker' || serving !== pid)) {
      tracksAgain = Date.now() - t;
      if (o.target === 'master')
        ctx.mark('note', `${ctx.driver.init} tracks ${s.init.trackedPid}, master ${serving} serves`);
    }
    samples.push(`${((Date.now() - t) / 1000).toFixed(1)} s: ${statusLine(s)}`);
    await sleep(250);
  }
  const records = await ctx.loadHandle!.stop();
  await Promise.all(pending);
  const after = await ctx.inspect();
  const log = await ctx.wrapperLog();
  // Requests in flight at the kill started before it: judged by when they ended.
  const failedAfter = records.filter((r) => r.error && r.end >= killedAt);
  const byClass: Record<string, number> = {};
  for (const r of failedAfter) byClass[r.error as string] = (byClass[r.error as string] ?? 0) + 1;
  const fresh = records
    .filter((r) => !r.error && r.start >= killedAt && r.pid !== undefined && !oldWorkers.has(r.pid))
    .map((r) => r.end - killedAt);
  const restarts = await ctx.restarts();
  const jobEvents = (await appJobEvents(ctx)).filter((e) => e.at >= t);
  const failedRuns = jobEvents.filter((e) => e.event === 'stopping' && e.result === 'failed');
  return {
    killedPid: pid,
    trackedBefore: first.init.trackedPid ?? 0,
    trackedAfter: after.init.trackedPid ?? null,
    initRightAfter,
    initTracksAgainMs: tracksAgain,
    newWorkerAnsweredMs: fresh.length ? Math.round(Math.min(...fresh)) : null,
    failedAfterKill: failedAfter.length,
    failuresAfterKill:
      Object.entries(byClass)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ') || 'none',
    socketAfter: after.socket ? `${after.socket.owner}:${after.socket.group} ${after.socket.mode}` : 'absent',
    // starts refused because UPSTART_FDS named no listening socket (exit 65), from events
    badInheritedFd: parseLifecycle(log).filter((e) => startFailed(e, ExitCode.LISTENER)).length,
    mastersStarted: mastersStarted(parseLifecycle(log)).length,
    jobStartsAfterKill: jobEvents.filter((e) => e.event === 'starting').length,
    jobRunsFailedAfterKill: failedRuns.length,
    // A respawn emits `starting` again but no `stopping`; the respawn limit ends the loop with
    // RESULT=failed PROCESS=respawn (upstart 1.5's job_process_terminated), and no exit status.
    jobFailedStatuses:
      [
        ...new Set(
          failedRuns.map((e) =>
            e.process === 'respawn' ? 'the respawn limit' : e.status ? `exit ${e.status}` : `signal ${e.signal || '?'}`,
          ),
        ),
      ].join(', ') || 'none',
    socketEvents: await ctx.socketEvents(),
    probes,
    probesOk,
    systemdRestarts: restarts,
    initStateAfter: statusLine(after),
    samples,
  };
}
