import { shippedBoot } from '../session/configs';
import { sleep } from '../session/context';
import { Judge, failuresText } from '../session/judge';
import type { Scenario } from '../session/types';
import { settleAfterHandover, upgrades } from '../session/upgrades';

const SLOW_MS = 3000;

type F = {
  slowSent: number;
  slowOk: number;
  /** slow requests in flight at an upgrade's USR2 */
  slowAcrossUpgrade: number;
  slowAcrossUpgradeOk: number;
  /** of those, answered by a generation older than the one serving at the end */
  servedByOldGeneration: number;
  upgradeMs: (number | null)[];
};

/** Long requests (reports, uploads) in flight while the app is upgraded: graceful draining. */
export const slowRequests: Scenario<F> = {
  name: 'slow-requests',
  title: `requests of ${SLOW_MS / 1000} s in flight across USR2 upgrades`,
  story:
    'A deploy in the middle of a long export or upload: with a graceful upgrade the old workers finish what they started, nobody gets a cut connection.',
  expect: {
    precise: {
      applicable: true,
      expect:
        `every ${SLOW_MS / 1000} s request in flight across two USR2 upgrades completes with 200, ` +
        `answered by the generation that accepted it; no request fails`,
    },
    bookworm: {
      applicable: true,
      expect: `the same under systemd: every ${SLOW_MS / 1000} s request in flight across two upgrades completes with 200; no request fails`,
    },
  },
  alsoOn: {
    unicorn: {
      precise: {
        applicable: true,
        expect:
          `every ${SLOW_MS / 1000} s request in flight across two USR2 upgrades (each a re-exec behind the ` +
          "wrapper) completes with 200: unicorn.rb's before_fork sends QUIT to the old master, which lets its " +
          'workers finish the request they hold before they exit; each answered by the generation that ' +
          'accepted it; no request fails. Each unicorn worker serves one request at a time, so while the 3 s ' +
          'requests hold the two workers the others wait in the socket: seconds of latency, not errors',
      },
      bookworm: {
        applicable: true,
        expect: `the same under systemd: every ${SLOW_MS / 1000} s request in flight across two re-exec upgrades completes with 200; no request fails`,
      },
    },
  },
  boot: shippedBoot,
  async run(ctx) {
    await ctx.warmUp();
    const pid = await ctx.trackedMaster();
    const load = ctx.load({ durationMs: 60_000, rate: 60, concurrency: 32, slowEvery: 8, slowMs: SLOW_MS });
    await sleep(1500);
    // A re-exec upgrade (unicorn) is refused while the old master still drains (.oldbin): each
    // next USR2 waits for one master to be left. An in-place one (phoenix) has none to wait for.
    const handovers: number[] = [];
    const trace = await upgrades(ctx, pid, 2, 'master', 1200, settleAfterHandover(ctx, handovers, 15_000));
    const usr2 = ctx
      .actions()
      .filter((a) => a.kind === 'signal')
      .map((a) => a.at);
    await sleep(SLOW_MS + 500);
    const records = await load.stop();
    const slow = records.filter((r) => r.path.startsWith('/slow'));
    const across = slow.filter((r) => usr2.some((t) => r.start < t && r.end > t));
    const lastGen = Math.max(...records.filter((r) => r.generation !== undefined).map((r) => r.generation as number));
    return {
      slowSent: slow.length,
      slowOk: slow.filter((r) => !r.error).length,
      slowAcrossUpgrade: across.length,
      slowAcrossUpgradeOk: across.filter((r) => !r.error).length,
      servedByOldGeneration: across.filter((r) => !r.error && (r.generation ?? lastGen) < lastGen).length,
      upgradeMs: trace.tookMs,
    };
  },
  verdict({ continuity: c, facts: f }) {
    const j = new Judge();
    j.atLeast(`${SLOW_MS / 1000} s requests in flight across an upgrade`, 4, f.slowAcrossUpgrade);
    j.equal('of those, completed with 200', f.slowAcrossUpgrade, f.slowAcrossUpgradeOk);
    j.atLeast('of those, answered by an older generation (drained, not cut)', 1, f.servedByOldGeneration);
    j.equal('failed requests', 0, c.failed).note(
      `failures: ${failuresText(c)}; slow requests ${f.slowOk}/${f.slowSent} ok; upgrades took ${f.upgradeMs.join(', ')} ms`,
    );
    return j.verdict();
  },
};
