import { FAULT_INFO, type FaultKind } from './faults';
import { mulberry32 } from './prng';

/** One fault of the schedule: when (ms after the load started), which, and how long it holds. */
export interface ScheduledFault {
  /** 1-based, as the verdict and the timeline number them */
  n: number;
  at: number;
  kind: FaultKind;
  /** stop-worker: how long the worker stays stopped; pause: how long the container stays paused */
  holdMs?: number;
  /** the slot: the next fault starts no earlier than at + slotMs */
  slotMs: number;
}

export interface ScheduleInput {
  seed: number;
  durationMs: number;
  faults: readonly FaultKind[];
  /** the workers' timeout (s): a stopped worker is held this long plus 1.5 s */
  workerTimeoutS?: number;
}

/** The load runs this long before the first fault: the baseline the costs are compared with. */
export const WARMUP_MS = 2000;
/** and this long after the last fault's slot: the last fault's window ends there. */
export const COOLDOWN_MS = 1000;
const JITTER_MS = 1500;

export function holdFor(kind: FaultKind, rnd: () => number, workerTimeoutS: number): number | undefined {
  if (kind === 'stop-worker') return workerTimeoutS * 1000 + 1500;
  // "a docker pause of a second or two"
  if (kind === 'pause') return 1000 + Math.floor(rnd() * 1000);
  return undefined;
}

/** The shortest slot a fault class can have (without the seeded jitter). */
export function minSlotMs(kind: FaultKind, workerTimeoutS = 3): number {
  const hold = kind === 'stop-worker' ? workerTimeoutS * 1000 + 1500 : kind === 'pause' ? 1000 : 0;
  return FAULT_INFO[kind].settleMs + hold;
}

/**
 * The schedule: a pure function of (seed, duration, faults, worker timeout). Faults follow one
 * another in slots long enough for the app to serve again; which class comes next, the jitter
 * of each slot and a pause's length are drawn from mulberry32(seed). A class that no longer fits
 * in the time left is left out of the draw; the schedule ends when none fits.
 */
export function makeSchedule(input: ScheduleInput): ScheduledFault[] {
  const rnd = mulberry32(input.seed);
  const timeout = input.workerTimeoutS ?? 3;
  const out: ScheduledFault[] = [];
  let t = WARMUP_MS;
  const end = input.durationMs - COOLDOWN_MS;
  for (;;) {
    const fits = input.faults.filter((k) => t + minSlotMs(k, timeout) <= end);
    if (fits.length === 0) return out;
    const kind = fits[Math.floor(rnd() * fits.length)];
    const holdMs = holdFor(kind, rnd, timeout);
    const base = FAULT_INFO[kind].settleMs + (holdMs ?? 0);
    const slotMs = Math.min(base + Math.floor(rnd() * JITTER_MS), end - t);
    out.push({ n: out.length + 1, at: t, kind, ...(holdMs === undefined ? {} : { holdMs }), slotMs });
    t += slotMs;
  }
}

export function formatSchedule(s: readonly ScheduledFault[]): string {
  if (s.length === 0) return '  (no fault fits in this duration)';
  return s
    .map(
      (f) =>
        `  #${String(f.n).padStart(2)}  at ${(f.at / 1000).toFixed(1).padStart(6)} s  ` +
        `${f.kind.padEnd(14)}${f.holdMs !== undefined ? ` hold ${(f.holdMs / 1000).toFixed(1)} s` : ''} ` +
        ` (slot ${(f.slotMs / 1000).toFixed(1)} s)`,
    )
    .join('\n');
}
