/**
 * The generic scenarios' unicorn cells: the same run, one table per server. These verdicts
 * are judged on facts shaped like the lab's runs, and each test fails when the table's
 * difference between the servers is lost.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarize } from '../../lab/check/continuity';
import { mergeBoot } from '../../lab/engine/boot-spec';
import { driverFor } from '../../lab/flavours';
import type { LabStatus } from '../../lab/inspect';
import { CATALOGUE } from '../../lab/scenarios/catalogue';
import { masterKilled, masterKilledRespawn } from '../../lab/scenarios/master-killed';
import { socketPermissions } from '../../lab/scenarios/socket-permissions';
import { workerTimeout } from '../../lab/scenarios/worker-timeout';
import { phoenix } from '../../lab/servers/phoenix';
import { unicorn } from '../../lab/servers/unicorn';
import type { KillFacts } from '../../lab/session/kill-watch';
import { trackedServingMaster } from '../../lab/session/observe';
import { expectationFor } from '../../lab/session/types';

const seen = <F>(flavour: 'precise' | 'bookworm', server: 'phoenix' | 'unicorn', facts: F) => ({
  flavour,
  server,
  continuity: summarize([]),
  facts,
});

/** A status as the probe reads it: init tracks `tracked`; `masters` with worker counts; a wrapper maybe. */
function status(o: {
  tracked?: number;
  wrapper?: number;
  pidFile?: number;
  masters: Array<[number, number]>;
}): LabStatus {
  return {
    init: { name: 'upstart 1.5', trackedPid: o.tracked, status: '' },
    pidFile: o.pidFile,
    masters: o.masters.map(([pid]) => ({ pid, ppid: o.wrapper ?? 1, trackedByInit: pid === o.tracked })),
    herders: o.wrapper ? [{ pid: o.wrapper, trackedByInit: o.wrapper === o.tracked }] : [],
    workers: o.masters.flatMap(([pid, n]) =>
      Array.from({ length: n }, (_, slot) => ({ pid: pid + 1 + slot, master: pid, generation: 1, slot })),
    ),
    nginx: [],
  };
}

describe('trackedServingMaster: the master that serves for what init tracks', () => {
  it('is the tracked master itself when it has workers (phoenix)', () => {
    assert.equal(trackedServingMaster(status({ tracked: 50, masters: [[50, 2]] })), 50);
  });
  it("is the pid file's master behind a tracked wrapper (unicorn-wrapper)", () => {
    assert.equal(trackedServingMaster(status({ tracked: 40, wrapper: 40, pidFile: 60, masters: [[60, 2]] })), 60);
  });
  it('is nothing while that master has no workers yet, or init tracks something else', () => {
    assert.equal(
      trackedServingMaster(status({ tracked: 40, wrapper: 40, pidFile: 60, masters: [[60, 0]] })),
      undefined,
    );
    assert.equal(
      trackedServingMaster(status({ tracked: 99, wrapper: 40, pidFile: 60, masters: [[60, 2]] })),
      undefined,
    );
    assert.equal(trackedServingMaster(status({ masters: [[60, 2]] })), undefined);
  });
});

describe('each server reads its own worker timeouts', () => {
  it("unicorn: one per 'timeout (..), killing' line of its master's log", () => {
    const log = [
      'E, [2026-12-06T08:40:01.1 #12] ERROR -- : worker=0 PID:31 timeout (4s > 3s), killing',
      'E, [2026-12-06T08:40:01.2 #12] ERROR -- : reaped #<Process::Status: pid 31 SIGKILL (signal 9)> worker=0',
      'I, [2026-12-06T08:40:01.3 #33]  INFO -- : worker=0 ready',
    ].join('\n');
    assert.equal(unicorn.workerTimeouts(log), 1);
    assert.equal(unicorn.workerTimeouts(''), 0);
  });
  it('phoenix: its worker-timeout events only', () => {
    const log =
      'phoenix ts=2026-12-06T08:40:01.000Z pid=12 role=master event=worker-timeout worker=0\n' +
      'phoenix ts=2026-12-06T08:40:01.100Z pid=12 role=master event=worker-exit worker=0\n';
    assert.equal(phoenix.workerTimeouts(log), 1);
  });
});

