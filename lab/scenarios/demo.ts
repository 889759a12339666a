import { summarize } from '../check/continuity';
import type { Flavour } from '../engine/flavour-images';
import { formatStatus } from '../inspect';
import { writeSummary } from '../report/write';
import { createRun, labHome } from '../runs';
import { bridgeReexec } from './bridge-reexec';
import { SOCKET_PERMISSIONS_JOB, SOCKET_UNIT, systemd, systemdBoot, upstart, upstartBoot } from './configs';
import type { ScenarioContext } from './context';
import { sleep } from './context';
import { formatResult } from './format';
import { Judge, failuresText } from './judge';
import { Phases, okShare, phaseLines } from './phases';
import { collectLogs, runScenario, saveRun } from './runner';
import { type Session, openSession } from './session';
import type { BootSpec, ScenarioResult, Verdict } from './types';
import { upgrades } from './upgrades';

/**
 * `lab demo`: the seed's story for a presenter, in six steps on labs it starts: the socket's
 * owner starting the app on the first request, a clean in-place upgrade, the reexec failure,
 * the permission failure and its fix. Each step says what it will do, does it, and says what to
 * look at. Every act leaves a report; the demo ends with a page linking them.
 */
export interface DemoIO {
  out(text: string): void;
  /** waits for the presenter (Enter) between steps; resolves at once with --no-pause */
  pause(): Promise<void>;
  say(line: string): void;
}

const SOCK = '/var/run/phoenix/phoenix.sock';
const STEPS = 6;

async function step(
  io: DemoIO,
  n: number,
  title: string,
  will: string,
  act: () => Promise<string[]>,
  look: (seen: string[]) => string[],
): Promise<void> {
  io.out(`\n=== step ${n}/${STEPS}: ${title} ===\n`);
  io.out(`What I will do: ${will}\n\n`);
  const seen = await act();
  io.out(
    `${seen.map((l) => `  ${l}`).join('\n')}\n\nWhat to look at:\n${look(seen)
      .map((l) => `  - ${l}`)
      .join('\n')}\n`,
  );
}

async function act(flavour: Flavour, image: string, boot: BootSpec, io: DemoIO): Promise<Session> {
  return openSession({ flavour, image, boot, label: `demo-${flavour}`, say: io.say });
}

/** One act of the demo as a run folder with its report, like a scenario's. */
async function saveAct(
  s: Session,
  o: { name: string; title: string; story: string; expect: string; verdict: Verdict; startedAt: string; t: number },
): Promise<ScenarioResult> {
  const records = await s.ctx.allRecords();
  const after = await s.ctx.inspect();
  const logs = await collectLogs(s.ctx);
  return saveRun(
    {
      scenario: o.name,
      title: o.title,
      flavour: s.ctx.flavour,
      expectation: { applicable: true, expect: o.expect },
      verdict: o.verdict,
      continuity: summarize(records),
      facts: {},
      actions: s.ctx.actions(),
      records,
      before: s.ctx.before,
      after,
      logs,
      startedAt: o.startedAt,
      seconds: (Date.now() - o.t) / 1000,
      image: s.image,
    },
    o.story,
  );
}

async function environ(ctx: ScenarioContext, pid: number | undefined): Promise<string> {
  if (!pid) return '(no master)';
  const r = await ctx.sh(
    `tr '\\000' '\\n' < /proc/${pid}/environ | grep -E '^(UPSTART_EVENTS|UPSTART_FDS|LISTEN_FDS|LISTEN_PID)=' | tr '\\n' ' '`,
  );
  return r.stdout.trim() || '(none of UPSTART_FDS, LISTEN_FDS)';
}

