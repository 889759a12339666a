import type { Flavour } from '../engine/flavour-images';
import { driverFor } from '../flavours';
import { serverFor } from '../servers';
import type { ServerName } from '../servers/types';
import { sleep } from '../session/context';
import { Judge } from '../session/judge';
import { type Expectation, type Scenario, perServer } from '../session/types';

const BLOCK_AT = 200;

/**
 * Each server's shortest worker timeout and what it does at it. phoenix takes 2 s; unicorn's
 * Configurator refuses a `timeout` under 3 s, and its master checks a worker's last tick in
 * whole seconds (murder_lazy_workers: killed once `now - tick > timeout`), so its kill comes a
 * second or two after the timeout.
 */
const ON: Record<ServerName, { timeoutS: number; lateMs: number; expect: Record<Flavour, Expectation> }> = {
  phoenix: {
    timeoutS: 2,
    lateMs: 2500,
    expect: {
      precise: {
        applicable: true,
        expect:
          'the master SIGKILLs the stuck worker after about 2 s (--timeout 2) and starts another; the ' +
          'stuck request ends in a 502, the other requests are served by the other worker; upstart ' +
          'is not involved',
      },
      bookworm: {
        applicable: true,
        expect:
          'the same under systemd: the stuck worker is killed after about 2 s and replaced, only the stuck request fails; MainPID unchanged',
      },
    },
  },
  unicorn: {
    timeoutS: 3,
    lateMs: 3500,
    expect: {
      precise: {
        applicable: true,
        expect:
          'with `timeout 3` (UNICORN_TIMEOUT=3; unicorn refuses less) the master logs "worker=N PID:P timeout ' +
          '(4s > 3s), killing", SIGKILLs the stuck worker 3 to 5 s after its last request began and forks ' +
          'another; the stuck request ends in a 502, the other worker serves the rest; upstart keeps ' +
          'tracking the same unicorn-wrapper',
      },
      bookworm: {
        applicable: true,
        expect:
          'the same under systemd: unicorn kills the stuck worker 3 to 5 s in and forks another, only the ' +
          'stuck request fails; MainPID (the wrapper) unchanged',
      },
    },
  },
};

type F = {
  timeoutS: number;
  blockStatus: number | string | null;
  blockMs: number | null;
  timeouts: number;
  otherFailures: number;
  trackedBefore: number | null;
  trackedAfter: number | null;
};

/** A request that never yields (a runaway regexp, a lock): the master's worker timeout ends it. */
export const workerTimeout: Scenario<F> = {
  name: 'worker-timeout',
  title: 'a worker stuck in one request longer than the worker timeout',
  story:
    'One pathological request pins a worker at 100% CPU; with unicorn-style timeouts that user gets a 502 and everyone else is served by the other workers.',
  expect: ON.phoenix.expect,
  alsoOn: { unicorn: ON.unicorn.expect },
  boot: (flavour, server) => {
    const { timeoutS } = perServer(server, ON);
    return serverFor(server).workerTimeoutBoot[driverFor(flavour).family](timeoutS, `worker timeout ${timeoutS} s`);
  },
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
    return {
      timeoutS: perServer(ctx.server.name, ON).timeoutS,
      blockStatus: block ? (block.error ?? block.status ?? null) : null,
      blockMs: block ? Math.round(block.end - block.start) : null,
      timeouts: ctx.server.workerTimeouts(await ctx.wrapperLog()),
      otherFailures: records.filter((r) => r.error && !r.path.startsWith('/block') && r.start >= blockAt).length,
      trackedBefore,
      trackedAfter: (await ctx.inspect()).init.trackedPid ?? null,
    };
  },
  verdict({ server, facts: f }) {
    const j = new Judge();
    const { timeoutS, lateMs } = perServer(server, ON);
    j.equal('worker timeouts logged by the master', 1, f.timeouts);
    j.check(
      'the stuck request',
      `a 502 after about ${timeoutS} s`,
      `${f.blockStatus ?? 'not sent'} after ${f.blockMs ?? '?'} ms`,
      f.blockStatus === 'http-502' &&
        f.blockMs !== null &&
        // The master counts the silence from the worker's last heartbeat (every timeout/4), which
        // can come up to a quarter of the timeout before the request: the kill may come that early.
        f.blockMs >= timeoutS * 750 - 200 &&
        f.blockMs <= timeoutS * 1000 + lateMs,
    );
    j.atMost('other requests that failed', 2, f.otherFailures);
    j.check(
      'init tracks the same process',
      `${f.trackedBefore}`,
      f.trackedAfter,
      f.trackedBefore !== null && f.trackedAfter === f.trackedBefore,
    );
    return j.verdict();
  },
};
