import type { BootSpec } from '../engine/boot-spec';
import type { Flavour } from '../engine/flavour-images';
import type { RequestRecord } from '../load/record';
import { UNICORN_OPT } from '../servers/unicorn';
import type { ScenarioContext } from '../session/context';
import { sleep } from '../session/context';
import { Judge } from '../session/judge';
import { initState, socketEventBursts } from '../session/observe';
import { type Scenario, perInit } from '../session/types';
import {
  IMAGE_JOB,
  IMAGE_UNIT,
  type StretchFacts,
  Stretches,
  askApp,
  shippedConf,
  stretch,
  stretchLine,
  waitFor200,
  IN_PRODUCTION,
} from '../session/unicorn-common';
import { latestGeneration, waitForGenerationAbove } from '../session/upgrades';

/**
 * The app's boot in seconds: the one place it is set (written to the container at boot).
 * Five boots run one after another; 20 s made the run take 172 to 178 s on bookworm on this
 * project's busy 2-core machines, 15 s keeps it near 2.5 minutes. Anything well above
 * BOOT_WAIT and RELOAD_SHORT shows the same failures.
 */
export const BOOT_SECONDS = 15;
/** The herder's fixed wait for a boot, as unicornherder had it. */
export const BOOT_WAIT = 5;
/** The same wait raised far past the boot (unicornherder#39 made it configurable). */
export const RAISED_BOOT_WAIT = 60;
/** Fixed waits between USR2 and QUIT of the old master: shorter, then longer than the boot. */
export const RELOAD_SHORT = 5;
export const RELOAD_LONG = BOOT_SECONDS + 6;

const APP = `${UNICORN_OPT}/app`;
const HERDER_BIN = '/usr/local/bin/sleepy-herder';
const DEFAULTS = '/etc/default/sleepy-herder';
const CONF_DIR = ['unicorn', 'herder-sleeps'];

const A_BOOT = `(a) herder waits ${BOOT_WAIT} s for a ${BOOT_SECONDS} s boot`;
const A_STOPPED = '(a) after the stop';
const B_BOOT = `(b) herder waits up to ${RAISED_BOOT_WAIT} s: the boot`;
const B_SHORT = `(b) reload: QUIT of the old master ${RELOAD_SHORT} s after USR2`;
const B_LONG = `(b) reload: QUIT of the old master ${RELOAD_LONG} s after USR2`;
const C_BEFORE = '(c) unicorn-wrapper serving';
const C_USR2 = '(c) unicorn-wrapper: USR2';

// ---------------------------------------------------------------------------------------------
// What the herder and the processes say (pure, tested in test/unit/scenario-unicorn-herder-sleeps.test.ts)

export interface HerderEvent {
  /** epoch ms */
  at: number;
  pid: number;
  event: string;
  fields: Record<string, string>;
}

/** sleepy-herder's lines (`sleepy-herder ts=EPOCH_MS pid=N event=NAME k=v...`) in a job log or journal. */
export function parseHerderEvents(text: string): HerderEvent[] {
  const out: HerderEvent[] = [];
  // upstart 1.5's console log is a pty: its lines end in \r\n.
  for (const line of text.split(/\r?\n/)) {
    const m = /(?:^|\s)sleepy-herder ts=(\d+) pid=(\d+) event=(\S+)(.*)$/.exec(line);
    if (!m) continue;
    const fields: Record<string, string> = {};
    for (const f of m[4].matchAll(/([A-Za-z_]\w*)=(\S+)/g)) fields[f[1]] = f[2];
    out.push({ at: Number(m[1]), pid: Number(m[2]), event: m[3], fields });
  }
  return out;
}

/** sh: one line per process whose command line names unicorn: "PID STATE PPID ARGS" (one grep, then only those). */
export const PROCS_SCRIPT = `for f in $(grep -ls unicorn /proc/[0-9]*/cmdline 2>/dev/null); do
  p=\${f%/cmdline}
  a=$(tr '\\000' ' ' < $f 2>/dev/null) || continue
  s=$(sed -n -e 's/^State:[[:space:]]*\\([A-Z]\\).*/\\1/p' -e 's/^PPid:[[:space:]]*//p' $p/status 2>/dev/null | tr '\\n' ' ')
  echo "\${p#/proc/} $s$a"
done`;

export interface UnicornProcs {
  herders: number[];
  wrappers: number[];
  /** `unicorn -D` launchers: the herder's own child, which returns once the master is ready */
  launchers: number[];
  masters: { pid: number; ppid: number }[];
  workers: { pid: number; master: number }[];
}

const WORKER = /^unicorn(?:_rails)? worker\[\d+\]/;
const MASTER = /^unicorn(?:_rails)? master\b|\/usr\/bin\/unicorn(?:_rails)?\s/;

/**
 * Who is who among unicorn's processes. A master before its app has loaded still shows
 * the command line it was started with (unicorn names itself "unicorn master" only in join),
 * so a master is any unicorn process that is not a worker, a herder, a wrapper or a launcher.
 */
export function classifyProcs(text: string): UnicornProcs {
  const rows: Array<{ pid: number; state: string; ppid: number; args: string }> = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+) ([A-Z]) (\d+) (.*)$/.exec(line.trim());
    if (m && m[2] !== 'Z') rows.push({ pid: Number(m[1]), state: m[2], ppid: Number(m[3]), args: m[4] });
  }
  // The probe itself (its shell and its grep) names unicorn too.
  const live = rows.filter((r) => !/grep -ls unicorn/.test(r.args));
  const herders = live.filter((r) => r.args.includes('sleepy-herder')).map((r) => r.pid);
  const wrappers = live.filter((r) => r.args.includes('unicorn-wrapper/cli.js')).map((r) => r.pid);
  const rest = live.filter((r) => !herders.includes(r.pid) && !wrappers.includes(r.pid));
  const launchers = rest.filter((r) => herders.includes(r.ppid) && MASTER.test(r.args)).map((r) => r.pid);
  const workers = rest.filter((r) => WORKER.test(r.args)).map((r) => ({ pid: r.pid, master: r.ppid }));
  // A launcher's own child forks the master and exits at once: not a master either.
  const masters = rest
    .filter((r) => !launchers.includes(r.pid) && !launchers.includes(r.ppid))
    .filter((r) => !WORKER.test(r.args) && MASTER.test(r.args))
    .map((r) => ({ pid: r.pid, ppid: r.ppid }));
  return { herders, wrappers, launchers, masters, workers };
}

