import { UNICORN_OPT } from '../servers/unicorn';
import type { ScenarioContext } from '../session/context';
import { sleep } from '../session/context';
import { Judge } from '../session/judge';
import { windowOf } from '../session/load';
import { servingMasters } from '../session/observe';
import { type Scenario, perInit } from '../session/types';
import { shippedConf, IN_PRODUCTION } from '../session/unicorn-common';
import { latestGeneration, waitForGenerationAbove } from '../session/upgrades';

const APP = `${UNICORN_OPT}/app`;
const COLD = `${UNICORN_OPT}/cold-workers`;
const SAMPLES = '/var/log/lab-listen-queue.log';
const SAMPLER_PID = '/var/log/lab-listen-queue.pid';
const NGINX_EAGAIN = 'Resource temporarily unavailable';

/** How long the app takes to load: a few seconds keeps the run short and the spike plain. */
export const BOOT_SECONDS = 3;
/** The small backlog; more connections than this must wait while nobody accepts. */
export const SMALL = 64;
/** unicorn 6's own default backlog (socket_helper.rb DEFAULTS), the "big" one here. */
export const UNICORN_DEFAULT_BACKLOG = 1024;
/** Requests in flight: about 2.5 times the small backlog, well under nginx's 768 worker_connections. */
const CONCURRENCY = 160;
/**
 * Requests per second: nobody accepting fills the small backlog in under a second, while the
 * two warm workers keep the queue near empty even on a busy 2-core machine.
 */
const RATE = 50;

const STEADY = 'steady, before the deploys';

interface Variant {
  name: string;
  preload: boolean;
  backlog: number;
}

/** The three deploys, one USR2 each, in this order; each new master reads the variant file anew. */
export const VARIANTS: readonly Variant[] = [
  { name: `(a) preload_app false, backlog ${SMALL}: USR2`, preload: false, backlog: SMALL },
  { name: `(b) preload_app false, backlog ${UNICORN_DEFAULT_BACKLOG}: USR2`, preload: false, backlog: 1024 },
  { name: `(c) preload_app true, backlog ${SMALL}: USR2`, preload: true, backlog: SMALL },
];

type F = {
  /** the listening socket's path as the kernel names it, and its backlog before unicorn ran */
  socketPath: string;
  ownerBacklog: number;
  /** the backlog once the first master (no backlog in its config) adopted the socket */
  firstMasterBacklog: number | null;
  /** the wrapper init tracks, USR2'd for each deploy */
  wrapperPid: number;
  /** per stretch: STEADY, then one per variant */
  names: string[];
  sent: number[];
  failed: number[];
  /** failure classes, "http-502=310" ('' when none) */
  failures: string[];
  p99Ms: number[];
  maxMs: number[];
  gapMs: number[];
  /** the listen queue's peak in the stretch (connections waiting), and the backlog in effect then */
  queuePeak: number[];
  backlogAtPeak: number[];
  /** the backlog in effect at the stretch's last sample (the new master's) */
  backlogAfter: number[];
  /** nginx error-log lines "connect() ... failed (11: Resource temporarily unavailable)" */
  eagain: number[];
  /** ms from the USR2 to the first answer of the new generation (-1: none; 0 for STEADY) */
  newGenerationMs: number[];
  /** sampler: how many samples, and the median ms between two */
  samples: number;
  sampleEveryMs: number;
};

// ---------------------------------------------------------------------------------------------
// The listen queue, as `ss -xl` shows it inside the container (listen-queue.rb samples it)

export interface QueueSample {
  /** wall-clock ms */
  at: number;
  waiting: number;
  backlog: number;
}

/** listen-queue.sh's lines: "<epoch ms> <Recv-Q> <Send-Q>". */
export function parseSamples(text: string): QueueSample[] {
  const out: QueueSample[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+) (\d+) (\d+)$/.exec(line.trim());
    if (m) out.push({ at: Number(m[1]), waiting: Number(m[2]), backlog: Number(m[3]) });
  }
  return out;
}

