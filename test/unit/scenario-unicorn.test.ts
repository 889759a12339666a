// The "unicorn in production" scenarios, judged on synthetic facts shaped like their real runs:
// each verdict is EXPECTED on what the runs showed, and UNEXPECTED as soon as the fact the
// scenario is about is wrong, so the checker can fail.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarize } from '../../lab/check/continuity';
import type { Flavour } from '../../lab/engine/flavour-images';
import { CATALOGUE } from '../../lab/scenarios/catalogue';
import type { Facts, Scenario } from '../../lab/session/types';
import { expectationFor } from '../../lab/session/types';
import {
  unicornBridgeTraps,
  bareNameJob,
  bundleExecJob,
  pathFixedJob,
  versionAtLeast,
} from '../../lab/scenarios/unicorn-bridge-traps';
import { unicornBrokenRelease } from '../../lab/scenarios/unicorn-broken-release';
import { parseJobEvents, stretch } from '../../lab/session/unicorn-common';
import { unicornExecRespawn, wrapperExecJob } from '../../lab/scenarios/unicorn-exec-respawn';
import { unicornInitctlReload } from '../../lab/scenarios/unicorn-initctl-reload';
import { unicornStopStart } from '../../lab/scenarios/unicorn-stop-start';
import { checkJobFile } from '../../lab/jobcheck';
import { phases } from '../support/stretch-facts';

function outcome<F extends Facts>(s: Scenario<F>, flavour: Flavour, facts: F): string {
  const v = s.verdict({ flavour, continuity: summarize([]), facts });
  return `${v.outcome}\n${v.reasons.join('\n')}`;
}

const expected = <F extends Facts>(s: Scenario<F>, flavour: Flavour, facts: F) =>
  assert.match(outcome(s, flavour, facts), /^EXPECTED/, `${s.name} on ${flavour}`);
const unexpected = <F extends Facts>(s: Scenario<F>, flavour: Flavour, facts: F, why: string) =>
  assert.match(outcome(s, flavour, facts), /^UNEXPECTED/, `${s.name} on ${flavour}: ${why}`);

const MINE = [unicornInitctlReload, unicornExecRespawn, unicornBrokenRelease, unicornStopStart, unicornBridgeTraps];

