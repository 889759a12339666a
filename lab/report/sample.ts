import type { FailureClass, RequestRecord } from '../load/record';
import type { Action } from '../results/types';
import { mulberry32 } from '../prng';

/**
 * A synthetic run shaped like `bridge-reexec` on upstart, so the report's look can be checked
 * (by tests, in a browser, by a presenter) without a lab: a reexec upgrade after which upstart
 * thinks the job stopped, the socket bridge starting it again so two masters serve at once,
 * a killed master (resets, 502s), a stop (refused, 502s) and a slow start (timeouts). Deterministic for a given seed.
 */
export interface SampleOptions {
  seconds?: number;
  /** requests per second */
  rate?: number;
  seed?: number;
}

export function sampleRun(o: SampleOptions = {}): { records: RequestRecord[]; actions: Action[] } {
  const ms = (o.seconds ?? 20) * 1000;
  const rate = o.rate ?? 250;
  const rnd = mulberry32(o.seed ?? 7);
  // The story's moments as fractions of the run, so a longer sample keeps the same shape.
  const at = (f: number) => Math.round(ms * f);
  const [usr2, gen2Ready, quitOld, oldGone] = [at(0.15), at(0.2), at(0.22), at(0.24)];
  const [bridgeStart, twoMasters, kill, stop, restart, ready] = [
    at(0.4),
    at(0.42),
    at(0.6),
    at(0.72),
    at(0.8),
    at(0.83),
  ];

  const actions: Action[] = [
    { at: -400, kind: 'apply', label: 'apply bridge-reexec (socket bridge + wrapper, reexec)' },
    { at: usr2, kind: 'signal', label: 'USR2 → master 1200 (reexec)' },
    { at: quitOld, kind: 'signal', label: 'QUIT → old master 1200' },
    { at: oldGone + 100, kind: 'note', label: 'upstart: unicorn stop/waiting' },
    { at: bridgeStart, kind: 'initctl', label: 'socket event → start unicorn' },
    { at: kill, kind: 'signal', label: 'KILL → master 1388' },
    { at: stop, kind: 'initctl', label: 'initctl stop unicorn' },
    { at: restart, kind: 'initctl', label: 'socket event → start unicorn' },
  ];

  const records: RequestRecord[] = [];
  const pidOf = (base: number) => base + 1 + Math.floor(rnd() * 4);
  const either = (): [number, number] => (rnd() < 0.5 ? [1, pidOf(1600)] : [2, pidOf(1388)]);
  for (let start = 0; start < ms; start += 1000 / rate) {
    const jitter = rnd();
    let latency = 4 + jitter * 10 + (rnd() < 0.01 ? 60 : 0);
    let error: FailureClass | undefined;
    let generation: number | undefined;
    let pid: number | undefined;
    if (start < gen2Ready) [generation, pid] = [1, pidOf(1200)];
    else if (start < oldGone) [generation, pid] = rnd() < 0.5 ? [1, pidOf(1200)] : [2, pidOf(1388)];
    else if (start < twoMasters) [generation, pid] = [2, pidOf(1388)];
    else if (start < kill) [generation, pid] = either();
    else if (start < kill + 150 && rnd() < 0.5) error = rnd() < 0.7 ? 'reset' : 'http-502';
    else if (start < stop) [generation, pid] = [1, pidOf(1600)];
    else if (start < restart) error = rnd() < 0.75 ? 'http-502' : 'refused';
    else if (start < ready) {
      // Connections queue in the bridge's socket while the new master loads: slow, some time out.
      latency = ready - start + 5 + jitter * 20;
      if (latency > 500) error = 'timeout';
      else [generation, pid] = [1, pidOf(1800)];
    } else if (rnd() < 0.003) error = 'http-504';
    else [generation, pid] = [1, pidOf(1800)];
    const rec: RequestRecord = { start, end: start + latency, path: '/' };
    if (error) rec.error = error;
    else Object.assign(rec, { status: 200, generation, pid });
    if (error?.startsWith('http-')) rec.status = Number(error.slice(5));
    records.push(rec);
  }
  return { records, actions };
}
