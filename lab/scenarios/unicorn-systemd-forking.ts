import type { BootSpec } from '../engine/boot-spec';
import { unicornBoot } from '../servers/unicorn';
import type { ScenarioContext } from '../session/context';
import { sleep } from '../session/context';
import { Judge } from '../session/judge';
import { initState, servingMasters } from '../session/observe';
import { type Scenario, perInit } from '../session/types';
import {
  type StretchFacts,
  Stretches,
  alive,
  shippedConf,
  stretch,
  stretchLine,
  unicornProcesses,
  waitFor200,
  IN_PRODUCTION,
} from '../session/unicorn-common';

/**
 * systemd's Type=forking unit for `unicorn -D` with PIDFile= and ExecReload=kill -USR2, the
 * unit people carried over from init scripts, run as written and with the drop-ins people
 * reached for, then unicorn's own two-instance setup on one socket unit as the control.
 *
 * What systemd 252 does, from src/core/service.c: when the main pid exits,
 * service_sigchld_event() first calls service_load_pid_file(); if the pid file names another
 * live process that service_is_suitable_main_pid() finds in the unit's own cgroup ("belongs to
 * service, we are happy") it becomes the main pid and nothing else happens. The file's owner
 * is looked at only for a pid OUTSIDE the cgroup ("... not owned by root. Refusing."), and the
 * symlink chain only matters then too. unicorn writes the new pid file before its before_fork
 * hook QUITs the old master, and its re-exec'd master is a child of the old one (same
 * cgroup), so the USR2 is followed. After ExecReload's kill exits, systemd reads the pid file
 * once more (may_warn): unicorn has already renamed it to .oldbin, so "Can't open PID file
 * ... (yet?) after reload" is logged, and ignored, since the main pid is still known. Without
 * PIDFile= there is nothing to read: the old master's exit ends the service and the cgroup
 * is stopped (KillMode=control-group kills the new master; KillMode=process leaves it behind).
 */

const UNIT = 'unicorn.service';
const DROP_INS = `/etc/systemd/system/${UNIT}.d`;
/** where the scenario's own files are put in the container */
const OPT = '/opt/unicorn/systemd-forking';
const CONF_DIR = ['unicorn', 'systemd-forking'] as const;
const CLIENT_TIMEOUT_MS = 5000;
/**
 * How long a reload may take until MainPID names the new, serving master, and a start until
 * the first 200. Measured: about 4 s on a quiet 2-core machine, up to 17 s with a load
 * average of 16 (Ruby loading unicorn and the app on shared cores); twice that and more.
 */
const FOLLOW_MS = 45_000;
/** starts of a unit without PIDFile= until systemd's guess of the main pid names the master */
const GUESS_TRIES = 4;

interface ForkingVariant {
  name: string;
  dropIns: string[];
  reloads: number;
  /** PIDFile= is set: systemd can follow the re-exec */
  pidFile: boolean;
  /**
   * how it comes up: from boot, by a daemon-reload only (KillMode= is read at stop time, so
   * the running unit takes it), or stopped and started (User= and PIDFile= need a new start)
   */
  start: 'boot' | 'daemon-reload' | 'start';
  /** systemctl stop once its reloads are done (the variants without PIDFile= ended by themselves) */
  stop: boolean;
}

const WRITTEN: ForkingVariant = {
  name: 'as written',
  dropIns: [],
  reloads: 3,
  pidFile: true,
  start: 'boot',
  stop: false,
};
const PROCESS: ForkingVariant = {
  name: 'KillMode=process',
  dropIns: ['killmode-process.conf'],
  reloads: 1,
  pidFile: true,
  start: 'daemon-reload',
  stop: true,
};
const WWW: ForkingVariant = {
  name: 'User=www-data',
  dropIns: ['user-www-data.conf'],
  reloads: 1,
  pidFile: true,
  start: 'start',
  stop: true,
};
const NO_PID: ForkingVariant = {
  name: 'no PIDFile=',
  dropIns: ['no-pidfile.conf'],
  reloads: 1,
  pidFile: false,
  start: 'start',
  stop: false,
};
const NO_PID_PROCESS: ForkingVariant = {
  name: 'no PIDFile= + KillMode=process',
  dropIns: ['no-pidfile.conf', 'killmode-process.conf'],
  reloads: 1,
  pidFile: false,
  start: 'start',
  stop: false,
};
const FORKING = [WRITTEN, PROCESS, WWW, NO_PID, NO_PID_PROCESS];