const KILL: KillFacts = {
  killedPid: 60,
  trackedBefore: 40,
  trackedAfter: 40,
  initRightAfter: 'start/running',
  initTracksAgainMs: 1900,
  newWorkerAnsweredMs: 1700,
  failedAfterKill: 0,
  failuresAfterKill: 'none',
  socketAfter: 'root:www-data 0660',
  badInheritedFd: 0,
  mastersStarted: 0,
  jobStartsAfterKill: 0,
  jobRunsFailedAfterKill: 0,
  jobFailedStatuses: 'none',
  socketEvents: 300,
  probes: 30,
  probesOk: 30,
  systemdRestarts: 0,
  initStateAfter: '',
  samples: [],
};

describe('master-killed on unicorn: the wrapper restarts the master, init sees nothing', () => {
  it('EXPECTED when init kept the same wrapper and a new master served', () => {
    for (const flavour of ['precise', 'bookworm'] as const) {
      const facts = { ...KILL, initRightAfter: flavour === 'precise' ? 'start/running' : 'active/running' };
      const v = masterKilled.verdict(seen(flavour, 'unicorn', facts));
      assert.equal(v.outcome, 'EXPECTED', `${flavour}: ${v.reasons.join('\n')}`);
    }
  });
  it('UNEXPECTED when init had to start a new process (the wrapper did not keep the job)', () => {
    const v = masterKilled.verdict(seen('precise', 'unicorn', { ...KILL, trackedAfter: 77 }));
    assert.equal(v.outcome, 'UNEXPECTED');
    assert.ok(v.checks.some((c) => !c.ok && /same process/.test(c.what)));
  });
  it('UNEXPECTED on systemd when systemd restarted the service: what phoenix expects is a failure here', () => {
    const facts = { ...KILL, initRightAfter: 'active/running', systemdRestarts: 1 };
    assert.equal(masterKilled.verdict(seen('bookworm', 'unicorn', facts)).outcome, 'UNEXPECTED');
    assert.equal(masterKilled.verdict(seen('bookworm', 'phoenix', facts)).outcome, 'EXPECTED');
  });
});

describe("master-killed-respawn on unicorn: the seed's job with respawn", () => {
  it("boots the seed's job with respawn written over the one unicorn's activation copied, and the job-events task", () => {
    const b = masterKilledRespawn.boot('precise', 'unicorn');
    assert.equal(b.activatesServer, true);
    const shell = b.shell ?? [];
    const cp = shell.findIndex((l) => l.includes('unicorn-seed-poc.conf /etc/init/unicorn.conf'));
    const over = shell.findIndex((l) => l.endsWith("> '/etc/init/unicorn.conf'"));
    assert.ok(cp >= 0 && over > cp, shell.join('\n'));
    const job = Buffer.from(/'([^']+)'/.exec(shell[over])?.[1] ?? '', 'base64').toString();
    assert.match(job, /^respawn$/m);
    assert.match(job, /UNICORN_FD="\$UPSTART_FDS"/);
    assert.ok(b.files?.['/etc/init/lab-job-events.conf']);
  });
  const facts = { ...KILL, killedPid: 120, trackedBefore: 120, initTracksAgainMs: 9000, mastersStarted: 0 };
  it("EXPECTED on upstart's own record: respawned runs that failed, then a start that serves", () => {
    const f = { ...facts, jobStartsAfterKill: 12, jobRunsFailedAfterKill: 10, jobFailedStatuses: '1' };
    const v = masterKilledRespawn.verdict(seen('precise', 'unicorn', f));
    assert.equal(v.outcome, 'EXPECTED', v.reasons.join('\n'));
  });
  it('UNEXPECTED when upstart never started the job again after the kill', () => {
    const v = masterKilledRespawn.verdict(seen('precise', 'unicorn', facts));
    assert.equal(v.outcome, 'UNEXPECTED');
    assert.deepEqual(
      v.checks.filter((c) => !c.ok).map((c) => c.what),
      ['respawned masters'],
    );
  });
});

