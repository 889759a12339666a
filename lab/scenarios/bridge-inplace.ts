import { systemd, systemdBoot, upstart, upstartBoot } from '../session/configs';
import { sleep } from '../session/context';
import { Judge, failuresText } from '../session/judge';
import { type Scenario, perInit } from '../session/types';
import { upgrades } from '../session/upgrades';

const UPGRADES = 10;

type F = {
  trackedBefore: number;
  trackedAfterEach: (number | null)[];
  upgradeMs: (number | null)[];
  generationsServed: number;
  masters: number;
};

/** Why unicorn has no cell of its own here: where the same failure is shown with unicorn. */
const UNICORN_NA =
  'unicorn has no in-place upgrade: its USR2 always re-executes a new master (http_server.rb, ' +
  "reexec), so the process init tracks changes; wrapper-fix runs unicorn's USR2 deploys " +
  "behind the socket's owner and the wrapper, seed-poc without the wrapper";

/** The strategy upstart can follow: the bridge owns the socket, USR2 keeps the master's PID. */
export const bridgeInplace: Scenario<F> = {
  name: 'bridge-inplace',
  title: `socket bridge + phoenix, ${UPGRADES} in-place USR2 upgrades under load`,
  story:
    'Deploys by USR2 several times a day behind nginx: nobody should ever see an error, and `initctl status` must keep naming the live master.',
  expect: {
    precise: {
      applicable: true,
      expect: `no failed request across ${UPGRADES} upgrades; upstart tracks the same live PID throughout; every upgrade serves a new generation`,
    },
    bookworm: {
      applicable: true,
      expect: `no failed request across ${UPGRADES} upgrades; systemd's MainPID stays the same master throughout`,
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
      precise: () => upstartBoot(upstart.strategy('bridge-inplace'), 'phoenix.conf = strategies/bridge-inplace.conf'),
      bookworm: () => systemdBoot(systemd.service(), 'phoenix.socket + phoenix.service as shipped (in-place)'),
    })(),
  async run(ctx) {
    await ctx.warmUp();
    const before = await ctx.inspect();
    const pid = before.init.trackedPid;
    if (!pid) throw new Error(`init tracks no phoenix process after the first request: ${before.init.status}`);
    ctx.load({ durationMs: 60_000, slowEvery: 10, slowMs: 300 });
    await sleep(500);
    const trace = await upgrades(ctx, pid, UPGRADES, 'master');
    await sleep(700);
    const records = await ctx.loadHandle!.stop();
    const after = await ctx.inspect();
    return {
      trackedBefore: pid,
      trackedAfterEach: [...trace.trackedAfter, after.init.trackedPid ?? null],
      upgradeMs: trace.tookMs,
      generationsServed: new Set(records.filter((r) => !r.error).map((r) => r.generation)).size,
      masters: after.masters.length,
    };
  },
  verdict({ continuity: c, facts: f }) {
    const j = new Judge();
    j.equal('failed requests', 0, c.failed).note(`failures: ${failuresText(c)}`);
    j.atLeast('requests sent', 200, c.sent);
    const same = f.trackedAfterEach.every((p) => p === f.trackedBefore);
    j.check(
      'pid init tracks after each upgrade',
      `always ${f.trackedBefore}`,
      f.trackedAfterEach.map((p) => p ?? 'none').join(','),
      same,
    );
    j.atLeast('generations that served', UPGRADES + 1, f.generationsServed);
    j.equal('masters running at the end', 1, f.masters);
    const took = f.upgradeMs.filter((n): n is number => n !== null);
    j.note(
      `USR2 to new generation serving: ${took.join(', ')} ms; longest gap ${c.longestGapMs} ms; p99 ${c.latencyMs.p99} ms`,
    );
    return j.verdict();
  },
};
