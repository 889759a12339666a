// Verdicts of the scenarios, judged on recorded runs and synthetic ones: a verdict is a pure
// function of what was seen, so every outcome (including the ones that must be UNEXPECTED)
// can be checked without a lab.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarize } from '../../lab/check/continuity';
import type { LabStatus } from '../../lab/inspect';
import type { FailureClass, RequestRecord } from '../../lab/load/record';
import { bridgeInplace } from '../../lab/scenarios/bridge-inplace';
import { bridgeReexec } from '../../lab/scenarios/bridge-reexec';
import { CATALOGUE } from '../../lab/scenarios/catalogue';
import { containerRestart } from '../../lab/scenarios/container-restart';
import { masterKilled } from '../../lab/scenarios/master-killed';
import { reloadConfiguration } from '../../lab/scenarios/reload-configuration';
import type { ReexecFacts } from '../../lab/session/reexec-watch';
import { socketPermissions } from '../../lab/scenarios/socket-permissions';
import { workerKilled } from '../../lab/scenarios/worker-killed';
import { Judge, notRun } from '../../lab/session/judge';
import type { KillFacts } from '../../lab/session/kill-watch';
import { type Facts, type Scenario, type Seen, expectationFor } from '../../lab/session/types';
import { SERVERS } from '../../lab/servers/types';

/** `n` requests, 5 ms apart, served by `generations` in turn, the listed ones failing. */
function records(n: number, o: { generations?: number[]; fail?: Record<number, FailureClass> } = {}): RequestRecord[] {
  const gens = o.generations ?? [1];
  return Array.from({ length: n }, (_, i) => {
    const r: RequestRecord = { start: i * 5, end: i * 5 + 2, path: '/' };
    const error = o.fail?.[i];
    if (error) r.error = error;
    else Object.assign(r, { status: 200, generation: gens[Math.floor((i * gens.length) / n)], pid: 100 + (i % 2) });
    return r;
  });
}

function status(tracked: number | undefined, masters: Array<[number, number[]]>): LabStatus {
  return {
    init: {
      name: 'upstart 1.5',
      trackedPid: tracked,
      status: tracked ? `phoenix start/running, process ${tracked}` : 'phoenix stop/waiting',
    },
    masters: masters.map(([pid]) => ({ pid, ppid: 1, trackedByInit: pid === tracked })),
    herders: [],
    workers: masters.flatMap(([pid, gens]) =>
      gens.map((generation, slot) => ({ pid: pid + 10 + slot, master: pid, generation, slot })),
    ),
    nginx: [],
    socket: { path: '/var/run/phoenix/phoenix.sock', owner: 'root', group: 'www-data', mode: '0660' },
  };
}

function judge<F extends Facts>(s: Scenario<F>, seen: Omit<Seen<F>, 'continuity'> & { records: RequestRecord[] }) {
  const { records: recs, ...rest } = seen;
  return s.verdict({ ...rest, continuity: summarize(recs) } as Seen<F>);
}

/** The first run of bridge-inplace on the precise image, as recorded (numbers from result.json). */
const INPLACE_PRECISE = {
  trackedBefore: 83,
  trackedAfterEach: Array(11).fill(83) as number[],
  upgradeMs: [93, 145, 145, 150, 146, 147, 151, 150, 141, 170],
  generationsServed: 11,
  masters: 1,
};

