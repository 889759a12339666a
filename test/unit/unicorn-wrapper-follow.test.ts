import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Fields } from '../../src/events';
import { type FollowConfig, Follower, type Outcome } from '../../src/unicorn-wrapper/follow';
import { route } from '../../src/unicorn-wrapper/forward';
import type { WrapperOs } from '../../src/unicorn-wrapper/os';

/**
 * The follow rules without processes: a scripted OS (pid files, a process table with parents
 * and zombies, a clock) stands in for the real one, as tableflip tests its upgrader.
 */
/** Pid files whose identity changes with each write (unicorn renames its pid file to .oldbin and back: the ctime moves). */
class PidFiles extends Map<string, number> {
  private writes = 0;
  readonly ids = new Map<string, number>();
  override set(file: string, pid: number): this {
    this.ids?.set(file, ++this.writes);
    return super.set(file, pid);
  }
  override delete(file: string): boolean {
    this.ids.delete(file);
    return super.delete(file);
  }
}

class FakeOs implements WrapperOs {
  t = 0;
  readonly files = new PidFiles();
  fileId = (f: string) => (this.files.has(f) ? String(this.files.ids.get(f)) : undefined);
  readonly procs = new Map<number, { ppid: number; zombie?: boolean }>();
  readonly sent: [number, NodeJS.Signals][] = [];
  failReadPid: string | undefined;
  now = () => this.t;
  readPid = (f: string) => {
    if (this.failReadPid) throw new Error(this.failReadPid);
    return this.files.get(f);
  };
  isAlive = (p: number) => {
    const x = this.procs.get(p);
    return x !== undefined && !x.zombie;
  };
  childrenOf = (p: number) => [...this.procs].filter(([, v]) => v.ppid === p && !v.zombie).map(([k]) => k);
  kill = (p: number, s: NodeJS.Signals) => {
    if (!this.procs.has(p)) throw Object.assign(new Error(`kill ESRCH ${p}`), { code: 'ESRCH' });
    this.sent.push([p, s]);
  };
  removePidFile = (f: string, p: number) => {
    if (this.files.get(f) === p) this.files.delete(f);
  };
  /** pids startMaster hands out, in order; the wrapper's restarts */
  nextPids: number[] = [];
  started: number[] = [];
  failStart: string | undefined;
  startMaster = () => {
    if (this.failStart) throw new Error(this.failStart);
    const pid = this.nextPids.shift() ?? 900 + this.started.length;
    this.started.push(pid);
    this.spawn(pid, 0);
    return pid;
  };
  /** undefined: the wrapper does not lead its session (a test runner's group) */
  group: number[] | undefined;
  processGroup = () => this.group?.filter((p) => this.isAlive(p));
  spawn(pid: number, ppid: number): void {
    this.procs.set(pid, { ppid });
  }
  die(pid: number): void {
    this.procs.delete(pid);
    // unicorn workers notice their master is gone; here they go with it unless a test keeps them
  }
  signalsTo(pid: number): NodeJS.Signals[] {
    return this.sent.filter(([p]) => p === pid).map(([, s]) => s);
  }
}

const PID = '/run/u.pid';
const OLDBIN = `${PID}.oldbin`;
const CHILD = 100;
const cfg: FollowConfig = {
  pidFile: PID,
  pidTimeoutMs: 5000,
  killGraceMs: 1000,
  name: 'unicorn',
  readyTimeoutMs: 60_000,
  stopTimeoutMs: 30_000,
  restart: { max: 5, windowMs: 30_000 },
};

function setup(over: Partial<FollowConfig> = {}) {
  const os = new FakeOs();
  const events: (Fields & { event: string })[] = [];
  os.spawn(CHILD, 1);
  const f = new Follower(os, { ...cfg, ...over }, (event, fields = {}) => events.push({ event, ...fields }), CHILD);
  const named = (e: string) => events.filter((x) => x.event === e);
  /** passes until an outcome or `n` passes, the clock moving `dt` ms each time */
  const run = (n = 1, dt = 20): Outcome | undefined => {
    for (let i = 0; i < n; i++) {
      os.t += dt;
      const out = f.pass();
      if (out) return out;
    }
    return undefined;
  };
  return { os, f, events, named, run };
}

/** A first master that wrote its pid file and has two workers. */
function ready(over: Partial<FollowConfig> = {}) {
  const s = setup(over);
  s.os.files.set(PID, CHILD);
  s.os.spawn(101, CHILD);
  s.os.spawn(102, CHILD);
  assert.equal(s.run(), undefined);
  assert.equal(s.named('ready').length, 1);
  return s;
}

