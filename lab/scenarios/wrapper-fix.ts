import { sleep } from '../session/context';
import { Judge, failuresText } from '../session/judge';
import type { Scenario } from '../session/types';
import { settleAfterHandover, upgrades } from '../session/upgrades';

const UPGRADES = 20;

type F = {
  wrapperPid: number;
  trackedAfterEach: (number | null)[];
  /** serving masters once each handover settled */
  mastersAfterEach: number[];
  /** masters the wrapper followed (its master-followed events) */
  followed: number;
  upgradeFailures: number;
  upgradeMs: (number | null)[];
  generationsServed: number;
  /** after `initctl stop`: unicorn processes (masters, workers, the wrapper) still alive */
  leftAfterStop: number;
  initAfterStop: string;
};

/**
 * The fix: the bridge's socket goes to unicorn-wrapper, which hands it to unicorn and stays
 * the process init tracks, following unicorn's masters through the pid file and .oldbin.
 */
export const wrapperFix: Scenario<F> = {
  name: 'wrapper-fix',
  title: `unicorn behind unicorn-wrapper, ${UPGRADES} USR2 upgrades under load, then initctl stop`,
  story:
    'The same socket bridge and the same unicorn with its usual before_fork QUIT, but the job ' +
    'runs unicorn-wrapper: deploys send USR2 to the pid init tracks (the wrapper forwards it), ' +
    '`initctl status unicorn` keeps naming a live process, and `initctl stop unicorn` stops ' +
    'every unicorn process gracefully.',
  server: 'unicorn',
  group: 'unicorn in production',
  expect: {
    precise: {
      applicable: true,
      expect:
        `upstart tracks the wrapper, whose pid never changes; ${UPGRADES} USR2 forwarded to ` +
        `unicorn's current master, each new master retires the old one: never two serving after a ` +
        `handover, no failed request; initctl stop leaves no unicorn process`,
    },
    bookworm: {
      applicable: true,
      expect:
        `systemd's MainPID is the wrapper (it took the socket unit's LISTEN_FDS and handed it to ` +
        `unicorn) and never changes; ${UPGRADES} upgrades with no failed request and never two ` +
        `masters serving after a handover; systemctl stop leaves no unicorn process`,
    },
  },
  // The server's own activation is the fix already: nothing to add.
  boot: () => ({ label: 'as shipped for unicorn: the bridge (or socket unit) + unicorn-wrapper' }),
  async run(ctx) {
    await ctx.warmUp();
    const wrapperPid = (await ctx.inspect()).init.trackedPid;
    if (!wrapperPid) throw new Error('init tracks no process for unicorn after the first request');
    const load = ctx.load({ durationMs: 180_000, slowEvery: 10, slowMs: 300 });
    await sleep(600);
    const masters: number[] = [];
    // unicorn refuses a USR2 while an .oldbin master lives: wait until the old one has left.
    const settle = settleAfterHandover(ctx, masters, 10_000);
    const trace = await upgrades(ctx, wrapperPid, UPGRADES, 'wrapper', 200, settle);
    const records = await load.stop();
    const events = await ctx.events();
    const stop = await ctx.initctl('stop', ctx.server.job);
    if (stop.code !== 0) ctx.log(`stop said: ${(stop.stderr || stop.stdout).trim()}`);
    const after = await ctx.waitFor(async () => {
      const s = await ctx.inspect();
      return s.masters.length + s.workers.length + s.herders.length === 0 ? s : undefined;
    }, 40_000);
    const last = after ?? (await ctx.inspect());
    return {
      wrapperPid,
      trackedAfterEach: trace.trackedAfter,
      mastersAfterEach: masters,
      followed: events.filter((e) => e.program === 'unicorn-wrapper' && e.event === 'master-followed').length,
      upgradeFailures: events.filter((e) => e.event === 'upgrade-failed').length,
      upgradeMs: trace.tookMs,
      generationsServed: new Set(records.filter((r) => !r.error).map((r) => r.generation)).size,
      leftAfterStop: last.masters.length + last.workers.length + last.herders.length,
      initAfterStop: last.init.state ?? last.init.status,
    };
  },
  verdict({ continuity: c, facts: f }) {
    const j = new Judge();
    j.check(
      'pid init tracks after each upgrade',
      `always the wrapper ${f.wrapperPid}`,
      f.trackedAfterEach.map((p) => p ?? 'none').join(','),
      f.trackedAfterEach.every((p) => p === f.wrapperPid),
    );
    j.equal('masters the wrapper followed (one per upgrade)', UPGRADES, f.followed);
    j.equal('failed upgrades', 0, f.upgradeFailures);
    j.check(
      'masters serving once each handover settled',
      '1 each time',
      f.mastersAfterEach.join(','),
      f.mastersAfterEach.length === UPGRADES && f.mastersAfterEach.every((n) => n === 1),
    );
    j.atLeast('generations that served', UPGRADES + 1, f.generationsServed);
    j.equal('failed requests', 0, c.failed).note(
      `failures: ${failuresText(c)}; longest gap ${c.longestGapMs} ms; p99 ${c.latencyMs.p99} ms, max ${c.latencyMs.max} ms`,
    );
    j.equal('unicorn processes left after the stop', 0, f.leftAfterStop);
    const done = f.upgradeMs.filter((m): m is number => m !== null);
    j.note(
      `USR2 to new generation serving: median ` +
        `${done.sort((a, b) => a - b)[Math.floor(done.length / 2)] ?? '-'} ms, max ` +
        `${Math.max(0, ...done)} ms; init after stop: ${f.initAfterStop}`,
    );
    return j.verdict();
  },
};