/** Masters with at least one worker: the ones that can answer. */
export function servingPids(p: UnicornProcs): number[] {
  return p.masters.filter((m) => p.workers.some((w) => w.master === m.pid)).map((m) => m.pid);
}

/**
 * Who answered across a handover, in [fromMs, toMs) of the run: the last success of the old
 * generation, the first of the new, and between them a gap (positive) or an overlap
 * (negative), with how many requests each generation answered while both did.
 */
export interface Handover {
  lastOld: number | null;
  firstNew: number | null;
  /** firstNew - lastOld: > 0 nobody answered for that long; < 0 both answered for that long */
  handoverMs: number | null;
  oldDuringOverlap: number;
  newDuringOverlap: number;
}

export function handover(
  records: readonly RequestRecord[],
  fromMs: number,
  toMs: number,
  oldGen: number,
  newGen: number,
): Handover {
  const ok = records.filter((r) => !r.error && r.start >= fromMs && r.start < toMs);
  const olds = ok.filter((r) => r.generation === oldGen).map((r) => r.end);
  const news = ok.filter((r) => r.generation === newGen).map((r) => r.end);
  const lastOld = olds.length ? Math.max(...olds) : null;
  const firstNew = news.length ? Math.min(...news) : null;
  const handoverMs = lastOld !== null && firstNew !== null ? Math.round(firstNew - lastOld) : null;
  const inOverlap = (t: number) => firstNew !== null && lastOld !== null && t >= firstNew && t <= lastOld;
  return {
    lastOld: lastOld === null ? null : Math.round(lastOld),
    firstNew: firstNew === null ? null : Math.round(firstNew),
    handoverMs,
    oldDuringOverlap: olds.filter(inOverlap).length,
    newDuringOverlap: news.filter(inOverlap).length,
  };
}

/** The median gap between sorted times; null with fewer than two. */
export function medianGap(times: readonly number[]): number | null {
  const sorted = [...times].sort((a, b) => a - b);
  const gaps = sorted
    .slice(1)
    .map((t, i) => t - sorted[i])
    .sort((a, b) => a - b);
  return gaps.length ? gaps[Math.floor(gaps.length / 2)] : null;
}

/** The herder's defaults file: its two fixed waits, one per line. */
export function defaultsLines(bootWait: number, reloadWait: number): string[] {
  return [
    '# the fixed waits of sleepy-herder in seconds, written by the lab (unicorn-herder-sleeps)',
    `BOOT_WAIT=${bootWait}`,
    `RELOAD_WAIT=${reloadWait}`,
  ];
}

// ---------------------------------------------------------------------------------------------
// Facts

type F = StretchFacts & {
  slowBootSeconds: number;
  // (a)
  /** herder#1: why and when it gave up (ms after its start), and when it saw the pid file */
  aGaveUpReason: string;
  aGaveUpMs: number | null;
  aPidFileMs: number | null;
  /** the first master (the one herder#1 left), its parent and whether it is alive/tracked at the end */
  aFirstMaster: number;
  aFirstMasterPpid: number;
  aFirstMasterAlive: boolean;
  aFirstMasterTracked: boolean;
  /** herders init started in (a), and how many of them gave up because unicorn -D failed (refused) */
  aHerderStarts: number;
  /** median ms between two herder starts after the first gave up (null: fewer than 3 starts) */
  aStartEveryMs: number | null;
  aRefusedStarts: number;
  /** herders that adopted a master in (a) (none can: the first gives up, the others' unicorns refuse) */
  aAdopted: number;
  /** systemd's NRestarts during (a) (upstart: 0, see aHerderStarts) */
  aRestarts: number;
  /** what init tracked at the end of (a): a herder (which one), or nothing */
  aTracked: number | null;
  aTrackedIsHerder: boolean;
  aInitState: string;
  /** most masters with workers seen at once during (a) */
  aMaxServing: number;
  /** requests answered 200 during (a), and whether the first master answered a probe at the end */
  aOk: number;
  aAnsweredByFirst: boolean;
  aStopCommand: string;
  aStopExit: number;
  aStopOutput: string;
  aFirstAliveAfterStop: boolean;
  aAnsweredByFirstAfterStop: boolean;
  aMastersAfterStop: number;
  // (b)
  bHerder: number | null;
  bReady: boolean;
  /** the herder with the raised wait: when it saw the pid file and when `unicorn -D` came back (ms after its start) */
  bPidFileMs: number | null;
  bDaemonizedMs: number | null;
  bShortQuitAfterMs: number | null;
  bShortHandoverMs: number | null;
  bLongQuitAfterMs: number | null;
  bLongHandoverMs: number | null;
  bLongOldAnswered: number;
  bLongNewAnswered: number;
  bLongMaxServing: number;
  bTrackedAfter: number | null;
  bMastersAfterStop: number;
  // (c)
  cWrapper: number | null;
  cTrackedAfter: number | null;
  cFollowed: number;
  cUpgradeFailed: number;
  cQuitsForwarded: number;
  /** ms from the USR2 to the wrapper's master-followed, and to the old master's exit (oldbin-exited) */
  cFollowedAfterMs: number | null;
  cOldExitAfterMs: number | null;
  cHandoverMs: number | null;
  cOldGen: number;
  cNewGen: number;
};

