import { request } from 'undici';
import { SERVED_BY } from '../servers/types';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface WaitOptions {
  /** what is awaited, for the error: "the first 200 through nginx" */
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  /** asked between tries: a reason to give up now (the container stopped), or undefined */
  abort?: () => Promise<string | undefined>;
}

/** Waiting ran out of time or was aborted; `last` is the last thing the probe said. */
export class WaitError extends Error {
  constructor(
    message: string,
    readonly last: string,
  ) {
    super(message);
    this.name = 'WaitError';
  }
}

/**
 * The one wait/retry loop of the lab: calls `probe` until it gives a value, with a deadline,
 * an interval and a reason when it gives up. A probe returns `{ ok: value }` when done, or a
 * string saying what it saw (kept as "last"); a probe that throws counts as not yet, and
 * its message is the last thing seen.
 */
export async function waitUntil<T>(probe: () => Promise<{ ok: T } | string>, o: WaitOptions): Promise<T> {
  const until = Date.now() + o.timeoutMs;
  let last = 'nothing yet';
  for (;;) {
    try {
      const r = await probe();
      if (typeof r !== 'string') return r.ok;
      last = r;
    } catch (err) {
      last = (err as { code?: string }).code ?? (err as Error).message;
    }
    const why = o.abort ? await o.abort().catch(() => undefined) : undefined;
    if (why) throw new WaitError(`${why} while waiting for ${o.what} (last: ${last})`, last);
    if (Date.now() >= until)
      throw new WaitError(`${o.what}: not within ${(o.timeoutMs / 1000).toFixed(0)} s (last: ${last})`, last);
    await sleep(o.intervalMs ?? 100);
  }
}

/** Polls until `probe` gives a value other than undefined; undefined when time runs out. */
export async function poll<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 100,
): Promise<T | undefined> {
  try {
    return await waitUntil(
      async () => {
        const v = await probe();
        return v === undefined ? 'not yet' : { ok: v };
      },
      { what: 'a condition', timeoutMs, intervalMs: everyMs },
    );
  } catch (err) {
    if (err instanceof WaitError) return undefined;
    throw err;
  }
}

/** One request through nginx: a 200 that the app served (its served-by pid header), or what was seen. */
export async function appAnswer(origin: string): Promise<{ ok: { pid: number } } | string> {
  const res = await request(`${origin}/`, { headersTimeout: 2000, bodyTimeout: 2000 });
  await res.body.text();
  const pid = res.headers[SERVED_BY.pid];
  if (res.statusCode === 200 && typeof pid === 'string') return { ok: { pid: Number(pid) } };
  return `HTTP ${res.statusCode}`;
}
