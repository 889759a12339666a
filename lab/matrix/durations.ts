/**
 * How long each cell of the matrix takes, as measured: what the split into shards balances.
 * The numbers are medians of recorded runs (measured-durations.json, written by
 * `npm run matrix:durations -- DIR...` from run folders), never guesses. A cell with no record
 * of its own borrows its scenario's on the same init, then its scenario's on any init, then
 * the median of the table, so a new scenario still gets a place in a shard.
 */
import table from './measured-durations.json';

export interface DurationTable {
  about: string;
  /** whole seconds per cell key (scenario/flavour/server) */
  seconds: Record<string, number>;
  /** how many runs each median was taken from */
  runs: Record<string, number>;
}

export type Cost = (c: { scenario: string; flavour: string; server: string }) => number;

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? 0 : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A cost per cell from a table, with the fallbacks above; whole seconds, at least 1. */
export function costFrom(t: Pick<DurationTable, 'seconds'>): Cost {
  const entries = Object.entries(t.seconds);
  const byScenarioInit = new Map<string, number[]>();
  const byScenario = new Map<string, number[]>();
  for (const [key, s] of entries) {
    const [scenario, flavour] = key.split('/');
    byScenarioInit.set(`${scenario}/${flavour}`, [...(byScenarioInit.get(`${scenario}/${flavour}`) ?? []), s]);
    byScenario.set(scenario, [...(byScenario.get(scenario) ?? []), s]);
  }
  const fallback = median(entries.map(([, s]) => s)) || 1;
  return (c) => {
    const own =
      t.seconds[`${c.scenario}/${c.flavour}/${c.server}`] ??
      median(byScenarioInit.get(`${c.scenario}/${c.flavour}`) ?? []);
    const s = own || median(byScenario.get(c.scenario) ?? []) || fallback;
    return Math.max(1, Math.round(s));
  };
}

/** The recorded durations this copy of the lab splits by. */
export const typicalSeconds: Cost = costFrom(table);
