import { shippedBoot } from '../session/configs';
import { sleep } from '../session/context';
import { Judge } from '../session/judge';
import { initState } from '../session/observe';
import { type PhaseFacts, Phases, okShare, phaseLines } from '../session/phases';
import { type Scenario, perInit } from '../session/types';

type F = PhaseFacts & {
  reloadCommand: string;
  reloadExit: number;
  /** init's view of phoenix at the end of the stranded phase */
  jobWhileStranded: string;
  socketAfterFix: string;
};

const STRANDED = 'job stopped after the reload';
const HOLDING = 'fix holding: after another quiet stop';

/** `initctl reload-configuration`, which people run after editing a job, against the socket bridge. */
export const reloadConfiguration: Scenario<F> = {
  name: 'reload-configuration',
  title: 'initctl reload-configuration strands the bridge socket; the fix, holding',
  story:
    'After an `initctl reload-configuration` everything looks fine, until the app restarts: ' +
    "from then on nginx logs 'connect() ... failed (111: Connection refused)' and the app " +
    'never comes back, although `initctl status` looks normal.',
  expect: {
    precise: {
      applicable: true,
      expect:
        'the reload makes the bridge drop its socket without unlinking the file, and its new bind ' +
        'fails (address in use): while the job runs nothing shows (the master holds the same ' +
        'socket), but once it stops with no connection arriving meanwhile (upstart swaps in the ' +
        'reloaded definition only then) nobody listens: every request is a 502 (connection ' +
        'refused) and no connection can start the job again; removing the stale file and ' +
        'restarting the bridge fixes it (socket-permissions.conf re-runs on its start), and the ' +
        'fix holds: after another quiet stop the next connection starts the job',
    },
    bookworm: {
      applicable: true,
      expect:
        "systemd's counterpart, daemon-reload, keeps phoenix.socket's socket (systemd passes its " +
        'fds across the reload): after it, a stop of the service is followed by socket activation ' +
        'on the next connection; no request fails at any point',
    },
  },
  alsoOn: {
    unicorn: {
      precise: {
        applicable: true,
        expect:
          "the bridge's part does not depend on the app: after the reload the bridge's socket is stranded, and " +
          'once unicorn-wrapper.conf stops quietly nothing listens: every request is a 502 (connection refused) ' +
          'and no connection starts the job; removing the stale file and restarting the bridge fixes it ' +
          '(bridge-socket-refresh.conf and socket-permissions.conf run on its start), and the fix holds: after ' +
          'another quiet stop the next connection starts the wrapper and unicorn again',
      },
      bookworm: {
        applicable: true,
        expect:
          "daemon-reload keeps unicorn.socket's socket: after it, a stop of unicorn.service is followed by " +
          'socket activation on the next connection; no request fails at any point',
      },
    },
  },
  boot: shippedBoot,
  async run(ctx) {
    await ctx.warmUp();
    const sock = ctx.server.socketPath;
    // Each init's reload of its configuration, and what then fixes the socket (if anything must).
    const init = perInit(ctx.flavour, {
      precise: {
        reloadCommand: 'initctl reload-configuration',
        reloadScript: '/sbin/initctl reload-configuration',
        fix: () =>
          ctx.act('apply', 'fix: rm the stale socket file, initctl restart upstart-socket-bridge', () =>
            ctx.must(`rm -f ${sock} && /sbin/initctl restart upstart-socket-bridge`),
          ),
      },
      bookworm: {
        reloadCommand: 'systemctl daemon-reload',
        reloadScript: 'systemctl daemon-reload',
        fix: async () => ctx.mark('note', 'nothing to fix on systemd'),
      },
    });
    const p = new Phases(ctx);
    const traffic = () => ctx.load({ durationMs: 120_000, rate: 100, concurrency: 4, timeoutMs: 5000 });
    // A stop only "sticks" when no connection arrives while the job stops (any connection makes
    // the bridge start it again at once, and upstart replaces a job's definition only once it
    // has stopped): so the stops that matter happen with the traffic paused, as on a quiet night.
    const quietStop = async () => {
      await ctx.loadHandle?.stop();
      await ctx.initctl('stop', ctx.server.job);
      await ctx.waitFor(
        async () => (initState(await ctx.inspect()).match(/^(stop\/waiting|inactive)/) ? true : undefined),
        10_000,
      );
      traffic();
    };

    traffic();
    await p.hold('before', 1000);
    const { reloadCommand } = init;
    const reload = await ctx.act('initctl', reloadCommand, () => ctx.sh(init.reloadScript));
    await p.hold('after the reload, job still running', 1500);
    await quietStop();
    await p.hold(STRANDED, 2000);
    const jobWhileStranded = initState(await ctx.inspect());
    await init.fix();
    await ctx.untilAnswered(5000);
    await p.hold('after the fix', 1500);
    await quietStop();
    await p.hold(HOLDING, 1500);
    // The requests of that stretch wait for the job the first of them starts; on a loaded machine
    // that start can outlast the stretch, and only finished requests are records.
    await ctx.untilAnswered(10_000);
    await sleep(300);
    const records = await ctx.allRecords();
    return {
      ...p.facts(records),
      reloadCommand,
      reloadExit: reload.code,
      jobWhileStranded,
      socketAfterFix: (await ctx.sh(`stat -c '%U:%G %a' ${sock} 2>/dev/null || echo absent`)).stdout.trim(),
    };
  },
  verdict({ flavour, facts: f }) {
    const j = new Judge();
    const pct = (name: string) => {
      const s = okShare(f, name);
      return s < 0 ? 'no requests' : `${Math.round(s * 100)}%`;
    };
    j.equal(`${f.reloadCommand} exit code`, 0, f.reloadExit);
    j.check(
      'after the reload, job still running: answered 200',
      'all',
      pct('after the reload, job still running'),
      okShare(f, 'after the reload, job still running') >= 0.99,
    );
    perInit(flavour, {
      precise: () => {
        j.check(
          `${STRANDED}: answered 200`,
          'none (502: connection refused, for good)',
          pct(STRANDED),
          okShare(f, STRANDED) === 0,
        );
        j.check(
          'the job while stranded',
          'stop/waiting (no connection can start it)',
          f.jobWhileStranded,
          f.jobWhileStranded === 'stop/waiting',
        );
      },
      bookworm: () => {
        j.check(`${STRANDED}: answered 200`, 'all (socket activation)', pct(STRANDED), okShare(f, STRANDED) >= 0.99);
      },
    })();
    j.check('after the fix: answered 200', 'all', pct('after the fix'), okShare(f, 'after the fix') >= 0.99);
    j.check(
      `${HOLDING}: answered 200`,
      'all (the next connection starts the job)',
      pct(HOLDING),
      okShare(f, HOLDING) >= 0.98,
    );
    j.equal('socket after the fix', 'root:www-data 660', f.socketAfterFix);
    for (const l of phaseLines(f)) j.note(l);
    return j.verdict();
  },
};
