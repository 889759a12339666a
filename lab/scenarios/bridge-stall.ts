import { budgetFor } from '../chaos/budgets';
import { writeFileLine } from '../engine/boot-spec';
import type { Flavour } from '../engine/flavour-images';
import type { ServerName } from '../servers/types';
import { ExitCode } from '../../src/errors';
import { upstart } from '../session/configs';
import { JOB_EVENTS_TASK, JOB_EVENTS_TASK_TEXT, appJobEvents } from '../session/job-events';
import { type ScenarioContext, sleep } from '../session/context';
import { Judge } from '../session/judge';
import { parseLifecycle, servingMasters, startFailed } from '../session/observe';
import { type BootSpec, type Expectation, type Scenario, perInit } from '../session/types';
import {
  GROUP,
  type JobEvent,
  type StretchFacts,
  Stretches,
  judgeNoneFailed,
  shippedConf,
  stretch,
  stretchLine,
} from '../session/unicorn-common';

/**
 * The bridge stall. `initctl restart` of a socket-bridge job sets the job's goal to stop and
 * at once to start (init/job_class.c, job_restart), with the restart's environment: no
 * UPSTART_FDS, so the new run has no socket and exits 64. While the goal is start, init drops
 * every `socket` event for the job (init/event.c starts a job only when its goal is not start
 * already): the connections nginx makes during the restart queue in the socket, their events
 * lost. The bridge watches the socket with EPOLLIN | EPOLLET (extra/upstart-socket-bridge.c):
 * it emits again only for a NEW connection, and with every client waiting for an answer none
 * comes until a client gives up. The shipped jobs' post-stop makes that new connection itself
 * after a run without UPSTART_FDS.
 */

/** The load's clients give up after this long (then reconnect): it bounds the stall. */
export const CLIENT_TIMEOUT_MS = 10_000;
/** Clients of the load, each waiting for its answer before it sends the next request, as nginx's are. */
export const CONNECTIONS = 4;
/**
 * Every request takes this long, so each client is nearly always waiting for an answer and sends
 * its next request as soon as one comes: at a restart every client's next connection is made
 * while the old master drains, long before the run without a socket exits. With quick requests
 * and a paced load a client can connect just as that run exits, and its event starts the job
 * (seen once in three phoenix runs): the stall is a race the slow requests take out.
 */
export const SLOW_MS = 250;

export const BEFORE = 'before the restart';
export const WITHOUT = 'restart, job without its post-stop';
export const SHIPPED = 'restart, as shipped';
/** The restarts each init runs, in order (bookworm: no post-stop to take out, one restart). */
export const RESTARTS: Record<Flavour, readonly string[]> = { precise: [WITHOUT, SHIPPED], bookworm: [SHIPPED] };

/** Each server's recommended upstart job as the repository ships it, where the lab puts it, what it runs. */
const SHIPPED_JOB: Record<ServerName, { file: string; target: string; program: string; text: () => string }> = {
  unicorn: {
    file: 'unicorn-wrapper.conf',
    target: '/etc/init/unicorn.conf',
    program: 'unicorn-wrapper',
    text: () => shippedConf('unicorn', 'upstart', 'unicorn-wrapper.conf'),
  },
  phoenix: {
    file: 'bridge-inplace.conf',
    target: '/etc/init/phoenix.conf',
    program: 'phoenix',
    text: () => upstart.strategy('bridge-inplace'),
  },
};

/**
 * The shipped job with its post-stop taken out (the stanza and the comment above it): the job
 * as it was before the fix. A shipped job without that post-stop is an error, not a no-op.
 */