describe('bridge-inplace', () => {
  it('is EXPECTED with no failure, the same pid throughout and a generation per upgrade', () => {
    const v = judge(bridgeInplace, {
      flavour: 'precise',
      facts: INPLACE_PRECISE,
      records: records(1322, { generations: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] }),
    });
    assert.equal(v.outcome, 'EXPECTED', v.reasons.join('\n'));
    assert.ok(v.checks.every((c) => c.ok));
  });

  it('is UNEXPECTED when one request failed, and says which and how many', () => {
    const v = judge(bridgeInplace, {
      flavour: 'precise',
      facts: INPLACE_PRECISE,
      records: records(1322, { fail: { 700: 'http-502' } }),
    });
    assert.equal(v.outcome, 'UNEXPECTED');
    const failed = v.checks.find((c) => c.what === 'failed requests');
    assert.deepEqual([failed?.expected, failed?.seen, failed?.ok], ['0', '1', false]);
    assert.ok(
      v.reasons.some((r) => r.includes('http-502=1')),
      v.reasons.join('\n'),
    );
  });

  it('is UNEXPECTED when init stopped tracking the master after an upgrade', () => {
    const facts = { ...INPLACE_PRECISE, trackedAfterEach: [83, 83, null, 412, 412, 412, 412, 412, 412, 412, 412] };
    const v = judge(bridgeInplace, {
      flavour: 'precise',
      facts,
      records: records(1322, { generations: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] }),
    });
    assert.equal(v.outcome, 'UNEXPECTED');
    assert.match(
      v.reasons.join('\n'),
      /FAIL pid init tracks after each upgrade: expected always 83, seen 83,83,none,412/,
    );
  });
});

const REEXEC_PRECISE: ReexecFacts = {
  trackedBefore: 90,
  initLostAfterMs: 1026,
  untrackedServing: true,
  maxServingMasters: 1,
  mastersStarted: 2,
  refusedStarts: 60,
  bindFailures: 0,
  socketEvents: 298,
  restartsAfterUpgrade: 60,
  deactivations: 0,
  generationsAfter: [2],
  initStateAfter: 'init stop/waiting tracks nothing; masters 282[gen 2]; socket root:www-data 0660',
  trackedAfter: null,
  servingAfter: [282],
  samples: [],
};

describe('bridge-reexec', () => {
  it('on upstart: EXPECTED when upstart lost the master, an untracked one served and the bridge restarts were refused', () => {
    const v = judge(bridgeReexec, {
      flavour: 'precise',
      facts: REEXEC_PRECISE,
      records: records(910, { generations: [1, 2] }),
    });
    assert.equal(v.outcome, 'EXPECTED', v.reasons.join('\n'));
  });

  it('on upstart: UNEXPECTED when upstart kept tracking the master (as in-place would)', () => {
    const v = judge(bridgeReexec, {
      flavour: 'precise',
      facts: {
        ...REEXEC_PRECISE,
        initLostAfterMs: null,
        untrackedServing: false,
        restartsAfterUpgrade: 0,
        refusedStarts: 0,
      },
      records: records(900),
    });
    assert.equal(v.outcome, 'UNEXPECTED');
    assert.equal(v.checks.filter((c) => !c.ok).length, 4, v.reasons.join('\n'));
  });

  it('on upstart: UNEXPECTED when two masters served at once (the pid file guard did not hold)', () => {
    const v = judge(bridgeReexec, {
      flavour: 'precise',
      facts: { ...REEXEC_PRECISE, maxServingMasters: 2 },
      records: records(900, { generations: [1, 2] }),
    });
    assert.equal(v.outcome, 'UNEXPECTED');
    assert.match(v.reasons.join('\n'), /FAIL most masters serving at once: expected 1, seen 2/);
  });

  it('on systemd: EXPECTED when the cgroup was stopped and socket activation started generation 1 again', () => {
    const facts = {
      ...REEXEC_PRECISE,
      deactivations: 1,
      restartsAfterUpgrade: 1,
      refusedStarts: 0,
      generationsAfter: [1, 2],
      socketEvents: 0,
    };
    assert.equal(
      judge(bridgeReexec, { flavour: 'bookworm', facts, records: records(988, { generations: [1, 2] }) }).outcome,
      'EXPECTED',
    );
  });

  it('on systemd: UNEXPECTED when the re-executed master survived the main PID (systemd kept serving gen 2 only)', () => {
    const facts = { ...REEXEC_PRECISE, deactivations: 0, restartsAfterUpgrade: 0, generationsAfter: [2] };
    const v = judge(bridgeReexec, { flavour: 'bookworm', facts, records: records(965, { generations: [1, 2] }) });
    assert.equal(v.outcome, 'UNEXPECTED');
    assert.match(
      v.reasons.join('\n'),
      /FAIL systemd after MainPID exited: expected service deactivated, cgroup stopped, seen 0 deactivation\(s\)/,
    );
  });
});

