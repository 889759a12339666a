import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { flagHelp, parseFlags } from '../args';
import { remoteEngineProblem } from '../engine/docker';
import { LabError, LabExit } from '../errors';
import { exitCodeOf, staticAudit } from '../audit';
import { auditDynamic } from '../audit/dynamic';
import { requireOffline } from '../audit/gems';
import { RULES } from '../audit/rules';
import { formatDynamic, formatReport } from '../audit/render';
import type { Command } from './command';

const FLAGS = {
  static: { kind: 'boolean', help: 'the static part alone: no container, a few seconds' },
  flavour: {
    kind: 'flavour',
    help: 'the init to judge against (default: read from the files: a job is precise, units bookworm)',
  },
  dir: { kind: 'string', help: 'a folder with your files; each is recognised by what it contains' },
  job: { kind: 'string', help: 'your upstart job file' },
  unit: { kind: 'string', help: 'your systemd unit (more units as further arguments)' },
  'unicorn-config': { kind: 'string', help: 'your unicorn config (unicorn.rb)' },
  'nginx-site': { kind: 'string', help: 'your nginx site' },
  app: { kind: 'string', help: 'your Rack app folder (config.ru; gems vendored in vendor/cache)' },
  json: { kind: 'boolean', help: 'print the report as JSON' },
} as const;

export function parseAudit(argv: string[]) {
  const { flags, positional } = parseFlags('audit', argv, FLAGS, { names: ['[UNIT...]'], rest: true });
  if (positional.length > 0 && flags.unit === undefined)
    throw new LabError(
      `lab audit: unexpected argument '${positional.join(' ')}': name files with --dir, --job, --unit (units may follow it), --unicorn-config, --nginx-site`,
      LabExit.USAGE,
    );
  const units = flags.unit === undefined ? [] : [flags.unit, ...positional];
  if (!flags.dir && !flags.job && units.length === 0 && !flags['unicorn-config'] && !flags['nginx-site'])
    throw new LabError(
      'lab audit: name your files: --dir DIR (a folder with them), or --job FILE / --unit FILE..., ' +
        "--unicorn-config FILE, --nginx-site FILE; see 'lab audit --help'",
      LabExit.USAGE,
    );
  return {
    static: flags.static,
    json: flags.json,
    input: {
      dir: flags.dir,
      job: flags.job,
      units,
      unicornConfig: flags['unicorn-config'],
      nginxSite: flags['nginx-site'],
      app: flags.app,
      flavour: flags.flavour,
    },
  };
}

export const audit: Command = {
  name: 'audit',
  summary: "your job file or units, unicorn.rb and nginx site against the catalogue's failures, with the fixes",
  usage:
    'lab audit [--static] [--flavour F] (--dir DIR | --job FILE | --unit FILE...) [--unicorn-config FILE]\n' +
    '          [--nginx-site FILE] [--app DIR] [--json]\n\n' +
    "Checks your files with the tools for each (upstart 1.5's job checker, systemd-analyze verify,\n" +
    "ruby -c and unicorn's own Unicorn::Configurator, nginx -t), then the rules that map a\n" +
    'configuration to the catalogue: each finding names the scenario that reproduces it\n' +
    '(`lab scenario run NAME`), the lines that prove it, and the fix as a diff against your file\n' +
    'taken from the recommended recipe. Your files are only read.\n\n' +
    'Without --static it then boots a lab of that init with your files installed and runs a\n' +
    "battery under load (a reload, a restart of the socket's owner where init owns the socket,\n" +
    '5 USR2 deploys, a broken release, stop + start, kill -9 of the master and of a worker),\n' +
    'confirms each finding or not, and writes an HTML report with the findings and their fixes.\n' +
    'An --app with a Gemfile has its gems installed in the lab from its vendor/cache\n' +
    '(bundle install --local); gems that cannot be resolved offline are refused first.\n\n' +
    `Rules:\n${RULES.map((r) => `  ${r.scenario.padEnd(26)} ${r.summary}`).join('\n')}\n\n` +
    'Exit codes: 0 no exposure found, 1 an exposure (or a check failed), 2 usage, 3 Docker or image unavailable.\n\n' +
    flagHelp(FLAGS),
  parse: parseAudit,
  async run(argv) {
    const a = parseAudit(argv);
    const { report, model, files } = staticAudit(a.input);
    const staticCode = exitCodeOf(report);
    if (a.static) {
      if (a.json) process.stdout.write(`${JSON.stringify({ mode: 'static', ...report }, null, 2)}\n`);
      else process.stdout.write(formatReport(report));
      return staticCode;
    }
    if (!a.json) process.stdout.write(formatReport(report, { dynamic: true }));
    // The battery's load goes to the lab's 127.0.0.1 port: an engine elsewhere cannot be reached.
    const remote = remoteEngineProblem();
    if (remote)
      throw new LabError(`lab audit: ${remote.replace(/\.\s*$/, '')}; --static needs no Docker`, LabExit.ENVIRONMENT);
    // The app's own config.ru, not one a --dir beside it also holds.
    const app =
      a.input.app === undefined
        ? undefined
        : files.find((f) => f.kind === 'rackup' && f.path === join(a.input.app!, 'config.ru'));
    const gemfile = a.input.app !== undefined && existsSync(join(a.input.app, 'Gemfile'));
    // Gems bundler cannot resolve from vendor/cache alone are refused here, before anything boots.
    if (gemfile) requireOffline(a.input.app!);
    const say = a.json ? () => undefined : (l: string) => process.stderr.write(`${l}\n`);
    const dyn = await auditDynamic(report, model, files, {
      say,
      app: app ? { configRu: app.text, dir: a.input.app, gemfile } : undefined,
    });
    if (a.json) process.stdout.write(`${JSON.stringify({ mode: 'dynamic', ...report, dynamic: dyn }, null, 2)}\n`);
    else process.stdout.write(formatDynamic(dyn));
    if (dyn.outcome === 'NOT RUN' || dyn.outcome === 'INFRASTRUCTURE') {
      process.stderr.write(
        `lab audit: the lab could not run (${dyn.error ?? dyn.outcome}): Docker or the ${dyn.flavour} image is unavailable; --static needs neither\n`,
      );
      return LabExit.ENVIRONMENT;
    }
    return staticCode === LabExit.OK && dyn.outcome === 'EXPECTED' ? LabExit.OK : LabExit.FAILED;
  },
};
