// unicorn-herder-sleeps judged on synthetic facts shaped like its real runs: EXPECTED on what
// the runs showed, UNEXPECTED as soon as the fact a part is about is wrong; and its pure
// pieces (the herder's events, who is who among unicorn's processes, a handover read from
// the requests) on made-up input.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { summarize } from '../../lab/check/continuity';
import type { Flavour } from '../../lab/engine/flavour-images';
import { checkJobFile } from '../../lab/jobcheck';
import type { RequestRecord } from '../../lab/load/record';
import { CATALOGUE } from '../../lab/scenarios/catalogue';
import { expectationFor } from '../../lab/session/types';
import type { StretchFacts } from '../../lab/session/unicorn-common';
import {
  BOOT_SECONDS,
  RELOAD_LONG,
  RELOAD_SHORT,
  classifyProcs,
  defaultsLines,
  handover,
  medianGap,
  parseHerderEvents,
  servingPids,
  unicornHerderSleeps as scenario,
} from '../../lab/scenarios/unicorn-herder-sleeps';
import { phases } from '../support/stretch-facts';
import { ROOT } from '../support/root';

const CONF = join(ROOT, 'images/conf/unicorn/herder-sleeps');

type Facts = Parameters<typeof scenario.verdict>[0]['facts'];

const A = `(a) herder waits 5 s for a ${BOOT_SECONDS} s boot`;
const SHORT = `(b) reload: QUIT of the old master ${RELOAD_SHORT} s after USR2`;
const LONG = `(b) reload: QUIT of the old master ${RELOAD_LONG} s after USR2`;
const USR2 = '(c) unicorn-wrapper: USR2';

/** The parts every init shares, as a bookworm run under a heavy load showed them. */
function common(): Omit<Facts, keyof StretchFacts> {
  return {
    slowBootSeconds: BOOT_SECONDS,
    aGaveUpReason: 'boot-wait',
    aGaveUpMs: 5033,
    aPidFileMs: 1600,
    aFirstMaster: 320,
    aFirstMasterPpid: 0,
    aFirstMasterAlive: false,
    aFirstMasterTracked: false,
    aHerderStarts: 2,
    aStartEveryMs: null,
    aRefusedStarts: 0,
    aAdopted: 0,
    aRestarts: 1,
    aTracked: null,
    aTrackedIsHerder: false,
    aInitState: 'activating/auto',
    aMaxServing: 0,
    aOk: 0,
    aAnsweredByFirst: false,
    aStopCommand: 'systemctl stop unicorn.service',
    aStopExit: 0,
    aStopOutput: '',
    aFirstAliveAfterStop: false,
    aAnsweredByFirstAfterStop: false,
    aMastersAfterStop: 0,
    bHerder: 571,
    bReady: true,
    bPidFileMs: 8289,
    bDaemonizedMs: 30886,
    bShortQuitAfterMs: 7294,
    bShortHandoverMs: 20055,
    bLongQuitAfterMs: 31819,
    bLongHandoverMs: -3811,
    bLongOldAnswered: 160,
    bLongNewAnswered: 135,
    bLongMaxServing: 2,
    bTrackedAfter: 571,
    bMastersAfterStop: 0,
    cWrapper: 2033,
    cTrackedAfter: 2033,
    cFollowed: 1,
    cUpgradeFailed: 0,
    cQuitsForwarded: 0,
    cFollowedAfterMs: 23696,
    cOldExitAfterMs: 25219,
    cHandoverMs: 24,
    cOldGen: 1,
    cNewGen: 2,
  };
}

function bookwormRun(): Facts {
  return {
    ...phases(
      [A, 1699, 0, { 'http-502': 1699 }, 22543],
      [SHORT, 549, 525, { timeout: 24 }, 20055],
      [LONG, 1569, 1569, {}, 1060],
      [USR2, 1371, 1371, {}, 372],
    ),
    ...common(),
  };
}

