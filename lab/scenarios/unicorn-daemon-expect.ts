import type { BootSpec } from '../engine/boot-spec';
import type { ScenarioContext } from '../session/context';
import { sleep } from '../session/context';
import { Judge } from '../session/judge';
import { initState } from '../session/observe';
import { type Scenario, perInit } from '../session/types';
import {
  LIFECYCLE_JOB,
  LIFECYCLE_JOB_TEXT,
  type StretchFacts,
  Stretches,
  alive,
  askApp,
  jobEvents,
  judgeNoneFailed,
  shippedConf,
  stretchLine,
  unicornProcesses,
  waitFor200,
  IN_PRODUCTION,
} from '../session/unicorn-common';

/**
 * `unicorn -D` in an upstart 1.5 job with `expect fork` or `expect daemon`: which pid upstart
 * ends up tracking, and what `initctl status`, `initctl stop` and a USR2 then do.
 *
 * From the sources. unicorn 6's Launcher.daemonize! (lib/unicorn/launcher.rb): the process
 * upstart starts (the launcher) forks; the child calls setsid, forks the master and exits at
 * once; the launcher blocks on a pipe until the master reaches HttpServer#join (app loaded,
 * listeners bound), then exits 0. upstart 1.5 (init/job_process.c) ptraces the main process
 * only while the job is spawning: job_process_trace_fork moves the tracked pid to the child of
 * each fork, and job_process_trace_new_child ends the trace after one fork (`expect fork`) or
 * two (`expect daemon`), detaching, never to trace again.
 * - `expect fork` tracks the intermediate. Once detached, it is no longer upstart's tracee and
 *   not its child: its exit is reaped only after the launcher exits (the zombie is re-parented to
 *   PID 1), i.e. when the master is ready; upstart then takes it for the end of the job (no
 *   respawn: stop/waiting) while the master, in the intermediate's session, serves on.
 * - `expect daemon` tracks the master. A USR2 makes the master fork and exec a new master (not
 *   traced: the trace ended at spawn), whose before_fork hook (unicorn.rb) QUITs the old one:
 *   upstart sees its tracked pid exit and ends the job while the new master serves on.
 * `initctl stop` on an ended job finds no instance and stops nothing. Both jobs run without
 * respawn, so their state is what upstart believes and no second unicorn is started beside.
 */

const CONF_DIR = ['unicorn', 'daemon-expect', 'upstart'] as const;
const JOB_FILE = '/etc/init/unicorn.conf';
type Mode = 'fork' | 'daemon';
const jobText = (mode: Mode): string => shippedConf(...CONF_DIR, `unicorn-expect-${mode}.conf`);

/** How long `initctl start`/`stop` may block before the lab calls the job hung (its kill timeout is 35 s). */
const INITCTL_LIMIT_S = 45;
/**
 * unicorn loading the app until the first 200: about 2 s on a quiet machine, up to 17 s seen
 * with a load average of 16 on this project's 2-core machines; more than twice that.
 */
const BOOT_MS = 45_000;
/** A USR2 until the new master answers alone: about 0.3 s measured, seconds on busy cores. */
const USR2_MS = 45_000;
/** After unicorn answers (or the USR2): how long upstart may take to reap the pid it tracks. */
const SETTLE_MS = 10_000;

/** The run's stretches by name (the verdict and its tests judge each by name). */
export const STRETCH = {
  A_SERVING: '(a) expect fork: serving',
  A_STOPPED: '(a) expect fork: after initctl stop',
  B_BEFORE: '(b) expect daemon: before the USR2',
  B_USR2: '(b) expect daemon: USR2',
  B_STOPPED: '(b) expect daemon: after initctl stop',
  C_SERVING: '(c) expect daemon, no USR2: serving',
} as const;
const { A_SERVING, A_STOPPED, B_BEFORE, B_USR2, B_STOPPED, C_SERVING } = STRETCH;

/** Which process of `unicorn -D` a pid is, seen from the master: itself, its session leader (the intermediate), other. */
export type Who = 'master' | 'intermediate' | 'other' | 'none';