// ---------------------------------------------------------------------------------------------
// Boot and the container

function herderBoot(flavour: Flavour): BootSpec {
  const files: Record<string, string> = {
    [HERDER_BIN]: shippedConf(...CONF_DIR, 'bin', 'sleepy-herder'),
    [`${APP}/slow-boot.ru`]: shippedConf(...CONF_DIR, 'slow-boot.ru'),
    [`${APP}/boot-seconds`]: `${BOOT_SECONDS}\n`,
    [DEFAULTS]: `${defaultsLines(BOOT_WAIT, RELOAD_SHORT).join('\n')}\n`,
  };
  const shell = [
    `chmod 0755 ${HERDER_BIN}`,
    // The image's app becomes demo.ru, loaded by slow-boot.ru after its sleep.
    `cp ${APP}/config.ru ${APP}/demo.ru && cp ${APP}/slow-boot.ru ${APP}/config.ru`,
    'rm -f /etc/nginx/sites-enabled/phoenix',
    'ln -sf /etc/nginx/sites-available/unicorn /etc/nginx/sites-enabled/unicorn',
  ];
  const label = `a ${BOOT_SECONDS} s boot (slow-boot.ru before the demo app); `;
  return perInit<() => BootSpec>(flavour, {
    precise: () => ({
      activatesServer: true,
      label: `${label}unicorn.conf = herder-sleeps/upstart/unicorn-herder.conf (sleepy-herder, respawn; not started)`,
      remove: ['/etc/init/phoenix.conf'],
      files: { ...files, '/etc/init/unicorn.conf': shippedConf(...CONF_DIR, 'upstart', 'unicorn-herder.conf') },
      shell,
    }),
    bookworm: () => ({
      activatesServer: true,
      label: `${label}unicorn.service = herder-sleeps/systemd/unicorn-herder.service (sleepy-herder; not started)`,
      remove: [
        '/etc/systemd/system/sockets.target.wants/phoenix.socket',
        '/etc/systemd/system/multi-user.target.wants/phoenix.service',
      ],
      files: {
        ...files,
        '/etc/systemd/system/unicorn.service': shippedConf(...CONF_DIR, 'systemd', 'unicorn-herder.service'),
      },
      shell,
    }),
  })();
}

async function procs(ctx: ScenarioContext): Promise<UnicornProcs> {
  return classifyProcs((await ctx.sh(PROCS_SCRIPT)).stdout);
}

async function herderEvents(ctx: ScenarioContext): Promise<HerderEvent[]> {
  return parseHerderEvents(await ctx.wrapperLog());
}

/** The processes and the herder's events in one exec: on a busy machine each exec costs. */
async function snapshot(ctx: ScenarioContext): Promise<{ procs: UnicornProcs; events: HerderEvent[] }> {
  const out = (
    await ctx.sh(`${PROCS_SCRIPT}\necho @@\n{ ${ctx.driver.appLogScript(ctx.server)}; } | grep 'sleepy-herder ts='`)
  ).stdout;
  const [p = '', e = ''] = out.split(/^@@$/m);
  return { procs: classifyProcs(p), events: parseHerderEvents(e) };
}

/** Start the herder's job (the lab's `initctl start` would also start a unicorn.socket on systemd). */
function startHerderJob(ctx: ScenarioContext) {
  return perInit(ctx.flavour, {
    precise: () => ctx.initctl('start', ctx.server.job),
    bookworm: () =>
      ctx.act('initctl', `systemctl start ${ctx.server.job}.service`, () =>
        ctx.sh(`systemctl start ${ctx.server.job}.service`),
      ),
  })();
}

function setDefaults(ctx: ScenarioContext, bootWait: number, reloadWait: number, why: string) {
  return ctx.act('apply', `${DEFAULTS}: BOOT_WAIT=${bootWait} RELOAD_WAIT=${reloadWait} (${why})`, () =>
    ctx.must(
      `printf '%s\\n' ${defaultsLines(bootWait, reloadWait)
        .map((l) => `'${l}'`)
        .join(' ')} > ${DEFAULTS}`,
    ),
  );
}

async function noMastersLeft(ctx: ScenarioContext, timeoutMs: number): Promise<number> {
  await ctx.waitFor(async () => ((await procs(ctx)).masters.length === 0 ? true : undefined), timeoutMs, 250);
  return (await procs(ctx)).masters.length;
}

// ---------------------------------------------------------------------------------------------
// (a) the fixed boot wait

type AFacts = Pick<F, Extract<keyof F, `a${string}`>>;

