import { shippedBoot } from '../session/configs';
import { Judge, failuresText } from '../session/judge';
import { ExitCode } from '../../src/errors';
import { parseLifecycle, startFailed, trackedServingMaster } from '../session/observe';
import type { Flavour } from '../engine/flavour-images';
import type { ServerName } from '../servers/types';
import { type Expectation, type Scenario, perInit } from '../session/types';
import { watch } from '../session/watch';

type F = {
  trackedBefore: number;
  command: string;
  exitCode: number;
  output: string;
  /** masters init started without a socket (no UPSTART_FDS: `restart` does not replay the socket event) */
  startsWithoutSocket: number;
  /** ms from the command until init tracked a new live master */
  newMasterAfterMs: number | null;
  trackedAfter: number | null;
  probes: number;
  probesOk: number;
  samples: string[];
};

/** The restart's window: a new process init tracks must serve within it. */
const WATCH_MS = 3000;

/** What each server's shipped job does on the restart, in words (their checks are the same). */
const ON: Record<ServerName, { expect: Record<Flavour, Expectation> }> = {
  phoenix: {
    expect: {
      precise: {
        applicable: true,
        expect:
          "upstart stops the master (QUIT to the job's process group: workers finish their requests) " +
          'and starts the job again at once, but without a socket event: no UPSTART_FDS, so that ' +
          'master has no socket and exits (64); the bridge keeps the socket meanwhile and connections ' +
          "queue in it; the job's post-stop then connects once, a new connection the bridge turns " +
          'into a socket event, so the job starts again with its socket at once (a serving master ' +
          'tracked about 0.5 s after the command); no request fails, the pause shows as latency',
      },
      bookworm: {
        applicable: true,
        expect:
          'systemd stops the service (SIGQUIT to the cgroup, graceful) and starts it again with the ' +
          'socket it kept (LISTEN_FDS); connections queue in the socket meanwhile: no request fails, ' +
          'a new MainPID',
      },
    },
  },
  unicorn: {
    expect: {
      precise: {
        applicable: true,
        expect:
          "upstart sends QUIT to the job's process group (wrapper, unicorn master and workers: graceful) " +
          'and starts the job again at once without UPSTART_FDS: that unicorn-wrapper has no socket and ' +
          "exits 64; the bridge keeps the socket, connections queue in it; unicorn-wrapper.conf's post-stop " +
          'connects once, the bridge starts the job with its socket, and a new wrapper runs a new unicorn ' +
          "master that serves once Ruby has loaded the app (about 0.5 s with the lab's app); no request fails, the pause " +
          'shows as latency',
      },
      bookworm: {
        applicable: true,
        expect:
          'systemd stops unicorn.service (QUIT to the wrapper, which forwards it: graceful) and starts a new ' +
          'wrapper with the socket unicorn.socket kept (LISTEN_FDS); connections queue meanwhile: no request ' +
          'fails, a new MainPID',
      },
    },
  },
};

/** What `initctl restart` (systemctl restart) costs under load, and where connections wait meanwhile. */
export const initctlRestart: Scenario<F> = {
  name: 'initctl-restart',
  title: 'initctl restart of the app under load',
  story:
    'A restart through init during traffic, the way a config-management run or a tired ' +
    'operator does it: do users see errors, and does init really start the app again?',
  expect: ON.phoenix.expect,
  alsoOn: { unicorn: ON.unicorn.expect },
  boot: shippedBoot,
  async run(ctx) {
    const pid = await ctx.trackedMasterUnderLoad();
    const r = await ctx.initctl('restart', ctx.server.job);
    const w = await watch(
      ctx,
      WATCH_MS,
      (s) => s.init.trackedPid !== pid && trackedServingMaster(s) !== undefined,
      (s) => `${ctx.driver.init} tracks ${s.init.trackedPid}, master ${trackedServingMaster(s)} serves`,
    );
    await ctx.loadHandle!.stop();
    const log = await ctx.wrapperLog();
    const plan = ctx.driver.initctl(['restart', ctx.server.job], ctx.server);
    return {
      trackedBefore: pid,
      command: 'refuse' in plan ? plan.refuse : plan.label,
      exitCode: r.code,
      output: (r.stdout + r.stderr).trim(),
      // phoenix's refusal to start with no socket (exit 64), counted from its events.
      startsWithoutSocket: parseLifecycle(log).filter((e) => startFailed(e, ExitCode.USAGE)).length,
      newMasterAfterMs: w.metAfterMs,
      trackedAfter: w.last?.init.trackedPid ?? null,
      probes: w.probes,
      probesOk: w.probesOk,
      samples: w.samples,
    };
  },
  verdict({ flavour, continuity: c, facts: f }) {
    const j = new Judge();
    j.equal(`${f.command} exit code`, 0, f.exitCode);
    perInit(flavour, {
      precise: () => j.atLeast('masters upstart started without a socket (no UPSTART_FDS)', 1, f.startsWithoutSocket),
      bookworm: () => j.equal('masters started without a socket', 0, f.startsWithoutSocket),
    })();
    j.check(
      'init tracks a new process that serves',
      `within ${WATCH_MS / 1000} s`,
      f.newMasterAfterMs === null ? 'never' : `after ${f.newMasterAfterMs} ms`,
      f.newMasterAfterMs !== null,
    );
    j.equal('failed requests', 0, c.failed);
    j.note(
      `failures: ${failuresText(c)}; longest gap ${c.longestGapMs} ms; latency p99 ` +
        `${c.latencyMs.p99} ms, max ${c.latencyMs.max} ms; new visitors answered ${f.probesOk}/${f.probes}`,
    );
    j.note(`${f.command} said: ${f.output || '(nothing)'}`);
    return j.verdict();
  },
};