describe('worker-timeout: each server with its own timeout', () => {
  const facts = (blockMs: number, timeoutS: number) => ({
    timeoutS,
    blockStatus: 'http-502',
    blockMs,
    timeouts: 1,
    otherFailures: 0,
    trackedBefore: 40,
    trackedAfter: 40,
  });
  it("a 502 after 5 s is unicorn's timeout 3 s (whole-second checks), not phoenix's 2 s", () => {
    assert.equal(workerTimeout.verdict(seen('precise', 'unicorn', facts(5000, 3))).outcome, 'EXPECTED');
    assert.equal(workerTimeout.verdict(seen('precise', 'phoenix', facts(5000, 2))).outcome, 'UNEXPECTED');
  });
  it('unicorn gets UNICORN_TIMEOUT=3 in its job (unicorn refuses less), phoenix --timeout 2', () => {
    const b = workerTimeout.boot('precise', 'unicorn');
    assert.match(b.shell?.join('\n') ?? '', /UNICORN_TIMEOUT=3/);
    assert.match(Object.values(workerTimeout.boot('precise', 'phoenix').files ?? {}).join(''), /--timeout 2\b/);
  });
});

describe('socket-permissions on unicorn', () => {
  const PHASES = ['broken', 'fix: chmod', 'broken again', 'fix: nginx as root', 'broken once more'];
  const base = {
    phaseNames: [...PHASES, 'fix: socket made for www-data'],
    phaseSent: [10, 10, 10, 10, 10, 10],
    phaseOk: [0, 10, 0, 10, 0, 10],
    phaseFailed: [10, 0, 10, 0, 10, 0],
    phaseFailure: ['http-502', '', 'http-502', '', 'http-502', ''],
    socketAtBoot: 'root:root 755',
  };
  it("judges the last fix by the socket each server's own-socket job makes", () => {
    const uni = { ...base, socketAfterOwnSocket: 'root:root 777' };
    assert.equal(socketPermissions.verdict(seen('precise', 'unicorn', uni)).outcome, 'EXPECTED');
    assert.equal(socketPermissions.verdict(seen('precise', 'phoenix', uni)).outcome, 'UNEXPECTED');
  });
  it("bookworm: the 0755 socket unit is written after unicorn's activation copied the shipped one", () => {
    const boot = mergeBoot(unicorn.activate(driverFor('bookworm')), socketPermissions.boot('bookworm', 'unicorn'));
    const shell = boot.shell ?? [];
    const cp = shell.findIndex((l) => l.includes('unicorn.socket /etc/systemd/system/'));
    const edit = shell.findIndex((l) => l.endsWith("> '/etc/systemd/system/unicorn.socket'"));
    assert.ok(cp >= 0 && edit > cp, shell.join('\n'));
    const text = Buffer.from(/'([^']+)'/.exec(shell[edit])?.[1] ?? '', 'base64').toString();
    assert.match(text, /^SocketMode=0755$/m);
    assert.match(text, /^SocketGroup=root$/m);
  });
});

describe('the generic scenarios on unicorn', () => {
  const GENERIC = [
    'master-killed',
    'worker-killed',
    'worker-timeout',
    'initctl-restart',
    'initctl-stop-start',
    'socket-permissions',
    'nginx-reload',
    'slow-requests',
    'container-restart',
    'reload-configuration',
    'boot-socket-mode',
  ];
  it('run on unicorn on both inits, with an expectation of their own', () => {
    for (const name of GENERIC) {
      const s = CATALOGUE.find((x) => x.name === name);
      assert.ok(s, name);
      for (const f of ['precise', 'bookworm'] as const) {
        const e = expectationFor(s, f, 'unicorn');
        const home = expectationFor(s, f, 'phoenix');
        assert.ok(e.applicable && home.applicable, `${name} on ${f}`);
        assert.notEqual(e.expect, home.expect, `${name} on ${f}: unicorn's own words`);
      }
    }
  });
  it('the others say why not, naming where unicorn shows the same failure', () => {
    for (const s of CATALOGUE.filter((x) => !GENERIC.includes(x.name) && (x.server ?? 'phoenix') === 'phoenix')) {
      for (const f of ['precise', 'bookworm'] as const) {
        const e = expectationFor(s, f, 'unicorn');
        if (e.applicable) continue;
        assert.doesNotMatch(
          e.reason,
          /has no unicorn counterpart in the lab/,
          `${s.name} on ${f}: a reason of its own`,
        );
      }
    }
  });
});