const reloadStretch = (v: ForkingVariant): string => `${v.name}: ${v.reloads} reload${v.reloads > 1 ? 's' : ''}`;
const BEFORE = 'as written: before the reloads';
const PAIR_BEFORE = 'unicorn@1 + unicorn@2: before the restarts';
const RESTART_1 = 'restart unicorn@1';
const RESTART_2 = 'restart unicorn@2';

type F = StretchFacts & {
  /** `systemctl log-level` while the PIDFile= variants ran (debug: systemd says why it takes a pid) */
  logLevel: string;
  /** KillMode the running unit had after the KillMode=process drop-in and a daemon-reload */
  killMode: string;
  /** one entry per forking variant, in FORKING's order */
  variants: string[];
  reloadExits: string[];
  reloadsDone: number[];
  /** reloads after which MainPID named the new master and it served */
  followed: number[];
  /** slowest reload until MainPID moved (-1: it never did) */
  followMs: number[];
  /** MainPID before and after each reload, "65>84>111" */
  mainPids: string[];
  /** the unit 1.5 s after its last reload, and whether MainPID then is alive and serving */
  stateAfter: string[];
  mainServesAfter: boolean[];
  /** the unit's journal lines while it reloaded (before any stop) */
  cantOpen: number[];
  happy: number[];
  refused: number[];
  deactivated: number[];
  remains: number[];
  /** systemd's own lines about the pid file, one of each kind per variant ("variant: line") */
  pidFileLines: string[];
  /** unicorn processes once the unit was stopped (or had ended by itself; -1: not stopped) */
  leftAfterStop: number[];
  /** starts whose guessed main pid was not the serving master (no PIDFile= only), each started again */
  guessMisses: number[];
  /** User=www-data: owners of /run/unicorn, of the pid file, and the master's user */
  runDirOwner: string;
  pidFileOwner: string;
  masterUser: string;
  /** no PIDFile= + KillMode=process: what the reload left behind */
  orphanMasters: number;
  orphanSocketPresent: boolean;
  orphanHttpStatus: number;
  /** ...and a `systemctl start` beside the orphans */
  leftoverLines: number;
  mainPidAfterStart: number;
  servingMastersAfterStart: number;
  leftAfterSecondStop: number;
  /** the control: both instances' MainPID before and after their restarts */
  pairBefore: number[];
  pairAfter: number[];
  pairRestartMs: number[];
  pairServingAfter: number;
};

type Row = {
  exits: number[];
  followed: number;
  followMs: number;
  pids: number[];
  stateAfter: string;
  mainServesAfter: boolean;
  journal: JournalCounts;
  leftAfterStop: number;
  guessMisses: number;
};

// ---------------------------------------------------------------------------------------------
// The unit's journal: what systemd said about the pid file

interface JournalCounts {
  cantOpen: number;
  happy: number;
  refused: number;
  deactivated: number;
  remains: number;
  leftover: number;
  pidFileLines: string[];
}

const PID_LINE = /PID file|main PID|Refusing|symlink chain/i;

