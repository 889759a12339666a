import type { BootSpec } from '../engine/boot-spec';
import { unicornBoot } from '../servers/unicorn';
import { edit } from '../session/configs';
import type { ScenarioContext } from '../session/context';
import { sleep } from '../session/context';
import { Judge } from '../session/judge';
import { initState, servingMasters, socketEventBursts, statusLine } from '../session/observe';
import { type Scenario, perInit } from '../session/types';
import {
  judgeNoneFailed,
  LIFECYCLE_JOB,
  LIFECYCLE_JOB_TEXT,
  type JobEvent,
  type StretchFacts,
  Stretches,
  WRAPPER_CLI,
  alive,
  jobEvents,
  okPercent,
  okRatio,
  pidFileMaster,
  shippedConf,
  stretchLine,
  unicornProcesses,
  waitFor200,
  IN_PRODUCTION,
} from '../session/unicorn-common';
import { upgrades } from '../session/upgrades';

const FIX_UPGRADES = 3;
const BEFORE = 'before the deploy';
const DEPLOY = 'after the USR2 deploy';
const AFTER_STOP = 'after the stop';
const FIXED = `unicorn-wrapper under exec + respawn: ${FIX_UPGRADES} USR2`;

/**
 * unicorn-exec.conf as teams ran it, with one line changed: upstart execs unicorn-wrapper,
 * which binds the socket itself (--listen) and hands it to unicorn, so the process upstart
 * tracks stays across re-execs and `respawn` only fires when no master is left.
 */
export function wrapperExecJob(): string {
  const job = edit(
    shippedConf('unicorn', 'upstart', 'unicorn-exec.conf'),
    'exec /usr/bin/unicorn -E production -c /opt/unicorn/app/unicorn.rb \\',
    `exec ${WRAPPER_CLI} --listen unix:/var/run/unicorn/unicorn.sock --pid ` +
      `/var/run/unicorn/unicorn.pid -- /usr/bin/unicorn -E production -c ` +
      `/opt/unicorn/app/unicorn.rb \\`,
    'exec unicorn-wrapper',
  );
  return `# Written by the lab: unicorn-exec.conf with its exec line running unicorn-wrapper (binds the socket, follows the masters).\n${job}`;
}

type F = StretchFacts & {
  trackedBefore: number;
  /** ms from USR2 until init tracked another pid or none (null: never) */
  initLostAfterMs: number | null;
  /** upstart: starts of the job after the USR2 (respawns); systemd: its NRestarts */
  respawns: number;
  /** upstart: median ms between two starts of the job after the USR2 (null: fewer than 2) */
  respawnEveryMs: number | null;
  /** upstart: the job was still being started again in the last second of the watch */
  stillRespawning: boolean;
  /** how many times unicorn wrote "Already running on PID" (its own words: a note, not judged) */
  alreadyRunningLines: number;
  /** init's state once it settled after the deploy */
  initAfterDeploy: string;
  /** the master serving after the deploy, its parent, and whether init tracks it */
  servingMaster: number;
  servingMasterPpid: number;
  servingMasterTracked: boolean;
  stopCommand: string;
  stopExit: number;
  stopOutput: string;
  /** after the stop: is the master that served before it still alive, and still answering? */
  masterAliveAfterStop: boolean;
  answeredByItAfterStop: boolean;
  samples: string[];
  /** the fix (upstart only; null elsewhere): the pid init tracks, and after each USR2 */
  wrapperPid: number | null;
  trackedAfterEachFix: (number | null)[];
  /** job starts while the fix ran (1: `initctl start`, no respawn) */
  startsDuringFix: number | null;
  leftAfterFixStop: number | null;
};

type Fix = Pick<F, 'wrapperPid' | 'trackedAfterEachFix' | 'startsDuringFix' | 'leftAfterFixStop'>;

const starts = (ev: JobEvent[]) => ev.filter((e) => e.event === 'starting');

/**
 * Watches init and the masters after the USR2 until init's view has not changed for `quietMs`
 * (the respawn limit stopped the job), or upstart started the job `enough` times since `since0`.
 */
