import type { Continuity } from '../check/continuity';
import type { RequestRecord } from '../load/record';

/**
 * What a run produces, as data: the types every producer (scenarios, chaos, `lab report`) and
 * every reader (report/, matrix/, the summary) share. Nothing here renders or writes.
 */

/** INFRASTRUCTURE: the Docker engine went away mid-run; says nothing about the scenario. */
export type Outcome = 'EXPECTED' | 'UNEXPECTED' | 'NOT RUN' | 'INFRASTRUCTURE';

export type ActionKind = 'signal' | 'initctl' | 'apply' | 'docker' | 'note';

/** Something the scenario did to the lab during the run, drawn as a marker on the timeline. */
export interface Action {
  /** ms since run start (negative: before the load started) */
  at: number;
  kind: ActionKind;
  label: string;
}

/**
 * A number the scenario sampled while the load ran (a listen queue, say), drawn as a step line:
 * each value holds until the next sample, as a queue does between two looks at it.
 */
export interface SampledSeries {
  name: string;
  /** [ms on the run's clock, value], in time order */
  points: Array<[number, number]>;
  /**
   * A capacity the other series run up against (a backlog): drawn dashed, and it stretches the
   * strip's scale to at most twice their peak, so a large limit does not flatten what it limits.
   */
  limit?: boolean;
}

/** One line of a verdict: what was checked, what was expected and seen. */
export interface RunCheck {
  what: string;
  expected: string;
  seen: string;
  ok: boolean;
}

/**
 * result.json: everything about one run but its requests (records.json holds those, they can
 * run to megabytes). The first fields are every run's; the rest are a scenario run's.
 */
export interface RunResult {
  title: string;
  scenario?: string;
  flavour?: string;
  server?: string;
  verdict: { outcome: Outcome; reasons: string[] };
  checks?: RunCheck[];
  continuity: Continuity;
  actions: Action[];
  /** numbers sampled during the run, drawn in a strip under the requests */
  series?: SampledSeries[];
  /** `initctl status` / `systemctl status` output before and after the run */
  initBefore?: string;
  initAfter?: string;
  logs?: string[];
  /** ISO time the run started */
  startedAt: string;
  /** a scenario's expectation on this init and server, its facts, and the processes before/after */
  expectation?: unknown;
  facts?: unknown;
  before?: unknown;
  after?: unknown;
  /** wall-clock seconds: boot, run, teardown */
  seconds?: number;
  image?: string;
  /** the run could not be carried out: why */
  error?: string;
}

/** A run as its writer has it: the result and its requests. */
export interface RunData extends RunResult {
  records: RequestRecord[];
}
