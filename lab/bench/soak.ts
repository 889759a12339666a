import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { summarize } from '../check/continuity';
import { inProgress } from '../chaos/run';
import { bootLab } from '../engine/boot';
import { ensureFlavourImage, type Flavour, FLAVOURS, isFlavour } from '../engine/flavour-images';
import { driverFor } from '../flavours';
import { HostNginx, freePort } from '../host/nginx';
import type { RequestRecord } from '../load/record';
import { startLoad } from '../session/load';
import { ScenarioContext, sleep } from '../session/context';
import { instanceName } from '../session/session';
import { masterSignalTarget, serverFor } from '../servers';
import { SERVERS } from '../servers/types';
import type { ServerName } from '../servers/types';

/**
 * npm run bench:soak [-- --upgrades N --flavours bookworm,precise --rate R]: N USR2 upgrades
 * under load for each server and upgrade mode the init can follow (phoenix in place: init
 * keeps the master's pid; unicorn behind unicorn-wrapper: init keeps the wrapper's), on each
 * flavour, every request recorded; the target is 0 failed. Beside it, the anchor a Node user
 * would pick instead: pm2's cluster mode running the same demo app behind nginx (the host's
 * Debian nginx, the lab's site shape), `pm2 reload` as many times under the same load.
 * Writes results/bench-soak-<time>.json and prints a table. A script that writes results,
 * not a test: it exits 0 once it has measured, and says which targets were missed.
 */
const ROOT = path.resolve(__dirname, '..', '..', '..');
const { values: opt } = parseArgs({
  options: {
    upgrades: { type: 'string', default: '100' },
    flavours: { type: 'string', default: 'bookworm,precise' },
    rate: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '4' },
    'no-pm2': { type: 'boolean', default: false },
  },
  strict: true,
});
const UPGRADES = Number(opt.upgrades);
const RATE = Number(opt.rate);
const CONCURRENCY = Number(opt.concurrency);
const say = (l: string) => process.stderr.write(`[soak] ${l}\n`);

interface Cell {
  name: string;
  flavour: Flavour | 'host';
  server: ServerName | 'pm2';
  mode: string;
  upgrades: number;
  completed: number;
  requests: number;
  failed: number;
  failures: Record<string, number>;
  longestGapMs: number;
  /** USR2 (or pm2 reload) until a request was served by the new generation (pm2: until `pm2 reload` returned) */
  handoverMs: { median: number; p95: number; max: number };
  initKeptPid?: boolean;
  error?: string;
}

const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? Math.round(s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]) : NaN;
};

function cellOf(
  base: Omit<Cell, 'requests' | 'failed' | 'failures' | 'longestGapMs' | 'handoverMs' | 'completed'>,
  records: RequestRecord[],
  handovers: number[],
): Cell {
  const c = summarize(records);
  return {
    ...base,
    completed: handovers.length,
    requests: c.sent,
    failed: c.failed,
    failures: c.failures as Record<string, number>,
    longestGapMs: c.longestGapMs,
    handoverMs: { median: q(handovers, 0.5), p95: q(handovers, 0.95), max: q(handovers, 1) },
  };
}

