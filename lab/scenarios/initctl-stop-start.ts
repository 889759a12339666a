import { shippedBoot } from '../session/configs';
import { Judge, failuresText } from '../session/judge';
import { ExitCode } from '../../src/errors';
import { masterReady, parseLifecycle, startFailed, trackedServingMaster } from '../session/observe';
import type { Scenario } from '../session/types';
import { watch } from '../session/watch';

/** the maintenance window: stop, this long, start */
const PAUSE_MS = 2000;

type F = {
  trackedBefore: number;
  stopExit: number;
  /** ms after the stop until a new master said it was ready (its own event's time) */
  restartedByConnectionMs: number | null;
  /** that new master was ready before the operator's `start` was sent */
  readyBeforeStart: boolean;
  /** ms after the stop until the lab's probes (docker exec, slow on a loaded machine) saw it */
  seenByProbeMs: number | null;
  startExit: number;
  startOutput: string;
  startsWithoutSocket: number;
  trackedAfter: number | null;
  probes: number;
  probesOk: number;
  samples: string[];
};

/** stop, a pause, start: a maintenance window done through init while traffic keeps coming. */
export const initctlStopStart: Scenario<F> = {
  name: 'initctl-stop-start',
  title: 'initctl stop, 2 s, initctl start of the app, under load',
  story:
    'An operator stops the app for maintenance and finds it running again a second later; the start afterwards either fails or does nothing.',
  expect: {
    precise: {
      applicable: true,
      expect:
        'the stop does not hold: the bridge still owns the socket and the next connection starts ' +
        'the job again during the 2 s pause, before anyone starts it; `initctl start` then finds it running (or, if it came ' +
        'first, starts a master with no socket that exits); no request fails, connections wait in ' +
        "the bridge's socket",
    },
    bookworm: {
      applicable: true,
      expect:
        'the same with systemd: phoenix.socket stays active (systemd warns that its triggering ' +
        'unit is still active), the next connection starts the service again during the pause, and ' +
        'the start afterwards has nothing to do; no request fails',
    },
  },
  alsoOn: {
    unicorn: {
      precise: {
        applicable: true,
        expect:
          'the same with unicorn behind its wrapper: the stop does not hold, the next connection makes the bridge ' +
          'start the job again during the pause (the wrapper says ready once unicorn has loaded the app and its ' +
          'workers answer), before anyone starts it; `initctl start` then finds it running; no request fails, ' +
          "connections wait in the bridge's socket",
      },
      bookworm: {
        applicable: true,
        expect:
          'the same with systemd: unicorn.socket stays active, the next connection starts unicorn.service (the ' +
          'wrapper) again during the pause; the start afterwards has nothing to do; no request fails',
      },
    },
  },
  boot: shippedBoot,
  async run(ctx) {
    const pid = await ctx.trackedMasterUnderLoad();
    const stop = await ctx.initctl('stop', ctx.server.job);
    const stoppedAt = Date.now();
    const w = await watch(
      ctx,
      PAUSE_MS,
      (s) => s.init.trackedPid !== pid && trackedServingMaster(s) !== undefined,
      (s) => `started again by a connection: ${s.init.trackedPid} serves`,
    );
    const startSentAt = Date.now();
    const start = await ctx.initctl('start', ctx.server.job);
    const w2 = await watch(ctx, 1500);
    await ctx.loadHandle!.stop();
    const log = await ctx.wrapperLog();
    const events = parseLifecycle(log);
    // The app's own clock (the container shares the host's) says when it came back, however
    // long the probes took to look: only a connection can have started it before `start`.
    const readyAt = events
      .filter((e) => masterReady(e) && e.pid !== pid)
      .map((e) => Date.parse(e.ts))
      .filter(Number.isFinite);
    const firstReady = readyAt.length ? Math.min(...readyAt) : null;
    return {
      trackedBefore: pid,
      stopExit: stop.code,
      restartedByConnectionMs: firstReady === null ? null : firstReady - stoppedAt,
      readyBeforeStart: firstReady !== null && firstReady < startSentAt,
      seenByProbeMs: w.metAfterMs,
      startExit: start.code,
      startOutput: (start.stdout + start.stderr).trim(),
      // phoenix's refusal to start with no socket (exit 64), counted from its events.
      startsWithoutSocket: events.filter((e) => startFailed(e, ExitCode.USAGE)).length,
      trackedAfter: w2.last?.init.trackedPid ?? null,
      probes: w.probes + w2.probes,
      probesOk: w.probesOk + w2.probesOk,
      samples: [...w.samples, ...w2.samples],
    };
  },
  verdict({ continuity: c, facts: f }) {
    const j = new Judge();
    j.equal('stop exit code', 0, f.stopExit);
    // The claim is that the stop does not hold: the app is back before the operator's start.
    // How fast it comes back is the app's start-up time plus init's, reported, not judged.
    j.check(
      'started again by a connection after the stop',
      `ready during the ${PAUSE_MS / 1000} s pause, before \`start\` was sent`,
      f.restartedByConnectionMs === null
        ? 'no new master ready'
        : `ready ${f.restartedByConnectionMs} ms after the stop, ${f.readyBeforeStart ? 'before' : 'after'} \`start\``,
      f.readyBeforeStart,
    );
    j.check('a master serves at the end, tracked by init', 'yes', f.trackedAfter, f.trackedAfter !== null);
    j.equal('failed requests', 0, c.failed);
    j.note(
      `start said (exit ${f.startExit}): ${f.startOutput || '(nothing)'}; masters started without a socket: ${f.startsWithoutSocket}`,
    );
    j.note(
      `failures: ${failuresText(c)}; longest gap ${c.longestGapMs} ms; p99 ${c.latencyMs.p99} ` +
        `ms, max ${c.latencyMs.max} ms; new visitors answered ${f.probesOk}/${f.probes}; the lab's probes saw it back ` +
        (f.seenByProbeMs === null ? 'only after `start`' : `after ${f.seenByProbeMs} ms`),
    );
    return j.verdict();
  },
};