/** Counts the lines that show what systemd made of the pid file; pure, for the unit test. */
export function journalCounts(lines: readonly string[]): JournalCounts {
  const count = (re: RegExp) => lines.filter((l) => re.test(l)).length;
  const kinds = new Map<string, string>();
  for (const l of lines.filter((x) => PID_LINE.test(x))) {
    const kind = l.replace(/\d+/g, 'N');
    if (!kinds.has(kind)) kinds.set(kind, l.trim());
  }
  return {
    cantOpen: count(/Can't open PID file .*\(yet\?\) after reload/),
    happy: count(/New main PID \d+ belongs to service, we are happy/),
    refused: count(/Refusing|unsafe symlink chain/),
    deactivated: count(/Deactivated successfully/),
    remains: count(/remains running after unit stopped/),
    leftover: count(/Found left-over process/),
    pidFileLines: [...kinds.values()].slice(0, 4),
  };
}

/** The unit's journal as lines (the lab's own app-log script), to slice what a variant added. */
async function journal(ctx: ScenarioContext): Promise<string[]> {
  return (await ctx.wrapperLog()).split('\n').filter((l) => l.trim());
}

// ---------------------------------------------------------------------------------------------
// Acting on the unit

const traffic = (ctx: ScenarioContext) =>
  ctx.load({
    durationMs: 120_000,
    rate: 100,
    concurrency: 8,
    slowEvery: 10,
    slowMs: 300,
    timeoutMs: CLIENT_TIMEOUT_MS,
  });

/** Puts the variant's drop-ins in place (daemon-reload) and, unless a daemon-reload is enough, starts the unit. */
async function bringUp(ctx: ScenarioContext, v: ForkingVariant): Promise<number> {
  if (v.start === 'boot') return 0;
  const files = v.dropIns.map((d) => `${OPT}/${d}`).join(' ');
  await ctx.act('apply', `${UNIT} + ${v.dropIns.join(' + ')}, systemctl daemon-reload`, () =>
    ctx.must(`rm -rf ${DROP_INS} && mkdir -p ${DROP_INS} && cp ${files} ${DROP_INS}/ && systemctl daemon-reload`),
  );
  if (v.start === 'daemon-reload') return 0;
  let misses = 0;
  for (;;) {
    await ctx.act('initctl', `systemctl start ${UNIT}`, () => ctx.must(`systemctl start ${UNIT}`));
    // Checked before any request: a wrong guess can end the unit and take the socket with it.
    if (v.pidFile || misses >= GUESS_TRIES - 1 || (await guessedMaster(ctx))) break;
    misses++;
    ctx.mark('note', `systemd guessed a main pid that is not the serving master (miss ${misses}): start again`);
    await ctx.initctl('stop', ctx.server.job);
    await quitMasters(ctx, 'start again');
  }
  if ((await waitFor200(ctx, FOLLOW_MS)) === null) throw new Error(`${UNIT} (${v.name}) never answered`);
  return misses;
}

/**
 * Without PIDFile= systemd guesses the main pid once, when `unicorn -D`'s first process exits:
 * the one process of the cgroup whose parent is PID 1. Seen here: about one start in six it is
 * unicorn's middle process (its `exit` after forking the master is slow on busy cores), which
 * exits a moment later and the unit deactivates right after its start. The guess counts once
 * it names the master serving, still the main pid after a second.
 */
async function guessedMaster(ctx: ScenarioContext): Promise<boolean> {
  await sleep(1000);
  const s = await ctx.inspect();
  const pid = s.init.trackedPid;
  return !!pid && initState(s) === 'active/running' && servingMasters(s).some((m) => m.pid === pid);
}

/**
 * After a reload: until MainPID names another master that serves with no .oldbin left
 * (followed), or the unit is no longer active (it took the old master's exit for its end).
 */
async function afterReload(
  ctx: ScenarioContext,
  before: number,
): Promise<{ pid: number | null; state: string; ms: number }> {
  const t = Date.now();
  const seen = await ctx.waitFor(
    async () => {
      const s = await ctx.inspect();
      const pid = s.init.trackedPid;
      const state = initState(s);
      if (pid && pid !== before && s.oldbin === undefined && servingMasters(s).some((m) => m.pid === pid))
        return { pid, state };
      if (/^(inactive|failed)/.test(state)) return { pid: null, state };
      return undefined;
    },
    FOLLOW_MS,
    200,
  );
  return { pid: seen?.pid ?? null, state: seen?.state ?? initState(await ctx.inspect()), ms: Date.now() - t };
}

async function reloads(
  ctx: ScenarioContext,
  st: Stretches,
  v: ForkingVariant,
): Promise<Omit<Row, 'journal' | 'leftAfterStop' | 'guessMisses'>> {
  const exits: number[] = [];
  const pids: number[] = [(await ctx.inspect()).init.trackedPid ?? 0];
  let followed = 0;
  let followMs = -1;
  await st.span(
    reloadStretch(v),
    async () => {
      for (let i = 0; i < v.reloads; i++) {
        const before = pids[pids.length - 1];
        exits.push((await ctx.initctl('reload', ctx.server.job)).code);
        const r = await afterReload(ctx, before);
        pids.push(r.pid ?? 0);
        ctx.mark(
          'note',
          r.pid ? `MainPID ${before} -> ${r.pid} after ${r.ms} ms` : `${UNIT} ${r.state} after ${r.ms} ms`,
        );
        if (!r.pid) break;
        followed++;
        followMs = Math.max(followMs, r.ms);
      }
    },
    1500,
  );
  const s = await ctx.inspect();
  const main = s.init.trackedPid ?? 0;
  return {
    exits,
    followed,
    followMs,
    pids,
    stateAfter: initState(s),
    mainServesAfter: main > 0 && (await alive(ctx, main)) && servingMasters(s).some((m) => m.pid === main),
  };
}

/** QUITs every unicorn master by hand (one may be gone already) and waits until none is left. */
async function quitMasters(ctx: ScenarioContext, why: string): Promise<void> {
  for (const m of (await ctx.inspect()).masters)
    await ctx.act('signal', `QUIT -> master ${m.pid} (${why})`, () => ctx.sh(`kill -QUIT ${m.pid}`));
  if ((await settleProcesses(ctx, FOLLOW_MS)) > 0) throw new Error('unicorn processes still running after QUIT');
}

/** Waits until no unicorn process is left or `ms` passed; how many are left. */
async function settleProcesses(ctx: ScenarioContext, ms: number): Promise<number> {
  await ctx.waitFor(async () => ((await unicornProcesses(ctx)) === 0 ? true : undefined), ms, 200);
  return unicornProcesses(ctx);
}

/**
 * One forking variant: bring it up, look (`onStarted`), reload under load, then stop it if
 * asked (the variants without PIDFile= ended by themselves: what they left is counted as it is).
 */
async function forkingVariant(
  ctx: ScenarioContext,
  st: Stretches,
  v: ForkingVariant,
  onStarted?: () => Promise<void>,
): Promise<Row> {
  const guessMisses = await bringUp(ctx, v);
  await onStarted?.();
  const from = (await journal(ctx)).length;
  traffic(ctx);
  if (v === WRITTEN) await st.hold(BEFORE, 1000);
  else await sleep(500);
  const r = await reloads(ctx, st, v);
  await ctx.loadHandle?.stop();
  const counts = journalCounts((await journal(ctx)).slice(from));
  let leftAfterStop = -1;
  if (v.stop) {
    await ctx.initctl('stop', ctx.server.job);
    leftAfterStop = await settleProcesses(ctx, 10_000);
  } else if (!v.pidFile) leftAfterStop = await unicornProcesses(ctx);
  return { ...r, journal: counts, leftAfterStop, guessMisses };
}

/** User=www-data: who owns the run directory and the pid file, and who the master runs as. */
async function owners(ctx: ScenarioContext): Promise<{ dir: string; file: string; master: string }> {
  const out = await ctx.sh(
    `stat -c %U /run/unicorn 2>/dev/null || echo none; stat -c %U /run/unicorn/unicorn.pid 2>/dev/null || echo none; ` +
      `p=$(systemctl show -p MainPID --value ${UNIT}); stat -c %U /proc/$p 2>/dev/null || echo none`,
  );
  const [dir = 'none', file = 'none', master = 'none'] = out.stdout.trim().split('\n');
  return { dir, file, master };
}

/**
 * no PIDFile= + KillMode=process after its reload: the orphans, what nginx answers, then what a
 * `systemctl start` beside them says and a `systemctl stop` leaves; the orphans are QUIT by hand.
 */
async function orphans(ctx: ScenarioContext) {
  const s = await ctx.inspect();
  const orphanMasters = servingMasters(s).length;
  const orphanSocketPresent = (await ctx.sh('test -S /run/unicorn/unicorn.sock')).code === 0;
  const orphanHttpStatus = (await ctx.get('/')).status;
  ctx.mark('note', `${orphanMasters} master(s) left serving nothing reachable; nginx answers ${orphanHttpStatus}`);
  const from = (await journal(ctx)).length;
  await ctx.act('initctl', `systemctl start ${UNIT} (orphans still running)`, () =>
    ctx.must(`systemctl start ${UNIT}`),
  );
  await waitFor200(ctx, FOLLOW_MS);
  const after = await ctx.inspect();
  const leftoverLines = journalCounts((await journal(ctx)).slice(from)).leftover;
  // MainPID is unknown and KillMode=process signals the main pid only: nothing to wait for.
  await ctx.initctl('stop', ctx.server.job);
  const leftAfterSecondStop = await unicornProcesses(ctx);
  await quitMasters(ctx, 'left behind: QUIT by hand');
  return {
    orphanMasters,
    orphanSocketPresent,
    orphanHttpStatus,
    leftoverLines,
    mainPidAfterStart: after.init.trackedPid ?? 0,
    servingMastersAfterStart: servingMasters(after).length,
    leftAfterSecondStop,
  };
}

// ---------------------------------------------------------------------------------------------
// The control: unicorn@1 and unicorn@2 on one socket unit

const instancePid = async (ctx: ScenarioContext, n: number): Promise<number> =>
  Number((await ctx.sh(`systemctl show -p MainPID --value unicorn@${n}.service`)).stdout.trim()) || 0;

/** Until instance n's MainPID is another master than `before` and it serves; ms taken (-1: never). */
async function instanceServes(ctx: ScenarioContext, n: number, before: number): Promise<number> {
  const t = Date.now();
  const ok = await ctx.waitFor(
    async () => {
      const pid = await instancePid(ctx, n);
      return pid && pid !== before && servingMasters(await ctx.inspect()).some((m) => m.pid === pid) ? true : undefined;
    },
    FOLLOW_MS,
    200,
  );
  return ok ? Date.now() - t : -1;
}

async function pair(ctx: ScenarioContext, st: Stretches) {
  await ctx.act('apply', 'unicorn.socket + unicorn@.service in place of the forking unit', () =>
    ctx.must(
      `systemctl disable ${UNIT} 2>/dev/null; rm -rf ${DROP_INS} /etc/systemd/system/${UNIT} ` +
        `/etc/systemd/system/multi-user.target.wants/${UNIT} && ` +
        `cp ${OPT}/unicorn.socket '${OPT}/unicorn@.service' /etc/systemd/system/ && systemctl daemon-reload`,
    ),
  );
  await ctx.act('initctl', 'systemctl start unicorn.socket unicorn@1.service unicorn@2.service', () =>
    ctx.must('systemctl start unicorn.socket unicorn@1.service unicorn@2.service'),
  );
  for (const n of [1, 2]) if ((await instanceServes(ctx, n, 0)) < 0) throw new Error(`unicorn@${n} never served`);
  const pairBefore = [await instancePid(ctx, 1), await instancePid(ctx, 2)];
  traffic(ctx);
  await st.hold(PAIR_BEFORE, 1000);
  const pairRestartMs: number[] = [];
  for (const [n, name] of [
    [1, RESTART_1],
    [2, RESTART_2],
  ] as const) {
    await st.span(
      name,
      async () => {
        await ctx.initctl('restart', `unicorn@${n}`);
        pairRestartMs.push(await instanceServes(ctx, n, pairBefore[n - 1]));
      },
      1000,
    );
  }
  await ctx.loadHandle?.stop();
  const pairAfter = [await instancePid(ctx, 1), await instancePid(ctx, 2)];
  const serving = servingMasters(await ctx.inspect()).map((m) => m.pid);
  return {
    pairBefore,
    pairAfter,
    pairRestartMs,
    pairServingAfter: pairAfter.filter((p) => serving.includes(p)).length,
  };
}

// ---------------------------------------------------------------------------------------------

export const unicornSystemdForking: Scenario<F> = {
  name: 'unicorn-systemd-forking',
  title:
    'systemd Type=forking + PIDFile= + ExecReload=kill -USR2 for unicorn -D: what systemd 252 follows, ' +
    'what it kills and what it leaves behind',
  story:
    'After `systemctl reload unicorn` the journal says "Can\'t open PID file /run/unicorn/unicorn.pid ' +
    '(yet?) after reload", and on a unit without PIDFile= the site is gone a few seconds later ' +
    "(systemd took the old master's exit for the end of the service and stopped its cgroup), or with " +
    'KillMode=process it answers 502 while the new unicorn runs on, orphaned, until the next start ' +
    'finds it "left-over". With PIDFile= naming unicorn\'s pid file, systemd 252 adopts the re-executed ' +
    "master when the old one exits (it is in the unit's cgroup, whoever owns the file), so the same " +
    'unit reloads as root, with KillMode=process or as www-data without losing a request, and ' +
    "unicorn's own two instances on one socket unit, restarted in turn, need no USR2 at all.",
  ...IN_PRODUCTION,
  expect: {
    precise: {
      applicable: false,
      reason:
        'no systemd on Ubuntu 12.04: Type=forking, PIDFile=, KillMode=, cgroups and socket units are ' +
        "systemd's; upstart 1.5's counterparts are other scenarios: unicorn-exec-respawn (exec unicorn + " +
        'respawn: the USR2 orphans the master), seed-poc and wrapper-fix (a USR2 under the socket bridge), ' +
        'herder (a process that stays the tracked pid)',
    },
    bookworm: {
      applicable: true,
      expect:
        'unicorn-forking.service (Type=forking, unicorn -D, PIDFile=/run/unicorn/unicorn.pid, ExecReload=kill ' +
        '-USR2 $MAINPID), systemd 252 at log level debug while the PIDFile= variants run. As written, 3 reloads ' +
        'under load: after each, MainPID moves to the new master once the old one exits ("New main PID N belongs ' +
        'to service, we are happy"), no "Refusing", no deactivation, the new master serves on, 0 failed ' +
        'requests; "Can\'t open PID file ... (yet?) after reload" may be logged (unicorn renamed its pid file to ' +
        '.oldbin before the kill exited: a race, and harmless, since the main pid is still known). The ' +
        'KillMode=process drop-in (daemon-reload, no restart), 1 reload: the same, and systemctl stop leaves 0 ' +
        'unicorn processes (the main pid is the current master; its TERM takes its workers down). User=www-data ' +
        "(restarted), 1 reload: /run/unicorn, the pid file and the master are www-data's, MainPID follows all the " +
        "same (the new pid is in the unit's cgroup, so the file's owner is never checked), 0 failed, stop leaves " +
        '0. No PIDFile= (emptied by a drop-in): systemd guesses the main pid once, when the process it started ' +
        "exits (the cgroup's one process whose parent is PID 1); a start where that is unicorn's exiting middle " +
        'process instead of the master deactivates at once and is counted and started again. Then 1 reload: ' +
        'the unit deactivates when the old master exits and its ' +
        'cgroup is stopped with the new master in it: requests fail (502) and 0 unicorn processes are left. No ' +
        'PIDFile= + KillMode=process, 1 reload: the unit deactivates ("remains running after unit stopped"), the ' +
        'new master and its 2 workers live on, but RuntimeDirectory= went with the unit and took the socket ' +
        'path: nginx answers 502; a systemctl start beside them logs "Found left-over process" and cannot tell ' +
        'its main pid (two daemonized masters: MainPID 0), and systemctl stop then stops none of the 6 ' +
        "processes. Control: unicorn.socket + unicorn@1 + unicorn@2 (after unicorn's examples/unicorn@.service): " +
        'restarting @1, then @2 once @1 serves again, fails 0 requests',
    },
  },
  boot(flavour): BootSpec {
    return perInit(flavour, {
      precise: () => ({ ...unicornBoot(flavour, 'unicorn-exec'), label: 'not applicable on upstart 1.5 (no systemd)' }),
      bookworm: () => forkingBoot(),
    })();
  },
  async run(ctx) {
    await ctx.warmUp();
    const st = new Stretches(ctx);
    await ctx.act('initctl', 'systemctl log-level debug (systemd says why it takes a pid file)', () =>
      ctx.must('systemctl log-level debug'),
    );
    const logLevel = (await ctx.must('systemctl log-level')).trim();
    const rows: Row[] = [];
    let own = { dir: 'none', file: 'none', master: 'none' };
    let killMode = '';
    let left: Awaited<ReturnType<typeof orphans>> | undefined;
    for (const v of FORKING) {
      // Debug lines are wanted where systemd follows a pid file; the rest need none.
      if (v === NO_PID)
        await ctx.act('initctl', 'systemctl log-level info', () => ctx.must('systemctl log-level info'));
      rows.push(
        await forkingVariant(ctx, st, v, async () => {
          if (v === WWW) own = await owners(ctx);
          if (v === PROCESS) killMode = (await ctx.must(`systemctl show -p KillMode --value ${UNIT}`)).trim();
        }),
      );
      if (v === NO_PID_PROCESS) left = await orphans(ctx);
    }
    const p = await pair(ctx, st);
    const records = await ctx.allRecords();
    return {
      ...st.facts(records),
      logLevel,
      killMode,
      variants: FORKING.map((v) => v.name),
      reloadExits: rows.map((r) => r.exits.join(',')),
      reloadsDone: rows.map((r) => r.exits.length),
      followed: rows.map((r) => r.followed),
      followMs: rows.map((r) => r.followMs),
      mainPids: rows.map((r) => r.pids.join('>')),
      stateAfter: rows.map((r) => r.stateAfter),
      mainServesAfter: rows.map((r) => r.mainServesAfter),
      cantOpen: rows.map((r) => r.journal.cantOpen),
      happy: rows.map((r) => r.journal.happy),
      refused: rows.map((r) => r.journal.refused),
      deactivated: rows.map((r) => r.journal.deactivated),
      remains: rows.map((r) => r.journal.remains),
      pidFileLines: rows.flatMap((r, i) => r.journal.pidFileLines.map((l) => `${FORKING[i].name}: ${l}`)),
      leftAfterStop: rows.map((r) => r.leftAfterStop),
      guessMisses: rows.map((r) => r.guessMisses),
      runDirOwner: own.dir,
      pidFileOwner: own.file,
      masterUser: own.master,
      orphanMasters: left?.orphanMasters ?? 0,
      orphanSocketPresent: left?.orphanSocketPresent ?? false,
      orphanHttpStatus: left?.orphanHttpStatus ?? 0,
      leftoverLines: left?.leftoverLines ?? 0,
      mainPidAfterStart: left?.mainPidAfterStart ?? -1,
      servingMastersAfterStart: left?.servingMastersAfterStart ?? 0,
      leftAfterSecondStop: left?.leftAfterSecondStop ?? 0,
      ...p,
    };
  },
  verdict({ facts: f }) {
    const j = new Judge();
    j.equal('systemd log level while the PIDFile= variants ran', 'debug', f.logLevel);
    j.equal(
      `${PROCESS.name}: the running unit's KillMode after the drop-in and a daemon-reload`,
      'process',
      f.killMode,
    );
    FORKING.forEach((v, i) => {
      if (!v.pidFile)
        j.note(`${v.name}: starts where systemd guessed a main pid other than the master: ${f.guessMisses[i] ?? '?'}`);
    });
    FORKING.forEach((v, i) => (v.pidFile ? judgeFollowed(j, f, v, i) : judgeNoPidFile(j, f, v, i)));
    const www = FORKING.indexOf(WWW);
    j.check(
      `${WWW.name}: owners of /run/unicorn, the pid file, and the master`,
      'www-data, www-data, www-data',
      `${f.runDirOwner}, ${f.pidFileOwner}, ${f.masterUser}`,
      f.runDirOwner === 'www-data' && f.pidFileOwner === 'www-data' && f.masterUser === 'www-data',
    );
    j.equal(`${WWW.name}: "not owned by root. Refusing." or unsafe symlink chain lines`, 0, f.refused[www]);
    judgeOrphans(j, f);
    judgePair(j, f);
    f.pidFileLines.forEach((l) => j.note(`journal: ${l}`));
    FORKING.forEach((v, i) =>
      j.note(
        `${v.name}: MainPID ${f.mainPids[i] ?? '?'}; slowest follow ${f.followMs[i] ?? '?'} ms; "(yet?)" lines ${f.cantOpen[i] ?? '?'}`,
      ),
    );
    for (const name of f.phaseNames) j.note(stretchLine(f, name));
    return j.verdict();
  },
};

/** A PIDFile= variant: every reload followed, nothing lost, nothing refused, nothing left on stop. */
function judgeFollowed(j: Judge, f: F, v: ForkingVariant, i: number): void {
  j.check(
    `${v.name}: reloads that exited 0 and after which MainPID named the new, serving master`,
    `${v.reloads} of ${v.reloads}`,
    `${f.followed[i] ?? 0} of ${v.reloads} (exits ${f.reloadExits[i] || 'none'}; MainPID ${f.mainPids[i] ?? '?'})`,
    f.followed[i] === v.reloads && (f.reloadExits[i] ?? '').split(',').every((c) => c === '0'),
  );
  j.check(
    `${v.name}: systemd's own reason for each new main pid`,
    `"belongs to service, we are happy" ${v.reloads} times`,
    f.happy[i],
    f.happy[i] === v.reloads,
  );
  j.equal(`${v.name}: "Refusing" / unsafe symlink chain lines`, 0, f.refused[i]);
  j.equal(`${v.name}: "Deactivated successfully" while reloading`, 0, f.deactivated[i]);
  j.check(
    `${v.name}: the last new master 1.5 s after its reload`,
    'alive, serving, unit active/running',
    `${f.mainServesAfter[i] ? 'serving' : 'not serving'}, ${f.stateAfter[i] ?? '?'}`,
    f.mainServesAfter[i] === true && f.stateAfter[i] === 'active/running',
  );
  const s = stretch(f, reloadStretch(v));
  j.check(
    `${reloadStretch(v)}: failed requests`,
    '0',
    s ? `${s.failed} of ${s.sent}${s.failures ? ` (${s.failures})` : ''}` : 'not reached',
    !!s && s.sent > 0 && s.failed === 0,
  );
  if (v.stop) j.equal(`${v.name}: unicorn processes left after systemctl stop`, 0, f.leftAfterStop[i]);
}

/** A variant without PIDFile=: the first reload ends the service when the old master exits. */
function judgeNoPidFile(j: Judge, f: F, v: ForkingVariant, i: number): void {
  j.check(
    `${v.name}: the unit after its reload`,
    'inactive (deactivated when the old master exited), MainPID not followed',
    `${f.stateAfter[i] ?? '?'}, deactivated ${f.deactivated[i] ?? 0}, MainPID ${f.mainPids[i] ?? '?'}`,
    /^inactive/.test(f.stateAfter[i] ?? '') && (f.deactivated[i] ?? 0) >= 1 && f.followed[i] === 0,
  );
  const s = stretch(f, reloadStretch(v));
  j.check(
    `${reloadStretch(v)}: failed requests`,
    'at least 1, nginx answering 502',
    s ? `${s.failed} of ${s.sent}${s.failures ? ` (${s.failures})` : ''}` : 'not reached',
    !!s && s.failed >= 1 && /http-502/.test(s.failures),
  );
  const process = v.dropIns.includes('killmode-process.conf');
  if (process) {
    j.atLeast(`${v.name}: "remains running after unit stopped" lines`, 1, f.remains[i]);
    j.atLeast(`${v.name}: unicorn processes left running (a master and its 2 workers)`, 3, f.leftAfterStop[i]);
  } else j.equal(`${v.name}: unicorn processes left (the cgroup was stopped)`, 0, f.leftAfterStop[i]);
}

function judgeOrphans(j: Judge, f: F): void {
  const n = NO_PID_PROCESS.name;
  j.check(
    `${n}: the orphaned master and what nginx answers`,
    '1 master serving, its socket path gone with RuntimeDirectory=, nginx 502',
    `${f.orphanMasters} serving, socket ${f.orphanSocketPresent ? 'present' : 'gone'}, nginx ${f.orphanHttpStatus || 'no answer'}`,
    f.orphanMasters === 1 && !f.orphanSocketPresent && f.orphanHttpStatus === 502,
  );
  j.atLeast(`${n}: "Found left-over process" lines at the next systemctl start`, 1, f.leftoverLines);
  j.check(
    `${n}: MainPID after that start`,
    '0 (two daemonized masters in the cgroup: systemd cannot tell which)',
    `${f.mainPidAfterStart}, ${f.servingMastersAfterStart} masters serving`,
    f.mainPidAfterStart === 0 && f.servingMastersAfterStart === 2,
  );
  j.atLeast(
    `${n}: unicorn processes left after systemctl stop (it had no main pid to signal)`,
    6,
    f.leftAfterSecondStop,
  );
}

function judgePair(j: Judge, f: F): void {
  for (const name of [PAIR_BEFORE, RESTART_1, RESTART_2]) {
    const s = stretch(f, name);
    j.check(
      `${name}: failed requests`,
      '0',
      s ? `${s.failed} of ${s.sent}${s.failures ? ` (${s.failures})` : ''}` : 'not reached',
      !!s && s.sent > 0 && s.failed === 0,
    );
  }
  j.check(
    'unicorn@1, unicorn@2: a new master each, both serving after the restarts',
    'new MainPIDs, 2 serving',
    `${f.pairBefore.join(',')} -> ${f.pairAfter.join(',')}; ${f.pairServingAfter} serving; back after ${f.pairRestartMs.join(', ')} ms`,
    f.pairAfter.length === 2 &&
      f.pairAfter.every((p, k) => p > 0 && p !== f.pairBefore[k]) &&
      f.pairServingAfter === 2 &&
      f.pairRestartMs.every((ms) => ms >= 0),
  );
}

/** bookworm: the forking unit as unicorn.service (enabled), the scenario's other files beside it. */
export function forkingBoot(): BootSpec {
  const name = (f: string) => `${OPT}/${f}`;
  const files: Record<string, string> = {
    [`/etc/systemd/system/${UNIT}`]: shippedConf(...CONF_DIR, 'unicorn-forking.service'),
  };
  for (const f of [
    'forking.rb',
    'killmode-process.conf',
    'user-www-data.conf',
    'no-pidfile.conf',
    'unicorn.socket',
    'unicorn@.service',
  ])
    files[name(f)] = shippedConf(...CONF_DIR, f);
  return {
    activatesServer: true,
    label: `unicorn.service = unicorn-forking.service (Type=forking, unicorn -D, PIDFile=); drop-ins and unicorn@.service in ${OPT}`,
    files,
    remove: [
      '/etc/systemd/system/sockets.target.wants/phoenix.socket',
      '/etc/systemd/system/multi-user.target.wants/phoenix.service',
    ],
    shell: [
      `ln -sf /etc/systemd/system/${UNIT} /etc/systemd/system/multi-user.target.wants/${UNIT}`,
      'rm -f /etc/nginx/sites-enabled/phoenix',
      'ln -sf /etc/nginx/sites-available/unicorn /etc/nginx/sites-enabled/unicorn',
    ],
  };
}