describe('unicorn in production: the catalogue', () => {
  it('holds the five scenarios at the end, for unicorn, in their group', () => {
    const names = CATALOGUE.map((s) => s.name);
    for (const s of MINE) {
      assert.ok(names.includes(s.name), s.name);
      assert.equal(s.server, 'unicorn', s.name);
      assert.equal(s.group, 'unicorn in production', s.name);
    }
  });

  it('tells each story in two sentences: what the user sees, then what fixes it', () => {
    for (const s of MINE) {
      const sentences = s.story.split(/(?<=[.!?])\s+(?=[A-Z`])/);
      assert.equal(sentences.length, 2, `${s.name}: ${sentences.join(' | ')}`);
      assert.ok(s.story.endsWith('.'), s.name);
    }
  });

  it('has an expectation per init; bridge-traps has no meaning on systemd and says why', () => {
    for (const s of MINE)
      for (const f of ['precise', 'bookworm'] as const) {
        const e = expectationFor(s, f, 'unicorn');
        if (s === unicornBridgeTraps && f === 'bookworm') {
          assert.equal(e.applicable, false);
          assert.ok(!e.applicable && /PATH/.test(e.reason) && /RemoveOnStop/.test(e.reason));
        } else assert.equal(e.applicable, true, `${s.name} on ${f}`);
        if (e.applicable) assert.ok(s.boot(f, 'unicorn').label.length > 0);
      }
  });

  it('boots unicorn itself: the PoC, exec + respawn, or the shipped wrapper', () => {
    assert.equal(unicornInitctlReload.boot('precise', 'unicorn').activatesServer, true);
    assert.match(unicornInitctlReload.boot('precise', 'unicorn').shell?.join('\n') ?? '', /unicorn-seed-poc\.conf/);
    assert.match(unicornExecRespawn.boot('bookworm', 'unicorn').shell?.join('\n') ?? '', /unicorn-plain\.service/);
    assert.ok(unicornExecRespawn.boot('precise', 'unicorn').files?.['/etc/init/lab-unicorn-lifecycle.conf']);
    assert.equal(unicornBrokenRelease.boot('precise', 'unicorn').activatesServer, undefined);
    const traps = unicornBridgeTraps.boot('precise', 'unicorn');
    assert.equal(traps.files?.['/var/lib/lab/unicorn-bare-name.conf'], bareNameJob());
    assert.match(traps.shell?.[traps.shell.length - 1] ?? '', /unicorn-bare-name\.conf \/etc\/init\/unicorn\.conf$/);
    assert.match(traps.files?.['/opt/unicorn/app/Gemfile'] ?? '', /^gem 'unicorn'$/m);
    assert.ok(traps.shell?.includes('cd /opt/unicorn/app && bundle3.1 lock --local'));
  });
});

describe('the jobs the scenarios write', () => {
  it('exec + wrapper: the shipped exec job with its exec line running unicorn-wrapper, still valid', () => {
    const job = wrapperExecJob();
    assert.match(job, /^respawn$/m);
    assert.match(
      job,
      /^exec \/opt\/phoenix\/runtime\/bin\/node .*unicorn-wrapper\/cli\.js --listen unix:\/var\/run\/unicorn\/unicorn\.sock .* -- \/usr\/bin\/unicorn /m,
    );
    assert.deepEqual(
      checkJobFile(job, 'unicorn.conf').filter((p) => p.severity === 'error'),
      [],
    );
  });

  it('bare name: the job checker names unicorn; the one added line satisfies it', () => {
    assert.ok(
      checkJobFile(bareNameJob(), 'unicorn.conf').some(
        (p) => p.severity === 'error' && p.message.includes("'unicorn'"),
      ),
    );
    assert.deepEqual(
      checkJobFile(pathFixedJob(), 'unicorn.conf').filter((p) => p.severity === 'error'),
      [],
    );
    const added = pathFixedJob()
      .split('\n')
      .filter((l) => !bareNameJob().split('\n').includes(l));
    assert.deepEqual(added, ['    export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
  });

  it("reads upstart's starting/stopping lines, and nothing else", () => {
    const ev = parseJobEvents(
      [
        '1796007427.662694971 starting result= process= status= signal=',
        '1796007428.1 stopping result=failed process=main status=1 signal=',
        'garbage line',
      ].join('\n'),
    );
    assert.equal(ev.length, 2);
    assert.deepEqual(
      ev.map((e) => [e.event, e.result, e.status]),
      [
        ['starting', '', ''],
        ['stopping', 'failed', '1'],
      ],
    );
    assert.equal(ev[0].at, 1796007427663);
  });

  it('stretch() reads one phase back by name', () => {
    const f = phases(['a', 10, 7, { 'http-502': 2, timeout: 1 }, 900]);
    assert.deepEqual(stretch(f, 'a'), {
      sent: 10,
      ok: 7,
      failed: 3,
      gapMs: 900,
      waited: 1,
      failures: 'http-502=2 timeout=1',
    });
    assert.equal(stretch(f, 'b'), undefined);
  });
});

describe('unicorn-initctl-reload', () => {
  const s = unicornInitctlReload;
  const [BEFORE, AFTER, WRAPPED] = [
    'before the reload',
    "after one reload, the PoC's setup",
    "the wrapper's setup: 5 reloads",
  ];
  const common = {
    reloadExit: 0,
    masterHeldBefore: true,
    nginxReadTimeout: '60s',
    wrapperUpMs: 436,
    reloadExits: [0, 0, 0, 0, 0],
    heldAfterEachReload: [true, true, true, true, true],
    hupsForwarded: 5,
  };
  const precise = {
    ...phases([BEFORE, 63, 63, {}, 213], [AFTER, 136, 0, { timeout: 136 }, 63016], [WRAPPED, 675, 675, {}, 217]),
    ...common,
    reloadCommand: 'initctl reload unicorn',
    masterHeldAfterReload: false,
    holdersAfterReload: 1,
    initAfterReload: 'start/running',
    patientStatus: 504,
    patientMs: 60020,
  };
  const bookworm = {
    ...phases([BEFORE, 64, 64, {}, 255], [AFTER, 211, 211, {}, 292], [WRAPPED, 781, 781, {}, 569]),
    ...common,
    reloadCommand: 'systemctl reload unicorn.service',
    masterHeldAfterReload: true,
    holdersAfterReload: 4,
    initAfterReload: 'active/running',
    patientStatus: 200,
    patientMs: 204,
  };

  it('is EXPECTED on what the runs showed', () => {
    expected(s, 'precise', precise);
    expected(s, 'bookworm', bookworm);
  });

  it('upstart: UNEXPECTED when the PoC kept its socket, nothing hung, or nginx answered something else', () => {
    unexpected(s, 'precise', { ...precise, masterHeldAfterReload: true }, 'the master kept the socket');
    unexpected(
      s,
      'precise',
      { ...precise, ...phases([BEFORE, 63, 63, {}, 213], [AFTER, 136, 136, {}, 200], [WRAPPED, 675, 675, {}, 217]) },
      'every request answered after the reload',
    );
    unexpected(s, 'precise', { ...precise, patientStatus: 200, patientMs: 50 }, 'the patient visitor got a 200');
    unexpected(s, 'precise', { ...precise, holdersAfterReload: 0 }, 'nobody holds the socket (refused, not queued)');
  });

  it("UNEXPECTED when the wrapper's reloads lost a request, the socket or a HUP", () => {
    for (const f of ['precise', 'bookworm'] as const) {
      const base = f === 'precise' ? precise : bookworm;
      const lost = { ...base };
      lost.phaseOk = [...base.phaseOk];
      lost.phaseFailed = [...base.phaseFailed];
      lost.phaseOk[2] -= 1;
      lost.phaseFailed[2] = 1;
      unexpected(s, f, lost, 'one failed request in the wrapper phase');
      unexpected(s, f, { ...base, heldAfterEachReload: [true, true, false, true, true] }, 'socket lost on reload 3');
      unexpected(s, f, { ...base, hupsForwarded: 4 }, 'a HUP not forwarded');
    }
  });

  it('systemd: UNEXPECTED when the reload made requests hang', () => {
    unexpected(s, 'bookworm', { ...bookworm, masterHeldAfterReload: false }, 'the master lost the socket');
    unexpected(s, 'bookworm', { ...bookworm, patientStatus: 504, patientMs: 60020 }, 'nginx timed out');
  });
});

describe('unicorn-exec-respawn', () => {
  const s = unicornExecRespawn;
  const [BEFORE, DEPLOY, AFTER_STOP, FIXED] = [
    'before the deploy',
    'after the USR2 deploy',
    'after the stop',
    'unicorn-wrapper under exec + respawn: 3 USR2',
  ];
  const precise = {
    ...phases(
      [BEFORE, 40, 40, {}, 213],
      [DEPLOY, 370, 370, {}, 233],
      [AFTER_STOP, 71, 71, {}, 169],
      [FIXED, 587, 587, {}, 232],
    ),
    trackedBefore: 730,
    initLostAfterMs: 2275,
    respawns: 12,
    respawnEveryMs: 517,
    stillRespawning: true,
    alreadyRunningLines: 12,
    initAfterDeploy: 'start/running',
    servingMaster: 919,
    servingMasterPpid: 1,
    servingMasterTracked: false,
    stopCommand: 'initctl stop unicorn',
    stopExit: 0,
    stopOutput: 'unicorn stop/waiting',
    masterAliveAfterStop: true,
    answeredByItAfterStop: true,
    samples: [],
    wrapperPid: 1465,
    trackedAfterEachFix: [1465, 1465, 1465],
    startsDuringFix: 1,
    leftAfterFixStop: 0,
  };
  const bookworm = {
    ...phases([BEFORE, 40, 40, {}, 217], [DEPLOY, 266, 266, {}, 222], [AFTER_STOP, 120, 0, { 'http-502': 120 }, 1200]),
    trackedBefore: 57,
    initLostAfterMs: 2300,
    respawns: 0,
    respawnEveryMs: null,
    stillRespawning: false,
    alreadyRunningLines: 0,
    initAfterDeploy: 'active/running',
    servingMaster: 271,
    servingMasterPpid: 57,
    servingMasterTracked: true,
    stopCommand: 'systemctl stop unicorn.service',
    stopExit: 0,
    stopOutput: '',
    masterAliveAfterStop: false,
    answeredByItAfterStop: false,
    samples: [],
    wrapperPid: null,
    trackedAfterEachFix: [],
    startsDuringFix: null,
    leftAfterFixStop: null,
  };

  it('is EXPECTED on what the runs showed, and when the respawn limit stops the job on a faster machine', () => {
    expected(s, 'precise', precise);
    expected(s, 'precise', {
      ...precise,
      stillRespawning: false,
      initAfterDeploy: 'stop/waiting',
      stopExit: 1,
      stopOutput: 'initctl: Unknown instance: ',
    });
    expected(s, 'bookworm', bookworm);
  });

  it('upstart: UNEXPECTED when it kept the master, did not respawn, or the stop stopped the orphan', () => {
    unexpected(s, 'precise', { ...precise, initLostAfterMs: null }, 'upstart still tracked the master');
    unexpected(s, 'precise', { ...precise, respawns: 3 }, 'only 3 respawns');
    unexpected(s, 'precise', { ...precise, servingMasterPpid: 730 }, 'the serving master is no orphan');
    unexpected(
      s,
      'precise',
      { ...precise, masterAliveAfterStop: false, answeredByItAfterStop: false },
      'the stop stopped it',
    );
    unexpected(
      s,
      'precise',
      { ...precise, stillRespawning: true, respawnEveryMs: 200 },
      'fast respawns that never hit the limit',
    );
  });

  it('upstart: UNEXPECTED when the wrapper job lost track or respawned', () => {
    unexpected(s, 'precise', { ...precise, trackedAfterEachFix: [1465, null, 1465] }, 'lost after upgrade 2');
    unexpected(s, 'precise', { ...precise, startsDuringFix: 2 }, 'a respawn under the wrapper');
    unexpected(s, 'precise', { ...precise, leftAfterFixStop: 2 }, 'processes left after the stop');
  });

  it('systemd: UNEXPECTED when Restart= fired or MainPID stayed on the old master', () => {
    unexpected(s, 'bookworm', { ...bookworm, respawns: 1 }, 'one restart');
    unexpected(s, 'bookworm', { ...bookworm, servingMasterTracked: false }, 'MainPID not the serving master');
    unexpected(s, 'bookworm', { ...bookworm, masterAliveAfterStop: true }, 'the stop left the master');
  });
});

describe('unicorn-broken-release', () => {
  const s = unicornBrokenRelease;
  const good = {
    ...phases(
      ['release 1 serving', 40, 40, {}, 195],
      ['release 2 (broken) deployed: USR2', 149, 149, {}, 256],
      ['release 3 (fixed) deployed: USR2', 161, 161, {}, 278],
    ),
    wrapperPid: 777,
    firstMaster: 786,
    versionBefore: '1',
    upgradeFailed: 1,
    failedAfterMs: 999,
    masterAfterBroken: 786,
    oldbinAfterBroken: null,
    versionAfterBroken: '1',
    servedByAfterBroken: 786,
    quitsForwarded: 0,
    trackedAfterBroken: 777,
    trackedAfterFixed: 777,
    followed: 1,
    versionAfterFixed: '3',
    generationAfterFixed: 2,
    mastersServingAfterFixed: 1,
  };

  it('is EXPECTED on what the runs showed, on both inits', () => {
    expected(s, 'precise', good);
    expected(s, 'bookworm', good);
  });

  it('UNEXPECTED when the wrapper did not report the failed upgrade, or the old master did not serve on', () => {
    unexpected(s, 'precise', { ...good, upgradeFailed: 0, failedAfterMs: null }, 'no upgrade-failed event');
    unexpected(s, 'precise', { ...good, masterAfterBroken: 900 }, 'another master in the pid file');
    unexpected(s, 'precise', { ...good, oldbinAfterBroken: 786 }, 'the .oldbin left behind');
    unexpected(s, 'precise', { ...good, versionAfterBroken: '2' }, 'the broken release answered');
    unexpected(s, 'precise', { ...good, quitsForwarded: 1 }, 'a QUIT reached a master');
    unexpected(s, 'bookworm', { ...good, trackedAfterBroken: 786 }, 'init tracks the master, not the wrapper');
  });

  it('UNEXPECTED when the fixed release did not take over', () => {
    unexpected(
      s,
      'precise',
      { ...good, followed: 0, versionAfterFixed: '1', generationAfterFixed: 1 },
      'never followed',
    );
    unexpected(s, 'precise', { ...good, mastersServingAfterFixed: 2 }, 'two masters serving');
  });
});

describe('unicorn-stop-start', () => {
  const s = unicornStopStart;
  const [BEFORE, STOP_START, USR2] = ['before the deploy', 'deploy by stop + start', 'deploy by USR2'];
  const precise = {
    ...phases([BEFORE, 40, 40, {}, 213], [STOP_START, 298, 111, { 'http-502': 187 }, 1562], [USR2, 327, 327, {}, 378]),
    stopCommand: 'initctl stop unicorn',
    stopExit: 0,
    stopMs: 1402,
    startExit: 0,
    startMs: 340,
    backMs: 2294,
    usr2Target: 'wrapper 1002',
    trackedAfterUsr2: 1002,
    servingAfterUsr2: [1100],
    usr2ToNewGenerationMs: 1037,
  };
  const bookworm = {
    ...phases([BEFORE, 40, 40, {}, 230], [STOP_START, 237, 111, { 'http-502': 126 }, 1346], [USR2, 310, 310, {}, 285]),
    stopCommand: 'systemctl stop unicorn.service',
    stopExit: 0,
    stopMs: 774,
    startExit: 0,
    startMs: 330,
    backMs: 1891,
    usr2Target: 'master 223',
    trackedAfterUsr2: 297,
    servingAfterUsr2: [297],
    usr2ToNewGenerationMs: 824,
  };

  it('is EXPECTED on what the runs showed', () => {
    expected(s, 'precise', precise);
    expected(s, 'bookworm', bookworm);
  });

  it('UNEXPECTED when stop + start cost nothing, or the USR2 cost something', () => {
    for (const [f, base] of [
      ['precise', precise],
      ['bookworm', bookworm],
    ] as const) {
      unexpected(
        s,
        f,
        { ...base, ...phases([BEFORE, 40, 40, {}, 213], [STOP_START, 298, 298, {}, 300], [USR2, 327, 327, {}, 378]) },
        'stop + start lost nothing',
      );
      unexpected(
        s,
        f,
        {
          ...base,
          ...phases(
            [BEFORE, 40, 40, {}, 213],
            [STOP_START, 298, 111, { 'http-502': 187 }, 1562],
            [USR2, 327, 320, { 'http-502': 7 }, 900],
          ),
        },
        'the USR2 lost requests',
      );
    }
  });

  it('UNEXPECTED when init does not follow the USR2', () => {
    unexpected(s, 'precise', { ...precise, trackedAfterUsr2: 1100 }, 'upstart tracks a master, not the wrapper');
    unexpected(
      s,
      'bookworm',
      { ...bookworm, trackedAfterUsr2: 223, servingAfterUsr2: [297] },
      'MainPID stayed on the old master',
    );
  });
});

describe('unicorn-bridge-traps', () => {
  const s = unicornBridgeTraps;
  const good = {
    ...phases(
      ['unicorn called by name', 8, 0, { timeout: 8 }, 6730],
      ['fix 1: export PATH in the script', 85, 85, {}, 40],
      ['bridge restarted, unicorn still running', 85, 85, {}, 64],
      ['unicorn stopped: nobody listens', 135, 0, { 'http-502': 135 }, 2697],
      ['fix 2: rm the socket file, restart the bridge', 85, 85, {}, 162],
      ['bundle exec --no-keep-file-descriptors (the old default)', 8, 0, { timeout: 8 }, 6710],
      ['bundle exec (bundler 2.3: fds kept)', 86, 86, {}, 99],
    ),
    checkerOnBareName: ["line 12: 'unicorn' is found through PATH, but a job started by `start on socket` ..."],
    checkerOnFixed: [],
    startsWhileBare: 5,
    jobWhileBare: 'stop/waiting',
    notFoundLines: 5,
    pathFixUpMs: 470,
    listenersBefore: ['59:upstart-socket-', '989:unicorn', '996:unicorn'],
    listenersAfterRestart: ['989:unicorn', '996:unicorn'],
    listenersWhenStranded: [],
    listenersAfterFix: ['1:init', '1262:upstart-socket-', '1270:unicorn'],
    socketFileWhenStranded: true,
    jobWhenStranded: 'stop/waiting',
    bridgeFixUpMs: 1514,
    socketEventsBeforeRestart: 70,
    socketEventsAfterRestart: 0,
    bundlerVersion: '2.3.7',
    checkerOnBundleJobs: [],
    startsWhileClosed: 2,
    jobWhileClosed: 'stop/waiting',
    ebadfLines: 2,
    deprecationLines: 2,
    bundleKeptUpMs: 749,
  };

  it('is EXPECTED on what the precise run showed', () => expected(s, 'precise', good));

  /** `good` with one phase's numbers replaced */
  const withPhase = (name: string, sent: number, ok: number, failures: string) => {
    const i = good.phaseNames.indexOf(name);
    const f = {
      ...good,
      phaseSent: [...good.phaseSent],
      phaseOk: [...good.phaseOk],
      phaseFailed: [...good.phaseFailed],
    };
    f.phaseSent[i] = sent;
    f.phaseOk[i] = ok;
    f.phaseFailed[i] = sent - ok;
    f.phaseWaited = [...good.phaseWaited];
    f.phaseWaited[i] = 0;
    f.phaseFailures = [...good.phaseFailures];
    f.phaseFailures[i] = failures;
    return f;
  };

  it('UNEXPECTED when the bare name worked, or the fix did not', () => {
    unexpected(s, 'precise', withPhase('unicorn called by name', 80, 80, ''), 'unicorn answered by name');
    unexpected(
      s,
      'precise',
      withPhase('fix 1: export PATH in the script', 85, 0, 'timeout=85'),
      'the PATH fix did not help',
    );
    unexpected(s, 'precise', { ...good, checkerOnBareName: [] }, 'the checker let it through');
    unexpected(s, 'precise', { ...good, jobWhileBare: 'start/running' }, 'the job ran');
  });

  it('UNEXPECTED when the restarted bridge kept the socket, or something listened once unicorn stopped', () => {
    unexpected(
      s,
      'precise',
      { ...good, listenersAfterRestart: ['1147:upstart-socket-', '989:unicorn'] },
      'the new bridge holds it',
    );
    unexpected(s, 'precise', { ...good, socketEventsAfterRestart: 12 }, 'socket events after the restart');
    unexpected(s, 'precise', { ...good, listenersWhenStranded: ['1147:upstart-socket-'] }, 'a listener while stranded');
    const answered = withPhase('unicorn stopped: nobody listens', 135, 135, '');
    unexpected(s, 'precise', answered, 'answered while stranded');
    unexpected(
      s,
      'precise',
      { ...good, listenersAfterFix: ['1270:unicorn'] },
      'the fix did not give the bridge its socket',
    );
  });

  it('UNEXPECTED when bundle exec kept the fd while told not to, or closed it by default', () => {
    const closed = 'bundle exec --no-keep-file-descriptors (the old default)';
    unexpected(s, 'precise', withPhase(closed, 85, 85, ''), 'unicorn adopted a closed fd');
    unexpected(s, 'precise', { ...good, ebadfLines: 0 }, 'unicorn never said Bad file descriptor');
    unexpected(s, 'precise', { ...good, startsWhileClosed: 1 }, 'no connection started the job again');
    const kept = 'bundle exec (bundler 2.3: fds kept)';
    unexpected(s, 'precise', withPhase(kept, 86, 0, 'timeout=86'), 'plain bundle exec closed the fd');
    unexpected(s, 'precise', { ...good, bundlerVersion: '2.1.4' }, 'a bundler that closes fds by default');
    unexpected(
      s,
      'precise',
      { ...good, checkerOnBundleJobs: ["line 12: 'bundle3.1' ..."] },
      'the checker refused a bundle job',
    );
  });

  it('writes bundle exec jobs the checker accepts, the old default asked for by its flag', () => {
    assert.deepEqual(checkJobFile(bundleExecJob(false), 'unicorn.conf'), []);
    assert.deepEqual(checkJobFile(bundleExecJob(true), 'unicorn.conf'), []);
    assert.match(bundleExecJob(false), /^ {4}exec bundle3\.1 exec --no-keep-file-descriptors unicorn /m);
    assert.match(bundleExecJob(true), /^ {4}exec bundle3\.1 exec unicorn /m);
    assert.ok(versionAtLeast('2.3.7', '2.2.26') && versionAtLeast('2.2.26', '2.2.26'));
    assert.ok(!versionAtLeast('2.2.25', '2.2.26') && !versionAtLeast('1.17.3', '2.2.26'));
  });
});
