import type { RequestRecord } from '../../lab/load/record';
import { runLoad } from '../../lab/load/run';
import { sleep, waitUntil } from './harness';

/**
 * Load through nginx while `act` runs, with a little before and after, and what was recorded.
 * `act` gets `served(g)`, which waits until generation g has really answered a request, so a
 * test's next step happens under load with the new generation serving.
 */
export async function underLoad(
  port: number,
  act: (served: (generation: number) => Promise<void>) => Promise<void>,
  o: { concurrency: number; slowPath: string },
): Promise<{ records: RequestRecord[]; t0: number }> {
  const stop = new AbortController();
  const t0 = Date.now();
  let live: readonly RequestRecord[] = [];
  const load = runLoad({
    origin: `http://127.0.0.1:${port}`,
    concurrency: o.concurrency,
    durationMs: 120_000,
    pathFor: (n) => (n % 10 === 0 ? o.slowPath : '/'),
    signal: stop.signal,
    onProgress: (recs) => (live = recs),
  });
  const served = (generation: number) =>
    waitUntil(
      () => live.some((r) => r.generation === generation && !r.error),
      10_000,
      `generation ${generation} to serve a request`,
    );
  try {
    await sleep(300);
    await act(served);
    await sleep(500);
  } finally {
    stop.abort();
  }
  return { records: await load, t0 };
}
