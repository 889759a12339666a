import type { Continuity } from '../check/continuity';
import { summarize } from '../check/continuity';
import type { RequestRecord } from '../load/record';
import { runLoad } from '../load/run';
import { ProgressLine } from '../progress';

/** Traffic a scenario drives through nginx while it acts: short, so a whole catalogue stays quick. */
export interface LoadSpec {
  /** how long at most; stop() ends it earlier */
  durationMs: number;
  rate?: number;
  concurrency?: number;
  /** every Nth request asks /slow?ms=slowMs (requests in flight across an action) */
  slowEvery?: number;
  slowMs?: number;
  pathFor?: (n: number) => string;
  timeoutMs?: number;
}

export interface LoadHandle {
  /** every request, in completion order; grows while the load runs */
  readonly records: readonly RequestRecord[];
  done: Promise<RequestRecord[]>;
  /** true once every request has completed */
  readonly finished: boolean;
  /** ends the load now (requests in flight still complete and are recorded) */
  stop(): Promise<RequestRecord[]>;
}

export const DEFAULT_RATE = 200;
export const DEFAULT_CONCURRENCY = 8;

export function startLoad(origin: string, spec: LoadSpec, label: string): LoadHandle {
  const abort = new AbortController();
  const line = new ProgressLine();
  let live: readonly RequestRecord[] = [];
  let finished = false;
  const slowPath = `/slow?ms=${spec.slowMs ?? 2000}`;
  const pathFor =
    spec.pathFor ?? ((n: number) => (spec.slowEvery && n % spec.slowEvery === spec.slowEvery - 1 ? slowPath : '/'));
  const done = runLoad({
    origin,
    concurrency: spec.concurrency ?? DEFAULT_CONCURRENCY,
    rate: spec.rate ?? DEFAULT_RATE,
    durationMs: spec.durationMs,
    timeoutMs: spec.timeoutMs ?? 20_000,
    pathFor,
    signal: abort.signal,
    onProgress: (recs, elapsed) => {
      live = recs;
      const failed = recs.reduce((n, r) => n + (r.error ? 1 : 0), 0);
      const last = recs[recs.length - 1];
      line.update(
        `  ${label} load ${(elapsed / 1000).toFixed(1)} s  sent ${recs.length}  failed ${failed}` +
          (last?.generation !== undefined ? `  gen ${last.generation}` : ''),
      );
    },
  }).then((recs) => {
    live = recs;
    finished = true;
    const c = summarize(recs);
    line.done(`  ${label} load done: ${c.sent} requests, ${c.failed} failed`);
    return recs;
  });
  return {
    get records() {
      return live;
    },
    get finished() {
      return finished;
    },
    done,
    stop() {
      abort.abort();
      return done;
    },
  };
}

/** The numbers of the requests that started in [fromMs, toMs): one phase of a scenario. */
export function windowOf(records: readonly RequestRecord[], fromMs: number, toMs = Infinity): Continuity {
  const inside = records
    .filter((r) => r.start >= fromMs && r.start < toMs)
    .map((r) => ({ ...r, start: r.start - fromMs, end: r.end - fromMs }));
  return summarize(inside);
}

/** The time (ms) of the first successful response that started at or after `fromMs`. */
export function firstSuccessAfter(records: readonly RequestRecord[], fromMs: number): number | undefined {
  let best: number | undefined;
  for (const r of records) if (!r.error && r.start >= fromMs && (best === undefined || r.end < best)) best = r.end;
  return best;
}
