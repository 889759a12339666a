import { unicornBoot } from '../servers/unicorn';
import { Judge, failuresText } from '../session/judge';
import { type ReexecFacts, judgeInitLost, judgeUntrackedServed, reexecUnderLoad } from '../session/reexec-watch';
import { perInit, type Scenario } from '../session/types';

/**
 * The seed's proof of concept, as its README describes it: the socket bridge owns the unix
 * socket and starts the job on the first connection; the job hands UPSTART_FDS to unicorn as
 * UNICORN_FD and becomes unicorn. Then the deploy everyone does: one USR2, with unicorn's usual
 * before_fork hook QUITting the old master.
 */
export const seedPoc: Scenario<ReexecFacts> = {
  name: 'seed-poc',
  title: "the seed's PoC (bridge socket handed to unicorn as UNICORN_FD), one USR2 under load",
  story:
    "The team followed the PoC's README: nginx in front, upstart-socket-bridge owning " +
    '/var/run/unicorn/unicorn.sock, unicorn adopting it. The first USR2 deploy works, the site ' +
    'stays up, and `initctl status unicorn` says stop/waiting from then on: upstart lost the ' +
    'master, so `initctl stop` no longer stops the site and every new connection makes the ' +
    'bridge start unicorn again, which refuses (its pid file names a live master).',
  server: 'unicorn',
  group: 'unicorn in production',
  expect: {
    precise: {
      applicable: true,
      expect:
        "upstart reports stop/waiting once the old master QUITs (unicorn's before_fork hook) while " +
        'the re-executed master, which upstart does not track, serves on; later connections make ' +
        'the bridge start the job again and each new unicorn exits at once (its pid file names a ' +
        'live master); no request fails',
    },
    bookworm: {
      applicable: true,
      expect:
        "systemd's counterpart of the PoC (unicorn.socket, unicorn.service running unicorn itself " +
        'on LISTEN_FDS, with PIDFile=): when the old master exits, systemd reads the pid file and ' +
        'follows the re-executed master, so MainPID moves to the master that serves, the service ' +
        'stays active, nothing is restarted and no request fails',
    },
  },
  boot: (flavour) => unicornBoot(flavour, 'unicorn-seed-poc'),
  run: (ctx) => reexecUnderLoad(ctx, { watchMs: 5000 }),
  verdict({ flavour, continuity: c, facts: f }) {
    const j = new Judge();
    perInit(flavour, {
      precise: () => {
        judgeInitLost(j, f, 'stop/waiting (tracks no master)');
        judgeUntrackedServed(j, f);
        j.equal('most masters serving at once after the handover', 1, f.maxServingMasters);
        j.note(`socket events counted: ${f.socketEvents}`);
      },
      bookworm: () => {
        j.check(
          'systemd after the handover',
          'MainPID = the master that serves (followed through PIDFile=)',
          `tracks ${f.trackedAfter ?? 'nothing'}; serving ${f.servingAfter.join(',') || 'none'} (was ${f.trackedBefore})`,
          f.trackedAfter !== null && f.trackedAfter !== f.trackedBefore && f.servingAfter.includes(f.trackedAfter),
        );
        j.equal('systemd deactivations (the cgroup stopped)', 0, f.deactivations);
        j.equal('most masters serving at once after the handover', 1, f.maxServingMasters);
      },
    })();
    j.equal('failed requests', 0, c.failed).note(
      `failures: ${failuresText(c)}; longest gap ${c.longestGapMs} ms; p99 ${c.latencyMs.p99} ms, max ${c.latencyMs.max} ms`,
    );
    j.note(`${f.initStateAfter}`);
    return j.verdict();
  },
};
