import type { ScenarioContext } from './context';
import { sleep } from './context';
import { countLines, mastersStarted, parseLifecycle, servingMasters, statusLine } from './observe';
import { latestGeneration, waitForGenerationAbove } from './upgrades';

/**
 * One re-exec upgrade under load, then watching what init makes of it: who init tracks,
 * which masters serve, whether init (or the bridge) starts the job again beside a live one.
 * Shared by bridge-reexec, bridge-reexec-nopid and exec-respawn-reexec.
 */
export type ReexecFacts = {
  trackedBefore: number;
  /** ms from USR2 until init tracked nothing or another pid (null: it never lost it) */
  initLostAfterMs: number | null;
  /** some sample had a master serving while init tracked no master at all */
  untrackedServing: boolean;
  /** most masters with workers seen at once after the old master exited (the handover overlap is normal) */
  maxServingMasters: number;
  /** masters that logged `start` during the whole run (the first one included) */
  mastersStarted: number;
  /** starts phoenix refused because a live master held the pid file (exit 75) */
  refusedStarts: number;
  /** starts that failed to bind an address already in use (exit 69) */
  bindFailures: number;
  /** upstart: socket events the counter job saw; systemd: 0 */
  socketEvents: number;
  /** systemd: service invocations after the upgrade; upstart: job starts seen in the log */
  restartsAfterUpgrade: number;
  /** systemd: "Deactivated successfully" lines (the cgroup stopped after the main PID exited) */
  deactivations: number;
  /** generations that answered after the upgrade */
  generationsAfter: number[];
  initStateAfter: string;
  samples: string[];
};

export async function reexecUnderLoad(
  ctx: ScenarioContext,
  o: { watchMs: number; quitOld?: boolean; slowEvery?: number },
): Promise<ReexecFacts> {
  await ctx.warmUp();
  const first = await ctx.inspect();
  const pid = first.init.trackedPid;
  if (!pid) throw new Error(`init tracks no phoenix process after the first request: ${first.init.status}`);
  const invocation = async () =>
    ctx.flavour === 'bookworm' ? ((await ctx.unitProps('phoenix.service', ['InvocationID'])).InvocationID ?? '') : '';
  const inv0 = await invocation();
  const invocations = new Set<string>();
  const startsBefore = countLines(await ctx.wrapperLog(), / event=start /);

  ctx.load({ durationMs: 120_000, slowEvery: o.slowEvery ?? 10, slowMs: 300 });
  await sleep(600);
  const usr2At = Date.now();
  const gen = latestGeneration(ctx);
  await ctx.signal('USR2', pid, 'master', 'reexec upgrade');
  await waitForGenerationAbove(ctx, gen, 10_000);
  if (o.quitOld) {
    await sleep(300);
    await ctx.signal('QUIT', pid, 'old master', 'the operator retires it');
  }
  const upgradeAt = ctx.now();

  let lostAt: number | null = null;
  let untracked = false;
  let maxServing = 0;
  const samples: string[] = [];
  const until = Date.now() + o.watchMs;
  while (Date.now() < until) {
    const s = await ctx.inspect();
    const serving = servingMasters(s);
    if (!s.masters.some((m) => m.pid === pid)) maxServing = Math.max(maxServing, serving.length);
    const tracked = s.init.trackedPid;
    if (lostAt === null && tracked !== pid) {
      lostAt = Date.now() - usr2At;
      ctx.mark('note', `${ctx.driver.init} now tracks ${tracked ?? 'nothing'} (was ${pid})`);
    }
    if (serving.length > 0 && !serving.some((m) => m.tracked)) untracked = true;
    samples.push(`${((Date.now() - usr2At) / 1000).toFixed(1)} s: ${statusLine(s)}`);
    const inv = await invocation();
    if (inv && inv !== inv0) invocations.add(inv);
    await sleep(300);
  }
  const records = await ctx.loadHandle!.stop();
  const log = await ctx.wrapperLog();
  const after = await ctx.inspect();
  const journal =
    ctx.flavour === 'bookworm' ? (await ctx.sh('journalctl --no-pager -o cat -u phoenix.service')).stdout : '';
  return {
    trackedBefore: pid,
    initLostAfterMs: lostAt,
    untrackedServing: untracked,
    maxServingMasters: maxServing,
    mastersStarted: mastersStarted(parseLifecycle(log)).length,
    refusedStarts: countLines(log, /^phoenix: another master is running/),
    bindFailures: countLines(log, /^phoenix: .*(cannot bind|in use|EADDRINUSE)/i),
    socketEvents: await ctx.socketEvents(),
    restartsAfterUpgrade:
      ctx.flavour === 'bookworm'
        ? invocations.size
        : Math.max(0, countLines(log, / event=start /) - startsBefore - 1) +
          countLines(log, /^phoenix: another master is running/),
    deactivations: countLines(journal, /Deactivated successfully/),
    generationsAfter: [
      ...new Set(
        records
          .filter((r) => !r.error && r.start > upgradeAt && r.generation !== undefined)
          .map((r) => r.generation as number),
      ),
    ].sort((a, b) => a - b),
    initStateAfter: statusLine(after),
    samples,
  };
}
