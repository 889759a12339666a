import { Pool } from 'undici';
import { type RequestRecord, classifyError, classifyStatus } from './record';
import { SERVED_BY } from '../servers/types';

export interface LoadOptions {
  /** http://127.0.0.1:PORT: traffic only ever goes to loopback */
  origin: string;
  concurrency: number;
  durationMs: number;
  /** requests per second over all connections; unlimited when undefined */
  rate?: number;
  /** which path the n-th request asks for */
  pathFor?: (n: number) => string;
  timeoutMs?: number;
  /** called about 4 times a second with what has been recorded so far */
  onProgress?: (records: readonly RequestRecord[], elapsedMs: number) => void;
  signal?: AbortSignal;
}

export function assertLoopback(origin: string): void {
  const host = new URL(origin).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]') {
    throw new Error(`refusing to send load to ${host}: the lab only sends traffic to 127.0.0.1`);
  }
}

/** Drives `concurrency` request loops for `durationMs` and records every request. */
export async function runLoad(o: LoadOptions): Promise<RequestRecord[]> {
  assertLoopback(o.origin);
  const pool = new Pool(o.origin, { connections: o.concurrency, pipelining: 1, keepAliveTimeout: 4000 });
  const records: RequestRecord[] = [];
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  let n = 0;
  const timeoutMs = o.timeoutMs ?? 30_000;
  const interval = o.rate ? 1000 / o.rate : 0;
  let nextSlot = 0;
  const progress = o.onProgress ? setInterval(() => o.onProgress!(records, now()), 250) : undefined;

  const loop = async () => {
    while (now() < o.durationMs && !o.signal?.aborted) {
      if (interval) {
        const wait = nextSlot - now();
        nextSlot = Math.max(nextSlot, now()) + interval;
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (now() >= o.durationMs) break;
      }
      const path = o.pathFor ? o.pathFor(n++) : '/';
      const rec: RequestRecord = { start: now(), end: 0, path };
      try {
        const res = await pool.request({ method: 'GET', path, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
        await res.body.text();
        rec.status = res.statusCode;
        rec.error = classifyStatus(res.statusCode);
        const pid = res.headers[SERVED_BY.pid];
        const gen = res.headers[SERVED_BY.generation];
        if (typeof pid === 'string') rec.pid = Number(pid);
        if (typeof gen === 'string') rec.generation = Number(gen);
      } catch (err) {
        rec.error = classifyError(err);
      }
      rec.end = now();
      records.push(rec);
    }
  };
  try {
    await Promise.all(Array.from({ length: o.concurrency }, loop));
  } finally {
    if (progress) clearInterval(progress);
    await pool.close().catch(() => undefined);
  }
  return records;
}
