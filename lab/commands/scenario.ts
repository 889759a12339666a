import * as path from 'node:path';
import { flagHelp, parseFlags } from '../args';
import { FLAVOURS, type Flavour, isFlavour } from '../engine/flavour-images';
import { LabError, LabExit } from '../errors';
import { writeSummary } from '../report/write';
import { createRun, labHome } from '../runs';
import { CATALOGUE, findScenario } from '../scenarios/catalogue';
import { formatResult, formatRow } from '../scenarios/format';
import { runScenario } from '../scenarios/runner';
import { type Scenario, type ScenarioResult, expectationFor, serversOf } from '../scenarios/types';
import type { ServerName } from '../servers/types';
import { serverFor } from '../servers';
import type { Command } from './command';
import { docker } from './target';

const FLAGS = {
  flavour: { kind: 'string', help: 'precise, bookworm or all', default: 'all' },
  server: {
    kind: 'string',
    help: "phoenix, unicorn or all (default: each scenario's own server; with all, every server it has meaning for)",
  },
  all: { kind: 'boolean', help: 'with run: every scenario, and a summary page' },
  image: { kind: 'string', help: "boot this image instead of the flavour's own (one flavour only)" },
} as const;

const USAGE = `lab scenario list
lab scenario show NAME
lab scenario run NAME [--flavour precise|bookworm|all] [--server phoenix|unicorn|all] [--image IMAGE]
lab scenario run --all [--flavour precise|bookworm|all] [--server phoenix|unicorn|all]

Each run boots a fresh lab container (its own name and 127.0.0.1 port), applies the scenario's
config, acts under load, observes, compares with what the scenario expects on that flavour and
prints the verdict with its numbers; the container is removed at the end (Ctrl-C too). Results
go to .lab/runs/<time>-<scenario>-<flavour>/ (result.json, records.json, report.html); 'run --all'
also writes summary.html, a table of scenarios by flavour. A scenario with no meaning on a
flavour is reported NOT RUN with the reason, never as passed.

Exit codes: 0 every run met its expectation (or was not applicable), 1 an outcome was
UNEXPECTED, 2 usage, 3 Docker or the image of a flavour asked for by name is unavailable.

${flagHelp(FLAGS)}`;

function flavoursOf(value: string): Flavour[] {
  if (value === 'all') return [...FLAVOURS];
  if (!isFlavour(value)) throw new LabError(`--flavour ${value}: use precise, bookworm or all`, LabExit.USAGE);
  return [value];
}

function list(): string {
  const w = Math.max(...CATALOGUE.map((s) => s.name.length));
  const cell = (s: Scenario, f: Flavour, v: ServerName) => {
    const tag = v === 'phoenix' ? f : `${f}/${v}`;
    return expectationFor(s, f, v).applicable ? tag : `(${tag}: n/a)`;
  };
  const cells = (s: Scenario) => serversOf(s).flatMap((v) => FLAVOURS.map((f) => cell(s, f, v)));
  return `${CATALOGUE.map((s) => `  ${s.name.padEnd(w)}  ${s.title}  [${cells(s).join(', ')}]`).join('\n')}\n\n'lab scenario show NAME' tells the story and what each init is expected to do.\n`;
}

function show(s: Scenario): string {
  const lines = [`${s.name}: ${s.title}`, '', `story: ${s.story}`, ''];
  for (const v of serversOf(s)) {
    for (const f of FLAVOURS) {
      const e = expectationFor(s, f, v);
      const on = `${f} with ${v}`;
      lines.push(e.applicable ? `on ${on}: ${e.expect}` : `on ${on}: NOT APPLICABLE: ${e.reason}`);
      if (e.applicable) lines.push(`  config at boot: ${serverFor(v).activate(f).label}; ${s.boot(f).label}`);
      lines.push('');
    }
  }
  lines.push(`run it: lab scenario run ${s.name} [--flavour precise|bookworm] [--server ${serversOf(s).join('|')}]`);
  return `${lines.join('\n')}\n`;
}

function serversFor(value: string | undefined, s: Scenario): ServerName[] {
  if (value === undefined) return [serversOf(s)[0]];
  if (value === 'all') return serversOf(s);
  serverFor(value);
  return [value as ServerName];
}

