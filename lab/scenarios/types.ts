import type { Continuity } from '../check/continuity';
import type { Flavour } from '../engine/flavour-images';
import type { LabStatus } from '../inspect';
import type { RequestRecord } from '../load/record';
import type { Outcome } from '../report/html';
import type { Action } from '../report/timeline';
import type { ScenarioContext } from './context';

/**
 * A scenario is data plus two functions, and data flows one way through it:
 *   boot (files in place before init starts) -> run (actions under load, observations
 *   recorded as plain JSON facts) -> verdict (a pure function of what was seen) -> report.
 * The verdict never touches the lab, so it can be tested on recorded or synthetic runs.
 */

/** What a scenario expects on one flavour, in words a person reads in the report. */
export type Expectation = { applicable: true; expect: string } | { applicable: false; reason: string };

/** What one scenario puts in place before init starts, so init sees it as it would at boot. */
export interface BootSpec {
  /** absolute path in the container -> content */
  files?: Record<string, string>;
  /** removed before init starts (a job that must not run in this scenario, say) */
  remove?: string[];
  /** shell lines run before init (symlinks for systemd units, for example) */
  shell?: string[];
  /** one line for the report's "config applied" marker */
  label: string;
}

/** Facts are what run() measured: numbers, words, flags; JSON as it is. Declare them with `type`
 *  (not `interface`), which TypeScript lets stand for a Record. */
export type FactValue = number | string | boolean | null | Array<number | string | boolean | null>;
export type Facts = Record<string, FactValue>;

/** Everything the verdict may look at. */
export interface Seen<F extends Facts = Facts> {
  flavour: Flavour;
  continuity: Continuity;
  before?: LabStatus;
  after?: LabStatus;
  facts: F;
}

/** One comparison of expected and seen, printed and shown in the report. */
export interface Check {
  what: string;
  expected: string;
  seen: string;
  ok: boolean;
}

export interface Verdict {
  outcome: Outcome;
  checks: Check[];
  /** the checks (and anything else worth saying) as lines */
  reasons: string[];
}

export interface Scenario<F extends Facts = Facts> {
  name: string;
  title: string;
  /** what people see in production when this happens */
  story: string;
  expect: Record<Flavour, Expectation>;
  boot(flavour: Flavour): BootSpec;
  /**
   * Actions under load and observations. Method syntax on purpose: a catalogue of
   * Scenario<SpecificFacts> is then a list of Scenario<Facts>.
   */
  run(ctx: ScenarioContext): Promise<F>;
  verdict(seen: Seen<F>): Verdict;
}

/** One scenario run on one flavour: what result.json holds (with the report's fields). */
export interface ScenarioResult {
  scenario: string;
  title: string;
  flavour: Flavour;
  expectation: Expectation;
  verdict: Verdict;
  continuity: Continuity;
  facts: Facts;
  actions: Action[];
  records: RequestRecord[];
  before?: LabStatus;
  after?: LabStatus;
  logs: string[];
  startedAt: string;
  /** wall-clock seconds: boot, run, teardown */
  seconds: number;
  image?: string;
  /** the run's folder and report, once written */
  dir?: string;
  report?: string;
  /** the run could not be carried out (lab did not boot, Docker failed): why */
  error?: string;
}
