import { flagHelp, parseDuration, parseFlags } from '../args';
import { type BudgetTable, BUDGETS, type Budget, parseBudgetOverrides } from '../chaos/budgets';
import { CHAOS_WORKER_TIMEOUT_S, chaosBoot, workerTimeoutOf } from '../chaos/boot';
import { FAULTS, FAULT_INFO, type FaultKind, isFault, parseFaults } from '../chaos/faults';
import { MAX_SEED, parseSeed } from '../chaos/prng';
import { type ChaosTarget, runChaos } from '../chaos/run';
import { formatSchedule, makeSchedule, minSlotMs, WARMUP_MS, COOLDOWN_MS } from '../chaos/schedule';
import { type BootedLab, bootLab } from '../engine/boot';
import { execIn } from '../engine/containers';
import type { Flavour } from '../engine/flavour-images';
import { LabError, LabExit } from '../errors';
import { chooseLab, resolveLab } from '../resolve';
import { instanceName } from '../session/session';
import { DEFAULT_SERVER } from '../servers';
import type { ServerName } from '../servers/types';
import type { Command } from './command';
import { docker, runningLab } from './target';

const FLAGS = {
  duration: { kind: 'string', help: 'how long the run lasts: 60s, 2m', default: '60s' },
  seed: { kind: 'string', help: 'seed of the schedule, 0..4294967295 (default: drawn from the clock, printed)' },
  faults: { kind: 'string', help: `fault classes, comma-separated, or all: ${FAULTS.join(', ')}`, default: 'all' },
  server: { kind: 'server', help: 'phoenix or unicorn (behind unicorn-wrapper)', default: DEFAULT_SERVER },
  flavour: { kind: 'flavour', help: 'precise or bookworm (default precise, or bookworm when precise cannot be had)' },
  running: { kind: 'boolean', help: 'use the running lab named --name instead of booting one' },
  name: { kind: 'string', help: 'with --running: the lab instance', default: 'default' },
  rate: { kind: 'number', help: "the lab's own load: requests per second through nginx", default: 100 },
  concurrency: { kind: 'number', help: "the lab's own load: connections", default: 4 },
  'outsider-rate': { kind: 'number', help: 'the independent client: requests per second', default: 20 },
  budget: { kind: 'string', help: 'override budgets: FAULT=FAILED[/GAPMS],... (FAULT=0: a zero budget)' },
  image: { kind: 'string', help: "boot this image instead of the flavour's own (give --flavour with it)" },
  'dry-run': { kind: 'boolean', help: 'print the schedule and the budgets, do nothing' },
} as const;

const usage = (why: string): LabError => new LabError(`lab chaos: ${why}; see 'lab chaos --help'`, LabExit.USAGE);

function budgetLines(
  table: BudgetTable,
  flavour: Flavour,
  server: ServerName,
  faults: FaultKind[],
  o: Partial<Record<FaultKind, Budget>>,
): string {
  return faults
    .map((k) => {
      const b = o[k] ?? table[flavour][server][k];
      return (
        `  ${k.padEnd(14)} ${String(b.failed).padStart(2)} ` +
        `failed${b.resets ? ` (+${b.resets} keep-alive reset per connection)` : ''}, gap ` +
        `${b.gapMs} ms${k === 'pause' ? ' + the pause' : ''}${o[k] ? '  (overridden)' : ''}`
      );
    })
    .join('\n');
}

