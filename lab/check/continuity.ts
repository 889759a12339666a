import type { FailureClass, RequestRecord } from '../load/record';

export interface GenerationSpan {
  generation: number;
  /** masters/workers are told apart by pid; a generation number can repeat across masters */
  pids: number[];
  first: number;
  last: number;
  requests: number;
}

export interface Continuity {
  sent: number;
  succeeded: number;
  failed: number;
  failures: Partial<Record<FailureClass, number>>;
  /** the longest time (ms) in which no request completed successfully */
  longestGapMs: number;
  latencyMs: { p50: number; p99: number; max: number };
  generations: GenerationSpan[];
  durationMs: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** The continuity verdict's numbers for one recorded run. */
export function summarize(records: readonly RequestRecord[]): Continuity {
  const ok = records.filter((r) => !r.error);
  const failures: Partial<Record<FailureClass, number>> = {};
  for (const r of records) if (r.error) failures[r.error] = (failures[r.error] ?? 0) + 1;
  const durationMs = records.reduce((m, r) => Math.max(m, r.end), 0);

  const ends = ok.map((r) => r.end).sort((a, b) => a - b);
  let gap = ends.length ? ends[0] : durationMs;
  for (let i = 1; i < ends.length; i++) gap = Math.max(gap, ends[i] - ends[i - 1]);
  if (ends.length) gap = Math.max(gap, durationMs - ends[ends.length - 1]);

  const lat = ok.map((r) => r.end - r.start).sort((a, b) => a - b);
  const byGen = new Map<number, GenerationSpan>();
  for (const r of ok) {
    if (r.generation === undefined) continue;
    const g = byGen.get(r.generation) ?? { generation: r.generation, pids: [], first: r.end, last: r.end, requests: 0 };
    g.first = Math.min(g.first, r.end);
    g.last = Math.max(g.last, r.end);
    g.requests++;
    if (r.pid !== undefined && !g.pids.includes(r.pid)) g.pids.push(r.pid);
    byGen.set(r.generation, g);
  }
  return {
    sent: records.length,
    succeeded: ok.length,
    failed: records.length - ok.length,
    failures,
    longestGapMs: Math.round(gap),
    latencyMs: {
      p50: round(percentile(lat, 50)),
      p99: round(percentile(lat, 99)),
      max: round(lat[lat.length - 1] ?? 0),
    },
    generations: [...byGen.values()].sort((a, b) => a.first - b.first),
    durationMs: Math.round(durationMs),
  };
}

const round = (n: number) => Math.round(n * 10) / 10;

export function formatContinuity(c: Continuity): string {
  const f =
    Object.entries(c.failures)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ') || 'none';
  return [
    `requests ${c.sent}, succeeded ${c.succeeded}, failed ${c.failed} (${f})`,
    `longest gap without a success ${c.longestGapMs} ms; latency p50 ${c.latencyMs.p50} ms, p99 ${c.latencyMs.p99} ms, max ${c.latencyMs.max} ms`,
    `generations seen ${c.generations.length}`,
  ].join('\n');
}