/** The one listening unix socket at unicorn's path, now: its bound path, queue and backlog. */
async function queueNow(ctx: ScenarioContext): Promise<{ path: string; waiting: number; backlog: number } | undefined> {
  const sock = ctx.server.socketPath;
  const alt = sock.replace(/^\/var\/run\//, '/run/');
  const out = await ctx.sh(
    `ss -xl | awk -v a='${sock}' -v b='${alt}' '$2 == "LISTEN" && ($5 == a || $5 == b) { print $5, $3, $4; exit }'`,
  );
  const m = /^(\S+) (\d+) (\d+)$/.exec(out.stdout.trim());
  return m ? { path: m[1], waiting: Number(m[2]), backlog: Number(m[3]) } : undefined;
}

async function startSampler(ctx: ScenarioContext, path: string): Promise<void> {
  await ctx.must(
    `nohup /usr/bin/ruby ${COLD}/listen-queue.rb ${path} ${SAMPLES} 0.1 </dev/null >/dev/null 2>&1 & echo $! > ${SAMPLER_PID}`,
  );
}

async function stopSampler(ctx: ScenarioContext): Promise<QueueSample[]> {
  await ctx.sh(`kill $(cat ${SAMPLER_PID}) 2>/dev/null`);
  return parseSamples((await ctx.sh(`cat ${SAMPLES} 2>/dev/null`)).stdout);
}

async function eagainLines(ctx: ScenarioContext): Promise<number> {
  const out = await ctx.sh(`grep -c '${NGINX_EAGAIN}' ${ctx.server.nginxErrorLog} 2>/dev/null`);
  return Number(out.stdout.trim()) || 0;
}

/** The settings the next master reads (unicorn.rb in images/conf/unicorn/cold-workers). */
function writeVariant(ctx: ScenarioContext, socket: string, preload: boolean, backlog: number | null, label: string) {
  const lines = [`preload=${preload}`, `socket=${socket}`, ...(backlog === null ? [] : [`backlog=${backlog}`])];
  return ctx.act('apply', label, () => ctx.must(`printf '%s\\n' ${lines.join(' ')} > ${COLD}/variant`));
}

// ---------------------------------------------------------------------------------------------
// Stretches: each judged on the requests that started in it and the samples taken in it

interface Stretch {
  name: string;
  from: number;
  to: number;
  fromEpoch: number;
  toEpoch: number;
  eagain: number;
  newGenerationMs: number;
}

async function stretch(ctx: ScenarioContext, name: string, body: () => Promise<number>): Promise<Stretch> {
  ctx.mark('note', `phase: ${name}`);
  const e0 = await eagainLines(ctx);
  const [from, fromEpoch] = [ctx.now(), Date.now()];
  const newGenerationMs = await body();
  const [to, toEpoch] = [ctx.now(), Date.now()];
  return { name, from, to, fromEpoch, toEpoch, eagain: (await eagainLines(ctx)) - e0, newGenerationMs };
}

/** One deploy: USR2 to the wrapper, until the new generation answers and the old master is gone, then 1.5 s more. */
async function deploy(ctx: ScenarioContext, wrapperPid: number, v: Variant): Promise<number> {
  const gen = latestGeneration(ctx);
  const t = Date.now();
  await ctx.signal('USR2', wrapperPid, 'wrapper', v.name.replace(/: USR2$/, ''));
  const next = await waitForGenerationAbove(ctx, gen, 20_000);
  const took = next === undefined ? -1 : Date.now() - t;
  if (next !== undefined) ctx.mark('note', `generation ${next} answers ${took} ms after the USR2`);
  await ctx.waitFor(async () => {
    const s = await ctx.inspect();
    return s.oldbin === undefined && servingMasters(s).length === 1 ? true : undefined;
  }, 15_000);
  await sleep(1500);
  return took;
}

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export const unicornColdWorkers: Scenario<F> = {
  name: 'unicorn-cold-workers',
  title: `USR2 with preload_app false: ${BOOT_SECONDS} s of cold workers, the listen queue fills, nginx 502s past a small backlog`,
  story:
    'Every deploy (a USR2 with preload_app false and the usual before_fork hook that QUITs the ' +
    'old master) brings a latency spike as long as the app takes to load, and with a small ' +
    'listen backlog a burst of nginx 502s logged as connect() failed (11: Resource temporarily ' +
    'unavailable), because the old master is told to quit the moment the new one forks workers ' +
    'that have not loaded the app yet. With preload_app true the new master loads the app while ' +
    'the old one still serves, and its workers accept as soon as they exist: no spike and no 502, ' +
    'even with the small backlog.',
  ...IN_PRODUCTION,
  expect: {
    precise: {
      applicable: true,
      expect:
        `unicorn-wrapper.conf as shipped; the app takes ${BOOT_SECONDS} s to load. upstart's bridge ` +
        "made the socket with listen(fd, SOMAXCONN) (the C library's constant: 128 on 12.04's " +
        'glibc, larger where the bridge was built against a newer one). unicorn 6 calls listen(2) again ' +
        'on the socket it adopts (inherit_listeners! -> set_server_sockopt) with its default 1024 ' +
        'when unicorn.rb names no backlog: ss shows 1024 once the first master runs. Each USR2 ' +
        'master re-listens with its own config, so `listen PATH, :backlog => 64` takes effect at ' +
        `the new master's start. (a) preload_app false, backlog 64: the new master forks at once, ` +
        "the first fork's before_fork QUITs the old master, the new workers load the app " +
        `${BOOT_SECONDS} s: the queue fills to the backlog (64), nginx logs connect() failed (11: ` +
        'Resource temporarily unavailable) and answers 502, the queued requests wait the load time. ' +
        `(b) the same with backlog 1024: the queue passes 64 (${CONCURRENCY} connections in ` +
        'flight), nothing fails, the longest requests wait the load time. (c) preload_app true, backlog 64: ' +
        'the new master loads the app while the old one serves; the queue stays low, nothing fails, ' +
        'no request waits as long as the load time',
    },
    bookworm: {
      applicable: true,
      expect:
        `unicorn.socket + unicorn-wrapper.service as shipped, with a drop-in Backlog=${SMALL}; the app ` +
        `takes ${BOOT_SECONDS} s to load. systemd listens with Backlog=${SMALL}: ss shows ${SMALL} before ` +
        'the first request; unicorn 6 calls listen(2) again on the socket it adopts with its ' +
        "default 1024 (unicorn.rb names no backlog), so ss shows 1024 once the first master runs: the socket unit's " +
        'Backlog= does not hold for unicorn. The three deploys as on upstart: (a) preload_app false, ' +
        `backlog ${SMALL} set by unicorn.rb's listen: 502s with nginx's EAGAIN lines and a spike of the ` +
        `load time; (b) backlog 1024: the queue passes ${SMALL}, nothing fails, the spike stays; ` +
        '(c) preload_app true: neither',
    },
  },
  boot: (flavour) => ({
    label:
      `as shipped for unicorn (the socket's owner + unicorn-wrapper); unicorn.rb = the lab's + ${COLD}/variant; ` +
      `config.ru loads in ${BOOT_SECONDS} s` +
      perInit(flavour, { precise: '', bookworm: `; unicorn.socket Backlog=${SMALL}` }),
    files: {
      [`${COLD}/unicorn.rb`]: shippedConf('unicorn', 'cold-workers', 'unicorn.rb'),
      [`${COLD}/boot-delay.rb`]: shippedConf('unicorn', 'cold-workers', 'boot-delay.rb'),
      [`${COLD}/listen-queue.rb`]: shippedConf('unicorn', 'cold-workers', 'listen-queue.rb'),
      [`${COLD}/boot-seconds`]: `${BOOT_SECONDS}\n`,
      [`${COLD}/variant`]: 'preload=true\n',
      ...perInit<Record<string, string>>(flavour, {
        precise: {},
        bookworm: {
          '/etc/systemd/system/unicorn.socket.d/backlog.conf': shippedConf(
            'unicorn',
            'cold-workers',
            'unicorn-socket-backlog.conf',
          ),
        },
      }),
    },
    shell: [
      `cp ${APP}/unicorn.rb ${COLD}/lab-unicorn.rb`,
      `cp ${COLD}/unicorn.rb ${APP}/unicorn.rb`,
      `{ cat ${COLD}/boot-delay.rb; cat ${APP}/config.ru; } > ${COLD}/config.ru`,
      `cp ${COLD}/config.ru ${APP}/config.ru`,
    ],
  }),
  async run(ctx) {
    // Before the first request nobody but the socket's owner (the bridge, systemd) has touched it.
    const owner = await ctx.waitFor(async () => queueNow(ctx), 10_000);
    if (!owner) throw new Error(`no listening socket at ${ctx.server.socketPath} before the first request`);
    ctx.mark('note', `ss: backlog ${owner.backlog} at ${owner.path}, set by the socket's owner`);
    await writeVariant(ctx, owner.path, true, null, 'first master: preload_app true, no backlog in unicorn.rb');
    await ctx.warmUp(40_000);
    const wrapperPid = await ctx.trackedMaster();
    const first = await queueNow(ctx);
    ctx.mark('note', `ss: backlog ${first?.backlog ?? 'none'} once the first unicorn master adopted the socket`);
    await startSampler(ctx, owner.path);

    ctx.load({ durationMs: 120_000, rate: RATE, concurrency: CONCURRENCY, timeoutMs: 15_000 });
    const stretches: Stretch[] = [];
    stretches.push(
      await stretch(ctx, STEADY, async () => {
        await sleep(1500);
        return 0;
      }),
    );
    for (const v of VARIANTS) {
      await writeVariant(
        ctx,
        owner.path,
        v.preload,
        v.backlog,
        `next master: preload_app ${v.preload}, listen backlog ${v.backlog}`,
      );
      stretches.push(await stretch(ctx, v.name, () => deploy(ctx, wrapperPid, v)));
    }
    const records = await ctx.allRecords();
    const samples = await stopSampler(ctx);
    ctx.addSeries(
      'listen queue',
      samples.map((s) => [s.at, s.waiting]),
    );
    ctx.addSeries(
      'backlog in effect',
      samples.map((s) => [s.at, s.backlog]),
      { limit: true },
    );

    const f: F = {
      socketPath: owner.path,
      ownerBacklog: owner.backlog,
      firstMasterBacklog: first?.backlog ?? null,
      wrapperPid,
      names: [],
      sent: [],
      failed: [],
      failures: [],
      p99Ms: [],
      maxMs: [],
      gapMs: [],
      queuePeak: [],
      backlogAtPeak: [],
      backlogAfter: [],
      eagain: [],
      newGenerationMs: [],
      samples: samples.length,
      sampleEveryMs: median(samples.slice(1).map((s, i) => s.at - samples[i].at)),
    };
    for (const s of stretches) {
      const c = windowOf(records, s.from, s.to);
      const inside = samples.filter((q) => q.at >= s.fromEpoch && q.at <= s.toEpoch);
      // The last sample at the peak: by then the new master has called listen(2) with its backlog.
      const peak = inside.reduce<QueueSample | undefined>((m, q) => (!m || q.waiting >= m.waiting ? q : m), undefined);
      f.names.push(s.name);
      f.sent.push(c.sent);
      f.failed.push(c.failed);
      f.failures.push(
        Object.entries(c.failures)
          .sort(([, a], [, b]) => (b ?? 0) - (a ?? 0))
          .map(([k, n]) => `${k}=${n}`)
          .join(' '),
      );
      f.p99Ms.push(c.latencyMs.p99);
      f.maxMs.push(c.latencyMs.max);
      f.gapMs.push(c.longestGapMs);
      f.queuePeak.push(peak?.waiting ?? -1);
      f.backlogAtPeak.push(peak?.backlog ?? -1);
      f.backlogAfter.push(inside[inside.length - 1]?.backlog ?? -1);
      f.eagain.push(s.eagain);
      f.newGenerationMs.push(s.newGenerationMs);
    }
    return f;
  },
  verdict({ flavour, facts: f }) {
    const j = new Judge();
    const at = (name: string) => f.names.indexOf(name);
    // A cold deploy makes requests wait the whole load time (measured: 4.0 to 4.7 s for 3 s):
    // judged at half of it; a warm one at the load time itself, a busy machine's stalls stay under.
    const spike = (BOOT_SECONDS * 1000) / 2;
    const load = BOOT_SECONDS * 1000;
    perInit(flavour, {
      precise: () => j.note(`the bridge made the socket with backlog ${f.ownerBacklog} (listen(fd, SOMAXCONN))`),
      bookworm: () => j.equal(`backlog systemd set (unicorn.socket Backlog=${SMALL})`, SMALL, f.ownerBacklog),
    })();
    j.check(
      'backlog once the first master adopted the socket (no backlog in unicorn.rb)',
      `${UNICORN_DEFAULT_BACKLOG}: unicorn calls listen(2) again with its default, over the owner's ${f.ownerBacklog}`,
      f.firstMasterBacklog,
      f.firstMasterBacklog === UNICORN_DEFAULT_BACKLOG && f.ownerBacklog !== UNICORN_DEFAULT_BACKLOG,
    );
    const steady = at(STEADY);
    j.check(
      `${STEADY}: failed requests`,
      '0',
      steady < 0 ? 'not reached' : `${f.failed[steady]} of ${f.sent[steady]}`,
      steady >= 0 && f.sent[steady] > 0 && f.failed[steady] === 0,
    );
    for (const v of VARIANTS) {
      const i = at(v.name);
      if (i < 0) {
        j.check(v.name, 'run', 'not reached', false);
        continue;
      }
      j.check(
        `${v.name}: new generation answers`,
        'yes',
        f.newGenerationMs[i] < 0 ? 'never' : `after ${f.newGenerationMs[i]} ms`,
        f.newGenerationMs[i] >= 0,
      );
      j.equal(`${v.name}: backlog in effect after the deploy (ss Send-Q)`, v.backlog, f.backlogAfter[i]);
      const failed = `${f.failed[i]} of ${f.sent[i]}${f.failures[i] ? ` (${f.failures[i]})` : ''}`;
      if (!v.preload && v.backlog === SMALL) {
        j.check(
          `${v.name}: failed requests`,
          'at least 1, nginx answering 502',
          failed,
          f.failed[i] >= 1 && /^http-502=/.test(f.failures[i]),
        );
        j.atLeast(`${v.name}: nginx "connect() failed (11: ${NGINX_EAGAIN})" lines`, 1, f.eagain[i]);
        j.check(
          `${v.name}: listen queue peak`,
          `the backlog, about ${SMALL}`,
          `${f.queuePeak[i]} waiting (backlog ${f.backlogAtPeak[i]})`,
          f.queuePeak[i] >= SMALL - 4 && f.queuePeak[i] <= SMALL + 1,
        );
      } else {
        j.check(`${v.name}: failed requests`, '0', failed, f.sent[i] > 0 && f.failed[i] === 0);
        j.equal(`${v.name}: nginx "${NGINX_EAGAIN}" lines`, 0, f.eagain[i]);
      }
      if (!v.preload) {
        j.atLeast(`${v.name}: longest request (the app's load time, ${BOOT_SECONDS} s)`, spike, f.maxMs[i], ' ms');
        if (v.backlog > SMALL)
          j.check(
            `${v.name}: listen queue peak`,
            `more than ${SMALL} waiting (${CONCURRENCY} in flight)`,
            `${f.queuePeak[i]} (backlog ${f.backlogAtPeak[i]})`,
            f.queuePeak[i] > SMALL,
          );
      } else {
        j.check(
          `${v.name}: longest request`,
          `under the app's load time, ${load} ms`,
          `${f.maxMs[i]} ms`,
          f.maxMs[i] >= 0 && f.maxMs[i] < load,
        );
        j.check(
          `${v.name}: listen queue peak`,
          `under the backlog ${SMALL}`,
          `${f.queuePeak[i]} (backlog ${f.backlogAtPeak[i]})`,
          f.queuePeak[i] >= 0 && f.queuePeak[i] < SMALL,
        );
      }
    }
    j.note(`socket ${f.socketPath}; ${f.samples} listen-queue samples, one every ${f.sampleEveryMs} ms`);
    f.names.forEach((name, i) =>
      j.note(
        `${name}: ${f.sent[i]} sent, ${f.failed[i]} failed${f.failures[i] ? ` (${f.failures[i]})` : ''}, ` +
          `p99 ${f.p99Ms[i]} ms, longest ${f.maxMs[i]} ms, gap ${f.gapMs[i]} ms, listen queue peak ` +
          `${f.queuePeak[i]} of backlog ${f.backlogAtPeak[i]}, nginx EAGAIN lines ${f.eagain[i]}`,
      ),
    );
    return j.verdict();
  },
};

/** For tests: the stretch names a run's facts carry, in order. */
export const STRETCHES: readonly string[] = [STEADY, ...VARIANTS.map((v) => v.name)];
export type ColdWorkersFacts = F;