export function whoIs(pid: number, master: number, masterSid: number): Who {
  if (!pid) return 'none';
  if (pid === master) return 'master';
  // The intermediate called setsid before it forked the master: the master's session id is its pid.
  if (pid === masterSid) return 'intermediate';
  return 'other';
}

type VariantFacts = {
  /** `initctl start` exit code and first line; hung: it blocked past INITCTL_LIMIT_S and the lab cleaned up */
  StartExit: number;
  StartOutput: string;
  Hung: boolean;
  /** the pid `initctl start` reported, and that process right after: "Z ppid 812 (/usr/bin/ruby /usr/bin/unicorn -D ...)" */
  TrackedAtStart: number;
  TrackedRightAfter: string;
  /** the master once unicorn answered: pid (pid file), parent, session id; which process upstart tracked */
  Master: number;
  MasterPpid: number;
  MasterSid: number;
  TrackedIs: string;
  /** upstart's view once unicorn answered and upstart settled */
  StateServing: string;
  TrackedServing: number | null;
};

type Prefixed<P extends string, T> = { [K in keyof T as `${P}${K & string}`]: T[K] };

type StopFacts = {
  StopExit: number;
  StopOutput: string;
  /** after the stop: the master that served before it alive, answering, and unicorn processes left */
  ServerAliveAfterStop: boolean;
  AnsweredAfterStop: boolean;
  ProcsAfterStop: number;
};

type F = StretchFacts &
  Prefixed<'a', VariantFacts & StopFacts> &
  Prefixed<'b', VariantFacts & StopFacts> &
  Prefixed<'c', VariantFacts & StopFacts> & {
    /** ms from `initctl start` to upstart's `stopping unicorn` event (a) (null: none before the stop) */
    aEndedAfterStartMs: number | null;
    /** (b) the master the USR2 made: pid, parent; whether the old one is gone; upstart's view then */
    bNewMaster: number;
    bNewMasterPpid: number;
    bOldMasterGone: boolean;
    bStateAfterUsr2: string;
    bTrackedAfterUsr2: number | null;
    /** ms from the USR2 to upstart's `stopping unicorn` event (null: none before the stop) */
    bEndedAfterUsr2Ms: number | null;
    /** (c) how long `initctl stop` took */
    cStopMs: number;
    /** cleanups by hand: "QUIT 123 (a: ...)" */
    cleanups: string[];
  };

// ---------------------------------------------------------------------------------------------
// Acting and looking

/** `initctl VERB unicorn` that may not block longer than INITCTL_LIMIT_S (a wrong `expect` can hang it). */
async function initctlBounded(ctx: ScenarioContext, verb: 'stop') {
  const job = ctx.server.job;
  return ctx.act('initctl', `initctl ${verb} ${job} (given up after ${INITCTL_LIMIT_S} s)`, () =>
    ctx.sh(`timeout ${INITCTL_LIMIT_S} /sbin/initctl ${verb} ${job}`),
  );
}

const firstLine = (r: { stdout: string; stderr: string }): string =>
  ((r.stderr || r.stdout).trim().split('\n')[0] ?? '').trim();

/** sh printing "STATE ppid PPID (PARENT'S COMMAND LINE)" of the pid in $p, or "gone". */
const PROC_LINE_SH =
  `if s=$(sed 's/.*) //' /proc/$p/stat 2>/dev/null); then set -- $s; ` +
  `echo "$1 ppid $2 ($(tr '\\000' ' ' < /proc/$2/cmdline 2>/dev/null | cut -c1-80))"; else echo gone; fi`;

/**
 * `initctl start` (bounded), and the process it names looked at in the same shell, at once:
 * under `expect fork` the intermediate is a zombie only until the launcher exits (the master
 * ready, half a second with the demo app), shorter than another exec into the container.
 */
