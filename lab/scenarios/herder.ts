import {
  HERDER,
  OWN_SOCKET_ARGS,
  herderScript,
  nodeCommand,
  systemd,
  systemdOwnSocketBoot,
  upstart,
  upstartBoot,
} from '../session/configs';
import { sleep } from '../session/context';
import { Judge, failuresText } from '../session/judge';
import { mastersStarted, parseLifecycle } from '../session/observe';
import { type Scenario, perInit } from '../session/types';
import { settleAfterHandover, upgrades } from '../session/upgrades';

const UPGRADES = 3;

type F = {
  herderPid: number;
  trackedAfterEach: (number | null)[];
  /** serving masters after each upgrade settled (a second one would be a respawn beside it) */
  mastersAfterEach: number[];
  mastersStarted: number;
  upgradeMs: (number | null)[];
  generationsServed: number;
};

/** Why unicorn has no cell of its own here: where the same failure is shown with unicorn. */
const UNICORN_NA =
  "phoenix-herder is phoenix's herder; unicorn's own herders (unicornherder, a bash shepherd) " +
  'with their fixed sleeps are unicorn-herder-sleeps, beside unicorn-wrapper';

/** The community workaround: a process that stays the tracked PID in front of a reexec master. */
export const herder: Scenario<F> = {
  name: 'herder',
  title: `phoenix-herder in front of a reexec master, ${UPGRADES} upgrades under load`,
  story:
    "Teams that wanted unicorn's own re-exec upgrade under upstart put unicornherder (or a " +
    'bash "shepherd") in front of it, so that upstart tracks something that never changes PID.',
  expect: {
    precise: {
      applicable: true,
      expect:
        `upstart tracks the herder, whose PID never changes; each USR2 sent to it is forwarded, ` +
        `the master re-executes and the new one retires the old: ${UPGRADES} new masters, never ` +
        `two serving after a handover, no respawn, no failed request (like in-place, at the price ` +
        `of a polling shell process and a new master PID per upgrade)`,
    },
    bookworm: {
      applicable: true,
      expect:
        `systemd tracks the herder as MainPID (it never exits), the re-executed masters live in ` +
        `the same cgroup and are left alone: ${UPGRADES} new masters, never two serving after a ` +
        `handover, no failed request`,
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
        upstartBoot(upstart.strategy('herder'), 'phoenix.conf = strategies/herder.conf (herder + own socket + reexec)'),
      bookworm: () =>
        systemdOwnSocketBoot(
          systemd.ownSocketService(
            `${HERDER} /run/phoenix/phoenix.pid ${nodeCommand(`${OWN_SOCKET_ARGS} --upgrade reexec --quit-oldbin`)}`,
            'phoenix behind phoenix-herder, own socket, reexec upgrades',
          ),
          'phoenix.service = phoenix-herder + reexec master with its own socket (phoenix.socket disabled)',
          { files: { [HERDER]: herderScript() }, shell: [`chmod 0755 ${HERDER}`] },
        ),
    })(),
  async run(ctx) {
    await ctx.warmUp();
    const herderPid = (await ctx.inspect()).init.trackedPid;
    if (!herderPid) throw new Error('init tracks no process for phoenix');
    const load = ctx.load({ durationMs: 60_000, slowEvery: 10, slowMs: 300 });
    await sleep(600);
    const masters: number[] = [];
    // The new master QUITs the old one once ready; the next USR2 must wait for it to leave
    // (phoenix, like unicorn, refuses to re-exec while an .oldbin master lives).
    const settle = settleAfterHandover(ctx, masters, 5000);
    const trace = await upgrades(ctx, herderPid, UPGRADES, 'herder', 200, settle);
    const records = await load.stop();
    return {
      herderPid,
      trackedAfterEach: trace.trackedAfter,
      mastersAfterEach: masters,
      mastersStarted: mastersStarted(parseLifecycle(await ctx.wrapperLog())).length,
      upgradeMs: trace.tookMs,
      generationsServed: new Set(records.filter((r) => !r.error).map((r) => r.generation)).size,
    };
  },
  verdict({ continuity: c, facts: f }) {
    const j = new Judge();
    j.check(
      'pid init tracks after each upgrade',
      `always the herder ${f.herderPid}`,
      f.trackedAfterEach.map((p) => p ?? 'none').join(','),
      f.trackedAfterEach.every((p) => p === f.herderPid),
    );
    j.equal('masters started (the first + one per upgrade)', UPGRADES + 1, f.mastersStarted);
    j.check(
      'masters serving once each handover settled',
      '1 each time',
      f.mastersAfterEach.join(','),
      f.mastersAfterEach.every((n) => n === 1),
    );
    j.atLeast('generations that served', UPGRADES + 1, f.generationsServed);
    j.equal('failed requests', 0, c.failed).note(
      `failures: ${failuresText(c)}; upgrades took ${f.upgradeMs.join(', ')} ms; longest gap ${c.longestGapMs} ms`,
    );
    return j.verdict();
  },
};