async function actOne(flavour: Flavour, image: string, io: DemoIO): Promise<ScenarioResult> {
  const precise = flavour === 'precise';
  const init = precise ? 'upstart 1.5' : 'systemd';
  const owner = precise ? 'upstart-socket-bridge' : 'systemd (phoenix.socket)';
  const boot = precise
    ? upstartBoot(upstart.strategy('bridge-inplace'), 'phoenix.conf = strategies/bridge-inplace.conf')
    : systemdBoot(systemd.service(), 'phoenix.socket + phoenix.service as shipped');
  const startedAt = new Date().toISOString();
  const t = Date.now();
  let s: Session | undefined;
  try {
    await step(
      io,
      1,
      'a lab where nothing runs the app yet',
      `boot a fresh ${flavour} lab (${init} as PID 1, nginx in front) whose phoenix job starts on its socket, and show init's view before any request`,
      async () => {
        s = await act(flavour, image, boot, io);
        const st = await s.ctx.inspect();
        return [`lab on ${s.ctx.origin}`, ...formatStatus(st).split('\n')];
      },
      () => [
        `phoenix is ${precise ? 'stop/waiting' : 'inactive'} and no master runs, yet the socket exists: ${owner} made it and listens on it`,
        `the socket's owner and mode: nginx's www-data workers must be able to connect (root:www-data 0660 here)`,
      ],
    );
    await io.pause();
    const ctx = (s as Session).ctx;
    let tracked: number | undefined;
    await step(
      io,
      2,
      'the first request starts the app',
      `send one request through nginx: the connection wakes ${owner}, which has ${init} start phoenix with the listening socket`,
      async () => {
        const ms = await ctx.warmUp();
        const st = await ctx.inspect();
        tracked = st.init.trackedPid;
        const lines = [
          `first 200 after ${ms} ms`,
          ...formatStatus(st).split('\n'),
          `master ${tracked ?? '?'} environment: ${await environ(ctx, tracked)}`,
        ];
        if (precise) lines.push(`socket events counted by socket-event-counter: ${await ctx.socketEvents()}`);
        return lines;
      },
      () => [
        `${init} now tracks master ${tracked ?? '?'}: the process it started`,
        precise
          ? 'UPSTART_EVENTS=socket and UPSTART_FDS=N: the bridge handed over its own listening socket (N changes from boot to boot)'
          : 'LISTEN_FDS=1 and LISTEN_PID = the master itself: systemd passed the socket as fd 3',
      ],
    );
    await io.pause();
    let verdict: Verdict | undefined;
    await step(
      io,
      3,
      'a clean upgrade: 5 in-place USR2 under load',
      'drive traffic through nginx and send USR2 to the master five times; in-place mode starts new workers under the same master',
      async () => {
        if (!tracked) throw new Error('no master to upgrade');
        const load = ctx.load({ durationMs: 60_000, slowEvery: 10, slowMs: 300 });
        await sleep(500);
        const trace = await upgrades(ctx, tracked, 5, 'master');
        await sleep(500);
        const c = summarize(await load.stop());
        const j = new Judge();
        j.equal('failed requests', 0, c.failed);
        j.check(
          `pid ${init} tracks after each upgrade`,
          `always ${tracked}`,
          trace.trackedAfter.join(','),
          trace.trackedAfter.every((p) => p === tracked),
        );
        j.note(
          `failures: ${failuresText(c)}; ${c.sent} requests; ${c.generations.length} generations served; longest gap ${c.longestGapMs} ms`,
        );
        verdict = j.verdict();
        return [`${verdict.outcome}`, ...verdict.reasons];
      },
      () => [
        '0 failed requests while 5 generations of workers replaced each other',
        `the pid ${init} tracks never changed: its view stays true across upgrades`,
        'in the report: the timeline changes colour at every USR2 marker, with no red',
      ],
    );
    return await saveAct(s as Session, {
      name: 'demo-1-inplace',
      title: 'the first request, then 5 in-place upgrades',
      story: 'The socket owner starts the app on demand; in-place upgrades keep the PID init follows.',
      expect: `the first request starts phoenix; 5 in-place upgrades lose nothing and ${init} keeps the same PID`,
      verdict: verdict as Verdict,
      startedAt,
      t,
    });
  } finally {
    await s?.close();
  }
}