async function startBounded(ctx: ScenarioContext) {
  const job = ctx.server.job;
  const r = await ctx.act('initctl', `initctl start ${job} (given up after ${INITCTL_LIMIT_S} s)`, () =>
    ctx.sh(
      `out=$(timeout ${INITCTL_LIMIT_S} /sbin/initctl start ${job} 2>&1); rc=$?; echo "$out"\n` +
        `p=$(echo "$out" | sed -n 's/.*process \\([0-9]*\\).*/\\1/p'); [ -n "$p" ] && echo "@@ $(${PROC_LINE_SH})"\n` +
        'exit $rc',
    ),
  );
  const lines = r.stdout.split('\n');
  const output = lines.filter((l) => l.trim() && !l.startsWith('@@ '))[0]?.trim() ?? '';
  const right =
    lines
      .find((l) => l.startsWith('@@ '))
      ?.slice(3)
      .trim() ?? 'none';
  return { code: r.code, output, pid: Number(/process (\d+)/.exec(output)?.[1] ?? 0), right };
}

/** The master the pid file names, with its parent and session id (from /proc/PID/stat, after the comm). */
async function master(ctx: ScenarioContext): Promise<{ pid: number; ppid: number; sid: number }> {
  const out = await ctx.sh(
    `p=$(cat ${ctx.server.pidFile} 2>/dev/null) && s=$(sed 's/.*) //' /proc/$p/stat 2>/dev/null) && set -- $s && echo "$p $2 $4"`,
  );
  const [pid = 0, ppid = 0, sid = 0] = out.stdout.trim().split(' ').map(Number);
  return { pid, ppid, sid };
}

/** Kills what is left by hand (a job upstart no longer knows, or a hung trace), recorded; throws if anything survives. */
async function cleanup(ctx: ScenarioContext, why: string, done: string[]): Promise<void> {
  for (const m of (await ctx.inspect()).masters) {
    await ctx.act('signal', `QUIT -> master ${m.pid} (${why})`, () => ctx.sh(`kill -QUIT ${m.pid}`));
    done.push(`QUIT ${m.pid} (${why})`);
  }
  const gone = await ctx.waitFor(async () => ((await unicornProcesses(ctx)) === 0 ? true : undefined), 30_000, 250);
  if (!gone) throw new Error(`unicorn processes still running 30 s after QUIT (${why})`);
}

/** upstart's `stopping unicorn` events since `since` (epoch ms), from the lifecycle task. */
async function stoppedAt(ctx: ScenarioContext, since: number): Promise<number | null> {
  const e = (await jobEvents(ctx)).find((x) => x.event === 'stopping' && x.at >= since - 50);
  return e ? e.at : null;
}

const traffic = (ctx: ScenarioContext) =>
  ctx.load({ durationMs: 90_000, rate: 100, concurrency: 8, slowEvery: 10, slowMs: 300, timeoutMs: 5000 });

/**
 * Starts the installed job (bounded), waits for unicorn to answer and for upstart to settle.
 * A hung start is recorded, the traced pid killed and unicorn QUIT by hand.
 */
async function bringUp(
  ctx: ScenarioContext,
  expectState: (s: string) => boolean,
  cleanups: string[],
): Promise<VariantFacts> {
  const start = await startBounded(ctx);
  const pid = start.pid;
  const base = {
    StartExit: start.code,
    StartOutput: start.output,
    TrackedAtStart: pid,
    TrackedRightAfter: start.right,
  };
  if (start.code === 124) {
    const s = await ctx.inspect();
    const traced = s.init.trackedPid ?? 0;
    ctx.mark('note', `initctl start blocked ${INITCTL_LIMIT_S} s: upstart says ${initState(s)}, process ${traced}`);
    if (traced) {
      await ctx.act('signal', `KILL -> ${traced} (the pid upstart still traces: the only way out of spawned)`, () =>
        ctx.sh(`kill -KILL ${traced}`),
      );
      cleanups.push(`KILL ${traced} (hung in ${initState(s)})`);
    }
    await cleanup(ctx, 'hung start', cleanups);
    return {
      ...base,
      Hung: true,
      Master: 0,
      MasterPpid: 0,
      MasterSid: 0,
      TrackedIs: 'none',
      StateServing: initState(s),
      TrackedServing: null,
    };
  }
  if ((await waitFor200(ctx, BOOT_MS)) === null) throw new Error('unicorn -D never answered');
  const m = await master(ctx);
  ctx.mark('note', `unicorn answers: master ${m.pid} (parent ${m.ppid}, session ${m.sid}); upstart started ${pid}`);
  await ctx.waitFor(async () => (expectState(initState(await ctx.inspect())) ? true : undefined), SETTLE_MS, 200);
  const s = await ctx.inspect();
  return {
    ...base,
    Hung: false,
    Master: m.pid,
    MasterPpid: m.ppid,
    MasterSid: m.sid,
    TrackedIs: whoIs(pid, m.pid, m.sid),
    StateServing: initState(s),
    TrackedServing: s.init.trackedPid ?? null,
  };
}