function preciseRun(): Facts {
  return {
    ...phases(
      [A, 2400, 350, { 'http-502': 2050 }, 21000],
      [SHORT, 549, 525, { timeout: 24 }, 16000],
      [LONG, 1569, 1569, {}, 800],
      [USR2, 1371, 1371, {}, 300],
    ),
    ...common(),
    aFirstMaster: 320,
    aFirstMasterPpid: 1,
    aFirstMasterAlive: true,
    aHerderStarts: 17,
    aStartEveryMs: 955,
    aRefusedStarts: 15,
    aRestarts: 0,
    aTracked: 901,
    aTrackedIsHerder: true,
    aInitState: 'start/running',
    aMaxServing: 1,
    aOk: 350,
    aAnsweredByFirst: true,
    aStopCommand: 'initctl stop unicorn',
    aStopOutput: 'unicorn stop/waiting',
    aFirstAliveAfterStop: true,
    aAnsweredByFirstAfterStop: true,
    aMastersAfterStop: 1,
  };
}

function outcome(flavour: Flavour, facts: Facts): string {
  const v = scenario.verdict({ flavour, continuity: summarize([]), facts });
  return `${v.outcome}\n${v.reasons.join('\n')}`;
}
const expected = (flavour: Flavour, facts: Facts) => assert.match(outcome(flavour, facts), /^EXPECTED/);
const unexpected = (flavour: Flavour, facts: Facts, why: RegExp) => {
  const o = outcome(flavour, facts);
  assert.match(o, /^UNEXPECTED/);
  assert.match(o, why);
};

