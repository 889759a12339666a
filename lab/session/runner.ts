import * as path from 'node:path';
import { summarize } from '../check/continuity';
import { engineGone } from '../engine/docker';
import { ensureFlavourImage, type Flavour } from '../engine/flavour-images';
import { formatStatus, type LabStatus } from '../inspect';
import type { RequestRecord } from '../load/record';
import type { RunData } from '../results/types';
import { writeReport } from '../report/write';
import { createRun, labHome, type RunMeta, writeJson } from '../runs';
import type { ScenarioContext } from './context';
import { notRun } from './judge';
import { socketEventBursts } from './observe';
import { openSession } from './session';
import { SERVER_BEFORE_CHOICE, columnOf, serverFor } from '../servers';
import type { ServerName } from '../servers/types';
import { type Facts, type Scenario, type ScenarioResult, type Verdict, expectationFor, homeServer } from './types';

export interface RunOptions {
  /** the image to boot; default: the flavour's image, built when its inputs changed */
  image?: string;
  /** progress lines for the person watching */
  say?: (line: string) => void;
  /** where .lab/runs is (default: LAB_HOME or ./.lab) */
  home?: string;
  /** the app server to run it on (default: the one the scenario is written for) */
  server?: ServerName;
}

const images = new Map<Flavour, Promise<string>>();

/** The flavour's image, asked for once per process (a build is minutes, a check is not). */
export function imageFor(flavour: Flavour, say: (line: string) => void): Promise<string> {
  let p = images.get(flavour);
  if (!p) {
    p = ensureFlavourImage(flavour, { log: (l) => say(`image: ${l}`) });
    images.set(flavour, p);
    p.catch(() => images.delete(flavour));
  }
  return p;
}

/** What the lab said during the run, for the report: phoenix, init, nginx, the socket. */
export async function collectLogs(ctx: ScenarioContext): Promise<string[]> {
  const out: string[] = [];
  const section = async (title: string, script: string, lines: number) => {
    const r = await ctx.sh(`{ ${script} ; } 2>&1 | tail -n ${lines}`).catch(() => undefined);
    const text = r?.stdout.trim();
    if (text) out.push(`== ${title} ==`, ...text.split('\n'));
  };
  for (const l of ctx.driver.reportLogs(ctx.server)) await section(l.title, l.script, l.lines);
  await section('nginx error log', `cat ${ctx.server.nginxErrorLog}`, 15);
  return out;
}

/** upstart: the bridge's `socket` events (as the counter job saw them) as markers on the timeline. */
async function markSocketEvents(ctx: ScenarioContext): Promise<void> {
  for (const b of socketEventBursts(await ctx.socketEventTimes())) {
    ctx.markAtEpoch(
      b.at,
      'note',
      b.count === 1 ? 'socket event' : `${b.count} socket events in ${(b.spanMs / 1000).toFixed(1)} s`,
    );
  }
}

function errorVerdict(message: string): Verdict {
  return {
    outcome: 'UNEXPECTED',
    checks: [{ what: 'the run could be carried out', expected: 'yes', seen: message, ok: false }],
    reasons: [`FAIL the run could not be carried out: ${message}`],
  };
}

/**
 * The Docker engine went away (stopped, killed, unreachable) while the run needed it: what was
 * seen says nothing about the scenario, so it is neither EXPECTED nor UNEXPECTED.
 */
export function infrastructureVerdict(gone: string, error: string): Verdict {
  return {
    outcome: 'INFRASTRUCTURE',
    checks: [{ what: 'the Docker engine answered throughout the run', expected: 'yes', seen: gone, ok: false }],
    reasons: [`INFRASTRUCTURE the Docker engine went away: ${gone}`, `the run stopped on: ${error}`],
  };
}

