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
class FakeOs implements WrapperOs {
  t = 0;
  readonly files = new Map<string, number>();
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
const cfg: FollowConfig = { pidFile: PID, pidTimeoutMs: 5000, killGraceMs: 1000, name: 'unicorn' };

function setup() {
  const os = new FakeOs();
  const events: (Fields & { event: string })[] = [];
  os.spawn(CHILD, 1);
  const f = new Follower(os, cfg, (event, fields = {}) => events.push({ event, ...fields }), CHILD);
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
function ready() {
  const s = setup();
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
    f.childExited(1, null);
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
    f.childExited(0, null);
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
    f.childExited(null, 'SIGTERM');
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
    f.childExited(0, null);
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
    f.childExited(0, null);
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
    f.childExited(0, null);
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
    f.childExited(0, null);
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

  test('the master is killed: master-lost, its orphaned workers QUIT, exit 71, no stale pid file', () => {
    const { os, f, run, named } = ready();
    os.die(CHILD);
    // its workers are orphans now; reparented, they are no longer anyone's children here
    os.procs.set(101, { ppid: 1 });
    os.procs.set(102, { ppid: 1 });
    f.childExited(null, 'SIGKILL');
    const out = run();
    assert.equal(out?.code, 71);
    assert.equal(out?.reason, 'master-lost');
    assert.equal(named('master-lost')[0].signal, 'SIGKILL');
    assert.equal(named('master-lost')[0].orphans, '101,102');
    assert.deepEqual(os.signalsTo(101), ['SIGQUIT']);
    assert.equal(os.files.has(PID), false);
  });

  test('a later master that is a zombie counts as dead', () => {
    const { os, f, run, named } = ready();
    reexec(os, CHILD, 200);
    os.spawn(201, 200);
    run();
    os.die(CHILD);
    f.childExited(0, null);
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
    f.childExited(null, 'SIGKILL');
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
