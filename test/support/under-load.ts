import type { RequestRecord } from '../../lab/load/record';
import { runLoad } from '../../lab/load/run';
import { sleep, waitUntil } from './harness';

/** Waits until some successful request matches `pred` (`what` names it in the timeout error). */
export type Served = (pred: (r: RequestRecord) => boolean, what: string) => Promise<void>;

/**
 * Load through nginx while `act` runs, with a little before and after, and what was recorded.
 * `act` gets `served`, so a test's next step happens under load once the new processes have
 * really answered.
 */
export async function loadWhileActing(
  port: number,
  act: (served: Served) => Promise<void>,
  o: { concurrency: number; pathFor: (n: number) => string; durationMs?: number; servedWithinMs: number },
): Promise<{ records: RequestRecord[]; t0: number }> {
  const stop = new AbortController();
  const t0 = Date.now();
  let live: readonly RequestRecord[] = [];
  const load = runLoad({
    origin: `http://127.0.0.1:${port}`,
    concurrency: o.concurrency,
    durationMs: o.durationMs ?? 120_000,
    pathFor: o.pathFor,
    signal: stop.signal,
    onProgress: (recs) => (live = recs),
  });
  const served: Served = (pred, what) => {
    // Records only grow: each poll looks at the new ones only.
    let i = 0;
    const seen = () => {
      for (; i < live.length; i++) if (!live[i].error && pred(live[i])) return true;
      return false;
    };
    return waitUntil(seen, o.servedWithinMs, what);
  };
  try {
    await sleep(300);
    await act(served);
    await sleep(500);
  } finally {
    stop.abort();
  }
  return { records: await load, t0 };
}

/** loadWhileActing for phoenix's tests: `served(g)` waits until generation g has answered. */
export function underLoad(
  port: number,
  act: (served: (generation: number) => Promise<void>) => Promise<void>,
  o: { concurrency: number; slowPath: string },
): Promise<{ records: RequestRecord[]; t0: number }> {
  return loadWhileActing(
    port,
    (served) => act((g) => served((r) => r.generation === g, `generation ${g} to serve a request`)),
    { concurrency: o.concurrency, pathFor: (n) => (n % 10 === 0 ? o.slowPath : '/'), servedWithinMs: 10_000 },
  );
}