async function partA(ctx: ScenarioContext, st: Stretches): Promise<AFacts> {
  const job = ctx.server.job;
  const t0 = Date.now();
  const restartsBefore = await ctx.restarts();
  let maxServing = 0;
  /** masters in the order they were first seen: the first is the one the first herder left */
  const seen: number[] = [];
  await st.holdWhile(A_BOOT, async () => {
    await startHerderJob(ctx);
    // upstart: watch until the master the first herder left has served a while; systemd: until
    // the second herder (one restart).
    const enoughStarts = perInit(ctx.flavour, { precise: Infinity, bookworm: 2 });
    const until = (BOOT_SECONDS + 20) * 1000;
    let servedSince = 0;
    while (Date.now() - t0 < until) {
      const snap = await snapshot(ctx);
      for (const m of snap.procs.masters) if (!seen.includes(m.pid)) seen.push(m.pid);
      const serving = servingPids(snap.procs).length;
      maxServing = Math.max(maxServing, serving);
      if (serving > 0 && !servedSince) servedSince = Date.now();
      if (servedSince && Date.now() - servedSince > 2500) break;
      const started = snap.events.filter((e) => e.event === 'start' && e.at >= t0 - 1000).length;
      if (started >= enoughStarts) break;
      await sleep(400);
    }
  });
  const events = (await herderEvents(ctx)).filter((e) => e.at >= t0 - 1000);
  const starts = events.filter((e) => e.event === 'start');
  const first = starts[0];
  const gaveUp = events.find((e) => e.event === 'gave-up' && e.pid === first?.pid);
  const pidSeen = events.find((e) => e.event === 'pid-file' && e.pid === first?.pid);
  // The herder names it once it saw the pid file; on a machine so busy that Ruby took longer
  // than the herder's wait, the first master the lab saw is the same process.
  const firstMaster = Number(gaveUp?.fields.master) || Number(pidSeen?.fields.master) || seen[0] || 0;
  for (const b of socketEventBursts(
    starts.map((e) => e.at),
    2500,
  ))
    ctx.markAtEpoch(b.at, 'note', b.count === 1 ? 'a herder started' : `${b.count} herders started`);
  if (gaveUp)
    ctx.markAtEpoch(gaveUp.at, 'note', `herder ${gaveUp.pid} gave up (${gaveUp.fields.reason}), master left behind`);

  const status = await ctx.inspect();
  // Before the stop: systemd counts restarts only until the unit is stopped.
  const restarts = (await ctx.restarts()) - restartsBefore;
  const p = await procs(ctx);
  const m1 = p.masters.find((m) => m.pid === firstMaster);
  const probe = await askApp(ctx, 3000);
  // Read again after the status: upstart respawns a herder about every second, and the one it
  // tracks now may have started after the events above were read.
  await sleep(300);
  const herderPids = new Set((await herderEvents(ctx)).filter((e) => e.event === 'start').map((e) => e.pid));
  const stopPlan = ctx.driver.initctl(['stop', job], ctx.server);
  const stop = await ctx.initctl('stop', job);
  await sleep(1000);
  const probeAfter = await askApp(ctx, 3000);
  await st.hold(A_STOPPED, 1500);
  const after = await procs(ctx);
  const facts: AFacts = {
    aGaveUpReason: gaveUp?.fields.reason ?? 'never',
    aGaveUpMs: gaveUp && first ? gaveUp.at - first.at : null,
    aPidFileMs: pidSeen ? Number(pidSeen.fields.ms) : null,
    aFirstMaster: firstMaster,
    aFirstMasterPpid: m1?.ppid ?? 0,
    aFirstMasterAlive: m1 !== undefined,
    aFirstMasterTracked: firstMaster > 0 && status.init.trackedPid === firstMaster,
    aHerderStarts: starts.length,
    aStartEveryMs: medianGap(starts.slice(1).map((e) => e.at)),
    aRefusedStarts: events.filter((e) => e.event === 'gave-up' && e.fields.reason === 'launcher-failed').length,
    aAdopted: events.filter((e) => e.event === 'ready').length,
    aRestarts: restarts,
    aTracked: status.init.trackedPid ?? null,
    aTrackedIsHerder: status.init.trackedPid !== undefined && herderPids.has(status.init.trackedPid),
    aInitState: initState(status),
    aMaxServing: maxServing,
    aOk: 0,
    aAnsweredByFirst: probe.status === 200 && probe.master === firstMaster,
    aStopCommand: 'label' in stopPlan ? stopPlan.label : 'stop',
    aStopExit: stop.code,
    aStopOutput: (stop.stderr || stop.stdout).trim().split('\n')[0] ?? '',
    aFirstAliveAfterStop: after.masters.some((m) => m.pid === firstMaster),
    aAnsweredByFirstAfterStop: probeAfter.status === 200 && probeAfter.master === firstMaster,
    aMastersAfterStop: after.masters.length,
  };
  // Nobody else will stop the master herder#1 left (upstart): only a signal by hand does.
  if (facts.aFirstAliveAfterStop)
    await ctx.signal('QUIT', firstMaster, 'unmanaged master', 'cleanup: init does not know it');
  await noMastersLeft(ctx, 20_000);
  return facts;
}

// ---------------------------------------------------------------------------------------------
// (b) the fixed reload wait

type BFacts = Pick<F, Extract<keyof F, `b${string}`>>;
/** Where a part's handovers lie on the run's clock, to read them from the records once the load is over. */
type Windows = Record<'from' | 'to', number>;

async function reloadWaitingForQuit(
  ctx: ScenarioContext,
  name: string,
  wait: number,
  newGen: number,
  st: Stretches,
): Promise<{ at: number; quitAfterMs: number | null; maxServing: number }> {
  const job = ctx.server.job;
  let at = 0;
  let quitAfterMs: number | null = null;
  let maxServing = 0;
  await st.span(
    name,
    async () => {
      at = ctx.now();
      const t = Date.now();
      await ctx.initctl('reload', job);
      // Until the herder QUIT the old master and the new generation answers.
      const deadline = t + (Math.max(wait, BOOT_SECONDS) + 25) * 1000;
      let answered = false;
      while (Date.now() < deadline && (quitAfterMs === null || !answered)) {
        const snap = await snapshot(ctx);
        maxServing = Math.max(maxServing, servingPids(snap.procs).length);
        const quit = snap.events.find((e) => e.event === 'quit-old' && e.at >= t);
        if (quit && quitAfterMs === null) {
          quitAfterMs = quit.at - t;
          ctx.markAtEpoch(quit.at, 'signal', `herder: QUIT -> old master ${quit.fields.old} (${wait} s after USR2)`);
        }
        answered = answered || latestGeneration(ctx) >= newGen;
        await sleep(300);
      }
    },
    1500,
  );
  return { at, quitAfterMs, maxServing };
}