async function labCell(flavour: Flavour, serverName: ServerName): Promise<Cell> {
  const server = serverFor(serverName);
  const driver = driverFor(flavour);
  const base = {
    name: `${flavour}/${serverName}`,
    flavour,
    server: serverName,
    mode: server.upgradeMode,
    upgrades: UPGRADES,
  };
  const image = await ensureFlavourImage(flavour, { log: (l) => say(l) });
  const lab = await bootLab({
    image,
    init: driver,
    server,
    instance: instanceName(`soak-${serverName}`),
    purpose: 'scenario',
    waitForApp: true,
    timeoutMs: 120_000,
    say,
  });
  const handovers: number[] = [];
  let records: RequestRecord[] = [];
  let initKeptPid = true;
  let error: string | undefined;
  const ctx = new ScenarioContext(flavour, driver, server, lab.docker, lab.container, lab.origin, () => undefined);
  try {
    const first = await ctx.inspect();
    const tracked = first.init.trackedPid;
    const load = ctx.load({ durationMs: 3_600_000, rate: RATE, concurrency: CONCURRENCY, timeoutMs: 20_000 });
    await sleep(1000);
    for (let i = 1; i <= UPGRADES; i++) {
      let s = await ctx.inspect();
      for (let w = 0; inProgress(s) && w < 80; w++) {
        await sleep(250);
        s = await ctx.inspect();
      }
      if (inProgress(s)) throw new Error(`upgrade ${i}: the previous one did not settle: ${inProgress(s)}`);
      if (s.init.trackedPid !== tracked) initKeptPid = false;
      const { pid: target, role } = masterSignalTarget(server, s);
      if (!target) throw new Error(`upgrade ${i}: nothing to signal`);
      const gen = Math.max(0, ...load.records.filter((r) => !r.error).map((r) => r.generation ?? 0));
      const at = ctx.now();
      await ctx.signal('USR2', target, role, `upgrade ${i}`);
      let servedAt: number | undefined;
      for (let w = 0; servedAt === undefined && w < 600; w++) {
        await sleep(50);
        const recs = load.records;
        for (let k = recs.length - 1; k >= 0 && recs[k].end >= at; k--) {
          const r = recs[k];
          if (!r.error && (r.generation ?? 0) > gen && r.start >= at) servedAt = Math.min(servedAt ?? Infinity, r.end);
        }
      }
      if (servedAt === undefined) throw new Error(`upgrade ${i}: no request served by a new generation within 30 s`);
      handovers.push(servedAt - at);
      if (i % 10 === 0 || i === UPGRADES)
        say(`${base.name}: ${i}/${UPGRADES} upgrades, ${load.records.filter((r) => r.error).length} failed so far`);
    }
    await sleep(1000);
    const last = await ctx.inspect();
    if (last.init.trackedPid !== tracked) initKeptPid = false;
  } catch (err) {
    error = (err as Error).message;
    say(`${base.name}: ${error}`);
  } finally {
    records = await ctx.allRecords();
    await lab.close();
  }
  return { ...cellOf(base, records, handovers), initKeptPid, ...(error ? { error } : {}) };
}