/** `initctl stop` (bounded), then whether `server` still lives and answers, over a stretch of `name`. */
async function stopAndLook(ctx: ScenarioContext, st: Stretches, name: string, server: number): Promise<StopFacts> {
  const stop = await initctlBounded(ctx, 'stop');
  await sleep(1000);
  const probe = await askApp(ctx, 3000);
  await st.hold(name, 1500);
  return {
    StopExit: stop.code,
    StopOutput: firstLine(stop),
    ServerAliveAfterStop: server > 0 && (await alive(ctx, server)),
    AnsweredAfterStop: probe.status === 200 && probe.master === server,
    ProcsAfterStop: await unicornProcesses(ctx),
  };
}

const NO_STOP: StopFacts = {
  StopExit: -1,
  StopOutput: '',
  ServerAliveAfterStop: false,
  AnsweredAfterStop: false,
  ProcsAfterStop: -1,
};

const prefix = <P extends string, T extends object>(p: P, o: T): Prefixed<P, T> =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [`${p}${k}`, v])) as Prefixed<P, T>;

const install = (ctx: ScenarioContext, mode: Mode) =>
  ctx.applyConfig('unicorn.conf', jobText(mode), `lab apply unicorn.conf = daemon-expect/unicorn-expect-${mode}.conf`);

// ---------------------------------------------------------------------------------------------
// The variants

async function variantA(ctx: ScenarioContext, st: Stretches, cleanups: string[]) {
  const t = Date.now();
  const up = await bringUp(ctx, (s) => s !== 'start/running', cleanups);
  if (up.Hung) return { ...prefix('a', { ...up, ...NO_STOP }), aEndedAfterStartMs: null };
  const ended = await stoppedAt(ctx, t);
  if (ended) ctx.markAtEpoch(ended, 'note', 'upstart: stopping unicorn (it took the tracked pid for the job)');
  traffic(ctx);
  await st.hold(A_SERVING, 2000);
  const stop = await stopAndLook(ctx, st, A_STOPPED, up.Master);
  await ctx.loadHandle?.stop();
  await cleanup(ctx, '(a) the master upstart does not know', cleanups);
  return { ...prefix('a', { ...up, ...stop }), aEndedAfterStartMs: ended === null ? null : ended - t };
}

