import type { Flavour } from '../engine/flavour-images';
import { writeSummary } from '../report/write';
import { createRun, labHome } from '../runs';
import { columnOf } from '../servers';
import type { ServerName } from '../servers/types';
import { findScenario } from '../scenarios/catalogue';
import { formatResult } from './format';
import { runScenario } from './runner';
import { type ScenarioResult, expectationFor } from './types';

/**
 * `lab demo`: the seed's story for a presenter, told by running scenarios of the catalogue
 * (the demo has no acts of its own: what it shows is what `lab scenario run` shows). Each step
 * says what it will run and why, the scenario's story and what it expects on this init, runs
 * it on a fresh lab, prints the verdict with its numbers and what to look at. The demo ends
 * with a page linking every step's report.
 */
export interface DemoIO {
  out(text: string): void;
  /** waits for the presenter (Enter) between steps; resolves at once with --no-pause */
  pause(): Promise<void>;
  say(line: string): void;
}

interface DemoStep {
  scenario: string;
  server: ServerName;
  /** why this step is in the story, in the presenter's words */
  why: string;
}

/** The story per server: unicorn's is the seed's own (its PoC, then the fix). */
export const DEMO_STEPS: Record<ServerName, DemoStep[]> = {
  unicorn: [
    {
      scenario: 'seed-poc',
      server: 'unicorn',
      why: "the seed's proof of concept as its README has it: the socket bridge starts unicorn on the first request, then one USR2",
    },
    {
      scenario: 'wrapper-fix',
      server: 'unicorn',
      why: 'the same socket and the same unicorn behind unicorn-wrapper, the process init tracks: 20 USR2 under load',
    },
    {
      scenario: 'socket-permissions',
      server: 'phoenix',
      why: "the seed's troubleshooting item: a root-owned socket and nginx as www-data give 502; three fixes compared",
    },
  ],
  phoenix: [
    {
      scenario: 'bridge-inplace',
      server: 'phoenix',
      why: 'the bridge starts the app on the first request; 10 in-place upgrades keep the pid init tracks',
    },
    {
      scenario: 'bridge-reexec',
      server: 'phoenix',
      why: "unicorn's own kind of upgrade (a new master process) under the same bridge",
    },
    {
      scenario: 'socket-permissions',
      server: 'phoenix',
      why: "the seed's troubleshooting item: a root-owned socket and nginx as www-data give 502; three fixes compared",
    },
  ],
};

export async function runDemo(
  flavour: Flavour,
  image: string,
  io: DemoIO,
  server: ServerName = 'unicorn',
): Promise<{ reports: ScenarioResult[]; summary: string }> {
  const started = new Date().toISOString();
  const steps = DEMO_STEPS[server];
  const reports: ScenarioResult[] = [];
  for (const [i, step] of steps.entries()) {
    const s = findScenario(step.scenario);
    if (!s) throw new Error(`the demo names scenario '${step.scenario}', which is not in the catalogue`);
    const e = expectationFor(s, flavour, step.server);
    io.out(`\n=== step ${i + 1}/${steps.length}: ${s.title} (${step.server}) ===\n`);
    io.out(`Why: ${step.why}.\nStory: ${s.story}\n`);
    io.out(e.applicable ? `Expected on ${flavour}: ${e.expect}\n\n` : `Not applicable on ${flavour}: ${e.reason}\n\n`);
    await io.pause();
    // The image is the flavour's; the server is switched at boot (one image holds both).
    const r = await runScenario(s, flavour, { image, server: step.server, say: io.say });
    reports.push(r);
    io.out(`${formatResult(r)}\n\nreport: ${r.report}\n`);
    if (i < steps.length - 1) await io.pause();
  }
  const dir = createRun('scenario', 'demo-summary', labHome());
  const summary = writeSummary(
    dir,
    reports.map((r) => ({
      scenario: r.scenario,
      flavour: columnOf(r.flavour, r.server),
      outcome: r.verdict.outcome,
      reasons: r.verdict.reasons,
      reportPath: r.report,
    })),
    { title: `lab demo on ${flavour} (${server})`, startedAt: started },
  );
  return { reports, summary };
}
