import { flagHelp, parseDuration, parseFlags } from '../args';
import { formatContinuity, summarize } from '../check/continuity';
import { LabError, LabExit } from '../errors';
import { achievedRate, formatRate } from '../load/rate';
import { runLoad } from '../load/run';
import { ProgressLine } from '../progress';
import { createRun, writeJson } from '../runs';
import { reportForLoadRun } from './report';
import type { Command } from './command';
import { resolveOrigin } from './target';

const FLAGS = {
  rate: { kind: 'number', help: 'requests per second over all connections (0 = as fast as possible)', default: 200 },
  concurrency: { kind: 'number', help: 'connections in parallel', default: 8 },
  duration: { kind: 'string', help: 'how long: 30s, 2m, 500ms', default: '30s' },
  path: { kind: 'string', help: 'path to request', default: '/' },
  'slow-every': { kind: 'number', help: 'every Nth request asks /slow?ms=SLOW-MS instead (0 = never)', default: 0 },
  'slow-ms': { kind: 'number', help: 'duration of those slow requests', default: 2000 },
  timeout: { kind: 'string', help: 'give up on one request after', default: '30s' },
  name: { kind: 'string', help: 'lab instance', default: 'default' },
  port: { kind: 'number', help: "nginx port on 127.0.0.1 (default: the running lab's)" },
} as const;

export const load: Command = {
  name: 'load',
  summary: 'drive traffic through nginx and record every request',
  usage:
    `lab load [--rate R] [--concurrency C] [--duration D] [options]\n\nRecords start, end, ` +
    `status, failure class and which pid and generation served each request\ninto ` +
    `.lab/runs/<time>-load/records.json; 'lab check' judges it.\n\n${flagHelp(FLAGS)}`,
  async run(argv) {
    const { flags } = parseFlags('load', argv, FLAGS);
    const durationMs = parseDuration(flags.duration ?? '30s', '--duration');
    const timeoutMs = parseDuration(flags.timeout ?? '30s', '--timeout');
    const rate = flags.rate ?? 200;
    const concurrency = flags.concurrency ?? 8;
    if (concurrency < 1 || concurrency > 1000)
      throw new LabError('--concurrency must be between 1 and 1000', LabExit.USAGE);
    const { origin, instance, flavour } = await resolveOrigin(flags.name ?? 'default', flags.port);
    const slowEvery = flags['slow-every'] ?? 0;
    const slowPath = `/slow?ms=${flags['slow-ms'] ?? 2000}`;
    const dir = createRun('load', 'load');
    const meta = {
      name: 'load',
      kind: 'load' as const,
      startedAt: new Date().toISOString(),
      origin,
      instance,
      flavour,
      options: { ...flags, rate, durationMs },
    };
    writeJson(`${dir}/meta.json`, meta);
    const line = new ProgressLine();
    process.stderr.write(
      `load: ${origin}${flags.path}, ${concurrency} connections, ${rate || 'unlimited'} req/s, ${durationMs / 1000} s\n`,
    );
    const records = await runLoad({
      origin,
      concurrency,
      durationMs,
      rate: rate || undefined,
      timeoutMs,
      pathFor: (n) => (slowEvery > 0 && n % slowEvery === slowEvery - 1 ? slowPath : (flags.path ?? '/')),
      onProgress: (recs, elapsed) => {
        const failed = recs.filter((r) => r.error).length;
        const gens = new Set(recs.map((r) => r.generation).filter((g) => g !== undefined));
        const last = recs.length ? recs[recs.length - 1] : undefined;
        line.update(
          `load ${(elapsed / 1000).toFixed(1)}/${durationMs / 1000}s  sent ${recs.length}  failed ` +
            `${failed}  generations ${gens.size}${last?.pid ? `  last pid ${last.pid} gen ${last.generation}` : ''}`,
        );
      },
    });
    writeJson(`${dir}/records.json`, records);
    const reached = achievedRate(records, durationMs, rate || undefined);
    writeJson(`${dir}/meta.json`, { ...meta, achieved: reached });
    const c = summarize(records);
    line.done(`load done: ${records.length} requests`);
    // The timeline carries a marker for every lab signal/initctl/apply sent meanwhile.
    const report = reportForLoadRun(dir);
    process.stdout.write(
      `${formatContinuity(c)}\n${formatRate(reached, concurrency)}\nrun: ${dir}\nreport: ${report}\n`,
    );
    return LabExit.OK;
  },
};
