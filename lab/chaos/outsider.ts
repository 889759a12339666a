import * as net from 'node:net';

/**
 * The independent client: a raw-socket HTTP/1.0-style client written here from scratch, which
 * shares no code with `lab load` (no undici, no pool, no keep-alive, its own parser). Each
 * request is a new TCP connection with `Connection: close`, read to the end; it fails on a
 * refused or reset connection, a timeout, a status outside 2xx/3xx, or a body shorter than its
 * Content-Length. Chosen over wrk because it records each request's time, so what it saw can
 * be set against each fault's window, and it sends at a fixed, low rate that leaves the shared
 * 2-core machine to the lab (wrk's closed loop runs as fast as it can).
 */
export interface OutsiderRecord {
  /** ms on the run's clock (the same performance.now() origin the chaos run uses) */
  start: number;
  end: number;
  ok: boolean;
  /** refused | reset | timeout | closed-early | short-body | http-NNN | error-CODE */
  cls?: string;
}

export interface OutsiderOptions {
  port: number;
  /** requests per second over all loops */
  rate: number;
  concurrency: number;
  timeoutMs: number;
  /** performance.now() at the run's time 0 */
  t0: number;
}

export interface OutsiderHandle {
  readonly records: readonly OutsiderRecord[];
  stop(): Promise<OutsiderRecord[]>;
}

/** Parses what came back on one connection; undefined when it is a good, complete answer. */
export function judgeResponse(raw: Buffer): string | undefined {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) return raw.length === 0 ? 'closed-early' : 'short-head';
  const head = raw.subarray(0, headEnd).toString('latin1');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  if (!m) return 'bad-status-line';
  const status = Number(m[1]);
  const len = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (len && raw.length - headEnd - 4 < Number(len[1])) return 'short-body';
  return status >= 200 && status < 400 ? undefined : `http-${status}`;
}

function once(port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (cls: string | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(cls);
    };
    const sock = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    sock.on('connect', () =>
      sock.write(
        'GET /?from=outsider HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: lab-chaos-outsider\r\nConnection: close\r\n\r\n',
      ),
    );
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('end', () => finish(judgeResponse(Buffer.concat(chunks))));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'unknown';
      finish(
        code === 'ECONNREFUSED' ? 'refused' : code === 'ECONNRESET' || code === 'EPIPE' ? 'reset' : `error-${code}`,
      );
    });
  });
}

export function startOutsider(o: OutsiderOptions): OutsiderHandle {
  const records: OutsiderRecord[] = [];
  let stopped = false;
  const now = () => performance.now() - o.t0;
  const interval = (1000 * o.concurrency) / Math.max(1, o.rate);
  const loop = async (i: number) => {
    // Loops start staggered, so requests are spread evenly over time.
    await new Promise((r) => setTimeout(r, (interval / o.concurrency) * i));
    while (!stopped) {
      const start = now();
      const cls = await once(o.port, o.timeoutMs);
      records.push({ start, end: now(), ok: cls === undefined, ...(cls ? { cls } : {}) });
      const wait = start + interval - now();
      if (wait > 0 && !stopped) await new Promise((r) => setTimeout(r, wait));
    }
  };
  const all = Promise.all(Array.from({ length: o.concurrency }, (_, i) => loop(i)));
  return {
    records,
    async stop() {
      stopped = true;
      await all;
      return records;
    },
  };
}