async function variantB(ctx: ScenarioContext, st: Stretches, cleanups: string[]) {
  await install(ctx, 'daemon');
  const up = await bringUp(ctx, (s) => s === 'start/running', cleanups);
  const none = {
    bNewMaster: 0,
    bNewMasterPpid: 0,
    bOldMasterGone: false,
    bStateAfterUsr2: '',
    bTrackedAfterUsr2: null,
  };
  if (up.Hung) return { ...prefix('b', { ...up, ...NO_STOP }), ...none, bEndedAfterUsr2Ms: null };
  traffic(ctx);
  await st.hold(B_BEFORE, 1500);
  const old = up.Master;
  const usr2At = Date.now();
  const after = await st.span(
    B_USR2,
    async () => {
      await ctx.signal('USR2', old, 'master', 'deploy: unicorn re-execs, before_fork QUITs the old master');
      const next = await ctx.waitFor(
        async () => {
          const m = await master(ctx);
          if (!m.pid || m.pid === old || (await alive(ctx, old))) return undefined;
          const a = await askApp(ctx, 3000);
          return a.status === 200 && a.master === m.pid ? m : undefined;
        },
        USR2_MS,
        200,
      );
      if (next) ctx.mark('note', `the new master ${next.pid} answers alone, ${Date.now() - usr2At} ms after the USR2`);
      await ctx.waitFor(async () => (initState(await ctx.inspect()) !== 'start/running' ? true : undefined), SETTLE_MS);
      return next;
    },
    1500,
  );
  const s = await ctx.inspect();
  const ended = await stoppedAt(ctx, usr2At);
  if (ended) ctx.markAtEpoch(ended, 'note', "upstart: stopping unicorn (the old master's exit)");
  const newMaster = after?.pid ?? 0;
  // Read again now: the first read can come before the old master's exit re-parented it.
  const now = await master(ctx);
  const usr2 = {
    bNewMaster: newMaster,
    bNewMasterPpid: now.pid === newMaster ? now.ppid : 0,
    bOldMasterGone: !(await alive(ctx, old)),
    bStateAfterUsr2: initState(s),
    bTrackedAfterUsr2: s.init.trackedPid ?? null,
    bEndedAfterUsr2Ms: ended === null ? null : ended - usr2At,
  };
  const stop = await stopAndLook(ctx, st, B_STOPPED, newMaster);
  await ctx.loadHandle?.stop();
  await cleanup(ctx, '(b) the new master upstart does not know', cleanups);
  return { ...prefix('b', { ...up, ...stop }), ...usr2 };
}

async function variantC(ctx: ScenarioContext, st: Stretches, cleanups: string[]) {
  const up = await bringUp(ctx, (s) => s === 'start/running', cleanups);
  if (up.Hung) return { ...prefix('c', { ...up, ...NO_STOP }), cStopMs: 0 };
  traffic(ctx);
  await st.hold(C_SERVING, 1500);
  // The site goes down as asked: traffic stops first, so only the serving stretch is judged.
  await ctx.loadHandle?.stop();
  const t = Date.now();
  const stop = await initctlBounded(ctx, 'stop');
  const stopMs = Date.now() - t;
  await ctx.waitFor(async () => ((await unicornProcesses(ctx)) === 0 ? true : undefined), 20_000, 250);
  const left = await unicornProcesses(ctx);
  const facts: StopFacts = {
    StopExit: stop.code,
    StopOutput: firstLine(stop),
    ServerAliveAfterStop: await alive(ctx, up.Master),
    AnsweredAfterStop: false,
    ProcsAfterStop: left,
  };
  if (left > 0) await cleanup(ctx, '(c) left after initctl stop', cleanups);
  return { ...prefix('c', { ...up, ...facts }), cStopMs: stopMs };
}

// ---------------------------------------------------------------------------------------------
// The verdict (pure)

function judgeStart(j: Judge, f: F, v: 'a' | 'b' | 'c', expected: Who): void {
  const hung = f[`${v}Hung`];
  j.check(
    `(${v}) initctl start`,
    'returns (the job reaches running)',
    hung
      ? `blocked ${INITCTL_LIMIT_S} s (hung; cleaned up by hand)`
      : `exit ${f[`${v}StartExit`]}: ${f[`${v}StartOutput`]}`,
    !hung && f[`${v}StartExit`] === 0,
  );
  j.check(
    `(${v}) pid upstart tracked`,
    expected === 'master' ? 'the master' : "the intermediate (the master's session leader), not the master",
    `${f[`${v}TrackedAtStart`] || 'none'} (${f[`${v}TrackedIs`]}; master ${f[`${v}Master`] || 'none'}, session ${f[`${v}MasterSid`] || '-'})`,
    f[`${v}TrackedIs`] === expected,
  );
  j.note(`(${v}) the tracked pid right after initctl start: ${f[`${v}TrackedRightAfter`]}`);
}