/** Runs one scenario on one flavour in a fresh container, judges it, and writes its run folder. */
export async function runScenario(scenario: Scenario, flavour: Flavour, o: RunOptions = {}): Promise<ScenarioResult> {
  const startedAt = new Date().toISOString();
  const t = Date.now();
  const server: ServerName = o.server ?? homeServer(scenario);
  const tag = columnOf(flavour, server);
  const say = (line: string) =>
    (o.say ?? ((l: string) => process.stderr.write(`${l}\n`)))(
      `[${scenario.name}/${tag} ${((Date.now() - t) / 1000).toFixed(1).padStart(5)} s] ${line}`,
    );
  const expectation = expectationFor(scenario, flavour, server);
  const base = {
    scenario: scenario.name,
    title: scenario.title,
    flavour,
    server,
    expectation,
    startedAt,
    facts: {},
    actions: [],
    records: [],
    logs: [],
  };
  if (!expectation.applicable) {
    say(`NOT APPLICABLE: ${expectation.reason}`);
    return saveRun(
      {
        ...base,
        verdict: notRun(`not applicable on ${tag}: ${expectation.reason}`),
        continuity: summarize([]),
        seconds: 0,
      },
      scenario.story,
      o.home,
    );
  }

  let image: string;
  try {
    image = o.image ?? (await imageFor(flavour, say));
  } catch (err) {
    const why = (err as Error).message;
    const gone = await engineGone();
    say(gone ? `INFRASTRUCTURE: the Docker engine went away: ${gone}` : `NOT RUN: no ${flavour} image: ${why}`);
    return saveRun(
      {
        ...base,
        verdict: gone ? infrastructureVerdict(gone, why) : notRun(`the ${flavour} image could not be had: ${why}`),
        continuity: summarize([]),
        seconds: (Date.now() - t) / 1000,
        error: why,
      },
      scenario.story,
      o.home,
    );
  }

  let records: RequestRecord[] = [];
  let facts: Facts = {};
  let before: LabStatus | undefined;
  let after: LabStatus | undefined;
  let logs: string[] = [];
  let actions: ScenarioResult['actions'] = [];
  let series: ScenarioResult['series'];
  let error: string | undefined;
  let closeFailed: string | undefined;
  say(`booting a fresh ${flavour} lab from ${image}`);
  const session = await openSession({
    flavour,
    server: serverFor(server),
    image,
    boot: scenario.boot(flavour, server),
    label: `${scenario.name}-${flavour}-${server}`,
    say,
  }).catch((err: Error) => err);
  if (session instanceof Error) {
    error = `the lab did not boot: ${session.message}`;
  } else {
    const { ctx } = session;
    say(`lab up on ${ctx.origin} (container ${session.instance})`);
    try {
      const booted = await ctx.inspect();
      facts = await scenario.run(ctx);
      // "before" is init's view once the app first answered (socket activation starts it then).
      before = ctx.before ?? booted;
      records = await ctx.allRecords();
      after = await ctx.inspect();
      logs = await collectLogs(ctx);
      await markSocketEvents(ctx);
    } catch (err) {
      error = (err as Error).message;
      say(`the run failed: ${error}`);
      records = await ctx.allRecords();
      logs = await collectLogs(ctx).catch(() => []);
    } finally {
      actions = ctx.actions();
      series = ctx.series();
      // An engine that went away cannot remove the container; the run's verdict is decided below.
      await session.close().then(
        () => say('lab container removed'),
        (err: Error) => {
          closeFailed = `the lab container could not be removed: ${err.message}`;
          say(closeFailed);
        },
      );
    }
  }
  const continuity = summarize(records);
  let verdict = error ? errorVerdict(error) : scenario.verdict({ flavour, server, continuity, before, after, facts });
  // Whatever went wrong, if the engine is gone it was the engine: never an UNEXPECTED finding.
  const gone = verdict.outcome === 'UNEXPECTED' || closeFailed ? await engineGone() : undefined;
  if (gone) {
    say(`INFRASTRUCTURE: the Docker engine went away: ${gone}`);
    verdict = infrastructureVerdict(
      gone,
      error ?? closeFailed ?? verdict.reasons.find((l) => l.startsWith('FAIL')) ?? '',
    );
  }
  return saveRun(
    {
      ...base,
      image,
      verdict,
      continuity,
      facts,
      actions,
      ...(series?.length ? { series } : {}),
      records,
      before,
      after,
      logs,
      seconds: (Date.now() - t) / 1000,
      error,
    },
    scenario.story,
    o.home,
  );
}

/** The run folder: meta.json, records.json, result.json (everything else) and report.html. */
export function saveRun(r: ScenarioResult, story: string, home: string = labHome()): ScenarioResult {
  const cell = `${r.scenario}-${columnOf(r.flavour, r.server, '-')}`;
  const dir = createRun('scenario', cell, home);
  const meta: RunMeta = {
    name: cell,
    kind: 'scenario',
    startedAt: r.startedAt,
    origin: 'http://127.0.0.1 (a fresh container, removed)',
    flavour: r.flavour,
    options: { scenario: r.scenario, image: r.image, server: r.server },
  };
  writeJson(path.join(dir, 'meta.json'), meta);
  const on = `${r.flavour} with ${r.server ?? SERVER_BEFORE_CHOICE}`;
  const expectLine = r.expectation.applicable
    ? `expected on ${on}: ${r.expectation.expect}`
    : `not applicable on ${on}: ${r.expectation.reason}`;
  const input: RunData = {
    title: `${r.scenario}: ${r.title}`,
    scenario: r.scenario,
    flavour: r.flavour,
    server: r.server,
    verdict: { outcome: r.verdict.outcome, reasons: [expectLine, ...r.verdict.reasons] },
    checks: r.verdict.checks,
    continuity: r.continuity,
    records: r.records,
    actions: r.actions,
    series: r.series,
    initBefore: r.before ? formatStatus(r.before) : undefined,
    initAfter: r.after ? formatStatus(r.after) : undefined,
    logs: [`story: ${story}`, ...r.logs],
    startedAt: r.startedAt,
    expectation: r.expectation,
    facts: r.facts,
    seconds: Math.round(r.seconds * 10) / 10,
    image: r.image,
    error: r.error,
    before: r.before,
    after: r.after,
  };
  const report = writeReport(dir, input);
  return { ...r, dir, report };
}