async function watchDeploy(
  ctx: ScenarioContext,
  tracked: number,
  o: { maxMs: number; quietMs: number; enough: number; since0: number },
) {
  const { maxMs, quietMs } = o;
  const t = Date.now();
  let lostAt: number | null = null;
  let last = '';
  let since = Date.now();
  const samples: string[] = [];
  let startsSeen = -1;
  while (Date.now() - t < maxMs) {
    const s = await ctx.inspect();
    if (lostAt === null && s.init.trackedPid !== tracked) {
      lostAt = Date.now() - t;
      ctx.mark('note', `${ctx.driver.init} now tracks ${s.init.trackedPid ?? 'nothing'} (was ${tracked})`);
    }
    const n = starts((await jobEvents(ctx)).filter((e) => e.at >= o.since0 - 50)).length;
    if (n >= o.enough) {
      samples.push(`${((Date.now() - t) / 1000).toFixed(1)} s: ${statusLine(s)}; job starts ${n}`);
      break;
    }
    const line = statusLine(s);
    const key = `${initState(s)} ${s.init.trackedPid ?? '-'} ${n}`;
    if (key !== last || n !== startsSeen) {
      last = key;
      startsSeen = n;
      since = Date.now();
      samples.push(`${((Date.now() - t) / 1000).toFixed(1)} s: ${line}; job starts ${n}`);
    } else if (lostAt !== null && Date.now() - since >= quietMs) break;
    await sleep(200);
  }
  return { lostAt, samples, endedAt: Date.now() };
}