function judgeLeftBehind(j: Judge, f: F, v: 'a' | 'b', server: number, what: string): void {
  j.check(
    `(${v}) initctl stop`,
    'stops nothing (upstart has no instance left)',
    `exit ${f[`${v}StopExit`]}: ${f[`${v}StopOutput`] || '(nothing)'}`,
    f[`${v}StopExit`] !== 0 && f[`${v}StopExit`] !== 124,
  );
  j.check(
    `(${v}) ${what} after initctl stop`,
    'alive and still answering',
    `${server || 'none'}: ${f[`${v}ServerAliveAfterStop`] ? 'alive' : 'gone'}, ${f[`${v}AnsweredAfterStop`] ? 'answered' : 'did not answer'}; ` +
      `${f[`${v}ProcsAfterStop`]} unicorn processes`,
    server > 0 && f[`${v}ServerAliveAfterStop`] && f[`${v}AnsweredAfterStop`],
  );
}

function verdictPrecise(j: Judge, f: F): void {
  judgeStart(j, f, 'a', 'intermediate');
  j.check(
    '(a) upstart once unicorn answers',
    'stop/waiting (it reaped the intermediate and took that for the end of the job)',
    `${f.aStateServing}, tracks ${f.aTrackedServing ?? 'nothing'}` +
      (f.aEndedAfterStartMs === null ? '' : `; stopping event ${f.aEndedAfterStartMs} ms after initctl start`),
    f.aStateServing === 'stop/waiting' && f.aTrackedServing === null,
  );
  j.check(
    '(a) the master',
    'serving, parent PID 1, not tracked',
    `${f.aMaster || 'none'}, parent ${f.aMasterPpid}`,
    f.aMaster > 0 && f.aMasterPpid === 1,
  );
  judgeNoneFailed(j, f, A_SERVING);
  judgeLeftBehind(j, f, 'a', f.aMaster, 'the master');
  judgeNoneFailed(j, f, A_STOPPED, '0 (nothing was stopped)');

  judgeStart(j, f, 'b', 'master');
  j.equal('(b) upstart once unicorn answers', 'start/running', f.bStateServing);
  judgeNoneFailed(j, f, B_BEFORE);
  judgeNoneFailed(j, f, B_USR2, '0 (the new master inherits the socket)');
  j.check(
    '(b) after the USR2',
    'the old master gone, a new master serving with parent PID 1; upstart stop/waiting, tracking nothing',
    `old ${f.bOldMasterGone ? 'gone' : 'alive'}; new ${f.bNewMaster || 'none'} (parent ${f.bNewMasterPpid}); upstart ` +
      `${f.bStateAfterUsr2 || '?'}, tracks ${f.bTrackedAfterUsr2 ?? 'nothing'}` +
      (f.bEndedAfterUsr2Ms === null ? '' : `; stopping event ${f.bEndedAfterUsr2Ms} ms after the USR2`),
    f.bOldMasterGone &&
      f.bNewMaster > 0 &&
      f.bNewMaster !== f.bMaster &&
      f.bNewMasterPpid === 1 &&
      f.bStateAfterUsr2 === 'stop/waiting' &&
      f.bTrackedAfterUsr2 === null,
  );
  judgeLeftBehind(j, f, 'b', f.bNewMaster, 'the new master');
  judgeNoneFailed(j, f, B_STOPPED, '0 (nothing was stopped)');

  judgeStart(j, f, 'c', 'master');
  judgeNoneFailed(j, f, C_SERVING);
  j.check(
    '(c) initctl stop without a USR2',
    'exit 0, no unicorn process left',
    `exit ${f.cStopExit} (${f.cStopOutput || 'nothing'}) after ${f.cStopMs} ms; ${f.cProcsAfterStop} unicorn processes left`,
    f.cStopExit === 0 && f.cProcsAfterStop === 0,
  );
}

