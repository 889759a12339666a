import { systemd, systemdBoot, upstart, upstartBoot } from '../session/configs';
import { sleep } from '../session/context';
import { Judge } from '../session/judge';
import { countEvents, parseLifecycle } from '../session/observe';
import { type Scenario, perInit } from '../session/types';

const TIMEOUT_S = 2;
const BLOCK_AT = 200;

type F = {
  blockStatus: number | string | null;
  blockMs: number | null;
  timeouts: number;
  workerExits: number;
  otherFailures: number;
  trackedBefore: number | null;
  trackedAfter: number | null;
};

/** A request that never yields (a runaway regexp, a lock): the master's --timeout ends it. */
export const workerTimeout: Scenario<F> = {
  name: 'worker-timeout',
  title: `a worker stuck in one request longer than --timeout ${TIMEOUT_S}`,
  story:
    'One pathological request pins a worker at 100% CPU; with unicorn-style timeouts that user gets a 502 and everyone else is served by the other workers.',
  expect: {
    precise: {
      applicable: true,
      expect:
        `the master SIGKILLs the stuck worker after about ${TIMEOUT_S} s and starts another; the ` +
        `stuck request ends in a 502, the other requests are served by the other worker; upstart ` +
        `is not involved`,
    },
    bookworm: {
      applicable: true,
      expect: `the same under systemd: the stuck worker is killed after about ${TIMEOUT_S} s and replaced, only the stuck request fails; MainPID unchanged`,
    },
  },
  boot: (flavour) =>
    perInit(flavour, {
      precise: () =>
        upstartBoot(
          upstart.timeout(upstart.strategy('bridge-inplace'), TIMEOUT_S),
          `phoenix.conf = strategies/bridge-inplace.conf with --timeout ${TIMEOUT_S}`,
        ),
      bookworm: () =>
        systemdBoot(systemd.timeout(systemd.service(), TIMEOUT_S), `phoenix.service with --timeout ${TIMEOUT_S}`),
    })(),
  async run(ctx) {
    await ctx.warmUp();
    const trackedBefore = (await ctx.inspect()).init.trackedPid ?? null;
    let blockAt = -1;
    const load = ctx.load({
      durationMs: 5000,
      pathFor: (n) => {
        if (n !== BLOCK_AT) return '/';
        blockAt = ctx.now();
        ctx.mark('note', `GET /block?ms=60000 (busy loop in a worker)`);
        return '/block?ms=60000';
      },
    });
    const records = await load.done;
    await sleep(200);
    const block = records.find((r) => r.path.startsWith('/block'));
    const events = parseLifecycle(await ctx.wrapperLog());
    return {
      blockStatus: block ? (block.error ?? block.status ?? null) : null,
      blockMs: block ? Math.round(block.end - block.start) : null,
      timeouts: countEvents(events, 'worker-timeout'),
      workerExits: countEvents(events, 'worker-exit'),
      otherFailures: records.filter((r) => r.error && !r.path.startsWith('/block') && r.start >= blockAt).length,
      trackedBefore,
      trackedAfter: (await ctx.inspect()).init.trackedPid ?? null,
    };
  },
  verdict({ facts: f }) {
    const j = new Judge();
    j.equal('worker timeouts logged by the master', 1, f.timeouts);
    j.check(
      'the stuck request',
      `a 502 after about ${TIMEOUT_S} s`,
      `${f.blockStatus ?? 'not sent'} after ${f.blockMs ?? '?'} ms`,
      f.blockStatus === 'http-502' &&
        f.blockMs !== null &&
        // The master counts the silence from the worker's last heartbeat (every timeout/4), which
        // can come up to a quarter of the timeout before the request: the kill may come that early.
        f.blockMs >= TIMEOUT_S * 750 - 200 &&
        f.blockMs <= TIMEOUT_S * 1000 + 2500,
    );
    j.atMost('other requests that failed', 2, f.otherFailures);
    j.check(
      'init tracks the same master',
      `${f.trackedBefore}`,
      f.trackedAfter,
      f.trackedBefore !== null && f.trackedAfter === f.trackedBefore,
    );
    return j.verdict();
  },
};