const KILL: KillFacts = {
  killedPid: 84,
  trackedBefore: 84,
  trackedAfter: 90,
  initRightAfter: 'start/running',
  initTracksAgainMs: 222,
  newWorkerAnsweredMs: 149,
  failedAfterKill: 0,
  failuresAfterKill: 'none',
  socketAfter: 'root:www-data 0660',
  badInheritedFd: 0,
  mastersStarted: 2,
  jobStartsAfterKill: 0,
  jobRunsFailedAfterKill: 0,
  jobFailedStatuses: 'none',
  socketEvents: 364,
  probes: 12,
  probesOk: 12,
  systemdRestarts: 0,
  initStateAfter: '',
  samples: [],
};

describe('master-killed and worker-killed', () => {
  it('master-killed on upstart: EXPECTED when the bridge brought a tracked master back quickly', () => {
    assert.equal(judge(masterKilled, { flavour: 'precise', facts: KILL, records: records(900) }).outcome, 'EXPECTED');
  });

  it('master-killed: UNEXPECTED when nothing came back (requests queued for ever, timeouts)', () => {
    const facts = {
      ...KILL,
      initRightAfter: 'stop/waiting',
      initTracksAgainMs: null,
      newWorkerAnsweredMs: null,
      failedAfterKill: 8,
      failuresAfterKill: 'timeout=8',
    };
    const v = judge(masterKilled, {
      flavour: 'precise',
      facts,
      records: records(179, { fail: { 171: 'timeout', 172: 'timeout' } }),
    });
    assert.equal(v.outcome, 'UNEXPECTED');
    assert.deepEqual(
      v.checks.filter((c) => !c.ok).map((c) => c.what),
      [
        'what init tracks serves again through a new master',
        'a new worker answers',
        'requests that failed after the kill',
      ],
    );
  });

  it('master-killed on systemd: UNEXPECTED without a restart counted', () => {
    const v = judge(masterKilled, {
      flavour: 'bookworm',
      facts: { ...KILL, systemdRestarts: 0, initTracksAgainMs: 1637, newWorkerAnsweredMs: 1524 },
      records: records(725),
    });
    assert.equal(v.outcome, 'UNEXPECTED');
    assert.match(v.reasons.join('\n'), /FAIL systemd restarts \(NRestarts\): expected 1, seen 0/);
  });

  it('worker-killed: init must keep the same master; a different tracked pid is UNEXPECTED', () => {
    const facts = { ...KILL, failedAfterKill: 2, failuresAfterKill: 'http-502=2' };
    const ok = judge(workerKilled, {
      flavour: 'precise',
      facts,
      before: status(84, [[84, [1, 1]]]),
      after: status(84, [[84, [1, 1]]]),
      records: records(825, { fail: { 400: 'http-502', 401: 'http-502' } }),
    });
    assert.equal(ok.outcome, 'EXPECTED', ok.reasons.join('\n'));
    const moved = judge(workerKilled, {
      flavour: 'precise',
      facts,
      before: status(84, [[84, [1, 1]]]),
      after: status(300, [[300, [1, 1]]]),
      records: records(825),
    });
    assert.equal(moved.outcome, 'UNEXPECTED');
  });
});