async function partB(ctx: ScenarioContext, st: Stretches): Promise<{ facts: BFacts; short: Windows; long: Windows }> {
  const job = ctx.server.job;
  await setDefaults(ctx, RAISED_BOOT_WAIT, RELOAD_SHORT, 'the boot wait raised past the boot');
  const t0 = Date.now();
  await startHerderJob(ctx);
  const up = await st.holdWhile(B_BOOT, () => waitFor200(ctx, (BOOT_SECONDS + 30) * 1000));
  const herder = (await ctx.inspect()).init.trackedPid ?? null;
  const booted = (await herderEvents(ctx)).filter((e) => e.at >= t0 - 1000 && e.pid === herder);
  const field = (event: string) => {
    const e = booted.find((x) => x.event === event);
    return e ? Number(e.fields.ms) : null;
  };
  await sleep(500);
  const short = await reloadWaitingForQuit(ctx, B_SHORT, RELOAD_SHORT, 2, st);
  await setDefaults(ctx, RAISED_BOOT_WAIT, RELOAD_LONG, 'a reload wait longer than the boot');
  const long = await reloadWaitingForQuit(ctx, B_LONG, RELOAD_LONG, 3, st);
  const bEnd = ctx.now();
  const tracked = (await ctx.inspect()).init.trackedPid ?? null;
  await ctx.initctl('stop', job);
  const left = await noMastersLeft(ctx, 20_000);
  const facts: BFacts = {
    bHerder: herder,
    bReady: up !== null,
    bPidFileMs: field('pid-file'),
    bDaemonizedMs: field('ready'),
    bShortQuitAfterMs: short.quitAfterMs,
    bShortHandoverMs: null,
    bLongQuitAfterMs: long.quitAfterMs,
    bLongHandoverMs: null,
    bLongOldAnswered: 0,
    bLongNewAnswered: 0,
    bLongMaxServing: long.maxServing,
    bTrackedAfter: tracked,
    bMastersAfterStop: left,
  };
  return { facts, short: { from: short.at, to: long.at }, long: { from: long.at, to: bEnd } };
}

// ---------------------------------------------------------------------------------------------
// (c) the shipped fix: the socket's owner + unicorn-wrapper, unicorn.rb's before_fork hook

type CFacts = Pick<F, Extract<keyof F, `c${string}`>>;

async function partC(
  ctx: ScenarioContext,
  st: Stretches,
  traffic: () => void,
): Promise<{ facts: CFacts; usr2: Windows }> {
  // The shipped setup, put in place with the traffic paused: its first boot is not what is measured.
  await perInit(ctx.flavour, {
    precise: async () => {
      const text = await ctx.must(`cat ${IMAGE_JOB('unicorn-wrapper')}`);
      await ctx.applyConfig('unicorn.conf', text, 'lab apply unicorn.conf = unicorn-wrapper.conf (as shipped)');
    },
    bookworm: async () => {
      await ctx.applyConfig(
        'unicorn.service',
        await ctx.must(`cat ${IMAGE_UNIT('unicorn-wrapper.service')}`),
        'lab apply unicorn.service = unicorn-wrapper.service (as shipped)',
      );
      await ctx.applyConfig(
        'unicorn.socket',
        await ctx.must(`cat ${IMAGE_UNIT('unicorn.socket')}`),
        'lab apply unicorn.socket (as shipped)',
      );
    },
  })();
  // One request that waits (the socket's owner holds it while unicorn boots) answers the moment
  // the first worker accepts: polling with short timeouts would lose up to a timeout each time.
  const first = await askApp(ctx, (BOOT_SECONDS + 30) * 1000);
  if (first.status !== 200 && (await waitFor200(ctx, 10_000)) === null)
    throw new Error("the wrapper's setup never answered");
  const wrapper = (await ctx.inspect()).init.trackedPid ?? null;
  if (!wrapper) throw new Error('init tracks nothing once the wrapper answered');
  traffic();
  await st.hold(C_BEFORE, 1000);
  const oldGen = (await ctx.get()).generation ?? 1;
  const oldMaster = (await procs(ctx)).masters.map((m) => m.pid);
  const t = Date.now();
  const cAt = ctx.now();
  let oldExitAfterMs: number | null = null;
  await st.span(
    C_USR2,
    async () => {
      await ctx.signal('USR2', wrapper, 'wrapper', `deploy: the new master boots for ${BOOT_SECONDS} s`);
      // The old master's exit, seen from outside: unicorn.rb's hook QUITs it, not the wrapper.
      await ctx.waitFor(
        async () => {
          const live = (await procs(ctx)).masters.map((m) => m.pid);
          return oldMaster.some((p) => live.includes(p)) ? undefined : true;
        },
        (BOOT_SECONDS + 25) * 1000,
        200,
      );
      oldExitAfterMs = Date.now() - t;
      ctx.mark('note', `the old master is gone ${oldExitAfterMs} ms after the USR2`);
      await waitForGenerationAbove(ctx, oldGen, 10_000);
      await ctx.waitFor(
        async () => {
          const p = await procs(ctx);
          return p.masters.length === 1 && servingPids(p).length === 1 ? true : undefined;
        },
        15_000,
        200,
      );
    },
    1500,
  );
  const cEnd = ctx.now();
  const tracked = (await ctx.inspect()).init.trackedPid ?? null;
  const ev = (await ctx.events()).filter((e) => e.program === 'unicorn-wrapper' && Date.parse(e.ts) >= t - 50);
  const at = (name: string) => {
    const e = ev.find((x) => x.event === name);
    return e ? Date.parse(e.ts) - t : null;
  };
  const facts: CFacts = {
    cWrapper: wrapper,
    cTrackedAfter: tracked,
    cFollowed: ev.filter((e) => e.event === 'master-followed').length,
    cUpgradeFailed: ev.filter((e) => e.event === 'upgrade-failed').length,
    cQuitsForwarded: ev.filter((e) => e.event === 'signal-forwarded' && e.fields.signal === 'SIGQUIT').length,
    cFollowedAfterMs: at('master-followed'),
    cOldExitAfterMs: oldExitAfterMs,
    cHandoverMs: null,
    cOldGen: oldGen,
    cNewGen: oldGen + 1,
  };
  return { facts, usr2: { from: cAt, to: cEnd } };
}

