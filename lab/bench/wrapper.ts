import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HostNginx, freePort } from '../host/nginx';
import { isAlive, readPid } from '../../src/pidfile';
import { Procs, childrenOf, cpuMs, rssMb } from './procs';
import { type WrkResult, runWrk } from './wrk';

/**
 * npm run bench:wrapper: nginx alone, one plain Node server, phoenix with 2 workers and Ruby
 * unicorn 6 with 2 workers, side by side through the same nginx over unix sockets; then 10
 * USR2 upgrades of each under load. Throughput is the median of ROUNDS interleaved rounds.
 * unicorn-wrapper is measured against the unicorn it wraps: the lab's app and config
 * (images/conf/unicorn), bare and behind the wrapper, in the same rounds.
 * Writes results/bench-wrapper-<time>.json and a table.
 */
const ROOT = path.resolve(__dirname, '..', '..', '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const UPGRADES = Number(process.env.BENCH_UPGRADES ?? 10);
const UPGRADE_EVERY_MS = 2000;
/** back-to-back pairs unicorn bare / behind unicorn-wrapper, and the seconds of each run */
const WRAPPER_PAIRS = Number(process.env.BENCH_WRAPPER_PAIRS ?? 8);
const PAIR_SECONDS = Number(process.env.BENCH_PAIR_SECONDS ?? 5);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

interface Throughput extends WrkResult {
  name: string;
  /** server CPU (master + workers) per request, in microseconds */
  cpuUsPerRequest?: number;
  /** req/s of each round; the row shows the median round */
  rounds?: number[];
  masterRssMb?: number;
  workerRssMb?: number[];
}
interface UpgradeRun extends WrkResult {
  name: string;
  upgrades: number;
  handoverMs: { median: number; max: number; all: number[] };
  /** behind unicorn-wrapper: USR2 sent to the wrapper until it reports master-followed */
  followedMs?: { median: number; max: number; all: number[] };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** What every step of the benchmark works on: the processes, sockets, ports and nginx in front. */
interface Bench {
  dir: string;
  procs: Procs;
  sock: (name: string) => string;
  ports: Record<'alone' | 'plain' | 'phoenix' | 'unicorn' | 'unicorn bare' | 'unicorn-wrapper', number>;
  nginx: HostNginx;
  /** phoenix's and unicorn-wrapper's event lines, as they come */
  phoenixLines: string[];
  wrapperLines: string[];
  /** how many master-followed events the wrapper has said so far */
  wrapperFollowed: number;
  wrapperPid: number;
}

const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const WRAPPER_CLI = path.join(ROOT, 'dist', 'src', 'unicorn-wrapper', 'cli.js');
const UNICORN_RB = path.join(ROOT, 'images', 'conf', 'unicorn', 'unicorn.rb');
const CONFIG_RU = path.join(ROOT, 'images', 'conf', 'unicorn', 'config.ru');

/** The programs the benchmark runs, or an error naming what to install. */
function checkPrerequisites(): void {
  if (!fs.existsSync(CLI)) throw new Error('dist/src/cli.js is missing: run npm run build');
  for (const bin of ['/usr/sbin/nginx', '/usr/bin/wrk', '/usr/bin/unicorn']) {
    if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: apt-get install nginx wrk unicorn ruby-rack`);
  }
}

/** A temporary folder, a port per server and nginx's sites (not started yet). */
async function setUp(): Promise<Bench> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-wrapper-'));
  fs.chmodSync(dir, 0o755);
  const sock = (n: string) => path.join(dir, `${n}.sock`);
  const ports = {
    alone: await freePort(),
    plain: await freePort(),
    phoenix: await freePort(),
    unicorn: await freePort(),
    'unicorn bare': await freePort(),
    'unicorn-wrapper': await freePort(),
  };
  const nginx = new HostNginx(path.join(dir, 'nginx'), [
    { port: ports.alone },
    { port: ports.plain, upstream: sock('plain') },
    { port: ports.phoenix, upstream: sock('phoenix') },
    { port: ports.unicorn, upstream: sock('unicorn') },
    { port: ports['unicorn bare'], upstream: sock('unicorn-bare') },
    { port: ports['unicorn-wrapper'], upstream: sock('unicorn-wrapped') },
  ]);
  return {
    dir,
    procs: new Procs(randomUUID()),
    sock,
    ports,
    nginx,
    phoenixLines: [],
    wrapperLines: [],
    wrapperFollowed: 0,
    wrapperPid: 0,
  };
}

function startPhoenix(b: Bench, mode: 'in-place' | 'reexec', quit: 'ready' | 'spawned' = 'ready'): void {
  fs.rmSync(b.sock('phoenix'), { force: true });
  b.procs.start(
    process.execPath,
    [
      CLI,
      '--listen',
      `unix:${b.sock('phoenix')}`,
      '--workers',
      '2',
      '--pid',
      path.join(b.dir, 'phoenix.pid'),
      '--upgrade',
      mode,
      ...(mode === 'reexec' ? [`--quit-oldbin=${quit}`] : []),
    ],
    { onLine: (l) => b.phoenixLines.push(l) },
  );
}

async function stopPhoenix(b: Bench): Promise<void> {
  const pid = readPid(path.join(b.dir, 'phoenix.pid'));
  if (pid) process.kill(pid, 'SIGQUIT');
  await waitFor(() => !pid || !isAlive(pid), 10_000, 'phoenix to stop');
}

async function restartPhoenix(b: Bench, mode: 'in-place' | 'reexec', quit?: 'ready' | 'spawned'): Promise<void> {
  await stopPhoenix(b);
  b.phoenixLines.length = 0;
  startPhoenix(b, mode, quit);
  await waitFor(
    () => b.phoenixLines.some((l) => l.includes('role=master event=ready')),
    15_000,
    `phoenix (${mode}) to be ready`,
  );
  await sleep(500);
}

/** Every server, each on its own socket, then nginx once all of them answer. */
async function startServers(b: Bench): Promise<void> {
  const { dir, procs, sock } = b;
  // unicorn: Debian's unicorn 6, a one-line config.ru, the usual before_fork QUIT of .oldbin.
  fs.writeFileSync(
    path.join(dir, 'config.ru'),
    'run ->(env) { [200, { "content-type" => "application/json" }, ["{\\"pid\\":#{Process.pid}}\\n"]] }\n',
  );
  fs.writeFileSync(
    path.join(dir, 'unicorn.rb'),
    `worker_processes 2
listen "${sock('unicorn')}", backlog: 1024
pid "${path.join(dir, 'unicorn.pid')}"
before_fork do |server, worker|
  old_pid = "#{server.config[:pid]}.oldbin"
  if File.exist?(old_pid) && server.pid != old_pid
  begin
    Process.kill(:QUIT, File.read(old_pid).to_i)
  rescue Errno::ENOENT, Errno::ESRCH
  end
  end
end
`,
  );

  // The wrapper against the unicorn it wraps: the same command (the lab's app and config,
  // production: no line per request), one binding its socket with -l, the other given it by
  // the wrapper (--listen here; the bridge's socket in the jobs).
  const unicornCmd = ['-E', 'production', '-c', UNICORN_RB, CONFIG_RU];
  const unicornEnv = (name: string) => ({ UNICORN_PID: path.join(dir, `${name}.pid`), UNICORN_WORKERS: '2' });

  progress('starting nginx, the plain Node server, phoenix, unicorn, and unicorn bare and behind unicorn-wrapper');
  procs.start(process.execPath, [path.join(ROOT, 'dist', 'lab', 'bench', 'plain-server.js'), sock('plain')]);
  startPhoenix(b, 'reexec');
  procs.start('unicorn', ['-c', path.join(dir, 'unicorn.rb'), path.join(dir, 'config.ru')], { cwd: dir });
  procs.start('/usr/bin/unicorn', ['-l', sock('unicorn-bare'), ...unicornCmd], {
    cwd: dir,
    env: unicornEnv('unicorn-bare'),
  });
  b.wrapperPid = procs.start(
    process.execPath,
    [WRAPPER_CLI, '--listen', `unix:${sock('unicorn-wrapped')}`, '--', '/usr/bin/unicorn', ...unicornCmd],
    {
      cwd: dir,
      env: unicornEnv('unicorn-wrapped'),
      onLine: (l) => {
        b.wrapperLines.push(l);
        if (l.includes('role=wrapper event=master-followed')) b.wrapperFollowed++;
      },
    },
  ).pid!;
  await waitFor(
    () => ['plain', 'phoenix', 'unicorn', 'unicorn-bare', 'unicorn-wrapped'].every((n) => fs.existsSync(sock(n))),
    15_000,
    'the servers to create their sockets',
  );
  await waitFor(() => b.phoenixLines.some((l) => l.includes('role=master event=ready')), 15_000, 'phoenix to be ready');
  await waitFor(() => (readPid(path.join(dir, 'unicorn.pid')) ?? 0) > 0, 15_000, 'unicorn pid file');
  await waitFor(() => (readPid(path.join(dir, 'unicorn-bare.pid')) ?? 0) > 0, 15_000, 'bare unicorn pid file');
  await waitFor(
    () => b.wrapperLines.some((l) => l.includes('role=wrapper event=ready')),
    20_000,
    'unicorn-wrapper to be ready',
  );
  await sleep(1500);
  await b.nginx.start();
}

/** Several short rounds, interleaved, and the median of each. */
async function measureThroughput(b: Bench): Promise<Throughput[]> {
  const { dir, procs, ports, wrapperPid } = b;
  // On a shared 2-core machine one
  // long run per server would let a passing disturbance decide the comparison.
  const throughput: Throughput[] = [];
  const rounds: Record<string, Throughput[]> = {};
  const plainPid = () =>
    procs.marked().find((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('plain-server'));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, port] of Object.entries(ports)) {
      progress(`throughput round ${round}/${ROUNDS}: ${name} (${SECONDS} s, wrk -t2 -c16)`);
      const pidFile = {
        phoenix: 'phoenix.pid',
        unicorn: 'unicorn.pid',
        'unicorn bare': 'unicorn-bare.pid',
        'unicorn-wrapper': 'unicorn-wrapped.pid',
      }[name];
      const master = pidFile ? readPid(path.join(dir, pidFile)) : undefined;
      // The wrapper's own CPU counts: it is part of what serving through it costs.
      const serverPids = master
        ? [master, ...childrenOf(master), ...(name === 'unicorn-wrapper' ? [wrapperPid] : [])]
        : name === 'plain'
          ? [plainPid()!].filter(Boolean)
          : [];
      const cpu0 = serverPids.reduce((t, p) => t + cpuMs(p), 0);
      const r: Throughput = { name, ...(await runWrk(port, SECONDS)) };
      if (serverPids.length)
        r.cpuUsPerRequest =
          Math.round(((serverPids.reduce((t, p) => t + cpuMs(p), 0) - cpu0) * 1000 * 10) / r.requests) / 10;
      if (master) {
        r.masterRssMb = rssMb(master);
        r.workerRssMb = childrenOf(master).map(rssMb);
      }
      (rounds[name] ??= []).push(r);
      progress(
        `  ${r.requestsPerSec} req/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, failed ${r.failed}` +
          (r.cpuUsPerRequest ? `, server CPU ${r.cpuUsPerRequest} us/request` : ''),
      );
      await sleep(300);
    }
  }
  for (const runs of Object.values(rounds)) {
    const sorted = [...runs].sort((a, b) => a.requestsPerSec - b.requestsPerSec);
    const mid = sorted[Math.floor(sorted.length / 2)];
    throughput.push({
      ...mid,
      failed: runs.reduce((t, r) => t + r.failed, 0),
      requests: runs.reduce((t, r) => t + r.requests, 0),
      cpuUsPerRequest:
        mid.cpuUsPerRequest === undefined ? undefined : median(runs.map((r) => r.cpuUsPerRequest ?? NaN)),
      masterRssMb: runs[runs.length - 1].masterRssMb,
      workerRssMb: runs[runs.length - 1].workerRssMb,
      rounds: runs.map((r) => r.requestsPerSec),
    } as Throughput);
  }

  return throughput;
}

/** unicorn bare against behind unicorn-wrapper, in back-to-back pairs: the pairs and the median ratio. */
async function measureWrapperPairs(
  b: Bench,
): Promise<{ pairs: { bare: number; wrapped: number; ratio: number }[]; ratio: number }> {
  const { ports } = b;
  // The wrapper against the unicorn it wraps: the difference to find is a few percent, less
  // than other processes on a shared machine move one run by. Back-to-back pairs, which one
  // goes first alternating, and the median of the pairs' ratios.
  const pairs: { bare: number; wrapped: number; ratio: number }[] = [];
  for (let i = 0; i < WRAPPER_PAIRS; i++) {
    const order =
      i % 2 === 0 ? (['unicorn bare', 'unicorn-wrapper'] as const) : (['unicorn-wrapper', 'unicorn bare'] as const);
    const rps: Record<string, number> = {};
    for (const name of order) {
      const r = await runWrk(ports[name], PAIR_SECONDS);
      if (r.failed) throw new Error(`${name}: ${r.failed} failed requests in a throughput pair`);
      rps[name] = r.requestsPerSec;
      await sleep(200);
    }
    const pair = {
      bare: rps['unicorn bare'],
      wrapped: rps['unicorn-wrapper'],
      ratio: +(rps['unicorn-wrapper'] / rps['unicorn bare']).toFixed(3),
    };
    pairs.push(pair);
    progress(
      `pair ${i + 1}/${WRAPPER_PAIRS} (${order[0]} first): bare ${pair.bare}, wrapped ${pair.wrapped} req/s: ${pair.ratio}x`,
    );
  }
  const pairRatio = median(pairs.map((p) => p.ratio));

  return { pairs, ratio: pairRatio };
}

/** The upgrade runs: phoenix reexec both ways, unicorn, unicorn bare and behind the wrapper, phoenix in place. */
async function measureUpgrades(b: Bench): Promise<UpgradeRun[]> {
  const { dir, ports, wrapperPid } = b;
  const upgrades: UpgradeRun[] = [];
  const upgradeRun = async (name: string, port: number, usr2: () => Promise<number>, count = UPGRADES) => {
    progress(`upgrades: ${name}, ${count} USR2 under load`);
    const load = runWrk(port, Math.ceil((count * UPGRADE_EVERY_MS) / 1000) + 3);
    await sleep(1000);
    const handovers: number[] = [];
    for (let i = 0; i < count; i++) {
      const t = Date.now();
      handovers.push(await usr2());
      progress(`  USR2 ${i + 1}/${count}: handover ${handovers[i]} ms`);
      await sleep(Math.max(0, UPGRADE_EVERY_MS - (Date.now() - t)));
    }
    const r = await load;
    const run: UpgradeRun = {
      name,
      upgrades: count,
      handoverMs: { median: median(handovers), max: Math.max(...handovers), all: handovers },
      ...r,
    };
    upgrades.push(run);
    progress(`  ${r.requestsPerSec} req/s, failed ${r.failed} of ${r.requests}`);
    return run;
  };
  /** USR2 to the master in `pidFile`, then ms until that old master is gone and the new one wrote the file. */
  const reexecUsr2 = (pidFile: string) => async () => {
    const old = readPid(pidFile)!;
    const t0 = performance.now();
    process.kill(old, 'SIGUSR2');
    await waitFor(() => !isAlive(old) && (readPid(pidFile) ?? old) !== old, 30_000, `old master ${old} to leave`);
    return Math.round(performance.now() - t0);
  };
  /** Two runs of the same thing as one: the halves of an interleaved comparison. */
  const merge = (a: UpgradeRun, b: UpgradeRun, name: string): UpgradeRun => {
    const all = [...a.handoverMs.all, ...b.handoverMs.all];
    upgrades.splice(upgrades.indexOf(a), 1);
    upgrades.splice(upgrades.indexOf(b), 1, {
      ...b,
      name,
      upgrades: a.upgrades + b.upgrades,
      requests: a.requests + b.requests,
      requestsPerSec: Math.round((a.requestsPerSec + b.requestsPerSec) / 2),
      p50Ms: Math.max(a.p50Ms, b.p50Ms),
      p99Ms: Math.max(a.p99Ms, b.p99Ms),
      failed: a.failed + b.failed,
      failures: {
        connect: a.failures.connect + b.failures.connect,
        read: a.failures.read + b.failures.read,
        write: a.failures.write + b.failures.write,
        timeout: a.failures.timeout + b.failures.timeout,
        non2xx: a.failures.non2xx + b.failures.non2xx,
      },
      handoverMs: { median: median(all), max: Math.max(...all), all },
      followedMs:
        a.followedMs && b.followedMs
          ? (() => {
              const f = [...a.followedMs.all, ...b.followedMs.all];
              return { median: median(f), max: Math.max(...f), all: f };
            })()
          : undefined,
    });
    return upgrades.find((u) => u.name === name)!;
  };
  // Interleaved, so a machine that gets busier during the run does not favour one side.
  await upgradeRun('phoenix reexec (--quit-oldbin=ready)', ports.phoenix, reexecUsr2(path.join(dir, 'phoenix.pid')));
  await upgradeRun('unicorn 6 (before_fork QUITs .oldbin)', ports.unicorn, reexecUsr2(path.join(dir, 'unicorn.pid')));
  await restartPhoenix(b, 'reexec', 'spawned');
  await upgradeRun('phoenix reexec (--quit-oldbin=spawned)', ports.phoenix, reexecUsr2(path.join(dir, 'phoenix.pid')));

  // unicorn bare vs behind unicorn-wrapper: halves interleaved, so a machine that gets busier
  // during the run does not favour one side; the wrapper's USR2 goes to the wrapper, which
  // forwards it, and it also says when it followed the new master.
  const bareUsr2 = reexecUsr2(path.join(dir, 'unicorn-bare.pid'));
  const followed: number[] = [];
  /** The same measure as bareUsr2, the signal going to the wrapper; and when it followed. */
  const wrappedUsr2 = async () => {
    const pidFile = path.join(dir, 'unicorn-wrapped.pid');
    const old = readPid(pidFile)!;
    const seen = b.wrapperFollowed;
    let followedAt = 0;
    const t0 = performance.now();
    process.kill(wrapperPid, 'SIGUSR2');
    await waitFor(
      () => {
        if (!followedAt && b.wrapperFollowed > seen) followedAt = performance.now();
        return !isAlive(old) && (readPid(pidFile) ?? old) !== old;
      },
      30_000,
      `old master ${old} to leave`,
    );
    const ms = Math.round(performance.now() - t0);
    await waitFor(() => b.wrapperFollowed > seen, 30_000, 'the wrapper to follow the new master');
    followed.push(Math.round((followedAt || performance.now()) - t0));
    return ms;
  };
  const half = Math.ceil(UPGRADES / 2);
  const halves: UpgradeRun[] = [];
  for (const side of [0, 1, 0, 1]) {
    if (side === 0) halves.push(await upgradeRun('unicorn bare', ports['unicorn bare'], bareUsr2, half));
    else {
      followed.length = 0;
      const r = await upgradeRun('unicorn-wrapper', ports['unicorn-wrapper'], wrappedUsr2, half);
      r.followedMs = { median: median(followed), max: Math.max(...followed), all: [...followed] };
      halves.push(r);
    }
  }
  merge(halves[0], halves[2], 'unicorn bare (conf/unicorn, before_fork QUITs .oldbin)');
  merge(halves[1], halves[3], 'unicorn-wrapper + unicorn (USR2 to the wrapper)');

  await restartPhoenix(b, 'in-place');
  await upgradeRun('phoenix in-place', ports.phoenix, async () => {
    const pid = readPid(path.join(dir, 'phoenix.pid'))!;
    const seen = b.phoenixLines.length;
    const t0 = performance.now();
    process.kill(pid, 'SIGUSR2');
    // In place, the master stays: the handover ends when the previous generation is gone.
    await waitFor(
      () => b.phoenixLines.slice(seen).some((l) => l.includes('event=generation-retired')),
      30_000,
      'the old generation to retire',
    );
    return Math.round(performance.now() - t0);
  });

  return upgrades;
}

/** What the benchmark promises, each with whether this run met it (pure). */
function targetsOf(
  throughput: Throughput[],
  pairRatio: number,
  upgrades: UpgradeRun[],
): { target: string; met: boolean; ratio?: number }[] {
  const get = (n: string) => throughput.find((t) => t.name === n)!;
  const up = (prefix: string) => upgrades.find((u) => u.name.startsWith(prefix))!;
  return [
    { target: '0 failed requests in every upgrade run', met: upgrades.every((u) => u.failed === 0) },
    {
      target: 'phoenix >= 1.3x unicorn req/s',
      met: get('phoenix').requestsPerSec >= 1.3 * get('unicorn').requestsPerSec,
      ratio: +(get('phoenix').requestsPerSec / get('unicorn').requestsPerSec).toFixed(2),
    },
    {
      target: 'phoenix >= 0.9x plain Node req/s',
      met: get('phoenix').requestsPerSec >= 0.9 * get('plain').requestsPerSec,
      ratio: +(get('phoenix').requestsPerSec / get('plain').requestsPerSec).toFixed(2),
    },
    // unicorn's hook QUITs the old master before forking its workers: the like-for-like
    // phoenix mode is --quit-oldbin=spawned. The safe default (=ready) is reported beside it.
    {
      target: 'phoenix reexec handover <= unicorn (median, same QUIT timing: --quit-oldbin=spawned)',
      met: up('phoenix reexec (--quit-oldbin=spawned)').handoverMs.median <= up('unicorn 6').handoverMs.median,
      ratio: +(
        up('phoenix reexec (--quit-oldbin=spawned)').handoverMs.median / up('unicorn 6').handoverMs.median
      ).toFixed(2),
    },
    {
      target: 'for information: phoenix reexec handover with --quit-oldbin=ready vs unicorn (median)',
      met: up('phoenix reexec (--quit-oldbin=ready)').handoverMs.median <= up('unicorn 6').handoverMs.median,
      ratio: +(
        up('phoenix reexec (--quit-oldbin=ready)').handoverMs.median / up('unicorn 6').handoverMs.median
      ).toFixed(2),
    },
    { target: 'phoenix master RSS < 50 MB', met: (get('phoenix').masterRssMb ?? Infinity) < 50 },
    {
      target: `unicorn-wrapper + unicorn >= 0.98x bare unicorn req/s (same app and config; median of ${WRAPPER_PAIRS} back-to-back pairs)`,
      met: pairRatio >= 0.98,
      ratio: pairRatio,
    },
    {
      target: 'for information: the same, medians of the interleaved rounds above',
      met: get('unicorn-wrapper').requestsPerSec >= 0.98 * get('unicorn bare').requestsPerSec,
      ratio: +(get('unicorn-wrapper').requestsPerSec / get('unicorn bare').requestsPerSec).toFixed(3),
    },
    {
      target: 'for information: unicorn-wrapper server CPU per request (wrapper included) <= 1.02x bare unicorn',
      met: (get('unicorn-wrapper').cpuUsPerRequest ?? Infinity) <= 1.02 * (get('unicorn bare').cpuUsPerRequest ?? 0),
      ratio: +((get('unicorn-wrapper').cpuUsPerRequest ?? NaN) / (get('unicorn bare').cpuUsPerRequest ?? NaN)).toFixed(
        3,
      ),
    },
    {
      target: 'unicorn-wrapper USR2 handover <= 1.1x bare unicorn (median)',
      met: up('unicorn-wrapper').handoverMs.median <= 1.1 * up('unicorn bare').handoverMs.median,
      ratio: +(up('unicorn-wrapper').handoverMs.median / up('unicorn bare').handoverMs.median).toFixed(2),
    },
  ];
}

/** The table, the targets and the results file's path, on stdout. */
function printResults(
  throughput: Throughput[],
  upgrades: UpgradeRun[],
  targets: { target: string; met: boolean; ratio?: number }[],
  file: string,
): void {
  const rows = [
    ['run', 'req/s', 'p50 ms', 'p99 ms', 'failed', 'CPU us/req', 'handover ms (median/max)', 'master MB', 'workers MB'],
    ...throughput.map((t) => [
      t.name,
      String(t.requestsPerSec),
      String(t.p50Ms),
      String(t.p99Ms),
      `${t.failed}/${t.requests}`,
      t.cpuUsPerRequest?.toString() ?? '',
      '',
      t.masterRssMb?.toString() ?? '',
      t.workerRssMb?.join(', ') ?? '',
    ]),
    ...upgrades.map((u) => [
      u.name,
      String(u.requestsPerSec),
      String(u.p50Ms),
      String(u.p99Ms),
      `${u.failed}/${u.requests}`,
      '',
      `${u.handoverMs.median}/${u.handoverMs.max}`,
      '',
      '',
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  process.stdout.write(`${rows.map((r) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`).join('\n')}\n\n`);
  for (const u of upgrades.filter((x) => x.followedMs))
    process.stdout.write(
      `${u.name}: the wrapper reported master-followed ${u.followedMs!.median} ms (median) after the USR2\n`,
    );
  for (const t of targets)
    process.stdout.write(`${t.met ? 'MET    ' : 'MISSED '} ${t.target}${'ratio' in t ? ` (${t.ratio}x)` : ''}\n`);
  process.stdout.write(`\nresults: ${path.relative(process.cwd(), file)}\n`);
}

async function main(): Promise<void> {
  checkPrerequisites();
  const b = await setUp();
  const cleanup = () => {
    b.procs.stopAll();
    void b.nginx.stop();
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    await startServers(b);
    const throughput = await measureThroughput(b);
    const { pairs, ratio: pairRatio } = await measureWrapperPairs(b);
    const upgrades = await measureUpgrades(b);
    const result = {
      date: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        model: os.cpus()[0]?.model,
        node: process.version,
        memGb: Math.round(os.totalmem() / 2 ** 30),
      },
      client: 'wrk -t2 -c16 --latency; nginx 1 worker; unix sockets',
      seconds: SECONDS,
      rounds: ROUNDS,
      throughput,
      wrapperPairs: { seconds: PAIR_SECONDS, pairs, medianRatio: pairRatio },
      upgrades,
    };
    const targets = targetsOf(throughput, pairRatio, upgrades);
    const outDir = path.join(ROOT, 'results');
    fs.mkdirSync(outDir, { recursive: true });
    const file = path.join(outDir, `bench-wrapper-${result.date.replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(file, `${JSON.stringify({ ...result, targets }, null, 2)}\n`);

    printResults(throughput, upgrades, targets, file);
    if (!targets[0].met) process.exitCode = 1;
  } finally {
    cleanup();
    await b.nginx.stop();
    fs.rmSync(b.dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.message}\n`);
  process.exit(1);
});