async function run(
  names: Scenario[],
  flavours: Flavour[],
  o: { image?: string; summary: boolean; explicitFlavour: boolean; server?: string },
): Promise<number> {
  if (o.server !== undefined && o.server !== 'all') serverFor(o.server);
  await docker();
  const results: ScenarioResult[] = [];
  const t = Date.now();
  for (const s of names) {
    for (const v of serversFor(o.server, s)) {
      for (const f of flavours) {
        const r = await runScenario(s, f, { image: o.image, server: v });
        results.push(r);
        process.stdout.write(`${formatResult(r)}\n\n`);
      }
    }
  }
  if (results.length > 1) {
    process.stdout.write(`${results.map(formatRow).join('\n')}\n`);
    process.stdout.write(`${results.length} runs in ${((Date.now() - t) / 1000).toFixed(0)} s\n`);
  }
  if (o.summary) {
    const dir = createRun('scenario', 'summary', labHome());
    const file = writeSummary(
      dir,
      results.map((r) => ({
        scenario: r.scenario,
        // The summary's columns are init x server.
        flavour: r.server && r.server !== 'phoenix' ? `${r.flavour}/${r.server}` : r.flavour,
        outcome: r.verdict.outcome,
        reasons: r.verdict.reasons,
        reportPath: r.report,
      })),
      {
        title: 'Scenarios by init and server',
        startedAt: new Date(t).toISOString(),
      },
    );
    process.stdout.write(`summary: ${path.resolve(file)}\n`);
  }
  if (results.some((r) => r.verdict.outcome === 'UNEXPECTED')) return LabExit.FAILED;
  // A flavour asked for by name that could not run at all is an environment problem, not a pass.
  if (
    o.explicitFlavour &&
    results.length > 0 &&
    results.every((r) => r.error !== undefined && r.verdict.outcome === 'NOT RUN')
  )
    return LabExit.ENVIRONMENT;
  return LabExit.OK;
}

export const scenario: Command = {
  name: 'scenario',
  summary: 'list, show and run the catalogue of production failures, with a verdict and a report',
  usage: USAGE,
  async run(argv) {
    const { flags, positional } = parseFlags('scenario', argv, FLAGS, {
      names: ['list|show|run', '[NAME]'],
      required: 1,
    });
    const [verb, name] = positional;
    switch (verb) {
      case 'list':
        if (name !== undefined)
          throw new LabError(`lab scenario list: unexpected argument '${name}' (takes none)`, LabExit.USAGE);
        process.stdout.write(list());
        return LabExit.OK;
      case 'show': {
        const s = name ? findScenario(name) : undefined;
        if (!s)
          throw new LabError(
            `lab scenario show: ${name ? `no scenario '${name}'` : 'name a scenario'}; 'lab scenario list' lists them`,
            LabExit.USAGE,
          );
        process.stdout.write(show(s));
        return LabExit.OK;
      }
      case 'run': {
        const flavours = flavoursOf(flags.flavour ?? 'all');
        if (flags.image && flavours.length !== 1)
          throw new LabError('--image names one image: give one --flavour with it', LabExit.USAGE);
        if (flags.all) {
          if (name) throw new LabError('lab scenario run: give a NAME or --all, not both', LabExit.USAGE);
          return run([...CATALOGUE], flavours, {
            image: flags.image,
            summary: true,
            explicitFlavour: flags.flavour !== 'all',
            server: flags.server,
          });
        }
        const s = name ? findScenario(name) : undefined;
        if (!s)
          throw new LabError(
            `lab scenario run: ${name ? `no scenario '${name}'` : 'name a scenario or give --all'}; 'lab scenario list' lists them`,
            LabExit.USAGE,
          );
        return run([s], flavours, {
          image: flags.image,
          summary: false,
          explicitFlavour: flags.flavour !== 'all',
          server: flags.server,
        });
      }
      default:
        throw new LabError(
          `lab scenario: ${verb ? `unknown '${verb}'` : 'say what to do'}: list, show NAME, run NAME or run --all`,
          LabExit.USAGE,
        );
    }
  },
};
