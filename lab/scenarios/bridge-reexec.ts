import { systemd, systemdBoot, upstart, upstartBoot } from '../session/configs';
import { Judge, failuresText } from '../session/judge';
import { type ReexecFacts, judgeInitLost, judgeUntrackedServed, reexecUnderLoad } from '../session/reexec-watch';
import { type Scenario, perInit } from '../session/types';

/** Why unicorn has no cell of its own here: where the same failure is shown with unicorn. */
const UNICORN_NA =
  "this is the seed's own case, and seed-poc runs it with real unicorn: the bridge's socket " +
  'handed to unicorn, one USR2 re-exec under load, init losing the master';

/**
 * unicorn's own upgrade (a new master process) under an init that follows one PID. The job is
 * the shipped one, pid file included, which is what keeps a second master from serving.
 */
export const bridgeReexec: Scenario<ReexecFacts> = {
  name: 'bridge-reexec',
  title: 'socket bridge + phoenix, one reexec USR2 upgrade under load',
  story:
    'After a USR2 deploy `initctl status app` says stop/waiting although the site is up; the ' +
    'next deploy or a restart through init then does something odd, because init lost the master.',
  expect: {
    precise: {
      applicable: true,
      expect:
        'upstart reports stop/waiting once the old master exits while the re-executed master, ' +
        'which it does not track, keeps serving; later connections make the bridge start the job ' +
        'again, and with the pid file each of those masters refuses to start (another master is ' +
        'running), so the untracked one serves alone; no request fails',
    },
    bookworm: {
      applicable: true,
      expect:
        'MainPID (the old master) exits with status 0, so systemd deactivates the service and ' +
        'stops what is left of its cgroup, the re-executed master included (SIGQUIT, graceful); ' +
        'phoenix.socket keeps the socket, the next connection starts a fresh master (generation 1 ' +
        'again); requests wait in the socket meanwhile, so none fails; never two masters',
    },
  },
  alsoOn: {
    unicorn: {
      precise: { applicable: false, reason: UNICORN_NA },
      bookworm: { applicable: false, reason: UNICORN_NA },
    },
  },
  boot: (flavour) =>
    perInit(flavour, {
      precise: () =>
        upstartBoot(
          upstart.strategy('bridge-reexec'),
          'phoenix.conf = strategies/bridge-reexec.conf (--upgrade reexec --quit-oldbin)',
        ),
      bookworm: () =>
        systemdBoot(systemd.reexec(systemd.service()), 'phoenix.service with --upgrade reexec --quit-oldbin'),
    })(),
  run: (ctx) => reexecUnderLoad(ctx, { watchMs: 4000 }),
  verdict({ flavour, continuity: c, facts: f }) {
    const j = new Judge();
    perInit(flavour, {
      precise: () => {
        judgeInitLost(j, f, 'stop/waiting (tracks no master)');
        judgeUntrackedServed(j, f);
        j.atLeast('bridge starts of the job after the upgrade', 1, f.restartsAfterUpgrade);
        j.atLeast('of which refused: another master is running', 1, f.refusedStarts);
        j.equal('most masters serving at once', 1, f.maxServingMasters);
        j.note(`socket events counted: ${f.socketEvents}`);
      },
      bookworm: () => {
        j.check(
          'systemd after MainPID exited',
          'service deactivated, cgroup stopped',
          `${f.deactivations} deactivation(s)`,
          f.deactivations >= 1,
        );
        j.atLeast('fresh invocations started by socket activation', 1, f.restartsAfterUpgrade);
        j.equal('most masters serving at once', 1, f.maxServingMasters);
        j.check(
          'generation serving at the end',
          'a fresh master (generation 1)',
          f.generationsAfter.join(','),
          f.generationsAfter.includes(1),
        );
      },
    })();
    j.equal('failed requests', 0, c.failed).note(
      `failures: ${failuresText(c)}; longest gap ${c.longestGapMs} ms; p99 ${c.latencyMs.p99} ms, max ${c.latencyMs.max} ms`,
    );
    j.note(`masters started in the run: ${f.mastersStarted}; ${f.initStateAfter}`);
    return j.verdict();
  },
};
