import type { RequestRecord } from '../load/record';
import type { ScenarioContext } from './context';
import { sleep } from './context';
import { windowOf } from './load';

/**
 * A run cut into named stretches of time (broken, fixed, broken again ...), each judged on its
 * own requests. A stretch starts `settleMs` after the action that opened it, so requests that
 * were in flight across the change do not blur the numbers.
 */
export type PhaseFacts = {
  phaseNames: string[];
  phaseSent: number[];
  phaseOk: number[];
  phaseFailed: number[];
  /** the most common failure class per phase ('' when none failed) */
  phaseFailure: string[];
};

export class Phases {
  private readonly list: Array<{ name: string; from: number; to: number }> = [];

  constructor(
    private readonly ctx: ScenarioContext,
    private readonly settleMs = 300,
  ) {}

  /** Lets traffic run for `ms` and remembers that stretch as `name`. */
  async hold(name: string, ms: number): Promise<void> {
    const from = this.ctx.now() + this.settleMs;
    await sleep(ms);
    this.list.push({ name, from, to: this.ctx.now() });
  }

  facts(records: readonly RequestRecord[]): PhaseFacts {
    const f: PhaseFacts = { phaseNames: [], phaseSent: [], phaseOk: [], phaseFailed: [], phaseFailure: [] };
    for (const p of this.list) {
      const c = windowOf(records, p.from, p.to);
      const top = Object.entries(c.failures).sort(([, a], [, b]) => (b ?? 0) - (a ?? 0))[0];
      f.phaseNames.push(p.name);
      f.phaseSent.push(c.sent);
      f.phaseOk.push(c.succeeded);
      f.phaseFailed.push(c.failed);
      f.phaseFailure.push(top ? top[0] : '');
    }
    return f;
  }
}

/** "broken: 120 sent, 0 ok, 120 failed (http-502)" per phase. */
export function phaseLines(f: PhaseFacts): string[] {
  return f.phaseNames.map(
    (n, i) =>
      `${n}: ${f.phaseSent[i]} sent, ${f.phaseOk[i]} ok, ${f.phaseFailed[i]} failed${f.phaseFailure[i] ? ` (mostly ${f.phaseFailure[i]})` : ''}`,
  );
}

/** The share of a phase's requests that succeeded (0..1); -1 when the phase sent nothing. */
export function okShare(f: PhaseFacts, name: string): number {
  const i = f.phaseNames.indexOf(name);
  if (i < 0 || f.phaseSent[i] === 0) return -1;
  return f.phaseOk[i] / f.phaseSent[i];
}
