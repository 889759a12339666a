import type { Continuity } from '../check/continuity';
import type { Flavour } from '../engine/flavour-images';
import { DEFAULT_SERVER } from '../servers';
import { SERVERS, type ServerName } from '../servers/types';
import type { LabStatus } from '../inspect';
import type { RequestRecord } from '../load/record';
import type { Action, Outcome, SampledSeries } from '../results/types';
import type { ScenarioContext } from './context';

/**
 * A scenario is data plus two functions, and data flows one way through it:
 *   boot (files in place before init starts) -> run (actions under load, observations
 *   recorded as plain JSON facts) -> verdict (a pure function of what was seen) -> report.
 * The verdict never touches the lab, so it can be tested on recorded or synthetic runs.
 */

/** What a scenario expects on one flavour, in words a person reads in the report. */
export type Expectation = { applicable: true; expect: string } | { applicable: false; reason: string };

export type { BootSpec } from '../engine/boot-spec';
import type { BootSpec } from '../engine/boot-spec';

/** Facts are what run() measured: numbers, words, flags; JSON as it is. Declare them with `type`
 *  (not `interface`), which TypeScript lets stand for a Record. */
export type FactValue = number | string | boolean | null | Array<number | string | boolean | null>;
export type Facts = Record<string, FactValue>;

/** Everything the verdict may look at. */
export interface Seen<F extends Facts = Facts> {
  flavour: Flavour;
  /** the server it ran (absent: the scenario's home server) */
  server?: ServerName;
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
  /** the app server the scenario is written for (default phoenix); `expect` is about it */
  server?: ServerName;
  expect: Record<Flavour, Expectation>;
  /** what it expects of other servers it has meaning for; a server not named here is not applicable */
  alsoOn?: Partial<Record<ServerName, Record<Flavour, Expectation>>>;
  /** a group heading on the summary page ("unicorn in production") */
  group?: string;
  /** what is put in place before init starts, on this init for this server (one of serversOf) */
  boot(flavour: Flavour, server: ServerName): BootSpec;
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
  /** the app server it ran (results written before servers were a choice ran phoenix) */
  server?: ServerName;
  expectation: Expectation;
  verdict: Verdict;
  continuity: Continuity;
  facts: Facts;
  actions: Action[];
  /** numbers the scenario sampled during the run (a listen queue), drawn on the timeline */
  series?: SampledSeries[];
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

/** The server a scenario is written for. */
export const homeServer = (s: Scenario): ServerName => s.server ?? DEFAULT_SERVER;

/** What a scenario expects on this init with this server; not applicable where it has no meaning. */
export function expectationFor(s: Scenario, flavour: Flavour, server: ServerName): Expectation {
  if (server === homeServer(s)) return s.expect[flavour];
  return (
    s.alsoOn?.[server]?.[flavour] ?? {
      applicable: false,
      reason: `written for ${homeServer(s)}: what it does has no ${server} counterpart in the lab`,
    }
  );
}

/** The servers a scenario has meaning for. */
export function serversOf(s: Scenario): ServerName[] {
  return [homeServer(s), ...SERVERS.filter((v) => s.alsoOn?.[v] !== undefined)];
}

/**
 * What a scenario expects of each server it runs on, in one table: the words of its
 * expectation and the numbers its verdict holds that server to. Its run stays the same for
 * every server; only the table says where they differ.
 */
export function perServer<T>(server: ServerName | undefined, table: Record<ServerName, T>): T {
  return table[server ?? DEFAULT_SERVER];
}

/** Each scenario names what it does/expects on every init, so adding an init makes the compiler list every scenario to update. */
export function perInit<T>(flavour: Flavour, table: Record<Flavour, T>): T {
  return table[flavour];
}