/** unicorn's USR2: PIDFILE -> .oldbin, a new master (child of the old) writes PIDFILE. */
function reexec(os: FakeOs, old: number, next: number): void {
  os.files.delete(PID);
  os.files.set(OLDBIN, old);
  os.spawn(next, old);
  os.files.set(PID, next);
}

describe('unicorn-wrapper follow rules', () => {
  test('ready only once the pid file names a live master that has workers', () => {
    const { os, run, named } = setup();
    assert.equal(run(3), undefined);
    assert.equal(named('ready').length, 0, 'no pid file yet');
    os.files.set(PID, CHILD);
    assert.equal(run(3), undefined);
    assert.equal(named('ready').length, 0, 'pid file but no workers: unicorn is still loading the app');
    os.spawn(101, CHILD);
    run();
    assert.equal(named('ready').length, 1);
    assert.equal(named('ready')[0].master, CHILD);
  });

  test('the first master exits while loading: start-failed 70, its stale pid file removed', () => {
    const { os, f, run } = setup();
    os.files.set(PID, CHILD);
    run();
    os.die(CHILD);
    f.childExited(CHILD, 1, null);
    const out = run();
    assert.equal(out?.code, 70);
    assert.equal(out?.event, 'start-failed');
    assert.equal(out?.reason, 'unicorn-exited');
    assert.match(out!.message!, /unicorn \(pid 100\) exited with status 1 before it served/);
    assert.equal(os.files.has(PID), false);
  });

  test('before its pid file, unicorn gets stops only: another signal would kill it (no handlers yet)', () => {
    const { os, f, run, named } = setup();
    f.enqueue('SIGHUP');
    run();
    assert.deepEqual(os.signalsTo(CHILD), []);
    assert.match(String(named('signal-refused')[0].reason), /has not written its pid file yet/);
    os.files.set(PID, CHILD);
    f.enqueue('SIGHUP');
    run();
    assert.deepEqual(os.signalsTo(CHILD), ['SIGHUP'], 'once the pid file is there, it is passed on');
  });

  test('a stop asked before the first master served ends with 0', () => {
    const { os, f, run, named } = setup();
    f.enqueue('SIGTERM');
    run();
    assert.deepEqual(os.signalsTo(CHILD), ['SIGTERM']);
    assert.equal(named('stopping').length, 1);
    os.die(CHILD);
    f.childExited(CHILD, 0, null);
    assert.equal(run()?.code, 0);
  });

  test('no pid file within --pid-timeout: TERM to everything started, KILL after the grace, exit 73', () => {
    const { os, f, run, named } = setup();
    os.spawn(101, CHILD); // unicorn serving, but writing another pid file than the one followed
    assert.equal(run(5000 / 20), undefined);
    assert.equal(run(2), undefined);
    assert.deepEqual(os.signalsTo(CHILD), ['SIGTERM']);
    assert.deepEqual(os.signalsTo(101), ['SIGTERM']);
    assert.equal(named('stopping')[0].reason, 'pid-timeout');
    f.enqueue('SIGHUP');
    run();
    assert.equal(named('signal-refused').length, 1, 'nothing is forwarded while cleaning up');
    // The worker ignores TERM: KILL after the grace.
    os.die(CHILD);
    f.childExited(CHILD, null, 'SIGTERM');
    assert.equal(run(1000 / 20 + 1), undefined);
    assert.deepEqual(os.signalsTo(101), ['SIGTERM', 'SIGKILL']);
    os.die(101);
    const out = run();
    assert.equal(out?.code, 73);
    assert.equal(out?.reason, 'pid-timeout');
  });

  test('USR2 with the before_fork QUIT: the old master dies before the new one has workers, and the wrapper waits for it', () => {
    const { os, f, run, named } = setup();
    os.files.set(PID, CHILD);
    os.spawn(101, CHILD);
    run();
    f.enqueue('SIGUSR2');
    run();
    assert.deepEqual(os.signalsTo(CHILD), ['SIGUSR2']);
    reexec(os, CHILD, 200);
    run();
    assert.equal(named('upgrade-started').length, 1);
    // before_fork: the new master QUITs the old one as it forks its first worker
    os.die(CHILD);
    os.die(101);
    f.childExited(CHILD, 0, null);
    assert.equal(run(5), undefined, 'a new master that does not serve yet is still a master');
    assert.equal(named('master-lost').length, 0);
    os.spawn(201, 200);
    run();
    const followed = named('master-followed');
    assert.equal(followed.length, 1);
    assert.equal(followed[0].master, 200);
    assert.equal(followed[0].previous, CHILD);
    assert.equal(f.state().master, 200);
    f.enqueue('SIGHUP');
    run();
    assert.deepEqual(os.signalsTo(200), ['SIGHUP'], 'signals now go to the new master');
  });

  test('without the hook both masters run: USR2 is refused until the .oldbin master is gone', () => {
    const { os, f, run, named } = ready();
    reexec(os, CHILD, 200);
    run();
    f.enqueue('SIGUSR2');
    run();
    assert.match(
      String(named('signal-refused')[0].reason),
      /an upgrade is in progress .*new master 200 does not serve yet/,
    );
    os.spawn(201, 200);
    run();
    assert.equal(named('master-followed')[0].previousAlive, true);
    f.enqueue('SIGUSR2');
    run();
    assert.match(String(named('signal-refused')[1].reason), /\.oldbin master 100 still runs/);
    assert.deepEqual(os.signalsTo(200), []);
    // The operator QUITs the old master by hand.
    os.die(CHILD);
    os.die(101);
    os.die(102);
    f.childExited(CHILD, 0, null);
    os.files.delete(OLDBIN);
    run();
    assert.equal(named('oldbin-exited').length, 1);
    f.enqueue('SIGUSR2');
    run();
    assert.deepEqual(os.signalsTo(200), ['SIGUSR2']);
  });

  test('a stop goes to every live master, and the wrapper exits 0 when none is left', () => {
    const { os, f, run } = ready();
    reexec(os, CHILD, 200);
    os.spawn(201, 200);
    run();
    f.enqueue('SIGQUIT');
    run();
    assert.deepEqual(os.signalsTo(200), ['SIGQUIT']);
    assert.deepEqual(os.signalsTo(CHILD), ['SIGQUIT']);
    os.die(200);
    os.die(201);
    os.files.delete(PID);
    assert.equal(run(), undefined, 'the old master still runs');
    os.die(CHILD);
    f.childExited(CHILD, 0, null);
    const out = run();
    assert.equal(out?.code, 0);
    assert.equal(out?.reason, 'stopped');
  });

  test('a stop during a handover also reaches the new master that shows up after it', () => {
    const { os, f, run } = ready();
    os.files.delete(PID);
    os.files.set(OLDBIN, CHILD);
    os.spawn(200, CHILD); // forked, not yet exec-ed: in no pid file
    run();
    f.enqueue('SIGTERM');
    run();
    assert.deepEqual(os.signalsTo(CHILD), ['SIGTERM']);
    os.die(CHILD);
    os.die(101);
    os.die(102);
    f.childExited(CHILD, 0, null);
    os.procs.set(200, { ppid: 1 });
    assert.equal(run(), undefined, 'the forked child of the stopped master is still around');
    os.files.set(PID, 200);
    run();
    assert.deepEqual(os.signalsTo(200), ['SIGTERM'], 'the new master gets the stop as soon as it is known');
    os.die(200);
    assert.equal(run()?.code, 0);
  });

  test('a failed upgrade: the new master dies while loading, unicorn puts the pid file back, the wrapper keeps the old one', () => {
    const { os, f, run, named } = ready();
    reexec(os, CHILD, 200);
    run();
    os.die(200); // "reaped ... exec()-ed"
    os.files.delete(OLDBIN);
    os.files.set(PID, CHILD);
    assert.equal(run(), undefined);
    const failed = named('upgrade-failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0].master, CHILD);
    assert.equal(failed[0].failed, 200);
    assert.equal(f.state().master, CHILD);
    f.enqueue('SIGUSR2');
    run();
    assert.deepEqual(os.signalsTo(CHILD), ['SIGUSR2'], 'the next USR2 is allowed again');
  });

  test('a re-exec that fails between two passes (pid file to .oldbin and back within ms): still one upgrade-failed', () => {
    const { os, f, run, named } = ready();
    f.enqueue('SIGUSR2');
    run();
    assert.deepEqual(os.signalsTo(CHILD), ['SIGUSR2']);
    // unicorn renamed its pid file to .oldbin, its re-exec failed before exec (chdir), and it
    // wrote the pid file anew: the wrapper's passes saw none of it but the new file.
    os.files.set(PID, CHILD);
    os.t += 50;
    assert.equal(run(), undefined);
    assert.equal(named('upgrade-failed').length, 0, 'not said on one look: it must hold');
    assert.equal(run(30), undefined);
    const failed = named('upgrade-failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0].master, CHILD);
    assert.equal(failed[0].unseen, true);
    assert.equal(f.state().master, CHILD);
    os.t += 50;
    run();
    assert.equal(named('upgrade-failed').length, 1, 'said once');
  });

  test('a pass that reads the pid file just before unicorn renames it to .oldbin is no failed upgrade', () => {
    const { os, f, run, named } = ready();
    f.enqueue('SIGUSR2');
    run();
    // readPid still sees the master, the file is gone by the time its identity is read.
    const id = os.fileId;
    os.fileId = (file: string) => (file === PID ? undefined : id(file));
    os.t += 20;
    run();
    os.fileId = id;
    reexec(os, CHILD, 200);
    serve(os, 200);
    run(3);
    assert.equal(named('upgrade-failed').length, 0);
    assert.equal(named('master-followed').length, 1);
  });

  test('a USR2 that unicorn does not act on (the pid file untouched) says nothing', () => {
    const { os, f, run, named } = ready();
    f.enqueue('SIGUSR2');
    run();
    for (let i = 0; i < 40; i++) {
      os.t += 100;
      run();
    }
    assert.equal(named('upgrade-failed').length, 0);
  });

  test('a new master that dies after it had workers, the old one never QUIT: back to the old one, one upgrade-failed', () => {
    const { os, f, run, named } = ready();
    reexec(os, CHILD, 200);
    os.spawn(201, 200);
    run();
    assert.equal(f.state().master, 200);
    os.die(200);
    os.die(201);
    assert.equal(run(), undefined);
    assert.equal(f.state().master, CHILD, 'the old master, still in .oldbin, is followed again');
    assert.deepEqual(
      named('upgrade-failed').map((e) => [e.master, e.failed]),
      [[CHILD, 200]],
    );
    os.files.delete(OLDBIN);
    os.files.set(PID, CHILD);
    run(3);
    assert.equal(named('upgrade-failed').length, 1, 'said once, not again when the pid file is put back');
    assert.equal(named('upgrade-started').length, 1, 'only the real USR2');
    f.enqueue('SIGUSR2');
    run();
    assert.deepEqual(os.signalsTo(CHILD), ['SIGUSR2']);
  });

  test('restarts off (--restart-budget 0): the master killed is master-lost, its orphaned workers QUIT, exit 71', () => {
    const { os, f, run, named } = ready({ restart: { max: 0, windowMs: 0 } });
    os.die(CHILD);
    // its workers are orphans now; reparented, they are no longer anyone's children here
    os.procs.set(101, { ppid: 1 });
    os.procs.set(102, { ppid: 1 });
    f.childExited(CHILD, null, 'SIGKILL');
    const out = run();
    assert.equal(out?.code, 71);
    assert.equal(out?.reason, 'master-lost');
    assert.equal(named('master-lost')[0].signal, 'SIGKILL');
    assert.equal(named('master-lost')[0].orphans, '101,102');
    assert.deepEqual(os.signalsTo(101), ['SIGQUIT']);
    assert.equal(os.files.has(PID), false);
  });

  test('a later master that is a zombie counts as dead', () => {
    const { os, f, run, named } = ready({ restart: { max: 0, windowMs: 0 } });
    reexec(os, CHILD, 200);
    os.spawn(201, 200);
    run();
    os.die(CHILD);
    f.childExited(CHILD, 0, null);
    run();
    // Its parent is gone; whoever adopted it has not reaped it yet.
    os.procs.set(200, { ppid: 1, zombie: true });
    os.die(201);
    const out = run();
    assert.equal(out?.code, 71);
    assert.equal(named('master-lost')[0].master, 200);
  });

  test('the master dies between its fork and the new pid file: the new master gets the pid timeout to appear', () => {
    const { os, f, run, named } = ready();
    os.files.delete(PID);
    os.files.set(OLDBIN, CHILD);
    run();
    assert.equal(named('upgrade-started').length, 1);
    os.die(CHILD);
    f.childExited(CHILD, null, 'SIGKILL');
    assert.equal(run(10), undefined, 'not lost while a new master may still write its pid file');
    os.spawn(200, 1);
    os.spawn(201, 200);
    os.files.set(PID, 200);
    run();
    assert.equal(named('master-followed')[0].master, 200);
    assert.equal(named('master-lost').length, 0);
  });

  test('a failing step is reported once and the wrapper carries on', () => {
    const { os, run, named } = ready();
    os.failReadPid = 'EACCES: permission denied';
    assert.equal(run(5), undefined);
    assert.equal(named('wrapper-error').length, 1);
    assert.equal(named('wrapper-error')[0].step, 'follow');
    os.failReadPid = undefined;
    reexec(os, CHILD, 200);
    os.spawn(201, 200);
    run();
    assert.equal(named('master-followed').length, 1, 'following works again once the error is gone');
  });

  test('a signal to a master that just exited is a wrapper-error, not a crash', () => {
    const { os, f, run, named } = ready();
    os.kill = () => {
      throw new Error('kill ESRCH');
    };
    f.enqueue('SIGHUP');
    assert.equal(run(), undefined);
    assert.equal(named('wrapper-error')[0].step, 'forward');
  });
});

describe('signal routing', () => {
  test('stops go to every live master, other signals to the current one', () => {
    const v = { current: 2, others: [1], ready: true, handlers: true };
    assert.deepEqual(route('SIGTERM', v), { targets: [2, 1] });
    assert.deepEqual(route('SIGTTIN', v), { targets: [2] });
  });
  test('USR2 is refused before the first master serves and during an upgrade', () => {
    assert.ok('refused' in route('SIGUSR2', { current: 2, others: [], ready: false, handlers: true }));
    const upgrading = { current: 2, others: [1], ready: true, handlers: true, upgrading: { oldbin: 1 } };
    assert.ok('refused' in route('SIGUSR2', upgrading));
    assert.deepEqual(route('SIGUSR2', { current: 2, others: [], ready: true, handlers: true }), { targets: [2] });
  });
  test('nothing to forward to', () => {
    assert.ok('refused' in route('SIGHUP', { others: [], ready: true, handlers: true }));
    assert.ok('refused' in route('SIGQUIT', { others: [], ready: true, handlers: true }));
  });
});

/** The first master killed: its workers are orphans (reparented), the wrapper sees it gone. */
function killFirst(os: FakeOs, f: Follower): void {
  os.die(CHILD);
  os.procs.set(101, { ppid: 1 });
  os.procs.set(102, { ppid: 1 });
  f.childExited(CHILD, null, 'SIGKILL');
}

/** A master the wrapper started that writes its pid file and forks `n` workers. */
function serve(os: FakeOs, master: number, n = 2): void {
  os.files.set(PID, master);
  for (let i = 1; i <= n; i++) os.spawn(master * 10 + i, master);
}

describe('unicorn-wrapper supervision: a master that dies unasked is started again', () => {
  test('kill -9 of the master: master-lost, a new master on the same command after 0.1 s, master-restarted; the orphans QUIT only once it serves', () => {
    const { os, f, run, named } = ready();
    killFirst(os, f);
    assert.equal(run(), undefined, 'the wrapper stays: init keeps tracking its pid');
    const lost = named('master-lost')[0];
    assert.equal(lost.signal, 'SIGKILL');
    assert.equal(lost.restartInMs, 100);
    assert.equal(os.files.has(PID), false, 'the dead master pid file is removed, so unicorn starts');
    assert.equal(f.state().phase, 'restarting');
    assert.equal(run(4), undefined);
    assert.deepEqual(os.started, [], 'not before the backoff');
    run(2);
    assert.equal(os.started.length, 1);
    const m = os.started[0];
    assert.deepEqual(
      named('master-restarting').map((e) => [e.child, e.lost, e.attempt, e.delayMs]),
      [[m, CHILD, 1, 100]],
    );
    assert.deepEqual(os.signalsTo(101), [], 'the orphans serve on while the new master loads');
    os.files.set(PID, m);
    run(3);
    assert.equal(named('master-restarted').length, 0, 'a pid file without workers is not serving');
    os.spawn(m * 10 + 1, m);
    run();
    const r = named('master-restarted');
    assert.equal(r.length, 1);
    assert.equal(r[0].master, m);
    assert.equal(r[0].lost, CHILD);
    assert.equal(r[0].reason, 'killed');
    assert.equal(r[0].signal, 'SIGKILL');
    assert.equal(r[0].attempt, 1);
    assert.ok(Number(r[0].ms) >= 100 && Number(r[0].ms) <= 300, `ms ${r[0].ms}`);
    assert.deepEqual(os.signalsTo(101), ['SIGQUIT']);
    assert.deepEqual(os.signalsTo(102), ['SIGQUIT']);
    assert.equal(f.state().master, m);
    assert.equal(named('ready').length, 1, 'ready is the first boot only');
    f.enqueue('SIGHUP');
    run();
    assert.deepEqual(os.signalsTo(m), ['SIGHUP'], 'signals go to the new master');
    f.enqueue('SIGUSR2');
    run();
    assert.deepEqual(os.signalsTo(m), ['SIGHUP', 'SIGUSR2'], 'and it can be upgraded');
  });

  test('the backoff doubles per restart in the window (0.1, 0.2, 0.4, 0.8, 1.6 s), and the 6th death in 30 s exits 71', () => {
    const { os, f, run, named } = ready();
    killFirst(os, f);
    let current = CHILD;
    for (let i = 0; i < 5; i++) {
      run(200, 10);
      const m = os.started[i];
      assert.ok(m !== undefined, `restart ${i + 1} made`);
      serve(os, m);
      run();
      assert.equal(f.state().master, m);
      current = m;
      // it dies too
      os.die(m);
      os.die(m * 10 + 1);
      os.die(m * 10 + 2);
      f.childExited(m, 1, null);
      const out = run();
      if (i < 4) assert.equal(out, undefined);
      else {
        assert.equal(out?.code, 71);
        assert.equal(out?.reason, 'restart-budget-spent');
        assert.match(
          out!.message!,
          new RegExp(
            `^the master \\(pid ${current}\\) exited with status 1 without being asked to stop, ` +
              'and the restart budget is spent \\(5 restarts within 30 s, --restart-budget 5/30s\\): exit 71',
          ),
        );
      }
    }
    assert.deepEqual(
      named('master-restarting').map((e) => e.delayMs),
      [100, 200, 400, 800, 1600],
    );
    assert.deepEqual(
      named('master-lost').map((e) => e.restartInMs),
      [100, 200, 400, 800, 1600, undefined],
    );
    assert.equal(named('master-restarted').length, 5);
  });

  test('restarts older than the window no longer count: the backoff starts again at 0.1 s', () => {
    const { os, f, run, named } = ready({ restart: { max: 2, windowMs: 10_000 } });
    killFirst(os, f);
    run(10);
    serve(os, os.started[0]);
    run();
    os.die(os.started[0]);
    f.childExited(os.started[0], null, 'SIGSEGV');
    run(30);
    serve(os, os.started[1]);
    run();
    assert.deepEqual(
      named('master-restarting').map((e) => e.delayMs),
      [100, 200],
    );
    os.t += 11_000;
    os.die(os.started[1]);
    f.childExited(os.started[1], null, 'SIGKILL');
    assert.equal(run(), undefined, 'two restarts, but both out of the 10 s window');
    assert.equal(named('master-lost')[2].restartInMs, 100);
  });

  test('a restarted master that cannot load the app (config.ru raises): restart-failed each time, then one exit 71', () => {
    const { os, f, run, named } = ready({ restart: { max: 3, windowMs: 30_000 } });
    killFirst(os, f);
    let out: Outcome | undefined;
    for (let i = 0; i < 50 && !out; i++) {
      out = run();
      for (const m of os.started)
        if (os.isAlive(m)) {
          os.die(m);
          f.childExited(m, 1, null);
        }
    }
    assert.equal(out?.code, 71);
    assert.equal(out?.reason, 'restart-budget-spent');
    assert.match(out!.message!, /the restarted master \(pid \d+\) exited with status 1 before it served/);
    assert.equal(os.started.length, 3, 'never more starts than the budget');
    assert.deepEqual(
      named('restart-failed').map((e) => [e.status, e.restartInMs]),
      [
        [1, 200],
        [1, 400],
        [1, undefined],
      ],
    );
    assert.equal(named('master-restarted').length, 0);
    assert.deepEqual(os.signalsTo(101), ['SIGQUIT'], 'the orphans go when the wrapper gives up');
  });

  test('a master started by a USR2 (not the wrapper child) that dies is restarted too: reason gone', () => {
    const { os, f, run, named } = ready();
    reexec(os, CHILD, 200);
    os.spawn(201, 200);
    run();
    os.die(CHILD);
    os.die(101);
    os.die(102);
    f.childExited(CHILD, 0, null);
    os.files.delete(OLDBIN);
    run();
    assert.equal(f.state().master, 200);
    os.die(200);
    run(10);
    assert.equal(named('master-lost')[0].master, 200);
    const m = os.started[0];
    serve(os, m);
    run();
    const r = named('master-restarted')[0];
    assert.deepEqual([r.master, r.lost, r.reason, r.status, r.signal], [m, 200, 'gone', undefined, undefined]);
  });

  test('its own master seen dead before node delivered the exit status: it waits for it (up to 1 s), so the reason is killed, not gone', () => {
    const { os, f, run, named } = ready();
    os.die(CHILD); // /proc says gone; the exit event is still on its way (a busy machine)
    assert.equal(run(10), undefined);
    assert.equal(named('master-lost').length, 0);
    f.childExited(CHILD, null, 'SIGKILL');
    run();
    assert.equal(named('master-lost')[0].signal, 'SIGKILL');
    run(10);
    serve(os, os.started[0]);
    run();
    assert.equal(named('master-restarted')[0].reason, 'killed');
    // Without a status at all, it is reported as gone after the grace.
    const m = os.started[0];
    os.die(m);
    assert.equal(run(1000 / 20 - 1), undefined);
    assert.equal(named('master-lost').length, 1);
    run(2);
    assert.equal(named('master-lost')[1].master, m);
    assert.equal(named('master-lost')[1].signal, undefined);
  });

  test('a master that exits after a forwarded stop is not restarted, nor is one whose restart a stop cancels', () => {
    const a = ready();
    a.f.enqueue('SIGQUIT');
    a.run();
    a.os.die(CHILD);
    a.os.die(101);
    a.os.die(102);
    a.f.childExited(CHILD, 0, null);
    assert.equal(a.run()?.code, 0);
    assert.equal(a.named('master-lost').length, 0);
    assert.deepEqual(a.os.started, []);

    const b = ready();
    killFirst(b.os, b.f);
    b.run();
    b.f.enqueue('SIGTERM');
    assert.equal(b.run(), undefined, 'the orphans still finish');
    assert.deepEqual(b.os.signalsTo(101), ['SIGTERM']);
    b.os.die(101);
    b.os.die(102);
    const out = b.run(20);
    assert.equal(out?.code, 0);
    assert.deepEqual(b.os.started, [], 'no new master after the stop');
  });

  test('a new master cannot be started at all: restart-failed with the error, retried within the budget', () => {
    const { os, f, run, named } = ready({ restart: { max: 2, windowMs: 30_000 } });
    os.failStart = 'spawn EAGAIN';
    killFirst(os, f);
    const out = run(100);
    assert.equal(out?.code, 71);
    assert.match(out!.message!, /a new master could not be started \(spawn EAGAIN\)/);
    assert.deepEqual(
      named('restart-failed').map((e) => e.error),
      ['spawn EAGAIN', 'spawn EAGAIN'],
    );
  });

  test('other signals while a new master is awaited are refused with the reason; a stop during its boot reaches it', () => {
    const { os, f, run, named } = ready();
    killFirst(os, f);
    run();
    f.enqueue('SIGUSR2');
    run();
    assert.match(String(named('signal-refused')[0].reason), /the last one died and a new one starts in \d+ ms/);
    run(5);
    const m = os.started[0];
    f.enqueue('SIGQUIT');
    run();
    assert.deepEqual(os.signalsTo(m), ['SIGQUIT']);
    os.die(m);
    os.die(101);
    os.die(102);
    f.childExited(m, 0, null);
    assert.equal(run()?.code, 0);
  });
});

describe('unicorn-wrapper deadlines: --ready-timeout and --stop-timeout', () => {
  test('a first master with no workers after --ready-timeout: not-ready, repeated every max(timeout, 10 s)', () => {
    const { os, run, named } = setup({ readyTimeoutMs: 2000 });
    os.files.set(PID, CHILD);
    run(99, 20);
    assert.equal(named('not-ready').length, 0);
    run(2, 20);
    assert.deepEqual(
      named('not-ready').map((e) => [e.master, e.phase, e.pidFile]),
      [[CHILD, 'boot', 'written']],
    );
    run(9000 / 20, 20);
    assert.equal(named('not-ready').length, 1, 'not again within 10 s');
    run(1000 / 20 + 1, 20);
    assert.equal(named('not-ready').length, 2);
    assert.ok(Number(named('not-ready')[1].ms) >= 12_000);
  });

  test('a USR2 whose new master never gets workers: upgrade-stuck once, the old master followed, a second USR2 refused', () => {
    const { os, f, run, named } = ready({ readyTimeoutMs: 1000 });
    f.enqueue('SIGUSR2');
    run();
    reexec(os, CHILD, 200); // the new master blocks in its config.ru: pid file, no workers
    run(1000 / 20 + 2);
    const stuck = named('upgrade-stuck');
    assert.equal(stuck.length, 1);
    assert.equal(stuck[0].master, CHILD);
    assert.equal(stuck[0].newMaster, 200);
    assert.deepEqual(
      named('not-ready').map((e) => [e.master, e.phase]),
      [[200, 'upgrade']],
    );
    assert.equal(f.state().master, CHILD, 'the old master serves on');
    f.enqueue('SIGUSR2');
    run();
    assert.match(
      String(named('signal-refused')[0].reason),
      /^the last upgrade is stuck: new master 200 has had no workers for 1 s .*kill -KILL 200/,
    );
    assert.deepEqual(os.signalsTo(CHILD), ['SIGUSR2'], 'only the first USR2 was passed on');
    run(20 * 50);
    assert.equal(named('upgrade-stuck').length, 1, 'said once');
    // The operator KILLs the stuck master; unicorn reaps it and takes its pid file back.
    os.die(200);
    os.files.delete(OLDBIN);
    os.files.set(PID, CHILD);
    run();
    assert.equal(named('upgrade-failed').length, 1);
    f.enqueue('SIGUSR2');
    run();
    assert.deepEqual(os.signalsTo(CHILD), ['SIGUSR2', 'SIGUSR2'], 'USR2 is allowed again');
  });

  test('QUIT to a master stuck loading: after --stop-timeout TERM, after the grace KILL to all of it, exit 72, pid file gone', () => {
    const { os, f, run, named } = setup({ stopTimeoutMs: 2000 });
    os.files.set(PID, CHILD);
    run();
    f.enqueue('SIGQUIT');
    run();
    assert.deepEqual(os.signalsTo(CHILD), ['SIGQUIT']);
    assert.equal(run(2000 / 20 - 2), undefined, 'unicorn queues QUIT while it loads: nothing happens');
    run(2);
    assert.deepEqual(os.signalsTo(CHILD), ['SIGQUIT', 'SIGTERM']);
    const term = named('stop-timeout')[0];
    assert.deepEqual([term.signal, term.after, term.pids], ['SIGTERM', 'SIGQUIT', String(CHILD)]);
    assert.equal(run(1000 / 20 - 1), undefined);
    run(2);
    assert.deepEqual(os.signalsTo(CHILD), ['SIGQUIT', 'SIGTERM', 'SIGKILL']);
    os.die(CHILD);
    f.childExited(CHILD, null, 'SIGKILL');
    const out = run();
    assert.equal(out?.code, 72);
    assert.equal(out?.reason, 'stop-timeout');
    assert.match(
      out!.message!,
      /did not stop within 2 s of SIGQUIT \(--stop-timeout\): sent TERM to 100, then KILL to 100; nothing is left/,
    );
    assert.equal(os.files.has(PID), false);
  });

  test('a stop that TERM finishes is still a forced stop (72); one within the deadline is 0', () => {
    const { os, f, run } = ready({ stopTimeoutMs: 1000 });
    f.enqueue('SIGQUIT');
    run(1000 / 20 + 1);
    assert.deepEqual(os.signalsTo(CHILD), ['SIGQUIT', 'SIGTERM']);
    os.die(CHILD);
    os.die(101);
    os.die(102);
    f.childExited(CHILD, 0, null);
    assert.equal(run()?.code, 72);
  });

  test('when the wrapper leads its session, its process group must be empty too: a stray member gets TERM, then KILL', () => {
    const { os, f, run, named } = ready({ stopTimeoutMs: 1000 });
    os.spawn(555, 1); // say, a new master forked by the old one before its pid file: in no file
    os.group = [101, 102, 555];
    f.enqueue('SIGTERM');
    run();
    os.die(CHILD);
    os.die(101);
    os.die(102);
    f.childExited(CHILD, 0, null);
    assert.equal(run(1000 / 20 - 2), undefined, 'the group is not empty yet');
    run(2);
    assert.deepEqual(os.signalsTo(555), ['SIGTERM']);
    run(1000 / 20 + 1);
    assert.deepEqual(os.signalsTo(555), ['SIGTERM', 'SIGKILL']);
    assert.equal(named('stop-timeout')[1].pids, '555');
    os.die(555);
    assert.equal(run()?.code, 72);
  });

  test('not leading its session (a test runner, a shell pipeline), the wrapper never looks at its group', () => {
    const { os, f, run } = ready({ stopTimeoutMs: 1000 });
    os.group = undefined;
    f.enqueue('SIGTERM');
    run();
    os.die(CHILD);
    os.die(101);
    os.die(102);
    f.childExited(CHILD, 0, null);
    assert.equal(run()?.code, 0);
  });
});
