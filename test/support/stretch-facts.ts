import type { StretchFacts } from '../../lab/scenarios/unicorn-common';

/** One stretch of a synthetic run: its name, requests sent and answered, failures by class, longest gap. */
export type Phase = [name: string, sent: number, ok: number, failures: Record<string, number>, gapMs: number];

/** StretchFacts as Stretches.facts() makes them from a real run, from one line per stretch. */
export function phases(...list: Phase[]): StretchFacts {
  const f: StretchFacts = {
    phaseNames: [],
    phaseSent: [],
    phaseOk: [],
    phaseFailed: [],
    phaseFailure: [],
    phaseGapMs: [],
    phaseWaited: [],
    phaseFailures: [],
  };
  for (const [name, sent, ok, failures, gap] of list) {
    const classes = Object.entries(failures).sort(([, a], [, b]) => b - a);
    f.phaseNames.push(name);
    f.phaseSent.push(sent);
    f.phaseOk.push(ok);
    f.phaseFailed.push(sent - ok);
    f.phaseFailure.push(classes[0]?.[0] ?? '');
    f.phaseGapMs.push(gap);
    f.phaseWaited.push((failures.timeout ?? 0) + (failures['http-504'] ?? 0));
    f.phaseFailures.push(classes.map(([k, v]) => `${k}=${v}`).join(' '));
  }
  return f;
}