describe('phase scenarios', () => {
  const phases = (names: string[], ok: number[]) => ({
    phaseNames: names,
    phaseSent: names.map(() => 120),
    phaseOk: ok,
    phaseFailed: ok.map((n) => 120 - n),
    phaseFailure: ok.map((n) => (n < 120 ? 'http-502' : '')),
  });
  const PERM = [
    'broken',
    'fix: chmod',
    'broken again',
    'fix: nginx as root',
    'broken once more',
    'fix: socket made for www-data',
  ];

  it('socket-permissions: EXPECTED when broken phases are all 502 and every fix all 200', () => {
    const facts = {
      ...phases(PERM, [0, 120, 0, 120, 0, 120]),
      socketAtBoot: 'root:root 755',
      socketAfterOwnSocket: 'root:www-data 660',
    };
    assert.equal(judge(socketPermissions, { flavour: 'precise', facts, records: records(720) }).outcome, 'EXPECTED');
  });

  it('socket-permissions: UNEXPECTED when the socket was never 0755 (nothing was reproduced)', () => {
    const facts = {
      ...phases(PERM, [120, 120, 120, 120, 120, 120]),
      socketAtBoot: 'root:www-data 660',
      socketAfterOwnSocket: 'root:www-data 660',
    };
    const v = judge(socketPermissions, { flavour: 'precise', facts, records: records(720) });
    assert.equal(v.outcome, 'UNEXPECTED');
    assert.equal(v.checks.filter((c) => !c.ok).length, 4);
  });

  it('reload-configuration: on upstart the stranded phase must fail, on systemd it must not', () => {
    const names = [
      'before',
      'after the reload, job still running',
      'job stopped after the reload',
      'after the fix',
      'fix holding: after another quiet stop',
    ];
    const base = { reloadCommand: 'initctl reload-configuration', reloadExit: 0, socketAfterFix: 'root:www-data 660' };
    const stranded = { ...phases(names, [120, 120, 0, 120, 120]), ...base, jobWhileStranded: 'stop/waiting' };
    assert.equal(
      judge(reloadConfiguration, { flavour: 'precise', facts: stranded, records: records(600) }).outcome,
      'EXPECTED',
    );
    // The same numbers on systemd mean daemon-reload lost the socket: unexpected there.
    assert.equal(
      judge(reloadConfiguration, { flavour: 'bookworm', facts: stranded, records: records(600) }).outcome,
      'UNEXPECTED',
    );
    // An upstart run where the stop never stuck (traffic restarted the job) reproduced nothing.
    const notStranded = { ...phases(names, [120, 120, 120, 120, 120]), ...base, jobWhileStranded: 'start/running' };
    assert.equal(
      judge(reloadConfiguration, { flavour: 'precise', facts: notStranded, records: records(600) }).outcome,
      'UNEXPECTED',
    );
  });
});

describe('container-restart', () => {
  const facts = {
    initAfterTerm: 'stop/waiting',
    jobsRunningAfterTerm: 0,
    servedAfterTerm: true,
    restartMs: 367,
    backAfterMs: 1282,
    failedAcrossRestart: 17,
    pidFileLive: true,
    initAfterRestart: 'start/running',
  };
  it('failures while the container is down are expected; an app that never came back is not', () => {
    assert.equal(
      judge(containerRestart, {
        flavour: 'precise',
        facts,
        records: records(428, { fail: { 200: 'refused', 201: 'reset' } }),
      }).outcome,
      'EXPECTED',
    );
    const v = judge(containerRestart, {
      flavour: 'precise',
      facts: { ...facts, backAfterMs: null, pidFileLive: false },
      records: records(428),
    });
    assert.equal(v.outcome, 'UNEXPECTED');
    assert.match(
      v.reasons.join('\n'),
      /FAIL the app is back by itself after docker restart: expected within 10 s, seen never/,
    );
  });
});

describe('the judge and the catalogue', () => {
  it('a verdict without a single check is never EXPECTED', () => {
    assert.equal(new Judge().note('nothing measured').verdict().outcome, 'UNEXPECTED');
  });

  it('not applicable is NOT RUN with its reason, never a pass', () => {
    const v = notRun('systemd has no bridge');
    assert.equal(v.outcome, 'NOT RUN');
    assert.deepEqual(v.reasons, ['systemd has no bridge']);
  });

  it('every scenario has a unique name, a story and an expectation or a reason on both flavours', () => {
    const names = CATALOGUE.map((s) => s.name);
    assert.equal(new Set(names).size, names.length);
    for (const s of CATALOGUE) {
      assert.ok(s.story.length > 20 && s.title.length > 5, s.name);
      for (const v of SERVERS)
        for (const f of ['precise', 'bookworm'] as const) {
          const e = expectationFor(s, f, v);
          assert.ok(e.applicable ? e.expect.length > 20 : e.reason.length > 20, `${s.name} on ${f} with ${v}`);
          // Configs are derived from the shipped files: an edit that no longer applies throws here.
          if (e.applicable) assert.ok(s.boot(f, v).label.length > 0, `${s.name} on ${f} with ${v}`);
        }
    }
  });

  it("the catalogue holds the issue's scenarios", () => {
    for (const n of [
      'bridge-inplace',
      'bridge-reexec',
      'exec-respawn-reexec',
      'master-killed',
      'worker-killed',
      'worker-timeout',
      'initctl-restart',
      'initctl-stop-start',
      'socket-permissions',
      'nginx-reload',
      'slow-requests',
      'container-restart',
      'herder',
      'reload-configuration',
      'boot-socket-mode',
    ]) {
      assert.ok(
        CATALOGUE.some((s) => s.name === n),
        n,
      );
    }
  });
});