describe('unicorn-herder-sleeps: the verdict', () => {
  it('is EXPECTED on the runs as they went, on each init', () => {
    expected('bookworm', bookwormRun());
    expected('precise', preciseRun());
  });

  it('(a) fails when the first herder did not give up on its fixed wait', () => {
    unexpected(
      'bookworm',
      { ...bookwormRun(), aGaveUpReason: 'never', aGaveUpMs: null },
      /FAIL \(a\) the first herder/,
    );
    unexpected('precise', { ...preciseRun(), aAdopted: 1 }, /FAIL \(a\) herders that adopted a master/);
  });

  it('(a) on upstart fails when the master it left is stopped by initctl stop, or two masters serve', () => {
    unexpected('precise', { ...preciseRun(), aFirstAliveAfterStop: false }, /FAIL \(a\) after initctl stop/);
    unexpected('precise', { ...preciseRun(), aMaxServing: 2 }, /FAIL \(a\) masters with workers at once/);
    unexpected('precise', { ...preciseRun(), aFirstMasterPpid: 41 }, /FAIL \(a\) the master the first herder left/);
    unexpected('precise', { ...preciseRun(), aHerderStarts: 1 }, /FAIL \(a\) herders upstart started/);
    // the respawn limit stopping the job is the same finding; upstart holding the master is not
    expected('precise', {
      ...preciseRun(),
      aTracked: null,
      aTrackedIsHerder: false,
      aInitState: 'stop/waiting',
      aHerderStarts: 18,
    });
    unexpected(
      'precise',
      { ...preciseRun(), aTracked: null, aTrackedIsHerder: false, aInitState: 'stop/waiting', aHerderStarts: 3 },
      /FAIL \(a\) upstart tracks/,
    );
    unexpected(
      'precise',
      { ...preciseRun(), aTracked: 819, aTrackedIsHerder: false, aFirstMasterTracked: true },
      /FAIL \(a\) upstart tracks/,
    );
  });

  it('(a) on systemd fails when the unit is not restarted or the master outlives the herder', () => {
    unexpected('bookworm', { ...bookwormRun(), aRestarts: 0 }, /FAIL \(a\) systemd restarts/);
    unexpected(
      'bookworm',
      { ...bookwormRun(), aFirstMasterAlive: true },
      /FAIL \(a\) the master the first herder left/,
    );
    unexpected('bookworm', { ...bookwormRun(), aOk: 12 }, /FAIL \(a\) requests answered 200/);
  });

  it('(b) fails without the gap, without the overlap, or when the pid file came with the launcher', () => {
    unexpected(
      'bookworm',
      { ...bookwormRun(), bShortHandoverMs: 300 },
      new RegExp(`FAIL \\(b\\) wait ${RELOAD_SHORT} s: from the old`),
    );
    unexpected(
      'bookworm',
      { ...bookwormRun(), bLongHandoverMs: 200 },
      new RegExp(`FAIL \\(b\\) wait ${RELOAD_LONG} s: both generations`),
    );
    unexpected(
      'bookworm',
      { ...bookwormRun(), bLongMaxServing: 1 },
      new RegExp(`FAIL \\(b\\) wait ${RELOAD_LONG} s: both generations`),
    );
    unexpected('bookworm', { ...bookwormRun(), bPidFileMs: 30000 }, /FAIL \(b\) unicorn's pid file/);
    const noFailure = phases(
      [A, 1699, 0, { 'http-502': 1699 }, 22543],
      [SHORT, 549, 549, {}, 20055],
      [LONG, 1569, 1569, {}, 1060],
      [USR2, 1371, 1371, {}, 372],
    );
    unexpected(
      'bookworm',
      { ...bookwormRun(), ...noFailure },
      new RegExp(`FAIL \\(b\\) wait ${RELOAD_SHORT} s: failed requests`),
    );
  });

  it('(c) fails on one failed request, an early QUIT of the old master, or a QUIT by the wrapper', () => {
    const lost = phases(
      [A, 1699, 0, { 'http-502': 1699 }, 22543],
      [SHORT, 549, 525, { timeout: 24 }, 20055],
      [LONG, 1569, 1569, {}, 1060],
      [USR2, 1371, 1370, { 'http-502': 1 }, 372],
    );
    unexpected('bookworm', { ...bookwormRun(), ...lost }, /FAIL \(c\) unicorn-wrapper: USR2: failed requests/);
    unexpected('precise', { ...preciseRun(), cOldExitAfterMs: 1200 }, /FAIL \(c\) the old master exits/);
    unexpected('precise', { ...preciseRun(), cQuitsForwarded: 1 }, /FAIL \(c\) QUITs the wrapper sent/);
    unexpected('precise', { ...preciseRun(), cHandoverMs: 4000 }, /FAIL \(c\) from the old generation/);
    unexpected('precise', { ...preciseRun(), cTrackedAfter: 4242 }, /FAIL \(c\) init tracks the wrapper/);
  });
});

describe('unicorn-herder-sleeps: what it reads', () => {
  it("parses the herder's lines from a journal or an upstart log (a pty: \\r\\n)", () => {
    const text = [
      'Nov 30 04:47:37 host sleepy-herder[262]: sleepy-herder ts=1796014057048 pid=262 event=start launcher=270 boot_wait=5',
      'master failed to start, check stderr log for details',
      'sleepy-herder ts=1796014064157 pid=262 event=gave-up reason=boot-wait waited=5 master=320',
    ].join('\r\n');
    const ev = parseHerderEvents(text);
    assert.deepEqual(
      ev.map((e) => [e.at, e.pid, e.event]),
      [
        [1796014057048, 262, 'start'],
        [1796014064157, 262, 'gave-up'],
      ],
    );
    assert.deepEqual(ev[1].fields, { reason: 'boot-wait', waited: '5', master: '320' });
  });

  it('tells herders, launchers, masters (loading or serving), workers and the wrapper apart', () => {
    const text = [
      '100 S 1 /bin/sh /usr/local/bin/sleepy-herder /var/run/unicorn/unicorn.pid /usr/bin/unicorn -E production -l x.sock config.ru',
      '101 S 100 /usr/bin/ruby3.1 /usr/bin/unicorn -D -E production -l x.sock config.ru',
      '102 S 101 /usr/bin/ruby3.1 /usr/bin/unicorn -D -E production -l x.sock config.ru',
      '110 S 1 /usr/bin/ruby3.1 /usr/bin/unicorn -D -E production -l x.sock config.ru',
      '120 S 1 unicorn master -D -E production -l x.sock config.ru',
      '121 S 120 unicorn worker[0] -D -E production -l x.sock config.ru',
      '122 Z 120 [unicorn] <defunct>',
      '130 S 1 /opt/phoenix/runtime/bin/node /opt/phoenix/app/dist/src/unicorn-wrapper/cli.js --pid p -- /usr/bin/unicorn -c u.rb',
      '140 S 0 /bin/sh -c for f in $(grep -ls unicorn /proc/[0-9]*/cmdline 2>/dev/null); do',
    ].join('\n');
    const p = classifyProcs(text);
    assert.deepEqual(p.herders, [100]);
    assert.deepEqual(p.launchers, [101]);
    assert.deepEqual(p.wrappers, [130]);
    assert.deepEqual(
      p.masters.map((m) => m.pid),
      [110, 120],
    );
    assert.deepEqual(p.workers, [{ pid: 121, master: 120 }]);
    assert.deepEqual(servingPids(p), [120]);
  });

  it('reads a gap and an overlap from the requests', () => {
    const rec = (start: number, end: number, generation?: number, error?: RequestRecord['error']): RequestRecord => ({
      start,
      end,
      path: '/',
      status: error ? undefined : 200,
      generation,
      error,
    });
    const gap = [rec(0, 10, 1), rec(100, 110, 1), rec(120, 5120, undefined, 'timeout'), rec(15000, 15010, 2)];
    assert.deepEqual(handover(gap, 0, 20_000, 1, 2), {
      lastOld: 110,
      firstNew: 15010,
      handoverMs: 14900,
      oldDuringOverlap: 0,
      newDuringOverlap: 0,
    });
    const both = [rec(0, 10, 1), rec(1000, 1010, 2), rec(1500, 1510, 1), rec(2000, 2010, 2), rec(3000, 3010, 1)];
    const o = handover(both, 0, 5000, 1, 2);
    assert.equal(o.handoverMs, -2000);
    assert.equal(o.oldDuringOverlap, 2);
    assert.equal(o.newDuringOverlap, 2);
    assert.equal(handover(both, 0, 5000, 3, 4).handoverMs, null);
  });

  it('takes the median gap between starts', () => {
    assert.equal(medianGap([5000, 0, 6200, 7300]), 1200);
    assert.equal(medianGap([1]), null);
  });

  it("writes the herder's two waits as sh assignments", () => {
    assert.deepEqual(defaultsLines(60, 5).slice(1), ['BOOT_WAIT=60', 'RELOAD_WAIT=5']);
    assert.ok(
      defaultsLines(60, 5).every((l) => !l.includes("'")),
      'the lines go inside single quotes',
    );
  });
});

describe('unicorn-herder-sleeps: the scenario and its files', () => {
  it('is in the catalogue, for unicorn, in its group, after unicorn-bridge-traps', () => {
    const names = CATALOGUE.map((s) => s.name);
    assert.ok(names.indexOf(scenario.name) > names.indexOf('unicorn-bridge-traps'));
    assert.equal(scenario.server, 'unicorn');
    assert.equal(scenario.group, 'unicorn in production');
  });

  it('tells its story in two sentences and expects something on each init', () => {
    const sentences = scenario.story.split(/(?<=[.!?])\s+(?=[A-Z`])/);
    assert.equal(sentences.length, 2, sentences.join(' | '));
    for (const f of ['precise', 'bookworm'] as const)
      assert.equal(expectationFor(scenario, f, 'unicorn').applicable, true);
  });

  it('boots the herder, the slow app and its boot time, and no phoenix', () => {
    for (const f of ['precise', 'bookworm'] as const) {
      const b = scenario.boot(f, 'unicorn');
      assert.equal(b.activatesServer, true);
      assert.equal(b.files?.['/opt/unicorn/app/boot-seconds'], `${BOOT_SECONDS}\n`);
      assert.ok(b.files?.['/usr/local/bin/sleepy-herder']?.startsWith('#!/bin/sh'));
      assert.match(b.shell?.join('\n') ?? '', /cp \/opt\/unicorn\/app\/config\.ru \/opt\/unicorn\/app\/demo\.ru/);
    }
    assert.match(scenario.boot('precise', 'unicorn').files?.['/etc/init/unicorn.conf'] ?? '', /^respawn$/m);
    assert.match(
      scenario.boot('bookworm', 'unicorn').files?.['/etc/systemd/system/unicorn.service'] ?? '',
      /^KillMode=mixed$/m,
    );
  });

  it('ships an executable herder and a job the upstart 1.5 checker takes, started by nobody but the lab', () => {
    assert.ok((statSync(join(CONF, 'bin/sleepy-herder')).mode & 0o111) !== 0, 'chmod +x sleepy-herder');
    const job = readFileSync(join(CONF, 'upstart/unicorn-herder.conf'), 'utf8');
    assert.deepEqual(
      checkJobFile(job, 'unicorn.conf').filter((p) => p.severity === 'error'),
      [],
    );
    assert.doesNotMatch(job, /^start on/m);
    assert.match(job, /^env UNICORN_QUIT_OLDBIN=0$/m);
    const unit = readFileSync(join(CONF, 'systemd/unicorn-herder.service'), 'utf8');
    assert.match(unit, /^Environment=UNICORN_QUIT_OLDBIN=0$/m);
    assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
  });
});

// ---------------------------------------------------------------------------------------------
// The herder itself, against a stand-in for `unicorn -D`: a launcher that returns FAKE_BOOT_MS
// after the master's pid file appears, and a master (in its own session) that writes UNICORN_PID at once, re-executes
// on USR2 (pid file to .oldbin, a new master writes it) and exits on QUIT/TERM/INT.

const HERDER = join(CONF, 'bin/sleepy-herder');
const FAKE_UNICORN = `
const fs = require('fs');
const { spawn } = require('child_process');
const pidfile = process.env.UNICORN_PID;
const log = (m) => fs.appendFileSync(process.env.FAKE_LOG, process.pid + ' ' + m + '\\n');
const master = () => spawn(process.execPath, [__filename], {
  detached: true, stdio: 'ignore', env: { ...process.env, FAKE_MASTER: '1' },
}).unref();
if (!process.env.FAKE_MASTER) {
  // unicorn's launcher returns once the master reaches join: after its pid file and its boot.
  master();
  const wait = setInterval(() => {
    if (!fs.existsSync(pidfile)) return;
    clearInterval(wait);
    setTimeout(() => process.exit(0), Number(process.env.FAKE_BOOT_MS));
  }, 20);
} else {
  fs.writeFileSync(pidfile, process.pid + '\\n');
  log('up');
  process.on('SIGUSR2', () => { fs.renameSync(pidfile, pidfile + '.oldbin'); log('USR2'); master(); });
  for (const s of ['SIGQUIT', 'SIGTERM', 'SIGINT']) process.on(s, () => {
    log(s);
    for (const f of [pidfile, pidfile + '.oldbin']) {
      try { if (fs.readFileSync(f, 'utf8').trim() === String(process.pid)) fs.unlinkSync(f); } catch {}
    }
    process.exit(0);
  });
  setInterval(() => {}, 1000);
}
`;

const temps: string[] = [];
const started: number[] = [];
after(() => {
  for (const pid of started)
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

interface Herd {
  herder: ChildProcess;
  dir: string;
  pidfile: string;
  stderr: () => string;
  log: () => string;
  exit: Promise<number | null>;
}

function herd(bootMs: number, bootWait: number, reloadWait: number): Herd {
  const dir = mkdtempSync(join(tmpdir(), 'sleepy-herder-'));
  temps.push(dir);
  writeFileSync(join(dir, 'fake.js'), FAKE_UNICORN);
  // The herder runs `PROGRAM -D ARGS`: a shell script, as /usr/bin/unicorn is a script.
  writeFileSync(join(dir, 'unicorn'), `#!/bin/sh\nexec ${process.execPath} ${join(dir, 'fake.js')} "$@"\n`, {
    mode: 0o755,
  });
  writeFileSync(join(dir, 'defaults'), `BOOT_WAIT=${bootWait}\nRELOAD_WAIT=${reloadWait}\n`);
  const pidfile = join(dir, 'unicorn.pid');
  const env = {
    ...process.env,
    SLEEPY_HERDER_DEFAULTS: join(dir, 'defaults'),
    UNICORN_PID: pidfile,
    FAKE_BOOT_MS: String(bootMs),
    FAKE_LOG: join(dir, 'fake.log'),
  };
  // Its own process group, as init gives a job.
  const herder = spawn(HERDER, [pidfile, join(dir, 'unicorn'), '-c', 'unicorn.rb'], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env,
  });
  let err = '';
  herder.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const exit = new Promise<number | null>((done) => herder.once('exit', (code) => done(code)));
  return {
    herder,
    dir,
    pidfile,
    stderr: () => err,
    log: () => (existsSync(env.FAKE_LOG) ? readFileSync(env.FAKE_LOG, 'utf8') : ''),
    exit,
  };
}

async function until(check: () => boolean, what: string, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const pidIn = (f: string) => (existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) || 0 : 0);
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};
const events = (h: Herd) => parseHerderEvents(h.stderr()).map((e) => e.event);

describe('sleepy-herder (images/conf/unicorn/herder-sleeps/bin)', () => {
  it('passes sh -n', () => {
    const r = spawnSync('sh', ['-n', HERDER], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });

  it('gives up after its fixed wait, exits 1, and leaves the master it started running', async () => {
    const h = herd(6000, 2, 1);
    assert.equal(await h.exit, 1, h.stderr());
    assert.deepEqual(
      events(h).filter((e) => e !== 'pid-file'),
      ['start', 'gave-up'],
    );
    assert.match(h.stderr(), /event=gave-up reason=boot-wait waited=2 /);
    // On a busy machine node may start the master after the herder gave up: wait for its pid file.
    await until(() => pidIn(h.pidfile) > 0, 'the master to write its pid file');
    const master = pidIn(h.pidfile);
    started.push(master);
    assert.ok(alive(master), 'the master outlives the herder that gave up on it');
    process.kill(master, 'SIGQUIT');
  });

  it('adopts a boot within its wait; on HUP: USR2, the fixed wait, QUIT to the old master; exits 0 on QUIT', async () => {
    const h = herd(200, 5, 1);
    try {
      await until(() => events(h).includes('ready'), 'the herder to adopt the master');
      const first = pidIn(h.pidfile);
      started.push(first);
      process.kill(h.herder.pid ?? 0, 'SIGHUP');
      await until(() => events(h).includes('quit-old'), 'the QUIT of the old master');
      const second = pidIn(h.pidfile);
      started.push(second);
      assert.notEqual(second, first);
      const ev = parseHerderEvents(h.stderr());
      const usr2 = ev.find((e) => e.event === 'usr2');
      const quit = ev.find((e) => e.event === 'quit-old');
      assert.ok(usr2 && quit);
      assert.ok(quit.at - usr2.at >= 1000, `QUIT ${quit.at - usr2.at} ms after USR2: the fixed wait is 1 s`);
      assert.equal(quit.fields.old, String(first));
      await until(() => h.log().includes(`${first} SIGQUIT`), 'the old master to get QUIT');
      process.kill(h.herder.pid ?? 0, 'SIGQUIT');
      assert.equal(await h.exit, 0, h.stderr());
      assert.ok(h.log().includes(`${second} SIGQUIT`), 'the stop reached the new master');
    } finally {
      try {
        // Never kill(0): with no pid that would be this test runner's own process group.
        if (h.herder.pid !== undefined) process.kill(-h.herder.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
});

// The unit as the scenario installs it (unicorn.service), with the herder's path on this host.
describe('unicorn-herder.service', () => {
  const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
  const skip = analyze === undefined ? 'systemd-analyze is not installed' : false;
  it('passes systemd-analyze verify with no complaint', { skip }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'herder-unit-'));
    temps.push(dir);
    const text = readFileSync(join(CONF, 'systemd/unicorn-herder.service'), 'utf8');
    writeFileSync(join(dir, 'unicorn.service'), text.replaceAll('/usr/local/bin/sleepy-herder', HERDER));
    const r = spawnSync(analyze ?? 'systemd-analyze', ['verify', join(dir, 'unicorn.service')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(`${r.stdout}${r.stderr}`.trim(), '');
  });
});
