import { type StretchFacts, stretchFacts } from '../../lab/session/unicorn-common';

/** One stretch of a synthetic run: its name, requests sent and answered, failures by class, longest gap. */
export type Phase = [name: string, sent: number, ok: number, failures: Record<string, number>, gapMs: number];

/** StretchFacts as Stretches.facts() makes them from a real run, from one line per stretch. */
export function phases(...list: Phase[]): StretchFacts {
  return stretchFacts(list.map(([name, sent, ok, failures, gapMs]) => ({ name, sent, ok, failures, gapMs })));
}