async function actThree(flavour: Flavour, image: string, io: DemoIO): Promise<ScenarioResult> {
  const precise = flavour === 'precise';
  const boot = precise
    ? upstartBoot(
        upstart.strategy('bridge-inplace'),
        'bridge-inplace.conf present at boot, socket-permissions.conf removed',
        { remove: [SOCKET_PERMISSIONS_JOB] },
      )
    : systemdBoot(systemd.service(), 'phoenix.socket with SocketGroup=root SocketMode=0755', {
        files: { [SOCKET_UNIT]: systemd.socketMode(systemd.socket(), 'root', '0755') },
      });
  const startedAt = new Date().toISOString();
  const t = Date.now();
  let s: Session | undefined;
  try {
    let p: Phases | undefined;
    await step(
      io,
      5,
      'the permission failure',
      precise
        ? "boot a lab the way a stock 12.04 boots it: the job present at boot and nothing to fix the socket's mode; then send traffic"
        : 'boot a lab whose phoenix.socket makes the socket root-owned 0755 (what the bridge does at boot); then send traffic',
      async () => {
        s = await act(flavour, image, boot, io);
        const ctx = s.ctx;
        p = new Phases(ctx);
        ctx.load({ durationMs: 60_000, rate: 100, concurrency: 4 });
        await p.hold('broken', 2000);
        const mode = (await ctx.sh(`stat -c '%U:%G %a' ${SOCK}`)).stdout.trim();
        const err = (await ctx.sh('grep -m1 "Permission denied" /var/log/nginx/phoenix-error.log')).stdout.trim();
        const c = summarize(ctx.loadHandle?.records ?? []);
        return [
          `socket ${SOCK}: ${mode}`,
          `requests so far: ${c.sent}, failed ${failuresText(c)}`,
          `nginx error log: ${err || '(no line yet)'}`,
        ];
      },
      () => [
        "every request is a 502: nginx's workers run as www-data and may not connect to a root-owned 0755 socket (connecting needs write permission)",
        'the nginx error log says "(13: Permission denied)"',
        'the app itself is fine: it was never even started, because no connection ever reached the socket',
      ],
    );
    await io.pause();
    const ctx = (s as Session).ctx;
    let verdict: Verdict | undefined;
    await step(
      io,
      6,
      'the fix',
      `give the socket to nginx's group, with the traffic still running: chgrp www-data + chmod 0660 after ${precise ? 'the bridge' : 'systemd'} created it (${precise ? 'what socket-permissions.conf does at every boot' : 'for good: SocketGroup=www-data SocketMode=0660 in the unit, as shipped'})`,
      async () => {
        await ctx.act('apply', `chgrp www-data + chmod 0660 ${SOCK}`, () =>
          ctx.must(`chgrp www-data ${SOCK} && chmod 0660 ${SOCK}`),
        );
        await (p as Phases).hold('fixed', 2000);
        const records = await ctx.allRecords();
        const f = (p as Phases).facts(records);
        const j = new Judge();
        j.check(
          'broken: answered 200',
          'none',
          `${Math.round(okShare(f, 'broken') * 100)}%`,
          okShare(f, 'broken') === 0,
        );
        j.check('fixed: answered 200', 'all', `${Math.round(okShare(f, 'fixed') * 100)}%`, okShare(f, 'fixed') >= 0.98);
        for (const l of phaseLines(f)) j.note(l);
        verdict = j.verdict();
        return [`${verdict.outcome}`, ...verdict.reasons];
      },
      () => [
        '502s turn into 200s the moment the mode changes: the first connection that gets through starts the app',
        'the advice to run nginx as root also "works" and is unsafe; `lab scenario run socket-permissions` compares all three fixes',
      ],
    );
    return await saveAct(s as Session, {
      name: 'demo-3-permissions',
      title: 'the root-owned 0755 socket (502) and its fix',
      story: 'Every request answers 502 and nginx logs Permission denied.',
      expect: 'all 502 while the socket is root:root 0755; all 200 once it is root:www-data 0660',
      verdict: verdict as Verdict,
      startedAt,
      t,
    });
  } finally {
    await s?.close();
  }
}

export async function runDemo(
  flavour: Flavour,
  image: string,
  io: DemoIO,
): Promise<{ reports: ScenarioResult[]; summary: string }> {
  const started = new Date().toISOString();
  const reports: ScenarioResult[] = [];
  reports.push(await actOne(flavour, image, io));
  io.out(`\nreport of steps 1-3: ${reports[0].report}\n`);
  await io.pause();

  await step(
    io,
    4,
    'the reexec failure',
    `boot a lab whose job upgrades by re-exec (unicorn's own USR2: a new master process), upgrade once under load and watch what ${flavour === 'precise' ? 'upstart' : 'systemd'} makes of it (scenario bridge-reexec)`,
    async () => {
      const r = await runScenario(bridgeReexec, flavour, { image, say: io.say });
      reports.push(r);
      return formatResult(r).split('\n');
    },
    () =>
      flavour === 'precise'
        ? [
            'upstart says phoenix stop/waiting while the new master, which it does not track, serves everything',
            'every new connection makes the bridge start the job again; each of those masters finds the pid file held and exits: dozens of wasted starts',
            'without a pid file those starts succeed and two masters serve at once: lab scenario run bridge-reexec-nopid',
          ]
        : [
            'systemd saw its main PID exit and stopped the whole cgroup, the new master too',
            'socket activation started a fresh master (generation 1 again): requests waited in the socket, none failed',
          ],
  );
  await io.pause();
  reports.push(await actThree(flavour, image, io));
  io.out(`\nreport of steps 5-6: ${reports[2].report}\n`);

  const dir = createRun('scenario', 'demo-summary', labHome());
  const summary = writeSummary(
    dir,
    reports.map((r) => ({
      scenario: r.scenario,
      flavour: r.flavour,
      outcome: r.verdict.outcome,
      reasons: r.verdict.reasons,
      reportPath: r.report,
    })),
    { title: `lab demo on ${flavour}`, startedAt: started },
  );
  return { reports, summary };
}