export const unicornExecRespawn: Scenario<F> = {
  name: 'unicorn-exec-respawn',
  title:
    '`exec unicorn` + respawn: a USR2 deploy orphans the master; initctl stop cannot stop it; the wrapper keeps it',
  story:
    'After the first USR2 deploy the job log fills with unicorns that die at once ("Already ' +
    'running on PID") and upstart respawns one after another, while the site stays up on a ' +
    'master whose parent is PID 1 and `initctl stop unicorn` stops nothing but the latest ' +
    'doomed attempt, so the site runs on unsupervised until someone kills that orphan by hand. ' +
    'Running unicorn through unicorn-wrapper in the same job (one changed exec line: the ' +
    'wrapper binds the socket and stays the process upstart tracks) keeps the job tracked ' +
    'across every USR2, so `respawn` only fires when no master is left.',
  ...IN_PRODUCTION,
  expect: {
    precise: {
      applicable: true,
      expect:
        `unicorn-exec.conf: unicorn binds its own socket (-l) under exec + respawn. The USR2 ` +
        `re-execs unicorn and the new master QUITs the old one (before_fork); upstart takes the ` +
        `old master's exit for a crash and respawns the job, and each respawned unicorn exits ` +
        `within about half a second (its pid file names the live new master, which unicorn checks ` +
        `before it binds) and is respawned again. The respawn limit (more than 10 starts within 5 ` +
        `s) stops the job only when a refused start takes under 0.45 s; on this lab's machines ` +
        `each takes longer (Ruby loading unicorn), so upstart respawns for ever (the lab watches ` +
        `until 11 starts after the USR2: a start every 0.5 to 1.5 s here, Ruby loading unicorn on ` +
        `shared cores). Meanwhile the new master (parent PID 1) serves on, untracked; initctl stop ` +
        `ends only the current doomed attempt (stop/waiting) and the orphan keeps answering; no ` +
        `request fails. The fix, in the same job: the exec line runs unicorn-wrapper (--listen: ` +
        `the wrapper binds the socket and hands it to unicorn); upstart tracks the wrapper through ` +
        `${FIX_UPGRADES} USR2 upgrades, starts the job once (initctl start) and never respawns it, ` +
        `no request fails, and initctl stop leaves no unicorn process`,
    },
    bookworm: {
      applicable: true,
      expect:
        'unicorn-plain.service (unicorn binds its own socket, Restart=on-failure, PIDFile=): when ' +
        'the old master exits, systemd reads the pid file and adopts the re-executed master as ' +
        'MainPID, so Restart= never fires (0 restarts), nothing is orphaned and no request fails; ' +
        'systemctl stop then stops the upgraded master and its workers (every request after it ' +
        "fails: the site is down as asked). Nothing to fix: systemd's PIDFile= does what the " +
        'wrapper does for upstart',
    },
  },
  boot(flavour): BootSpec {
    const spec = unicornBoot(flavour, 'unicorn-exec');
    return perInit(flavour, {
      precise: () => ({
        ...spec,
        label: `${spec.label}; ${LIFECYCLE_JOB} (counts the job's starts)`,
        files: { ...spec.files, [LIFECYCLE_JOB]: LIFECYCLE_JOB_TEXT },
      }),
      bookworm: () => spec,
    })();
  },
  async run(ctx) {
    const job = ctx.server.job;
    await ctx.warmUp();
    const first = await ctx.trackedMaster();
    const st = new Stretches(ctx);
    const traffic = () =>
      ctx.load({ durationMs: 120_000, rate: 100, concurrency: 8, slowEvery: 10, slowMs: 300, timeoutMs: 5000 });
    traffic();
    await st.hold(BEFORE, 1000);
    const restartsBefore = await ctx.restarts();
    const usr2At = Date.now();

    const watched = await st.holdWhile(DEPLOY, async () => {
      await ctx.signal('USR2', first, 'master', 'deploy: unicorn re-execs');
      return watchDeploy(ctx, first, { maxMs: 25_000, quietMs: 1500, enough: 11, since0: usr2At });
    });
    const after = await ctx.inspect();
    const ev = (await jobEvents(ctx)).filter((e) => e.at >= usr2At - 50);
    const startTimes = starts(ev).map((e) => e.at);
    for (const b of socketEventBursts(startTimes, 1500))
      ctx.markAtEpoch(
        b.at,
        'note',
        b.count === 1
          ? 'upstart started the job'
          : `upstart started the job ${b.count} times in ${(b.spanMs / 1000).toFixed(1)} s`,
      );
    const gaps = startTimes
      .slice(1)
      .map((t, i) => t - startTimes[i])
      .sort((a, b) => a - b);
    const serving = await pidFileMaster(ctx);
    const servingMaster = serving?.pid ?? 0;

    const stopPlan = ctx.driver.initctl(['stop', job], ctx.server);
    const stop = await ctx.initctl('stop', job);
    await sleep(1000);
    const probe = await ctx.get('/');
    await st.hold(AFTER_STOP, 1500);
    const masterAliveAfterStop = servingMaster > 0 && (await alive(ctx, servingMaster));
    await ctx.loadHandle?.stop();

    const fix = await perInit<() => Promise<Fix>>(ctx.flavour, {
      precise: async () => {
        // Only a signal by hand stops the orphan: upstart no longer knows it.
        if (masterAliveAfterStop) await ctx.signal('QUIT', servingMaster, 'orphaned master', 'the only way to stop it');
        await ctx.waitFor(async () => ((await unicornProcesses(ctx)) === 0 ? true : undefined), 40_000);
        await ctx.applyConfig(
          'unicorn.conf',
          wrapperExecJob(),
          'lab apply unicorn.conf = unicorn-exec.conf + unicorn-wrapper',
        );
        const startsAtFix = starts(await jobEvents(ctx)).length;
        const start = await ctx.initctl('start', job);
        if (start.code !== 0) throw new Error(`initctl start ${job}: ${(start.stderr || start.stdout).trim()}`);
        if ((await waitFor200(ctx, 20_000)) === null) throw new Error('the wrapper job never answered');
        const wrapperPid = await ctx.trackedMaster();
        traffic();
        await sleep(600);
        const settle = async () => {
          await ctx.waitFor(async () => {
            const s = await ctx.inspect();
            return s.oldbin === undefined && servingMasters(s).length === 1 ? true : undefined;
          }, 10_000);
        };
        const trace = await st.span(FIXED, () => upgrades(ctx, wrapperPid, FIX_UPGRADES, 'wrapper', 300, settle), 500);
        const startsDuringFix = starts(await jobEvents(ctx)).length - startsAtFix;
        await ctx.loadHandle?.stop();
        await ctx.initctl('stop', job);
        await ctx.waitFor(async () => ((await unicornProcesses(ctx)) === 0 ? true : undefined), 40_000);
        return {
          wrapperPid,
          trackedAfterEachFix: trace.trackedAfter,
          startsDuringFix,
          leftAfterFixStop: await unicornProcesses(ctx),
        };
      },
      bookworm: async () => ({
        wrapperPid: null,
        trackedAfterEachFix: [],
        startsDuringFix: null,
        leftAfterFixStop: null,
      }),
    })();

    const records = await ctx.allRecords();
    const restarts = (await ctx.restarts()) - restartsBefore;
    return {
      ...st.facts(records),
      trackedBefore: first,
      initLostAfterMs: watched.lostAt,
      respawns: perInit(ctx.flavour, { precise: starts(ev).length, bookworm: restarts }),
      respawnEveryMs: gaps.length ? gaps[Math.floor(gaps.length / 2)] : null,
      stillRespawning: startTimes.some((t) => t >= watched.endedAt - 1000),
      alreadyRunningLines: (await ctx.wrapperLog()).split('\n').filter((l) => l.includes('Already running on PID'))
        .length,
      initAfterDeploy: initState(after),
      servingMaster,
      servingMasterPpid: serving?.ppid ?? 0,
      servingMasterTracked: servingMaster > 0 && after.init.trackedPid === servingMaster,
      stopCommand: 'label' in stopPlan ? stopPlan.label : 'stop',
      stopExit: stop.code,
      stopOutput: (stop.stderr || stop.stdout).trim().split('\n')[0] ?? '',
      masterAliveAfterStop,
      answeredByItAfterStop: probe.status === 200 && probe.master === servingMaster,
      samples: watched.samples,
      ...fix,
    };
  },
  verdict({ flavour, facts: f }) {
    const j = new Judge();
    j.check(`${BEFORE}: answered 200`, 'at least 99%', okPercent(f, BEFORE), okRatio(f, BEFORE) >= 0.99);
    judgeNoneFailed(j, f, DEPLOY, '0 (a master serves throughout)');
    perInit(flavour, {
      precise: () => {
        j.check(
          'upstart after the USR2',
          'lost the master',
          f.initLostAfterMs === null ? 'still tracking it' : `lost it ${f.initLostAfterMs} ms after USR2`,
          f.initLostAfterMs !== null,
        );
        j.atLeast('job starts after the USR2 (respawns of a unicorn that cannot start)', 10, f.respawns);
        j.note(
          `job starts after the USR2: ${f.respawns}, one every ${f.respawnEveryMs ?? '-'} ms ` +
            `(median); unicorn wrote "Already running on PID" ${f.alreadyRunningLines} times`,
        );
        // The respawn limit needs more than 10 starts within 5 s: it stops the job only when a
        // refused start takes less than ~0.45 s; slower, upstart respawns for ever.
        const limited = f.initAfterDeploy === 'stop/waiting' && !f.stillRespawning;
        j.check(
          'upstart once the respawns settle',
          'stop/waiting (respawn limit), or still respawning when each start takes over 0.45 s',
          `${f.initAfterDeploy}${f.stillRespawning ? ', still respawning' : ''}; a start every ${f.respawnEveryMs ?? '?'} ms`,
          limited || (f.stillRespawning && (f.respawnEveryMs ?? 0) > 450),
        );
        j.check(
          'the master serving after the deploy',
          'an orphan: parent PID 1, not tracked',
          `${f.servingMaster || 'none'}, parent ${f.servingMasterPpid}, ${f.servingMasterTracked ? 'tracked' : 'not tracked'}`,
          f.servingMaster > 0 && f.servingMasterPpid === 1 && !f.servingMasterTracked,
        );
        j.check(
          `${f.stopCommand}`,
          'stops no master (it only ends a respawned attempt, or finds no instance)',
          `exit ${f.stopExit}: ${f.stopOutput || '(nothing)'}`,
          f.stopExit !== 0 || /stop\/waiting/.test(f.stopOutput),
        );
        j.check(
          'the orphan after the stop',
          'alive and still answering',
          `${f.masterAliveAfterStop ? 'alive' : 'gone'}, ${f.answeredByItAfterStop ? 'answered' : 'did not answer'}`,
          f.masterAliveAfterStop && f.answeredByItAfterStop,
        );
        j.check(
          `${AFTER_STOP}: answered 200`,
          'all (nothing was stopped)',
          okPercent(f, AFTER_STOP),
          okRatio(f, AFTER_STOP) >= 0.99,
        );
        j.check(
          'pid upstart tracks after each USR2 through the wrapper',
          `always the wrapper ${f.wrapperPid ?? '?'}`,
          f.trackedAfterEachFix.map((p) => p ?? 'none').join(',') || 'not reached',
          f.wrapperPid !== null &&
            f.trackedAfterEachFix.length === FIX_UPGRADES &&
            f.trackedAfterEachFix.every((p) => p === f.wrapperPid),
        );
        j.equal('job starts while the wrapper ran (initctl start only, no respawn)', 1, f.startsDuringFix);
        judgeNoneFailed(j, f, FIXED);
        j.equal('unicorn processes left after initctl stop of the wrapper job', 0, f.leftAfterFixStop);
      },
      bookworm: () => {
        j.check(
          'systemd after the USR2',
          'MainPID = the re-executed master (PIDFile=)',
          `tracks ${f.servingMasterTracked ? f.servingMaster : 'another pid'} (was ${f.trackedBefore}); serving ${f.servingMaster || 'none'}`,
          f.servingMasterTracked && f.servingMaster !== f.trackedBefore,
        );
        j.equal('service restarts (Restart= fired)', 0, f.respawns);
        j.equal('the service after the deploy', 'active/running', f.initAfterDeploy);
        j.equal(`${f.stopCommand} exit code`, 0, f.stopExit);
        j.equal('the upgraded master alive after the stop', false, f.masterAliveAfterStop);
        j.check(
          `${AFTER_STOP}: answered 200`,
          'none (stopped as asked)',
          okPercent(f, AFTER_STOP),
          okRatio(f, AFTER_STOP) === 0,
        );
      },
    })();
    for (const name of f.phaseNames) j.note(stretchLine(f, name));
    for (const s of f.samples.slice(0, 12)) j.note(s);
    return j.verdict();
  },
};