export const unicornDaemonExpect: Scenario<F> = {
  name: 'unicorn-daemon-expect',
  title:
    '`unicorn -D` with `expect fork` / `expect daemon`: upstart tracks the wrong pid, or loses the master at the first USR2',
  story:
    'With `unicorn -D` and `expect fork` upstart says unicorn is stop/waiting while it serves, and with ' +
    '`expect daemon` it tracks the master only until the first USR2 deploy, after which `initctl stop ' +
    'unicorn` answers "Unknown instance" and the site keeps running on a master nobody supervises. ' +
    'Running unicorn in the foreground behind a process that stays the tracked pid (unicorn-wrapper, no ' +
    '-D and no expect) fixes it, because no fork count can follow a re-exec that happens after the job started.',
  ...IN_PRODUCTION,
  expect: {
    precise: {
      applicable: true,
      expect:
        'daemon-expect/upstart jobs, `exec unicorn -D ... -l /var/run/unicorn/unicorn.sock`, no respawn, kill ' +
        'signal QUIT. unicorn 6 daemonizes in three processes: the launcher (started by upstart) forks, the child ' +
        'calls setsid, forks the master and exits, the launcher waits on a pipe until the master is ready and ' +
        'exits 0. upstart 1.5 ptraces the main process only while the job spawns (job_process.c): each fork moves ' +
        'the tracked pid to the child; `expect fork` stops after one fork, `expect daemon` after two. ' +
        "(a) expect fork: initctl start returns at once naming the intermediate (the master's session " +
        'leader), already exiting; detached, it is reaped by upstart only when the launcher exits (the master is ' +
        'ready), and upstart takes that for the end of the job: stop/waiting while the master (parent PID 1) ' +
        'serves; no request fails; initctl stop says "Unknown instance" and the master keeps answering (QUIT by ' +
        'hand to clean up). (b) expect daemon: upstart tracks the master itself (start/running); a USR2 under ' +
        "load loses nothing, but the new master is the old one's child, not traced, and when unicorn.rb's " +
        'before_fork QUITs the old master upstart sees its pid exit: stop/waiting, while the new master (parent ' +
        'PID 1) serves on; initctl stop stops nothing and it keeps answering. (c) expect daemon without a USR2 ' +
        "(control): initctl stop QUITs the master's process group and leaves no unicorn process. " +
        `A start or stop that blocks over ${INITCTL_LIMIT_S} s is recorded as hung and cleaned up by a KILL of the traced pid`,
    },
    bookworm: {
      applicable: false,
      reason:
        "upstart 1.5's `expect fork|daemon` (ptrace fork counting) has no systemd counterpart; systemd's way of " +
        'following `unicorn -D` is Type=forking with PIDFile=, shown by unicorn-systemd-forking',
    },
  },
  boot(flavour): BootSpec {
    return perInit<() => BootSpec>(flavour, {
      precise: () => ({
        activatesServer: true,
        label: `unicorn.conf = daemon-expect/unicorn-expect-fork.conf (not started); ${LIFECYCLE_JOB} (the job's starts and stops)`,
        remove: ['/etc/init/phoenix.conf'],
        files: { [JOB_FILE]: jobText('fork'), [LIFECYCLE_JOB]: LIFECYCLE_JOB_TEXT },
        shell: [
          'rm -f /etc/nginx/sites-enabled/phoenix',
          'ln -sf /etc/nginx/sites-available/unicorn /etc/nginx/sites-enabled/unicorn',
        ],
      }),
      // Not applicable: the runner never boots it; a plain spec keeps boot() total.
      bookworm: () => ({ label: 'not applicable on systemd' }),
    })();
  },
  async run(ctx) {
    const st = new Stretches(ctx);
    const cleanups: string[] = [];
    const a = await variantA(ctx, st, cleanups);
    const b = await variantB(ctx, st, cleanups);
    const c = await variantC(ctx, st, cleanups);
    const records = await ctx.allRecords();
    return { ...st.facts(records), ...a, ...b, ...c, cleanups };
  },
  verdict({ flavour, facts: f }) {
    const j = new Judge();
    perInit(flavour, {
      precise: () => verdictPrecise(j, f),
      bookworm: () => j.check('run on systemd', 'never (not applicable)', 'a run', false),
    })();
    for (const name of f.phaseNames) j.note(stretchLine(f, name));
    for (const c of f.cleanups) j.note(`cleanup by hand: ${c}`);
    return j.verdict();
  },
};
