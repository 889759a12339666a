import { execIn } from '../engine/containers';
import { shippedBoot } from '../session/configs';
import { sleep } from '../session/context';
import { Judge, failuresText } from '../session/judge';
import { firstSuccessAfter } from '../session/load';
import { initState, trackedServingMaster } from '../session/observe';
import { type Scenario, perInit } from '../session/types';

type F = {
  /** after SIGTERM to PID 1: init's view of phoenix, and whether phoenix still answered */
  initAfterTerm: string;
  jobsRunningAfterTerm: number;
  servedAfterTerm: boolean;
  restartMs: number;
  /** ms from `docker restart` until requests succeeded again (after the last failure it caused) */
  backAfterMs: number | null;
  failedAcrossRestart: number;
  /** after the restart: the pid file names the live, tracked master (no stale one) */
  pidFileLive: boolean;
  initAfterRestart: string;
};

/** What an init does with `docker kill -s TERM` and `docker restart`, and whether the app comes back. */
export const containerRestart: Scenario<F> = {
  name: 'container-restart',
  title: 'SIGTERM to PID 1, then docker restart of the lab, under load',
  story:
    'A host reboot or `docker restart` of an old upstart container: does the app come back by ' +
    'itself, or do a stale socket and pid file keep it down until someone logs in?',
  expect: {
    precise: {
      applicable: true,
      expect:
        'SIGTERM makes upstart 1.5 re-execute itself and forget every job: initctl then reports ' +
        'everything stop/waiting while nginx and phoenix keep serving; docker restart (STOPSIGNAL ' +
        'SIGKILL) stops it at once, and on the next boot container-boot clears the stale socket ' +
        "and pid files (Docker's /run is not a tmpfs), the bridge binds again and the first " +
        'request starts phoenix: the app is back within a few seconds by itself; requests fail ' +
        'only while the container is down',
    },
    bookworm: {
      applicable: true,
      expect:
        'SIGTERM makes systemd re-execute itself keeping its state: phoenix.service stays active ' +
        'with the same MainPID; docker restart (SIGRTMIN+3) shuts down in order, /run is a tmpfs ' +
        'so nothing stale survives, socket activation brings the app back on the first request ' +
        'within a few seconds; requests fail only while the container is down',
    },
  },
  alsoOn: {
    unicorn: {
      precise: {
        applicable: true,
        expect:
          'SIGTERM makes upstart 1.5 re-execute itself and forget every job: initctl reports unicorn (and ' +
          'everything) stop/waiting while nginx, the wrapper and unicorn keep serving; docker restart stops it at ' +
          'once, container-boot clears the stale unicorn socket and pid file on the next boot, the bridge binds ' +
          'again and the first request starts unicorn-wrapper and a new master: back within a few seconds by ' +
          'itself; requests fail only while the container is down',
      },
      bookworm: {
        applicable: true,
        expect:
          'SIGTERM makes systemd re-execute itself keeping its state: unicorn.service stays active with the same ' +
          'MainPID (the wrapper); docker restart shuts down in order, /run is a tmpfs, socket activation brings ' +
          'the wrapper and unicorn back on the first request within a few seconds',
      },
    },
  },
  boot: shippedBoot,
  async run(ctx) {
    await ctx.warmUp();
    const load = ctx.load({ durationMs: 120_000, rate: 100, concurrency: 4, timeoutMs: 5000 });
    await sleep(800);
    await ctx.act('docker', 'docker kill -s TERM (to PID 1)', () => ctx.container.kill({ signal: 'SIGTERM' }));
    await sleep(1000);
    // systemd re-executes on SIGTERM; on a loaded machine that can take longer than the second
    // above, and a status read meanwhile says nothing about what it kept.
    const afterTerm =
      (await ctx.waitFor(async () => {
        const s = await ctx.inspect();
        return initState(s).startsWith('unknown') ? undefined : s;
      }, 10_000)) ?? (await ctx.inspect());
    const list = (await execIn(ctx.container, ctx.driver.listCmd)).stdout;
    const servedAfterTerm = (await ctx.get()).status === 200;
    await sleep(500);
    const restartAt = ctx.now();
    const t = Date.now();
    await ctx.act('docker', 'docker restart', () => ctx.container.restart({ t: 10 }));
    const restartMs = Date.now() - t;
    await ctx.untilAnswered(30_000);
    await sleep(1500);
    const records = await load.stop();
    const s = await ctx.inspect();
    // Back = the first success after the last failure the restart caused (or after the restart returned).
    const fails = records.filter((r) => r.error && r.end >= restartAt).map((r) => r.start);
    const back = firstSuccessAfter(records, fails.length ? Math.max(...fails) : restartAt + restartMs);
    return {
      initAfterTerm: initState(afterTerm),
      jobsRunningAfterTerm: ctx.driver.runningCount(list),
      servedAfterTerm,
      restartMs,
      backAfterMs: back === undefined ? null : Math.round(back - restartAt),
      failedAcrossRestart: records.filter((r) => r.error && r.end >= restartAt).length,
      // The pid file's master is the one that serves for what init tracks (itself, or its wrapper).
      pidFileLive: s.pidFile !== undefined && trackedServingMaster(s) === s.pidFile,
      initAfterRestart: initState(s),
    };
  },
  verdict({ flavour, continuity: c, facts: f }) {
    const j = new Judge();
    perInit(flavour, {
      precise: () =>
        j.check(
          'upstart after SIGTERM',
          'forgot every job (the app stop/waiting, nothing start/running)',
          `the app ${f.initAfterTerm}, ${f.jobsRunningAfterTerm} job(s) running`,
          f.initAfterTerm === 'stop/waiting' && f.jobsRunningAfterTerm === 0,
        ),
      bookworm: () =>
        j.check(
          'systemd after SIGTERM',
          "the app's service still active/running",
          f.initAfterTerm,
          f.initAfterTerm === 'active/running',
        ),
    })();
    j.check('the app answered after SIGTERM', 'yes', f.servedAfterTerm ? 'yes' : 'no', f.servedAfterTerm);
    j.check(
      'the app is back by itself after docker restart',
      'within 10 s',
      f.backAfterMs === null ? 'never' : `after ${f.backAfterMs} ms`,
      f.backAfterMs !== null && f.backAfterMs <= 10_000,
    );
    j.check(
      'pid file after the restart',
      'names the live master that serves for what init tracks',
      f.pidFileLive ? 'yes' : 'no',
      f.pidFileLive,
    );
    j.note(
      `docker restart took ${f.restartMs} ms; ${f.failedAcrossRestart} requests failed across it ` +
        `(${failuresText(c)}); init after the restart: ${f.initAfterRestart}`,
    );
    return j.verdict();
  },
};