async function pm2Cell(): Promise<Cell> {
  const pm2 = path.join(ROOT, 'node_modules', '.bin', 'pm2');
  const app = path.join(ROOT, 'dist', 'lab', 'bench', 'soak-pm2-app.js');
  for (const f of [pm2, app]) if (!fs.existsSync(f)) throw new Error(`${f} is missing: npm ci && npm run build`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-soak-pm2-'));
  fs.chmodSync(dir, 0o755);
  const sock = path.join(dir, 'app.sock');
  // Its own PM2_HOME: the daemon, its logs and sockets live in the temp folder, nobody else's pm2 is touched.
  const env = { ...process.env, PM2_HOME: path.join(dir, 'pm2'), SOAK_SOCK: sock };
  // Asynchronous: the load runs in this process, and a spawnSync would stall it while pm2 works.
  const run = (args: string[]) =>
    new Promise<string>((resolve, reject) =>
      execFile(pm2, args, { env, encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`pm2 ${args.join(' ')}: ${stderr || stdout || err.message}`)) : resolve(stdout),
      ),
    );
  const port = await freePort();
  const nginx = new HostNginx(path.join(dir, 'nginx'), [{ port, upstream: sock }]);
  const base = {
    name: 'host/pm2',
    flavour: 'host' as const,
    server: 'pm2' as const,
    mode: 'pm2 cluster mode, pm2 reload (2 instances)',
    upgrades: UPGRADES,
  };
  const handovers: number[] = [];
  let records: RequestRecord[] = [];
  let error: string | undefined;
  try {
    await run(['start', app, '-i', '2', '--name', 'soak', '--wait-ready', '--listen-timeout', '10000']);
    await nginx.start();
    const load = startLoad(
      `http://127.0.0.1:${port}`,
      { durationMs: 3_600_000, rate: RATE, concurrency: CONCURRENCY, timeoutMs: 20_000 },
      'pm2',
    );
    await sleep(1000);
    try {
      for (let i = 1; i <= UPGRADES; i++) {
        const t = performance.now();
        await run(['reload', 'soak']);
        handovers.push(performance.now() - t);
        await sleep(300);
        if (i % 10 === 0 || i === UPGRADES)
          say(`pm2: ${i}/${UPGRADES} reloads, ${load.records.filter((r) => r.error).length} failed so far`);
      }
      await sleep(1000);
    } finally {
      records = await load.stop();
    }
  } catch (err) {
    error = (err as Error).message;
    say(`pm2: ${error}`);
  } finally {
    spawnSync(pm2, ['kill'], { env, timeout: 60_000 });
    await nginx.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { ...cellOf(base, records, handovers), ...(error ? { error } : {}) };
}

async function main(): Promise<void> {
  const cells: Cell[] = [];
  const names = (opt.flavours ?? '').split(',').filter(Boolean);
  const unknown = names.filter((n) => !isFlavour(n));
  if (unknown.length) throw new Error(`--flavours: unknown ${unknown.join(', ')}; use ${FLAVOURS.join(', ')}`);
  const flavours = names.filter(isFlavour);
  for (const f of flavours) {
    for (const s of SERVERS) {
      say(`${f}/${s}: ${UPGRADES} USR2 under ${RATE} req/s`);
      try {
        cells.push(await labCell(f, s));
      } catch (err) {
        say(`${f}/${s}: NOT RUN: ${(err as Error).message.split('\n')[0]}`);
        cells.push({
          ...cellOf({ name: `${f}/${s}`, flavour: f, server: s, mode: '', upgrades: UPGRADES }, [], []),
          error: (err as Error).message,
        });
      }
    }
  }
  if (!opt['no-pm2']) {
    say(`pm2: ${UPGRADES} pm2 reload under ${RATE} req/s`);
    cells.push(await pm2Cell());
  }
  const rows = cells.map(
    (c) =>
      `${c.name.padEnd(18)} ${String(c.completed).padStart(4)}/${c.upgrades}  ` +
      `${String(c.requests).padStart(7)} req  ${String(c.failed).padStart(5)} failed  gap ` +
      `${String(c.longestGapMs).padStart(5)} ms  handover p50 ${c.handoverMs.median} ms p95 ` +
      `${c.handoverMs.p95} ms max ${c.handoverMs.max} ms` +
      (c.initKeptPid === undefined ? '' : c.initKeptPid ? '  init kept its pid' : '  INIT LOST ITS PID') +
      (c.error ? `  (${c.error.split('\n')[0]})` : ''),
  );
  const ours = cells.filter((c) => c.server !== 'pm2');
  const missed = ours.filter((c) => c.failed > 0 || c.completed < c.upgrades || c.initKeptPid === false);
  process.stdout.write(
    `soak: ${UPGRADES} upgrades per cell, ${RATE} req/s, ${CONCURRENCY} connections\n${rows.join('\n')}\n` +
      (missed.length
        ? `TARGET MISSED (0 failed, every upgrade done, init keeps its pid): ${missed.map((c) => c.name).join(', ')}`
        : 'target met: 0 failed requests in every cell of ours') +
      '\n',
  );
  fs.mkdirSync(path.join(ROOT, 'results'), { recursive: true });
  const file = path.join(ROOT, 'results', `bench-soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(
    file,
    `${JSON.stringify({ upgrades: UPGRADES, rate: RATE, concurrency: CONCURRENCY, host: os.hostname(), loadavg: os.loadavg(), cells }, null, 1)}\n`,
  );
  process.stdout.write(`results: ${file}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:soak: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
