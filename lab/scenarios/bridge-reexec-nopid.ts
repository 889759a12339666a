import { edit, systemd, systemdBoot, upstart, upstartBoot } from '../session/configs';
import { Judge, failuresText } from '../session/judge';
import { type ReexecFacts, judgeInitLost, reexecUnderLoad } from '../session/reexec-watch';
import { type Scenario, perInit } from '../session/types';

/** Why unicorn has no cell of its own here: where the same failure is shown with unicorn. */
const UNICORN_NA =
  'unicorn behind the shipped job always has a pid file: unicorn-wrapper follows masters ' +
  'through it and refuses to run without --pid; a unicorn.rb without `pid` is what `lab ' +
  'audit` flags (the wrapper cannot follow, before_fork finds no .oldbin to QUIT)';

/**
 * bridge-reexec without a pid file: nothing then stops the bridge's next start from becoming a
 * second master beside the untracked one. This is the case of UPSTART-NOTES.md (a plain Node
 * job): two masters, two generations, one socket, one of them invisible to upstart.
 */
export const bridgeReexecNopid: Scenario<ReexecFacts> = {
  name: 'bridge-reexec-nopid',
  title: 'socket bridge + phoenix without a pid file, one reexec upgrade: two masters',
  story:
    'After a deploy, responses come from two versions of the app at random, memory use doubles, and `initctl status` knows only one of the two masters.',
  expect: {
    precise: {
      applicable: true,
      expect:
        'upstart loses the master at the upgrade (stop/waiting); the next connection makes the ' +
        'bridge start the job again, and with no pid file to refuse it that master serves too: two ' +
        'masters (one untracked) and two generations serve the same socket at once; no request fails',
    },
    bookworm: {
      applicable: true,
      expect:
        'the pid file plays no part under systemd: as in bridge-reexec, the main PID exits, ' +
        'systemd stops the whole cgroup and socket activation starts one fresh master; never two ' +
        'masters; no request fails',
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
          upstart.withoutPidFile(upstart.strategy('bridge-reexec')),
          'phoenix.conf = strategies/bridge-reexec.conf without --pid',
        ),
      bookworm: () =>
        systemdBoot(
          edit(systemd.reexec(systemd.service()), / --pid \/run\/phoenix\/phoenix\.pid/, '', 'no pid file'),
          'phoenix.service with --upgrade reexec --quit-oldbin, without --pid',
        ),
    })(),
  run: (ctx) => reexecUnderLoad(ctx, { watchMs: 4000 }),
  verdict({ flavour, continuity: c, facts: f }) {
    const j = new Judge();
    perInit(flavour, {
      precise: () => {
        judgeInitLost(j, f);
        j.atLeast('bridge starts of the job after the upgrade', 1, f.restartsAfterUpgrade);
        j.equal('most masters serving at once', 2, f.maxServingMasters);
        j.atLeast('generations answering after the upgrade', 2, f.generationsAfter.length);
        j.note(
          `generations after the upgrade: ${f.generationsAfter.join(', ')}; socket events counted: ${f.socketEvents}`,
        );
      },
      bookworm: () => {
        j.check(
          'systemd after MainPID exited',
          'service deactivated, cgroup stopped',
          `${f.deactivations} deactivation(s)`,
          f.deactivations >= 1,
        );
        j.equal('most masters serving at once', 1, f.maxServingMasters);
      },
    })();
    j.equal('failed requests', 0, c.failed).note(`failures: ${failuresText(c)}; longest gap ${c.longestGapMs} ms`);
    j.note(`masters started in the run: ${f.mastersStarted}; ${f.initStateAfter}`);
    return j.verdict();
  },
};