describe('seed-poc and wrapper-fix (unicorn)', () => {
  const poc = async () => (await import('../../lab/scenarios/seed-poc')).seedPoc;
  const fix = async () => (await import('../../lab/scenarios/wrapper-fix')).wrapperFix;

  it('seed-poc on upstart: EXPECTED when upstart lost the master and an untracked one served on', async () => {
    const v = judge(await poc(), {
      flavour: 'precise',
      facts: REEXEC_PRECISE,
      records: records(400, { generations: [1, 2] }),
    });
    assert.equal(v.outcome, 'EXPECTED', v.reasons.join('\n'));
  });

  it('seed-poc on systemd: UNEXPECTED when systemd still tracks the old master or stopped the cgroup', async () => {
    const followed: ReexecFacts = {
      ...REEXEC_PRECISE,
      initLostAfterMs: 900,
      trackedAfter: 271,
      servingAfter: [271],
      trackedBefore: 123,
    };
    const s = await poc();
    assert.equal(judge(s, { flavour: 'bookworm', facts: followed, records: records(300) }).outcome, 'EXPECTED');
    const stale = { ...followed, trackedAfter: 123 };
    assert.equal(judge(s, { flavour: 'bookworm', facts: stale, records: records(300) }).outcome, 'UNEXPECTED');
    const killed = { ...followed, deactivations: 1 };
    assert.equal(judge(s, { flavour: 'bookworm', facts: killed, records: records(300) }).outcome, 'UNEXPECTED');
  });

  it('wrapper-fix: EXPECTED only with the same tracked pid, 20 followed masters, 0 failures and nothing left', async () => {
    const s = await fix();
    const good = {
      wrapperPid: 72,
      trackedAfterEach: Array(20).fill(72) as number[],
      mastersAfterEach: Array(20).fill(1) as number[],
      followed: 20,
      upgradeFailures: 0,
      upgradeMs: Array(20).fill(480) as number[],
      generationsServed: 21,
      leftAfterStop: 0,
      initAfterStop: 'inactive/dead',
    };
    const recs = records(2000, { generations: Array.from({ length: 21 }, (_, i) => i + 1) });
    assert.equal(judge(s, { flavour: 'precise', facts: good, records: recs }).outcome, 'EXPECTED');
    const lost = { ...good, trackedAfterEach: [...good.trackedAfterEach.slice(0, 19), null] };
    assert.equal(judge(s, { flavour: 'precise', facts: lost, records: recs }).outcome, 'UNEXPECTED');
    const left = { ...good, leftAfterStop: 3 };
    assert.equal(judge(s, { flavour: 'bookworm', facts: left, records: recs }).outcome, 'UNEXPECTED');
    const failed = records(2000, { generations: [1, 2], fail: { 7: 'http-502' } });
    assert.equal(judge(s, { flavour: 'bookworm', facts: good, records: failed }).outcome, 'UNEXPECTED');
  });
});

