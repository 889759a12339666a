import { type LifecycleEvent, parseEvents } from '../../src/events';
import type { LabStatus } from '../inspect';

/**
 * Reading what the lab's processes said: phoenix's logfmt lifecycle lines
 * (`phoenix ts=.. pid=.. role=master event=..`), init's own lines, and the status snapshots.
 * Pure functions over text, so they are tested without a lab.
 */
export type { LifecycleEvent };

/** Every event line of a log, whoever wrote it (phoenix, unicorn-wrapper). */
export function parseLifecycle(text: string): LifecycleEvent[] {
  return parseEvents(text);
}

export function countEvents(events: readonly LifecycleEvent[], event: string, role = 'master'): number {
  return events.filter((e) => e.event === event && e.role === role).length;
}

/** A master's `start` event. */
export const masterStart = (e: LifecycleEvent): boolean => e.role === 'master' && e.event === 'start';

/**
 * A `ready` event: a master's first workers answer. A wrapper in front of the masters
 * (unicorn-wrapper) says it for the master it started, under its own pid.
 */
export const masterReady = (e: LifecycleEvent): boolean =>
  (e.role === 'master' || e.role === 'wrapper') && e.event === 'ready';

/** A start the app refused (or failed), with exit code `code` when given. */
export function startFailed(e: LifecycleEvent, code?: number): boolean {
  return e.event === 'start-failed' && (code === undefined || Number(e.fields.code) === code);
}

/** Distinct master pids that logged `start`: how many masters this run ever had. */
export function mastersStarted(events: readonly LifecycleEvent[]): number[] {
  return [...new Set(events.filter((e) => e.role === 'master' && e.event === 'start').map((e) => e.pid))];
}

/** init's short state of the app ("start/running", "active/running"), as the init driver read it. */
export function initState(s: LabStatus | undefined): string {
  if (!s) return 'unknown';
  return s.init.state ?? (s.init.status.split('\n')[0] || 'unknown');
}

/** The masters that serve (have workers), tracked by init or not. */
export function servingMasters(s: LabStatus): { pid: number; tracked: boolean; generations: number[] }[] {
  return s.masters
    .map((m) => ({
      pid: m.pid,
      tracked: m.trackedByInit,
      generations: [...new Set(s.workers.filter((w) => w.master === m.pid).map((w) => w.generation))].sort(
        (a, b) => a - b,
      ),
    }))
    .filter((m) => m.generations.length > 0);
}

/**
 * The master that serves for what init tracks: the tracked process itself when it is a master
 * (phoenix as shipped), or, when init tracks a wrapper in front of the masters (unicorn-wrapper,
 * a herder), the master its pid file names. Undefined while nothing init tracks serves.
 */
export function trackedServingMaster(s: LabStatus): number | undefined {
  const tracked = s.init.trackedPid;
  if (tracked === undefined) return undefined;
  const serving = servingMasters(s);
  if (serving.some((m) => m.pid === tracked)) return tracked;
  const viaWrapper = s.herders.some((h) => h.pid === tracked) ? s.pidFile : undefined;
  return viaWrapper !== undefined && serving.some((m) => m.pid === viaWrapper) ? viaWrapper : undefined;
}

/** A one-line picture of a status snapshot for facts and progress lines. */
export function statusLine(s: LabStatus): string {
  const masters = servingMasters(s).map((m) => `${m.pid}${m.tracked ? '*' : ''}[gen ${m.generations.join('+')}]`);
  return (
    `init ${initState(s)} tracks ${s.init.trackedPid ?? 'nothing'}; masters ` +
    `${masters.join(' ') || 'none'}; socket ${s.socket ? `${s.socket.owner}:${s.socket.group} ${s.socket.mode}` : 'absent'}`
  );
}

/**
 * Socket events as a few timeline markers: events closer than `gapMs` form one burst, and a
 * burst is one marker ("37 socket events in 1.2 s"), so hundreds of events stay readable.
 */
export function socketEventBursts(
  times: readonly number[],
  gapMs = 1000,
  max = 8,
): Array<{ at: number; count: number; spanMs: number }> {
  const sorted = [...times].sort((a, b) => a - b);
  const bursts: Array<{ at: number; count: number; spanMs: number }> = [];
  for (const t of sorted) {
    const last = bursts[bursts.length - 1];
    if (last && t - (last.at + last.spanMs) <= gapMs) {
      last.count++;
      last.spanMs = t - last.at;
    } else bursts.push({ at: t, count: 1, spanMs: 0 });
  }
  // Too many bursts for a readable chart: merge the closest neighbours until they fit.
  while (bursts.length > max) {
    let k = 0;
    for (let i = 1; i < bursts.length - 1; i++)
      if (bursts[i + 1].at - bursts[i].at < bursts[k + 1].at - bursts[k].at) k = i;
    const [a, b] = [bursts[k], bursts[k + 1]];
    bursts.splice(k, 2, { at: a.at, count: a.count + b.count, spanMs: b.at + b.spanMs - a.at });
  }
  return bursts;
}