export function withoutPostStop(job: string): string {
  const lines = job.split('\n');
  const start = lines.findIndex((l) => /^post-stop script\s*$/.test(l));
  if (start < 0) throw new Error('the shipped job has no `post-stop script` block to take out');
  const end = lines.findIndex((l, i) => i > start && /^end script\s*$/.test(l));
  if (end < 0) throw new Error('the shipped job has a `post-stop script` without its `end script`');
  let from = start;
  while (from > 0 && /^#/.test(lines[from - 1])) from--;
  while (from > 0 && lines[from - 1].trim() === '') from--;
  return [...lines.slice(0, from), ...lines.slice(end + 1)].join('\n').replace(/\n*$/, '\n');
}

/**
 * precise: the server's job (the server's activation put it in place) replaced by itself
 * without the post-stop, and the task that records upstart's job events. The boot does not
 * know the server, so it writes the job that is there. bookworm: the units as shipped.
 */
function boot(flavour: Flavour): BootSpec {
  return perInit(flavour, {
    precise: () => ({
      label:
        "the app's job as shipped minus its post-stop (the job before the fix); a task logging upstart's job events",
      files: { [JOB_EVENTS_TASK]: JOB_EVENTS_TASK_TEXT },
      shell: Object.values(SHIPPED_JOB).map(
        (j) => `if [ -f ${j.target} ]; then ${writeFileLine(j.target, withoutPostStop(j.text()))}; fi`,
      ),
    }),
    bookworm: () => ({ label: 'the units as shipped (systemd keeps the socket across a restart)' }),
  })();
}

type F = StretchFacts & {
  clientTimeoutMs: number;
  /** lab chaos's restart budget (longest gap) for this init and server */
  budgetGapMs: number;
  /** one slot per restart, in RESTARTS order */
  restartNames: string[];
  restartExit: number[];
  /** ms from the restart sent to the first 200 that ended after the restart returned (null: none) */
  backMs: Array<number | null>;
  /** runs that refused to start for want of a socket (start-failed code=64 events) */
  noSocketRuns: number[];
  /** precise, from upstart's own events: EXIT_STATUS of the run that failed after the restart ('' none) */
  failedStatus: string[];
  /** precise: ms from that run's `stopping` to upstart's next `starting` of the job (null: none) */
  downMs: Array<number | null>;
  /** precise: the bridge's socket events from the restart until that run stopped (all dropped: the goal was start) */
  eventsDuring: Array<number | null>;
  /** precise: ms from that run's `stopping` to the bridge's next socket event (null: none) */
  firstEventMs: Array<number | null>;
  /** after the load: `initctl stop`, then 3 s with no request */
  stopExit: number;
  trackedAfterStop: number | null;
  mastersAfterStop: number;
  /** `initctl start` with no request sent: ms until a master init tracks serves (null: not within 20 s) */
  startExit: number;
  startServingMs: number | null;
};

interface Restarted {
  name: string;
  exit: number;
  sentAt: number;
  returnedAt: number;
  sentEpoch: number;
  endEpoch: number;
}

/** One restart under the load, as its own stretch; waits (sending nothing itself) until a request succeeds again. */
async function restartUnderLoad(ctx: ScenarioContext, st: Stretches, name: string): Promise<Restarted> {
  const handle = ctx.loadHandle;
  if (!handle) throw new Error('no load running for the restart');
  const r = await st.span(
    name,
    async () => {
      const sentEpoch = Date.now();
      const sentAt = ctx.now();
      const res = await ctx.initctl('restart', ctx.server.job);
      const returnedAt = ctx.now();
      const seen = handle.records.length;
      // No request of the lab's own here: it would be the new connection the bridge waits for.
      const back = await ctx.waitFor(
        async () => (handle.records.slice(seen).some((x) => !x.error) ? true : undefined),
        CLIENT_TIMEOUT_MS + 10_000,
        100,
      );
      ctx.mark('note', back ? `answering again ${Math.round(ctx.now() - sentAt)} ms after the restart` : 'no answer');
      return { name, exit: res.code, sentAt, returnedAt, sentEpoch };
    },
    1500,
  );
  return { ...r, endEpoch: Date.now() };
}

/** What upstart's events and the bridge's say about one restart (precise). */
export function upstartView(
  jobEvents: readonly JobEvent[],
  socketTimes: readonly number[],
  sentEpoch: number,
): { failedStatus: string; downMs: number | null; eventsDuring: number | null; firstEventMs: number | null } {
  const failed = jobEvents.find((e) => e.event === 'stopping' && e.result === 'failed' && e.at >= sentEpoch);
  if (!failed) return { failedStatus: '', downMs: null, eventsDuring: null, firstEventMs: null };
  const next = jobEvents.find((e) => e.event === 'starting' && e.at > failed.at);
  const after = socketTimes.filter((t) => t >= failed.at);
  return {
    failedStatus: failed.status,
    downMs: next ? next.at - failed.at : null,
    eventsDuring: socketTimes.filter((t) => t >= sentEpoch && t < failed.at).length,
    firstEventMs: after.length ? Math.min(...after) - failed.at : null,
  };
}

const GAP_BOUND = (f: F) => f.budgetGapMs;

function expectations(server: ServerName): Record<Flavour, Expectation> {
  const { file: job, program } = SHIPPED_JOB[server];
  return {
    precise: {
      applicable: true,
      expect:
        `${job} without its post-stop: \`initctl restart\` starts a run without UPSTART_FDS, ${program} ` +
        'exits 64 (upstart: stopping RESULT=failed EXIT_STATUS=64); the socket events of the connections nginx ' +
        'made meanwhile were dropped (the goal was already start), every client waits, and upstart starts ' +
        `the job again only when a client gives up (${CLIENT_TIMEOUT_MS / 1000} s here) and connects anew: ` +
        "a gap over lab chaos's restart budget, the waiting requests time out. As shipped, the post-stop connects " +
        'once after that run: the bridge starts the job with its socket within a second or two, nothing fails, the ' +
        'gap stays within the budget. After `initctl stop` (no traffic) nothing starts the job again; ' +
        '`initctl start` alone brings up a serving master',
    },
    bookworm: {
      applicable: true,
      expect:
        'no stall to fix: systemd keeps the socket and hands it to the restarted service (LISTEN_FDS), no run ' +
        "without a socket, nothing fails, the gap stays within lab chaos's restart budget; after `systemctl stop` " +
        '(no traffic) nothing starts it again; `systemctl start` brings up a serving master',
    },
  };
}

export const bridgeStall: Scenario<F> = {
  name: 'bridge-stall',
  title: "initctl restart with every client waiting: the bridge's stall and the post-stop that ends it",
  story:
    'After a config change an operator runs `initctl restart unicorn` while nginx has requests in flight: ' +
    'upstart says start/running, yet the site answers nothing until a client gives up and reconnects, and ' +
    'the monitoring shows a 10 to 20 s hole after every restart. The shipped job connects once to its own ' +
    'socket after a start that had none, and the same restart costs half a second.',
  server: 'unicorn',
  group: GROUP,
  expect: expectations('unicorn'),
  alsoOn: { phoenix: expectations('phoenix') },
  boot,
  async run(ctx) {
    const job = ctx.server.job;
    const restarts = RESTARTS[ctx.flavour];
    await ctx.warmUp();
    const st = new Stretches(ctx);
    const traffic = () =>
      ctx.load({
        durationMs: 120_000,
        concurrency: CONNECTIONS,
        slowEvery: 1,
        slowMs: SLOW_MS,
        timeoutMs: CLIENT_TIMEOUT_MS,
      });
    traffic();
    await st.hold(BEFORE, 1000);
    const done: Restarted[] = [];
    for (const name of restarts) {
      if (done.some((d) => d.name === WITHOUT)) {
        // The fix applied (precise) with the traffic paused: its own cost is not what is measured.
        await ctx.loadHandle?.stop();
        const shipped = SHIPPED_JOB[ctx.server.name];
        await ctx.applyConfig(`${job}.conf`, shipped.text(), `lab apply ${job}.conf as shipped (with its post-stop)`);
        if ((await ctx.untilAnswered(30_000)) === null) throw new Error(`the shipped ${job}.conf never answered`);
        traffic();
        await sleep(1000);
      }
      done.push(await restartUnderLoad(ctx, st, name));
    }
    await ctx.loadHandle?.stop();

    // A stop stays a stop: nothing may start the job again when nobody connects.
    await sleep(500);
    const stop = await ctx.initctl('stop', job);
    await sleep(3000);
    const afterStop = await ctx.inspect();
    // A start alone (no request sent) brings up a master that serves.
    const t = Date.now();
    const start = await ctx.initctl('start', job);
    const startServingMs =
      (await ctx.waitFor(
        async () => {
          const s = await ctx.inspect();
          return s.init.trackedPid !== undefined && servingMasters(s).length > 0 ? Date.now() - t : undefined;
        },
        20_000,
        250,
      )) ?? null;

    const records = await ctx.allRecords();
    const appEvents = parseLifecycle(await ctx.wrapperLog());
    // upstart's own record of the job and of the bridge's socket events; systemd has no stall to explain.
    type Recorded = { jobEvents: JobEvent[]; socketTimes: number[] } | undefined;
    const recorded = await perInit<() => Promise<Recorded>>(ctx.flavour, {
      precise: async () => ({
        jobEvents: await appJobEvents(ctx),
        socketTimes: await ctx.socketEventTimes(),
      }),
      bookworm: async () => undefined,
    })();
    const views = done.map((d) =>
      recorded ? upstartView(recorded.jobEvents, recorded.socketTimes, d.sentEpoch) : undefined,
    );
    return {
      ...st.facts(records),
      clientTimeoutMs: CLIENT_TIMEOUT_MS,
      budgetGapMs: budgetFor(ctx.flavour, ctx.server.name, 'restart').gapMs,
      restartNames: done.map((d) => d.name),
      restartExit: done.map((d) => d.exit),
      backMs: done.map((d) => {
        const first = records.filter((x) => !x.error && x.end > d.returnedAt).sort((a, b) => a.end - b.end)[0];
        return first ? Math.round(first.end - d.sentAt) : null;
      }),
      noSocketRuns: done.map(
        (d) =>
          appEvents.filter((e) => {
            const at = Date.parse(e.ts);
            return startFailed(e, ExitCode.USAGE) && at >= d.sentEpoch && at <= d.endEpoch;
          }).length,
      ),
      failedStatus: views.map((v) => v?.failedStatus ?? ''),
      downMs: views.map((v) => v?.downMs ?? null),
      eventsDuring: views.map((v) => v?.eventsDuring ?? null),
      firstEventMs: views.map((v) => v?.firstEventMs ?? null),
      stopExit: stop.code,
      trackedAfterStop: afterStop.init.trackedPid ?? null,
      mastersAfterStop: afterStop.masters.length,
      startExit: start.code,
      startServingMs,
    };
  },
  verdict({ flavour, facts: f }) {
    const j = new Judge();
    const at = (name: string) => f.restartNames.indexOf(name);
    judgeNoneFailed(j, f, BEFORE);
    for (const [i, name] of f.restartNames.entries()) j.equal(`${name}: exit code`, 0, f.restartExit[i]);
    const back = (i: number) => (i < 0 || f.backMs[i] === null ? 'never' : `after ${f.backMs[i]} ms`);
    const upstartLine = (i: number) =>
      `upstart: the run after the restart ended EXIT_STATUS=${f.failedStatus[i] || '?'}, ${f.eventsDuring[i] ?? '?'} ` +
      `socket events seen during the restart (dropped: the goal was start), the bridge's next one ` +
      `${f.firstEventMs[i] ?? '?'} ms after that run stopped, the job down ${f.downMs[i] ?? '?'} ms`;
    perInit(flavour, {
      precise: () => {
        const w = at(WITHOUT);
        const s = at(SHIPPED);
        const fail = stretch(f, WITHOUT);
        const fix = stretch(f, SHIPPED);
        // The failure, shown: a run with no socket, then nothing until a client gives up.
        j.check(
          `${WITHOUT}: a run without UPSTART_FDS`,
          'refused for want of a socket (exit 64), upstart saw EXIT_STATUS=64',
          w < 0 ? 'not reached' : `${f.noSocketRuns[w]} refused, EXIT_STATUS=${f.failedStatus[w] || 'none'}`,
          w >= 0 && f.noSocketRuns[w] >= 1 && f.failedStatus[w] === String(ExitCode.USAGE),
        );
        j.check(
          `${WITHOUT}: upstart keeps the job down`,
          `until a client gives up (at least ${CLIENT_TIMEOUT_MS / 2000} s of the ${CLIENT_TIMEOUT_MS / 1000} s)`,
          w < 0 || f.downMs[w] === null ? 'never started again' : `${f.downMs[w]} ms`,
          w >= 0 && f.downMs[w] !== null && (f.downMs[w] as number) >= CLIENT_TIMEOUT_MS / 2,
        );
        j.check(
          `${WITHOUT}: longest gap`,
          `over lab chaos's restart budget (${f.budgetGapMs} ms)`,
          fail ? `${fail.gapMs} ms; answering again ${back(w)}` : 'not reached',
          !!fail && fail.gapMs > GAP_BOUND(f),
        );
        j.check(
          `${WITHOUT}: the waiting requests`,
          'time out (the clients gave up)',
          fail ? `${fail.failed} of ${fail.sent} failed (${fail.failures || 'none'})` : 'not reached',
          !!fail && fail.waited >= 1,
        );
        // The fix, beside it: the same restart, the same refused run, the job back at once.
        j.check(
          `${SHIPPED}: a run without UPSTART_FDS`,
          'refused (exit 64): the post-stop acts on it',
          s < 0 ? 'not reached' : `${f.noSocketRuns[s]} refused, EXIT_STATUS=${f.failedStatus[s] || 'none'}`,
          s >= 0 && f.noSocketRuns[s] >= 1 && f.failedStatus[s] === String(ExitCode.USAGE),
        );
        j.check(
          `${SHIPPED}: upstart starts the job again`,
          "within 2 s, started by the post-stop's connection",
          s < 0 || f.downMs[s] === null ? 'never' : `after ${f.downMs[s]} ms`,
          s >= 0 && f.downMs[s] !== null && (f.downMs[s] as number) <= 2000,
        );
        judgeNoneFailed(j, f, SHIPPED);
        j.check(
          `${SHIPPED}: longest gap`,
          `within lab chaos's restart budget (${f.budgetGapMs} ms)`,
          fix ? `${fix.gapMs} ms; answering again ${back(s)}` : 'not reached',
          !!fix && fix.gapMs <= GAP_BOUND(f) && s >= 0 && f.backMs[s] !== null,
        );
        if (w >= 0) j.note(`${WITHOUT}: ${upstartLine(w)}`);
        if (s >= 0) j.note(`${SHIPPED}: ${upstartLine(s)}`);
      },
      bookworm: () => {
        const s = at(SHIPPED);
        const fix = stretch(f, SHIPPED);
        j.equal(`${SHIPPED}: runs without a socket`, 0, s < 0 ? null : f.noSocketRuns[s]);
        judgeNoneFailed(j, f, SHIPPED);
        j.check(
          `${SHIPPED}: longest gap`,
          `within lab chaos's restart budget (${f.budgetGapMs} ms)`,
          fix ? `${fix.gapMs} ms; answering again ${back(s)}` : 'not reached',
          !!fix && fix.gapMs <= GAP_BOUND(f) && s >= 0 && f.backMs[s] !== null,
        );
      },
    })();
    j.equal('stop exit code', 0, f.stopExit);
    j.check(
      'after the stop, 3 s with no request',
      'stopped: no process tracked, no master',
      `tracked ${f.trackedAfterStop ?? 'none'}, ${f.mastersAfterStop} master(s)`,
      f.trackedAfterStop === null && f.mastersAfterStop === 0,
    );
    j.equal('start exit code', 0, f.startExit);
    j.check(
      'start alone, no request sent',
      'a master init tracks serves within 20 s',
      f.startServingMs === null ? 'none' : `after ${f.startServingMs} ms`,
      f.startServingMs !== null,
    );
    for (const name of f.phaseNames) j.note(stretchLine(f, name));
    return j.verdict();
  },
};