describe('verdicts that must hold on a loaded machine (two labs on 2 cores), and still fail', () => {
  const respawn = async () => (await import('../../lab/scenarios/master-killed')).masterKilledRespawn;
  const execRespawn = async () => (await import('../../lab/scenarios/exec-respawn-reexec')).execRespawnReexec;
  const stopStart = async () => (await import('../../lab/scenarios/initctl-stop-start')).initctlStopStart;

  it('master-killed-respawn: EXPECTED when the respawn loop took 11 s and a new visitor started the job after it', async () => {
    const facts = { ...KILL, badInheritedFd: 17, initTracksAgainMs: 11_873, initRightAfter: 'start/running' };
    assert.equal(judge(await respawn(), { flavour: 'precise', facts, records: records(400) }).outcome, 'EXPECTED');
  });

  it('master-killed-respawn: UNEXPECTED when the job was never started again (the queued requests time out)', async () => {
    const facts = {
      ...KILL,
      badInheritedFd: 10,
      initTracksAgainMs: null,
      failedAfterKill: 8,
      failuresAfterKill: 'timeout=8',
    };
    const v = judge(await respawn(), { flavour: 'precise', facts, records: records(186) });
    assert.equal(v.outcome, 'UNEXPECTED');
    assert.deepEqual(
      v.checks.filter((c) => !c.ok).map((c) => c.what),
      ['what init tracks serves again through a new master', 'requests that failed after the kill'],
    );
    // no refusal and no second master: the kill was never followed by a respawn at all
    const none = judge(await respawn(), {
      flavour: 'precise',
      facts: { ...KILL, badInheritedFd: 0, mastersStarted: 1, initTracksAgainMs: 3853 },
      records: records(400),
    });
    assert.equal(none.outcome, 'UNEXPECTED');
    assert.deepEqual(
      none.checks.filter((c) => !c.ok).map((c) => c.what),
      ['respawned masters'],
    );
  });

  it('exec-respawn-reexec on upstart: still respawning at the end is the same finding as the respawn limit', async () => {
    const s = await execRespawn();
    const seen = (initStateAfter: string, trackedAfter: number | null) =>
      judge(s, {
        flavour: 'precise',
        facts: { ...REEXEC_PRECISE, refusedStarts: 18, initStateAfter, trackedAfter, servingAfter: [961] },
        records: records(900, { generations: [1, 2] }),
      });
    assert.equal(
      seen('init stop/waiting tracks nothing; masters 961[gen 2]; socket root:www-data 0660', null).outcome,
      'EXPECTED',
    );
    assert.equal(
      seen('init start/pre tracks nothing; masters 961[gen 2]; socket root:www-data 0660', null).outcome,
      'EXPECTED',
    );
    // a respawned master that is about to be refused: tracked, but not serving
    assert.equal(
      seen('init start/running tracks 1306; masters 961[gen 2]; socket root:www-data 0660', 1306).outcome,
      'EXPECTED',
    );
    // upstart tracking the serving master again would be supervision, not this failure
    const tracked = seen('init start/running tracks 961; masters 961*[gen 2]; socket root:www-data 0660', 961);
    assert.equal(tracked.outcome, 'UNEXPECTED');
    assert.ok(tracked.checks.some((c) => !c.ok && c.what === 'job state at the end'));
  });

  it('initctl-stop-start: judged by when the new master said it was ready, not by when the probes looked', async () => {
    const s = await stopStart();
    const base = {
      trackedBefore: 784,
      stopExit: 0,
      restartedByConnectionMs: 3990,
      readyBeforeStart: true,
      seenByProbeMs: 3558,
      startExit: 1,
      startOutput: 'initctl: Job is already running: phoenix',
      startsWithoutSocket: 0,
      trackedAfter: 991,
      probes: 6,
      probesOk: 6,
      samples: [],
    };
    const ok = judge(s, { flavour: 'precise', facts: base, records: records(1004) });
    assert.equal(ok.outcome, 'EXPECTED', ok.reasons.join('\n'));
    // the operator's start brought it back: the stop held, which is not what upstart 1.5 does
    const held = judge(s, {
      flavour: 'precise',
      facts: {
        ...base,
        readyBeforeStart: false,
        seenByProbeMs: null,
        startExit: 0,
        startOutput: 'phoenix start/running',
      },
      records: records(1004),
    });
    assert.equal(held.outcome, 'UNEXPECTED');
    assert.ok(held.checks.some((c) => !c.ok && c.what === 'started again by a connection after the stop'));
  });
});