export const chaos: Command = {
  name: 'chaos',
  summary: 'inject a seeded random schedule of faults under load; every fault judged against its budget',
  usage: `lab chaos [--duration D] [--seed N] [--faults LIST] [--server S] [--flavour F] [--running [--name NAME]]

Boots a lab (or, with --running, uses the running one), drives load through nginx with the
lab's own load and, beside it, an independent raw-socket client, and injects a schedule of
faults drawn from the seed: ${FAULTS.join(', ')}.
The same seed, duration and faults give the same schedule; it is printed first and saved
with the run (.lab/runs/<time>-chaos-<flavour>-<server>/schedule.json). Each fault owns the
window until the next one; its cost (failed requests, longest gap without a success) is
judged against the budget of its class for this init and server (lab/chaos/budgets.ts).

Faults:
${FAULTS.map((k) => `  ${k.padEnd(14)} ${FAULT_INFO[k].title}`).join('\n')}

Exit codes: 0 every fault within its budget and the lab's checker saw what the outsider saw,
1 a fault over budget (or failures the checker missed), 2 usage, 3 Docker or the image unavailable.

${flagHelp(FLAGS)}`,
  async run(argv) {
    // `--duration -5s` reads as two options to parseArgs: say what it is instead.
    for (let i = 0; i < argv.length - 1; i++) {
      const v = argv[i + 1];
      if (argv[i] === '--duration' && /^-\d/.test(v))
        throw usage(`--duration '${v}' is negative: give a positive duration (60s, 2m)`);
      if (argv[i] === '--seed' && /^-\d/.test(v))
        throw usage(`--seed '${v}' is not a number (a whole number from 0 to ${MAX_SEED})`);
    }
    const { flags } = parseFlags('chaos', argv, FLAGS);
    // Everything is checked before anything is started: a bad input leaves nothing behind.
    const durRaw = (flags.duration ?? '60s').trim();
    if (durRaw.startsWith('-')) throw usage(`--duration '${durRaw}' is negative: give a positive duration (60s, 2m)`);
    const durationMs = parseDuration(durRaw, 'lab chaos: --duration');
    let seed: number;
    if (flags.seed !== undefined) {
      const s = parseSeed(flags.seed);
      if (s === undefined) throw usage(`--seed '${flags.seed}' is not a number (a whole number from 0 to ${MAX_SEED})`);
      seed = s;
    } else seed = Date.now() % (MAX_SEED + 1);
    const parsed = parseFaults(flags.faults ?? 'all');
    if ('unknown' in parsed)
      throw usage(`unknown fault ${parsed.unknown.map((u) => `'${u}'`).join(', ')}: use ${FAULTS.join(', ')} or all`);
    const faults = parsed.faults;
    const ob = flags.budget ? parseBudgetOverrides(flags.budget, isFault) : { overrides: {} };
    if ('error' in ob) throw usage(`--budget: ${ob.error}`);
    const rate = flags.rate ?? 100;
    const concurrency = flags.concurrency ?? 4;
    const outsiderRate = flags['outsider-rate'] ?? 20;
    if (rate <= 0 || rate > 5000) throw usage('--rate must be above 0 and at most 5000');
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 200)
      throw usage('--concurrency must be a whole number from 1 to 200');
    if (outsiderRate <= 0 || outsiderRate > 500) throw usage('--outsider-rate must be above 0 and at most 500');
    if (flags.running && (argv.some((a) => a.startsWith('--server')) || argv.some((a) => a.startsWith('--flavour'))))
      throw usage('--running uses the lab as it runs: --server and --flavour are for a lab chaos boots itself');
    if (flags.image !== undefined && (flags.flavour === undefined || flags.running))
      throw usage('--image needs --flavour (which init the image runs) and no --running');
    const { server, init: asked } = chooseLab(flags);
    const shortest = Math.min(...faults.map((k) => minSlotMs(k, CHAOS_WORKER_TIMEOUT_S)));
    const least = WARMUP_MS + shortest + COOLDOWN_MS;
    if (durationMs < least)
      throw usage(
        `--duration ${durRaw} is too short for any of these faults: at least ` +
          `${Math.ceil(least / 1000)} s (a ${WARMUP_MS / 1000} s baseline, the shortest fault's ` +
          `slot, ${COOLDOWN_MS / 1000} s after)`,
      );

    const say = (line: string) => process.stderr.write(`  ${line}\n`);
    if (flags['dry-run']) {
      // The budgets of the init a real run would boot first (the default before any fallback).
      const flavour = asked.name;
      const schedule = makeSchedule({ seed, durationMs, faults, workerTimeoutS: CHAOS_WORKER_TIMEOUT_S });
      process.stdout.write(
        `lab chaos: seed ${seed}, ${durationMs / 1000} s, ${schedule.length} faults (worker ` +
          `timeout ${CHAOS_WORKER_TIMEOUT_S} s)\n${formatSchedule(schedule)}\nbudgets on ${flavour} ` +
          `with ${server.name}:\n${budgetLines(BUDGETS, flavour, server.name, faults, ob.overrides)}\n`,
      );
      return LabExit.OK;
    }

    let booted: BootedLab | undefined;
    let target: ChaosTarget;
    if (flags.running) {
      const lab = await runningLab(flags.name ?? 'default');
      const exec = (cmd: string[]) => execIn(lab.container, cmd);
      target = {
        docker: lab.docker,
        container: lab.container,
        flavour: lab.driver.name,
        driver: lab.driver,
        server: lab.server,
        origin: lab.origin,
        port: lab.info.port,
        instance: lab.info.instance,
        workerTimeoutS: await workerTimeoutOf(exec, lab.server),
      };
    } else {
      const d = await docker();
      process.stderr.write(`lab chaos: preparing the ${asked.name} image\n`);
      const { init: driver, image } = await resolveLab(flags, { docker: d, log: say });
      const flavour = driver.name;
      try {
        booted = await bootLab({
          image,
          init: driver,
          server,
          boot: chaosBoot(driver, server),
          instance: instanceName(`chaos-${server.name}`),
          // 'scenario': the reaper removes it if this process is killed with SIGKILL.
          purpose: 'scenario',
          waitForApp: true,
          timeoutMs: 90_000,
          say,
        });
      } catch (err) {
        throw new LabError(`the lab did not come up: ${(err as Error).message}`, LabExit.FAILED);
      }
      target = {
        docker: booted.docker,
        container: booted.container,
        flavour,
        driver,
        server,
        origin: booted.origin,
        port: booted.port,
        instance: booted.instance,
        workerTimeoutS: CHAOS_WORKER_TIMEOUT_S,
      };
    }
    try {
      const schedule = makeSchedule({ seed, durationMs, faults, workerTimeoutS: target.workerTimeoutS });
      process.stdout.write(
        `lab chaos: seed ${seed}, ${durationMs / 1000} s on ${target.flavour} with ` +
          `${target.server.name} (${target.origin}, worker timeout ${target.workerTimeoutS} ` +
          `s)\nschedule (replay with --seed ${seed} --duration ${durRaw} --faults ${faults.join(',')}):\n` +
          `${formatSchedule(schedule)}\nbudgets:\n` +
          `${budgetLines(BUDGETS, target.flavour, target.server.name, faults, ob.overrides)}\n`,
      );
      if (schedule.length === 0) throw usage(`--duration ${durRaw} leaves no room for a fault`);
      const r = await runChaos(target, {
        seed,
        durationMs,
        faults,
        schedule,
        rate,
        concurrency,
        outsiderRate,
        budgetOverrides: ob.overrides,
        say,
      });
      process.stdout.write(
        `verdict:\n${r.verdict.lines.map((l) => `  ${l}`).join('\n')}\nrun: ${r.dir}\nreport: ${r.report}\n`,
      );
      return r.verdict.ok ? LabExit.OK : LabExit.FAILED;
    } finally {
      if (booted) await booted.close().then(() => say('lab container removed'));
    }
  },
};