// ---------------------------------------------------------------------------------------------

/**
 * Herders' fixed waits against an app that takes BOOT_SECONDS to load, under load, in one run:
 * (a) sleepy-herder (unicornherder's shape) gives up on `unicorn -D` after BOOT_WAIT and init
 * respawns or restarts it; (b) the same herder with the wait raised adopts the boot, and its
 * reload QUITs the old master a fixed time after USR2, once before and once after the new one
 * has loaded; (c) the shipped unicorn-wrapper setup with the same app takes a USR2.
 * unicorn writes its pid file before it loads the app (HttpServer#start: `self.pid =` comes
 * before `build_app! if preload_app`), so what a slow app overruns is the wait for `unicorn -D`
 * to come back (its launcher returns from join, after build_app!), not a wait for the pid file.
 */
export const unicornHerderSleeps: Scenario<F> = {
  name: 'unicorn-herder-sleeps',
  title: `herders' fixed waits against a ${BOOT_SECONDS} s boot: a lost boot, a gap, two versions at once; the wrapper's USR2 beside them`,
  story:
    `With an app that takes ${BOOT_SECONDS} s to boot, a unicornherder-style herder gives up after its fixed ` +
    `${BOOT_WAIT} s and leaves unicorn running with nobody in charge while upstart respawns herders beside it ` +
    '(systemd instead kills every boot and the site never comes up), and its reload (USR2, a fixed ' +
    'sleep, then QUIT) either leaves the site hanging for the rest of the boot or serves two releases ' +
    'at once. Running unicorn behind unicorn-wrapper removes every fixed wait: init tracks the wrapper ' +
    "across the boot, and unicorn.rb's before_fork hook QUITs the old master only once the new one has " +
    'loaded the app (preload_app), so a USR2 deploy loses not one request.',
  ...IN_PRODUCTION,
  expect: {
    precise: {
      applicable: true,
      expect:
        `(a) unicorn-herder.conf (exec sleepy-herder, respawn, kill signal QUIT). The herder runs ` +
        `\`unicorn -D\` and waits a fixed ${BOOT_WAIT} s for it to come back with a master in the pid ` +
        `file. unicorn writes its pid file before it loads the app (HttpServer#start: pid= before ` +
        `build_app!, with preload_app true or false), about a second after start, so a herder that ` +
        `only waited for the pid file would not lose this boot; but \`unicorn -D\` returns only when ` +
        `the master reaches join, after build_app! (${BOOT_SECONDS} s with preload_app). The herder ` +
        `gives up at ${BOOT_WAIT} s, TERMs the launcher and exits 1; the master, in its own session, ` +
        `boots on. upstart respawns the herder; each new herder's unicorn refuses to start (the pid ` +
        `file names the live first master: "Already running", checked before it binds, so no ` +
        `EADDRINUSE) and the herder gives up again, about once a second (Ruby's start), below the respawn ` +
        `limit (more than 10 in 5 s), for ever (or, where they give up faster, until that limit stops ` +
        `the job). The first master serves from about ${BOOT_SECONDS} s, alone (never two ` +
        `masters with workers), with parent PID 1, untracked; upstart tracks the latest doomed ` +
        `herder, or nothing. initctl stop unicorn stops that herder only: the first master serves on. (b) With ` +
        `the boot wait raised to ${RAISED_BOOT_WAIT} s the herder adopts the master. Its reload ` +
        `(initctl reload = HUP): USR2, a fixed wait, QUIT of the old master. Wait ${RELOAD_SHORT} s: ` +
        `the old master is gone ${RELOAD_SHORT} s after the USR2 while the new one loads until about ` +
        `${BOOT_SECONDS + 1} s: nobody accepts, connections wait in the socket's backlog, requests ` +
        `time out, a gap of about ${BOOT_SECONDS - RELOAD_SHORT} s. Wait ${RELOAD_LONG} s: no request ` +
        `fails, the new generation answers from about ${BOOT_SECONDS + 1} s and the old one until ` +
        `${RELOAD_LONG} s: two versions at once for several seconds. (c) unicorn-wrapper.conf as ` +
        `shipped (bridge + wrapper, unicorn.rb's before_fork QUITs the .oldbin master): USR2 to the ` +
        `wrapper; the new master loads for ${BOOT_SECONDS} s; the hook runs in it only after ` +
        `build_app! (preload_app), just before it forks its first worker, so the old master serves ` +
        `throughout, its exit comes at least ${BOOT_SECONDS} s after the USR2, the new generation ` +
        `answers within a second of the old one's last answer, no request fails; the wrapper follows ` +
        `the new master (one master-followed), QUITs nothing itself, and upstart tracks it throughout`,
    },
    bookworm: {
      applicable: true,
      expect:
        `(a) unicorn-herder.service (Type=simple, Restart=on-failure, KillMode=mixed, ` +
        `KillSignal=SIGQUIT). The herder gives up at ${BOOT_WAIT} s, as on upstart, and exits 1. ` +
        `The master left its session but not the unit's cgroup: with the main process gone systemd ` +
        `stops the unit, and KillMode=mixed sends SIGKILL at once to what is left (the master, still ` +
        `loading); Restart= starts a new herder a second later, which loses its boot the same way. A ` +
        `restart every ${BOOT_WAIT + 1} to ${BOOT_WAIT + 3} s, no master ever finishes loading, ` +
        `never a second master, every request fails (502: no socket), systemctl stop leaves nothing. ` +
        `No unmanaged server, but the site never comes up. (b) systemctl reload = HUP to the herder ` +
        `(ExecReload): the same gap of about ${BOOT_SECONDS - RELOAD_SHORT} s with the ` +
        `${RELOAD_SHORT} s wait, and two generations answering at once for several seconds with the ` +
        `${RELOAD_LONG} s wait; MainPID stays the herder. (c) unicorn.socket + ` +
        `unicorn-wrapper.service as shipped: the same as on upstart, no request fails, the old ` +
        `master exits at least ${BOOT_SECONDS} s after the USR2, MainPID stays the wrapper`,
    },
  },
  boot: (flavour) => herderBoot(flavour),
  async run(ctx) {
    const st = new Stretches(ctx);
    const traffic = () =>
      ctx.load({ durationMs: 240_000, rate: 100, concurrency: 8, slowEvery: 10, slowMs: 300, timeoutMs: 5000 });
    traffic();
    const a = await partA(ctx, st);
    const b = await partB(ctx, st);
    // Traffic pauses while the job is replaced by the shipped setup.
    await ctx.loadHandle?.stop();
    const c = await partC(ctx, st, traffic);
    const records = await ctx.allRecords();
    const stretches = st.facts(records);
    const short = handover(records, b.short.from, b.short.to, 1, 2);
    const long = handover(records, b.long.from, b.long.to, 2, 3);
    const usr2 = handover(records, c.usr2.from, c.usr2.to, c.facts.cOldGen, c.facts.cNewGen);
    return {
      ...stretches,
      slowBootSeconds: BOOT_SECONDS,
      ...a,
      aOk: stretch(stretches, A_BOOT)?.ok ?? 0,
      ...b.facts,
      bShortHandoverMs: short.handoverMs,
      bLongHandoverMs: long.handoverMs,
      bLongOldAnswered: long.oldDuringOverlap,
      bLongNewAnswered: long.newDuringOverlap,
      ...c.facts,
      cHandoverMs: usr2.handoverMs,
    };
  },
  verdict({ flavour, facts: f }) {
    const j = new Judge();
    // (a)
    j.check(
      '(a) the first herder',
      `gave up on its fixed ${BOOT_WAIT} s wait (boot-wait)`,
      `${f.aGaveUpReason} after ${f.aGaveUpMs ?? '?'} ms`,
      f.aGaveUpReason === 'boot-wait' && f.aGaveUpMs !== null && f.aGaveUpMs < BOOT_SECONDS * 1000,
    );
    j.atMost('(a) masters with workers at once (never two)', 1, f.aMaxServing);
    j.equal('(a) herders that adopted a master', 0, f.aAdopted);
    perInit(flavour, {
      precise: () => {
        j.atLeast('(a) herders upstart started (respawns)', 3, f.aHerderStarts);
        j.check(
          '(a) the master the first herder left',
          'alive, parent PID 1, not tracked by upstart',
          `${f.aFirstMaster || 'none'}: ${f.aFirstMasterAlive ? 'alive' : 'gone'}, parent ${f.aFirstMasterPpid}, ` +
            `${f.aFirstMasterTracked ? 'tracked' : 'not tracked'}`,
          f.aFirstMaster > 0 && f.aFirstMasterAlive && f.aFirstMasterPpid === 1 && !f.aFirstMasterTracked,
        );
        // Herders that give up faster than every half second trip the respawn limit (more than
        // 10 in 5 s): one run with two labs on 2 cores restarted them every 581 ms (median) and
        // upstart stopped the job after 18. Either way upstart never holds the serving master.
        j.check(
          '(a) upstart tracks',
          'a respawned herder, or nothing once the respawn limit stopped the job; not the serving master',
          `${f.aTracked ?? 'nothing'} (${f.aInitState})${f.aTrackedIsHerder ? ', a herder' : ''}`,
          f.aTrackedIsHerder || (f.aTracked === null && f.aInitState === 'stop/waiting' && f.aHerderStarts > 10),
        );
        j.check(
          '(a) the unmanaged master serves',
          'answers through nginx once booted',
          `${f.aOk} answered; probe ${f.aAnsweredByFirst ? 'answered by it' : 'not answered by it'}`,
          f.aOk > 0 && f.aAnsweredByFirst,
        );
        j.check(
          `(a) after ${f.aStopCommand}`,
          'the unmanaged master still alive and answering',
          `exit ${f.aStopExit} (${f.aStopOutput || '-'}); ${f.aFirstAliveAfterStop ? 'alive' : 'gone'}, ` +
            `${f.aAnsweredByFirstAfterStop ? 'answered' : 'did not answer'}`,
          f.aFirstAliveAfterStop && f.aAnsweredByFirstAfterStop,
        );
      },
      bookworm: () => {
        j.atLeast('(a) systemd restarts of the herder (Restart=)', 1, f.aRestarts);
        j.check(
          '(a) the master the first herder left',
          'killed with the unit (KillMode=mixed: SIGKILL to what is left)',
          f.aFirstMaster ? `${f.aFirstMaster}: ${f.aFirstMasterAlive ? 'alive' : 'gone'}` : 'never seen',
          f.aFirstMaster > 0 && !f.aFirstMasterAlive,
        );
        j.equal('(a) requests answered 200 (the site never came up)', 0, f.aOk);
        j.equal(`(a) unicorn masters left after ${f.aStopCommand}`, 0, f.aMastersAfterStop);
      },
    })();
    // (b)
    j.equal(`(b) the herder with a ${RAISED_BOOT_WAIT} s boot wait: the app answered`, true, f.bReady);
    const loadFloor = (BOOT_SECONDS * 1000) / 2;
    j.check(
      "(b) unicorn's pid file against `unicorn -D` coming back (the herder's clock)",
      `the pid file first, the app's load (${BOOT_SECONDS} s) in between: at least ${loadFloor} ms apart`,
      f.bPidFileMs === null || f.bDaemonizedMs === null
        ? `pid file ${f.bPidFileMs ?? '?'} ms, daemonized ${f.bDaemonizedMs ?? '?'} ms`
        : `pid file after ${f.bPidFileMs} ms, daemonized after ${f.bDaemonizedMs} ms`,
      f.bPidFileMs !== null && f.bDaemonizedMs !== null && f.bDaemonizedMs - f.bPidFileMs >= loadFloor,
    );
    j.check(
      '(b) init tracks the herder across both reloads',
      `the herder ${f.bHerder ?? '?'}`,
      f.bTrackedAfter,
      f.bHerder !== null && f.bTrackedAfter === f.bHerder,
    );
    const gapFloor = ((BOOT_SECONDS - RELOAD_SHORT) * 1000) / 2;
    j.check(
      `(b) wait ${RELOAD_SHORT} s: from the old generation's last answer to the new one's first`,
      `a gap of at least ${gapFloor} ms (the boot left after the QUIT: about ${(BOOT_SECONDS - RELOAD_SHORT) * 1000} ms)`,
      f.bShortHandoverMs === null ? 'not seen' : `${f.bShortHandoverMs} ms`,
      f.bShortHandoverMs !== null && f.bShortHandoverMs >= gapFloor,
    );
    const bs = stretch(f, B_SHORT);
    j.check(
      `(b) wait ${RELOAD_SHORT} s: failed requests`,
      'at least 1 (they wait in the backlog until the client gives up)',
      bs ? `${bs.failed} of ${bs.sent}${bs.failures ? ` (${bs.failures})` : ''}` : 'not reached',
      !!bs && bs.failed >= 1,
    );
    // Not (wait - boot): the new master's own start (Ruby, unicorn) comes on top of the boot,
    // 1.5 s on a quiet machine, 8 s seen on a busy one.
    const overlapFloor = 1000;
    j.check(
      `(b) wait ${RELOAD_LONG} s: both generations answering, two masters with workers`,
      `for at least ${overlapFloor} ms (wait ${RELOAD_LONG} s - boot ${BOOT_SECONDS} s - the master's start)`,
      f.bLongHandoverMs === null
        ? 'not seen'
        : `${-f.bLongHandoverMs} ms (old ${f.bLongOldAnswered}, new ${f.bLongNewAnswered} answers meanwhile; ` +
            `${f.bLongMaxServing} masters with workers at once)`,
      f.bLongHandoverMs !== null && -f.bLongHandoverMs >= overlapFloor && f.bLongMaxServing === 2,
    );
    const bl = stretch(f, B_LONG);
    j.check(
      `(b) wait ${RELOAD_LONG} s: failed requests`,
      '0',
      bl ? `${bl.failed} of ${bl.sent}` : 'not reached',
      !!bl && bl.sent > 0 && bl.failed === 0,
    );
    // (c)
    const cu = stretch(f, C_USR2);
    j.check(
      `${C_USR2}: failed requests`,
      '0',
      cu ? `${cu.failed} of ${cu.sent}${cu.failures ? ` (${cu.failures})` : ''}` : 'not reached',
      !!cu && cu.sent > 0 && cu.failed === 0,
    );
    j.check(
      '(c) the old master exits (QUIT by before_fork in the new master)',
      `no sooner than the boot: at least ${BOOT_SECONDS * 1000} ms after the USR2`,
      f.cOldExitAfterMs === null ? 'not seen' : `${f.cOldExitAfterMs} ms`,
      f.cOldExitAfterMs !== null && f.cOldExitAfterMs >= BOOT_SECONDS * 1000,
    );
    j.check(
      "(c) from the old generation's last answer to the new one's first",
      'under 1000 ms',
      f.cHandoverMs === null ? 'not seen' : `${f.cHandoverMs} ms`,
      f.cHandoverMs !== null && f.cHandoverMs < 1000,
    );
    j.equal("(c) the wrapper's master-followed events", 1, f.cFollowed);
    j.equal('(c) upgrade-failed events', 0, f.cUpgradeFailed);
    j.equal('(c) QUITs the wrapper sent (the hook retires the old master, not the wrapper)', 0, f.cQuitsForwarded);
    j.check(
      '(c) init tracks the wrapper after the USR2',
      `the wrapper ${f.cWrapper ?? '?'}`,
      f.cTrackedAfter,
      f.cWrapper !== null && f.cTrackedAfter === f.cWrapper,
    );
    j.note(
      `(a) the first herder saw the pid file after ${f.aPidFileMs ?? '-'} ms and gave up after ${f.aGaveUpMs ?? '-'} ms; ` +
        `herders started ${f.aHerderStarts} (one every ${f.aStartEveryMs ?? '-'} ms after the first), refused by unicorn ` +
        `${f.aRefusedStarts}, systemd restarts ${f.aRestarts}`,
    );
    j.note(
      `(b) herder QUIT the old master ${f.bShortQuitAfterMs ?? '-'} ms and ${f.bLongQuitAfterMs ?? '-'} ms after the reload; ` +
        `masters left after the stop: ${f.bMastersAfterStop}`,
    );
    j.note(
      `(c) master-followed ${f.cFollowedAfterMs ?? '-'} ms after the USR2, old master gone after ${f.cOldExitAfterMs ?? '-'} ms`,
    );
    for (const name of f.phaseNames) j.note(stretchLine(f, name));
    return j.verdict();
  },
};
