import type { Fields, WrapperEvent } from '../events';
import { oldbinPath } from '../pidfile';
import { WrapperExit, type WrapperExitCode } from './exit-codes';
import { type ForwardedSignal, type MasterView, STOPS, route } from './forward';
import type { RestartBudget } from './options';
import type { WrapperOs } from './os';

/**
 * unicorn's masters as the wrapper follows them. The pid file is the truth: the master in
 * PIDFILE is the current one; on USR2 it renames PIDFILE to PIDFILE.oldbin, its re-executed
 * child writes PIDFILE, and (usually through a before_fork hook) QUITs the .oldbin master. The
 * first master, and every master the wrapper starts again after one died, is the wrapper's
 * child; the others are found through the files and polled.
 *
 * One pass: reap (what is alive), one queued signal, follow the pid files. A step that throws
 * is reported (wrapper-error, once per distinct error) and the next pass carries on.
 *
 * Supervision (issue 17): the wrapper holds the socket, so a master that dies unasked is
 * started again on it, within a restart budget. Not a crash: a master that exits after a
 * forwarded stop, or one generation of a USR2 exiting while the other lives. Deadlines: a
 * master with no workers after --ready-timeout is reported (not-ready, upgrade-stuck); a stop
 * that outlives --stop-timeout ends with TERM, then KILL.
 */

export type Emit = (event: WrapperEvent, fields?: Fields) => void;

export interface FollowConfig {
  pidFile: string;
  pidTimeoutMs: number;
  /** after TERM to what a failed start or an overdue stop left behind, how long before KILL */
  killGraceMs: number;
  /** the program's name for messages: unicorn, phoenix... */
  name: string;
  /** a master with no workers this long after it started (or after the USR2) is not-ready */
  readyTimeoutMs: number;
  /** after a forwarded stop, how long before the masters left are sent TERM */
  stopTimeoutMs: number;
  restart: RestartBudget;
}

export interface Outcome {
  code: WrapperExitCode;
  event: 'exit' | 'start-failed';
  reason: string;
  /** for a person, written as `unicorn-wrapper: ...` on stderr; failures only */
  message?: string;
  fields?: Fields;
}

type Phase = 'starting' | 'running' | 'restarting' | 'aborting';

interface ExitStatus {
  code: number | null;
  signal: string | null;
}

/** A master that died unasked: what the restart that follows reports. */
interface Lost {
  master: number;
  /** when the wrapper saw it gone */
  seenAt: number;
  reason: 'killed' | 'exited' | 'gone';
  status?: number;
  signal?: string;
}

/** A master the wrapper started (the first, or a restart) that does not serve yet. */
interface Boot {
  child: number;
  since: number;
  /** when the next not-ready is due */
  notReadyAt: number;
  /** when the child was first seen gone without its exit status */
  goneAt?: number;
  /** set when this boot is a restart after a master died */
  restart?: Lost;
}

interface Handover {
  from: number;
  since: number;
  newMaster?: number;
  /** an upgrade-failed was already emitted for it */
  reported?: boolean;
  /** upgrade-stuck was emitted */
  stuck?: boolean;
  notReadyAt: number;
}

interface Stop {
  signal: ForwardedSignal;
  since: number;
  termAt?: number;
  killAt?: number;
  termed: number[];
  killed: number[];
  /** every master seen while stopping: their pid files are removed at the end */
  masters: Set<number>;
}

const IDLE_MS = 100;
const BUSY_MS = 20;
/** after a forwarded signal, poll fast for a while: a USR2 handover takes a few hundred ms */
const WATCH_AFTER_SIGNAL_MS = 3000;
/** how long a re-exec seen only by its renamed-back pid file must hold before it is said to have failed */
const UNSEEN_FAILURE_MS = 500;
/** how long a dead child's exit status may take to arrive before it is reported without one */
const EXIT_STATUS_GRACE_MS = 1000;
/** the pause before a restart: this, doubled for each restart still in the budget's window */
export const RESTART_BACKOFF_MS = 100;
export const RESTART_BACKOFF_CAP_MS = 5000;
/** not-ready is repeated every --ready-timeout, but not more often than this */
export const NOT_READY_REPEAT_MIN_MS = 10_000;

const uniq = (xs: (number | undefined)[]): number[] => [...new Set(xs.filter((x): x is number => x !== undefined))];

function describeExit(e: ExitStatus | undefined): string {
  return e?.signal ? `was killed by ${e.signal}` : e ? `exited with status ${e.code}` : 'is gone';
}

function lostFrom(master: number, seenAt: number, e: ExitStatus | undefined): Lost {
  return {
    master,
    seenAt,
    reason: e?.signal ? 'killed' : e ? 'exited' : 'gone',
    status: e?.code ?? undefined,
    signal: e?.signal ?? undefined,
  };
}

export class Follower {
  private phase: Phase = 'starting';
  private readonly oldbin: string;
  /** the master the wrapper follows: it serves */
  private master: number | undefined;
  /** a master the pid file names that does not serve yet */
  private candidate: number | undefined;
  /** the followed master renamed its pid file to .oldbin: a USR2 is under way */
  private handover: Handover | undefined;
  /** the master followed before the current one, while it still runs */
  private previous: number | undefined;
  /**
   * A USR2 forwarded and not yet seen to start an upgrade: the master it went to, and the pid
   * file as it was. A re-exec that fails before exec (a release directory pruned: chdir fails)
   * renames the pid file to .oldbin and back within milliseconds, between two passes; the file
   * then names the same master but has been renamed (its ctime moved), which is how that failure
   * is still seen.
   */
  private usr2: { master: number; pidFile: string | undefined; until: number; suspectSince?: number } | undefined;
  /** exit statuses of the masters the wrapper started (node reaps them: their pids may be reused) */
  private readonly exits = new Map<number, ExitStatus>();
  /** the masters the wrapper started itself, while referred to: their exit status will come */
  private readonly mine = new Set<number>();
  /** when the followed master, one of the wrapper's own, was first seen gone without its status */
  private masterGoneAt: number | undefined;
  private boot: Boot | undefined;
  /** a restart waiting for its backoff */
  private pending: (Lost & { at: number; delayMs: number }) | undefined;
  /** when each restart was made, pruned to the budget's window */
  private restarts: number[] = [];
  /** workers of a master that died unasked: they serve on until the new master does, then QUIT */
  private orphans: number[] = [];
  private stop: Stop | undefined;
  /** masters the stop went to: one that shows up later (a new master mid-handover) gets it too */
  private readonly stopSent = new Set<number>();
  /** the current master's children, kept while it lives: orphans if it dies */
  private workers: number[] = [];
  private readonly queue: ForwardedSignal[] = [];
  private abort: { since: number; pids: Set<number>; termSent: boolean; killed: boolean; outcome: Outcome } | undefined;
  private outcome: Outcome | undefined;
  private watchUntil = 0;
  private readonly errors = new Map<string, string>();

  constructor(
    private readonly os: WrapperOs,
    private readonly cfg: FollowConfig,
    private readonly emit: Emit,
    /** the first master, the wrapper's own child */
    child: number,
  ) {
    this.oldbin = oldbinPath(cfg.pidFile);
    const now = os.now();
    this.boot = { child, since: now, notReadyAt: now + cfg.readyTimeoutMs };
    this.mine.add(child);
  }

  /** A master the wrapper started has exited (node reaped it). */
  childExited(pid: number, code: number | null, signal: string | null): void {
    this.exits.set(pid, { code, signal });
  }

  enqueue(signal: ForwardedSignal): void {
    this.queue.push(signal);
  }

  hasQueued(): boolean {
    return this.queue.length > 0;
  }

  delayMs(): number {
    const busy =
      this.phase !== 'running' ||
      this.handover !== undefined ||
      this.candidate !== undefined ||
      this.stop !== undefined ||
      this.os.now() < this.watchUntil;
    return busy ? BUSY_MS : IDLE_MS;
  }

  /** For tests and status: who is who right now. */
  state(): {
    phase: Phase;
    master?: number;
    candidate?: number;
    previous?: number;
    upgrading: boolean;
    booting?: number;
    restarts: number;
  } {
    return {
      phase: this.phase,
      master: this.master,
      candidate: this.candidate,
      previous: this.previous,
      upgrading: this.handover !== undefined,
      booting: this.boot?.child,
      restarts: this.restarts.length,
    };
  }

  pass(): Outcome | undefined {
    if (!this.outcome) this.step('reap', () => this.reap());
    if (!this.outcome) this.step('signal', () => this.handleSignal());
    if (!this.outcome) this.step('follow', () => this.follow());
    this.forgetExits();
    return this.outcome;
  }

  private step(name: string, f: () => void): void {
    try {
      f();
      this.errors.delete(name);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      // A step failing on every pass would write ten lines a second: say it once per change.
      if (this.errors.get(name) === error) return;
      this.errors.set(name, error);
      this.emit('wrapper-error', { step: name, error });
    }
  }

  private alive(pid: number | undefined): pid is number {
    if (pid === undefined) return false;
    // A child's pid is free for reuse once node has reaped it.
    if (this.exits.has(pid)) return false;
    return this.os.isAlive(pid);
  }

  /** Children nobody refers to any more are forgotten: their pids may come back as others. */
  private forgetExits(): void {
    const kept = new Set(uniq([this.boot?.child, this.master, this.previous, this.candidate, this.handover?.from]));
    for (const pid of [...this.exits.keys()]) if (!kept.has(pid)) this.exits.delete(pid);
    for (const pid of [...this.mine]) if (!kept.has(pid)) this.mine.delete(pid);
  }

  private reap(): void {
    if (this.phase === 'running' && this.alive(this.master)) this.workers = this.os.childrenOf(this.master);
    if (this.previous !== undefined && !this.alive(this.previous)) {
      this.emit('oldbin-exited', { oldbin: this.previous, master: this.master });
      this.os.removePidFile(this.oldbin, this.previous);
      this.previous = undefined;
    }
    if (this.orphans.length) this.orphans = this.orphans.filter((p) => this.os.isAlive(p));
  }

  private view(): MasterView {
    const P = this.os.readPid(this.cfg.pidFile);
    if (this.phase === 'restarting') return { current: undefined, others: [], ready: false, handlers: false };
    if (this.phase !== 'running') {
      const child = this.boot?.child;
      const current = this.alive(P) ? P : this.alive(child) ? child : undefined;
      // unicorn -D: the launcher (the child) and the daemon (in the pid file) both live a while
      const others = this.alive(child) && child !== current ? [child] : [];
      return { current, others, ready: false, handlers: this.alive(P) };
    }
    const O = this.os.readPid(this.oldbin);
    const current = this.alive(this.master) ? this.master : this.alive(this.candidate) ? this.candidate : undefined;
    const others = uniq([P, O, this.candidate, this.previous]).filter((p) => p !== current && this.alive(p));
    const oldbinAlive = this.alive(O) && O !== current ? O : undefined;
    const h = this.handover;
    const upgrading =
      h || this.candidate !== undefined || oldbinAlive !== undefined
        ? {
            oldbin: oldbinAlive ?? h?.from,
            newMaster: this.candidate ?? h?.newMaster,
            stuckMs: h?.stuck ? Math.round(this.os.now() - h.since) : undefined,
          }
        : undefined;
    return { current, others, ready: true, handlers: true, upgrading };
  }

  private handleSignal(): void {
    const signal = this.queue.shift();
    if (!signal) return;
    const now = this.os.now();
    this.watchUntil = now + WATCH_AFTER_SIGNAL_MS;
    if (this.phase === 'aborting') {
      this.emit('signal-refused', { signal, reason: 'stopping what a failed start left behind' });
      return;
    }
    const stop = STOPS.includes(signal);
    if (stop) {
      if (!this.stop) {
        this.stop = { signal, since: now, termed: [], killed: [], masters: new Set() };
        this.emit('stopping', { signal });
      } else this.stop.signal = signal;
    }
    if (this.phase === 'restarting') {
      if (stop) {
        // No new master after a stop: what is left (orphaned workers) gets the stop in followStop.
        this.pending = undefined;
      } else {
        const inMs = this.pending ? Math.max(0, Math.round(this.pending.at - now)) : 0;
        this.emit('signal-refused', {
          signal,
          reason: `no master is running: the last one died and a new one starts in ${inMs} ms; send it again once it serves`,
        });
      }
      return;
    }
    const r = route(signal, this.view());
    if ('refused' in r) {
      this.emit('signal-refused', { signal, reason: r.refused });
      return;
    }
    for (const master of r.targets) this.send(master, signal);
  }

  private send(master: number, signal: ForwardedSignal): void {
    if (STOPS.includes(signal)) this.stopSent.add(master);
    try {
      const before = signal === 'SIGUSR2' ? this.os.fileId(this.cfg.pidFile) : undefined;
      this.os.kill(master, signal);
      this.emit('signal-forwarded', { signal, master });
      if (signal === 'SIGUSR2') this.usr2 = { master, pidFile: before, until: this.os.now() + WATCH_AFTER_SIGNAL_MS };
    } catch (err) {
      this.emit('wrapper-error', { step: 'forward', signal, master, error: (err as Error).message });
    }
  }

  private follow(): void {
    if (this.stop && this.phase !== 'aborting') return this.followStop();
    if (this.phase === 'starting') this.followBoot();
    else if (this.phase === 'restarting') this.followRestarting();
    else if (this.phase === 'aborting') this.followAbort();
    else this.followRunning();
  }

  private repeatMs(): number {
    return Math.max(this.cfg.readyTimeoutMs, NOT_READY_REPEAT_MIN_MS);
  }

  /** A master the wrapper started (the first, or a restart) until it serves. */
  private followBoot(): void {
    const b = this.boot!;
    const now = this.os.now();
    const P = this.os.readPid(this.cfg.pidFile);
    if (this.alive(P)) {
      // Serving means workers: unicorn writes its pid file before it loads the app.
      const workers = this.os.childrenOf(P);
      if (workers.length > 0) return this.booted(b, P, workers, now);
      return this.notReady(b, P, now, true);
    }
    if (!this.alive(b.child)) {
      this.os.removePidFile(this.cfg.pidFile, b.child);
      const e = this.exits.get(b.child);
      // The child is our own: its exit status follows its death by a moment (Node delivers it
      // after /proc shows it gone). Wait for it a little, so the message says how it ended.
      if (!e && now - (b.goneAt ??= now) < EXIT_STATUS_GRACE_MS) return;
      const how = describeExit(e);
      if (b.restart) {
        this.boot = undefined;
        const delay = this.restartDelay(now);
        this.emit('restart-failed', {
          master: b.child,
          status: e?.code ?? undefined,
          signal: e?.signal ?? undefined,
          attempt: this.restarts.length,
          restartInMs: delay,
        });
        if (delay === undefined) return this.giveUp(`the restarted master (pid ${b.child}) ${how} before it served`);
        return this.waitToRestart(b.restart, now, delay);
      }
      this.outcome = {
        code: WrapperExit.START_FAILED,
        event: 'start-failed',
        reason: 'unicorn-exited',
        message: `${this.cfg.name} (pid ${b.child}) ${how} before it served: its own messages above say why (a config or app that does not load?)`,
        fields: { status: e?.code ?? undefined, signal: e?.signal ?? undefined },
      };
      return;
    }
    this.notReady(b, b.child, now, false);
    if (now - b.since > this.cfg.pidTimeoutMs) {
      const s = this.cfg.pidTimeoutMs / 1000;
      this.startAbort({
        code: WrapperExit.PID_TIMEOUT,
        event: 'start-failed',
        reason: 'pid-timeout',
        message:
          `${this.cfg.name} did not write its pid file ${this.cfg.pidFile} within ${s} s ` +
          `(--pid-timeout): stopped what it started. Does the config's pid agree with --pid?`,
      });
    }
  }

  private notReady(b: Boot, master: number, now: number, pidFile: boolean): void {
    if (now < b.notReadyAt) return;
    b.notReadyAt = now + this.repeatMs();
    this.emit('not-ready', {
      master,
      phase: b.restart ? 'restart' : 'boot',
      ms: Math.round(now - b.since),
      pidFile: pidFile ? 'written' : 'missing',
    });
  }

  private booted(b: Boot, master: number, workers: number[], now: number): void {
    this.phase = 'running';
    this.master = master;
    this.workers = workers;
    this.boot = undefined;
    const r = b.restart;
    if (!r) {
      this.emit('ready', { master, workers: workers.length, ms: Math.round(now - b.since) });
      return;
    }
    // The dead master's workers served on meanwhile (unicorn 4 checks its parent only now and
    // then; unicorn 6's leave at once): now that the new master serves, they finish and go.
    const orphans = this.orphans.filter((p) => this.os.isAlive(p));
    this.signalAll(orphans, 'SIGQUIT');
    this.orphans = [];
    this.emit('master-restarted', {
      master,
      lost: r.master,
      reason: r.reason,
      status: r.status,
      signal: r.signal,
      ms: Math.round(now - r.seenAt),
      attempt: this.restarts.length,
      workers: workers.length,
      orphansQuit: orphans.join(',') || undefined,
    });
  }

  /** The pause before the next restart, or undefined when the budget is spent. */
  private restartDelay(now: number): number | undefined {
    const { max, windowMs } = this.cfg.restart;
    this.restarts = this.restarts.filter((t) => now - t < windowMs);
    if (this.restarts.length >= max) return undefined;
    return Math.min(RESTART_BACKOFF_CAP_MS, RESTART_BACKOFF_MS * 2 ** this.restarts.length);
  }

  private waitToRestart(lost: Lost, now: number, delayMs: number): void {
    this.phase = 'restarting';
    this.pending = { ...lost, at: now + delayMs, delayMs };
  }

  private giveUp(what: string): void {
    this.signalAll(
      this.orphans.filter((p) => this.os.isAlive(p)),
      'SIGQUIT',
    );
    const { max, windowMs } = this.cfg.restart;
    const w = windowMs / 1000;
    const why =
      max === 0
        ? 'restarts are off (--restart-budget 0)'
        : `the restart budget is spent (${this.restarts.length} restarts within ${w} s, --restart-budget ${max}/${w}s)`;
    this.outcome = {
      code: WrapperExit.MASTER_LOST,
      event: 'exit',
      reason: max === 0 ? 'master-lost' : 'restart-budget-spent',
      message: `${what}, and ${why}: exit ${WrapperExit.MASTER_LOST}, for init to respawn the job`,
      fields: { restarts: this.restarts.length },
    };
  }

  private followRestarting(): void {
    const p = this.pending!;
    const now = this.os.now();
    if (now < p.at) return;
    this.pending = undefined;
    this.restarts.push(now);
    const lost: Lost = { master: p.master, seenAt: p.seenAt, reason: p.reason, status: p.status, signal: p.signal };
    let child: number;
    try {
      child = this.os.startMaster();
    } catch (err) {
      const delay = this.restartDelay(now);
      const error = err instanceof Error ? err.message : String(err);
      this.emit('restart-failed', { error, attempt: this.restarts.length, restartInMs: delay });
      if (delay === undefined) return this.giveUp(`a new master could not be started (${error})`);
      return this.waitToRestart(lost, now, delay);
    }
    this.exits.delete(child);
    this.mine.add(child);
    this.emit('master-restarting', { child, lost: p.master, attempt: this.restarts.length, delayMs: p.delayMs });
    this.phase = 'starting';
    this.boot = { child, since: now, notReadyAt: now + this.cfg.readyTimeoutMs, restart: lost };
  }

  /** Everything under these processes: them, their children, their children's children. */
  private tree(roots: number[]): number[] {
    const seen = new Set<number>();
    const todo = roots.filter((p) => this.alive(p));
    while (todo.length) {
      const p = todo.pop()!;
      if (seen.has(p)) continue;
      seen.add(p);
      todo.push(...this.os.childrenOf(p));
    }
    return [...seen];
  }

  private startAbort(outcome: Outcome): void {
    this.phase = 'aborting';
    this.abort = { since: this.os.now(), pids: new Set(), termSent: false, killed: false, outcome };
    this.emit('stopping', { reason: outcome.reason });
    this.followAbort();
  }

  private signalAll(pids: number[], signal: NodeJS.Signals): void {
    for (const p of pids) {
      try {
        this.os.kill(p, signal);
      } catch {
        /* exited meanwhile */
      }
    }
  }

  /** Everything a failed start left: the child, the master in the pid file, their children. */
  private followAbort(): void {
    const a = this.abort!;
    for (const p of this.tree([this.boot?.child, this.os.readPid(this.cfg.pidFile)].filter((p) => p !== undefined)))
      a.pids.add(p);
    const left = [...a.pids].filter((p) => this.alive(p));
    const elapsed = this.os.now() - a.since;
    if (left.length === 0) {
      for (const p of a.pids) this.os.removePidFile(this.cfg.pidFile, p);
      this.outcome = a.outcome;
    } else if (!a.termSent) {
      a.termSent = true;
      this.signalAll(left, 'SIGTERM');
    } else if (!a.killed && elapsed > this.cfg.killGraceMs) {
      a.killed = true;
      this.signalAll(left, 'SIGKILL');
    } else if (elapsed > 3 * this.cfg.killGraceMs) {
      this.outcome = { ...a.outcome, message: `${a.outcome.message} Still alive after SIGKILL: ${left.join(', ')}` };
    }
  }

  /**
   * After QUIT, TERM or INT: no following, only waiting until nothing of the job is left. A
   * master that appears meanwhile (a USR2 was under way) gets the same signal. Past
   * --stop-timeout, the masters left get TERM (unicorn queues QUIT and TERM while it loads its
   * app, so a master stuck loading never acts on them), and everything left KILL after the grace.
   */
  private followStop(): void {
    const s = this.stop!;
    const now = this.os.now();
    const files = [this.os.readPid(this.cfg.pidFile), this.os.readPid(this.oldbin)];
    const masters = uniq([this.master, ...files, this.candidate, this.previous, this.boot?.child]).filter((p) =>
      this.alive(p),
    );
    for (const p of masters) {
      s.masters.add(p);
      if (!this.stopSent.has(p)) this.send(p, s.signal);
    }
    // Orphaned workers of a master that died unasked: the stop is theirs too.
    for (const p of this.orphans)
      if (!this.stopSent.has(p)) {
        this.stopSent.add(p);
        this.signalAll([p], s.signal);
      }
    // A new master between its fork and its pid file is in no file, only among the stopped
    // master's children; so are workers still finishing a request.
    const rest = uniq([...this.workers, ...this.orphans]).filter((p) => this.os.isAlive(p));
    // Once masters and workers are gone: when the wrapper leads the job's session, what else is
    // in its process group is the job's too, and must be gone before the wrapper is.
    const left = masters.length || rest.length ? [...masters, ...rest] : (this.os.processGroup() ?? []);
    if (left.length === 0) return this.stopped(s);
    if (s.termAt === undefined) {
      if (now - s.since < this.cfg.stopTimeoutMs) return;
      s.termAt = now;
      s.termed = masters.length ? masters : left;
      this.emit('stop-timeout', {
        signal: 'SIGTERM',
        after: s.signal,
        pids: s.termed.join(','),
        ms: Math.round(now - s.since),
      });
      this.signalAll(s.termed, 'SIGTERM');
      return;
    }
    if (s.killAt === undefined) {
      if (now - s.termAt < this.cfg.killGraceMs) return;
      s.killAt = now;
      s.killed = uniq([...this.tree([...left, ...masters, ...rest]), ...(this.os.processGroup() ?? [])]);
      this.emit('stop-timeout', {
        signal: 'SIGKILL',
        after: s.signal,
        pids: s.killed.join(','),
        ms: Math.round(now - s.since),
      });
      this.signalAll(s.killed, 'SIGKILL');
      return;
    }
    if (now - s.killAt > 3 * this.cfg.killGraceMs) {
      this.stopped(s, ` Still alive after SIGKILL: ${left.join(', ')}`);
    }
  }

  private stopped(s: Stop, still = ''): void {
    for (const p of uniq([this.master, this.previous, this.candidate, this.boot?.child, ...s.masters])) {
      this.os.removePidFile(this.cfg.pidFile, p);
      this.os.removePidFile(this.oldbin, p);
    }
    if (s.termAt === undefined) {
      this.outcome = { code: WrapperExit.OK, event: 'exit', reason: 'stopped', fields: { signal: s.signal } };
      return;
    }
    const S = this.cfg.stopTimeoutMs / 1000;
    const killed = s.killed.length ? `, then KILL to ${s.killed.join(', ')}` : '';
    this.outcome = {
      code: WrapperExit.STOP_FORCED,
      event: 'exit',
      reason: 'stop-timeout',
      message:
        `${this.cfg.name} did not stop within ${S} s of ${s.signal} (--stop-timeout): sent TERM to ` +
        `${s.termed.join(', ')}${killed}; ${still ? 'not everything is gone.' : 'nothing is left'}${still}`,
      fields: { signal: s.signal, ms: Math.round(this.os.now() - s.since) },
    };
  }

  private followRunning(): void {
    const M = this.master!;
    const now = this.os.now();
    const mAlive = this.alive(M);
    const P = this.os.readPid(this.cfg.pidFile);
    const O = this.os.readPid(this.oldbin);
    if (mAlive && O === M && !this.handover) {
      this.handover = { from: M, since: now, notReadyAt: now + this.cfg.readyTimeoutMs };
      this.emit('upgrade-started', { master: M });
    }
    if (this.usr2 && (this.handover || this.usr2.master !== M || now > this.usr2.until)) this.usr2 = undefined;
    if (this.usr2 && mAlive && P === M && O === undefined && this.renamedBack(M, this.usr2.pidFile)) {
      // The whole failed re-exec happened between two passes: unicorn renamed its pid file back.
      // Said once it has held for a while: a successful upgrade read at an unlucky moment shows
      // its .oldbin (or its new master) within that time, and the upgrade is followed instead.
      this.usr2.suspectSince ??= now;
      if (now - this.usr2.suspectSince >= UNSEEN_FAILURE_MS) {
        this.emit('upgrade-failed', { master: M, unseen: true });
        this.usr2 = undefined;
      }
    } else if (this.usr2) this.usr2.suspectSince = undefined;
    // The master to move to: the one in the pid file; with M gone, also a live .oldbin master
    // (the new master died before the old one was QUIT, and unicorn has not put the file back yet).
    const next = [P, mAlive ? undefined : O].find((p) => p !== M && this.alive(p));
    if (next !== undefined) {
      if (this.handover && next === P) this.handover.newMaster = next;
      this.candidate = next;
      const workers = this.os.childrenOf(next);
      if (workers.length > 0) {
        const back = !mAlive && next === this.previous;
        if (back) {
          // The new master died after it had workers, the old one was never QUIT: the upgrade
          // is undone and the old master serves on, .oldbin until unicorn renames it back.
          this.emit('upgrade-failed', { master: next, failed: M });
          this.handover =
            O === next ? { from: next, since: now, newMaster: M, reported: true, notReadyAt: Infinity } : undefined;
        } else {
          this.emit('master-followed', {
            master: next,
            previous: M,
            previousAlive: mAlive,
            ms: this.handover ? Math.round(now - this.handover.since) : undefined,
          });
          this.handover = undefined;
        }
        this.previous = mAlive ? M : undefined;
        this.master = next;
        this.workers = workers;
        this.candidate = undefined;
        return;
      }
    } else this.candidate = undefined;
    if (this.handover && mAlive && O !== M && P === M) {
      // unicorn reaped a new master that died while loading ("reaped ... exec()-ed") and put
      // its pid file back: the old master serves on, and so does the wrapper's following.
      if (!this.handover.reported) this.emit('upgrade-failed', { master: M, failed: this.handover.newMaster });
      this.handover = undefined;
      this.candidate = undefined;
    }
    this.watchUpgrade(M, now);
    if (mAlive || next !== undefined) return;
    // Between its fork and its pid file, a new master is in no file: give it the pid timeout.
    if (this.handover && now - this.handover.since < this.cfg.pidTimeoutMs) return;
    // The wrapper's own child: /proc can show it dead a moment before Node delivers its exit
    // status (seen on a busy machine: a kill -9 reported as "gone"). Wait for it a little.
    if (this.mine.has(M) && !this.exits.has(M) && now - (this.masterGoneAt ??= now) < EXIT_STATUS_GRACE_MS) return;
    this.masterGoneAt = undefined;
    this.masterLost(M, now);
  }

  /**
   * The pid file names M again but is not the file it was at the USR2: read as one stable file
   * (identity, contents, identity), because P was read apart from it and unicorn may be renaming
   * it to .oldbin at that very moment (a successful upgrade under way, not a failed one).
   */
  private renamedBack(M: number, before: string | undefined): boolean {
    const id = this.os.fileId(this.cfg.pidFile);
    if (id === undefined || id === before) return false;
    return this.os.readPid(this.cfg.pidFile) === M && this.os.fileId(this.cfg.pidFile) === id;
  }

  /** A USR2 whose new master has no workers after --ready-timeout: said, never acted on. */
  private watchUpgrade(M: number, now: number): void {
    const h = this.handover;
    if (!h || h.reported || now < h.notReadyAt) return;
    const newMaster = h.newMaster ?? this.candidate;
    const ms = Math.round(now - h.since);
    if (!h.stuck) {
      h.stuck = true;
      this.emit('upgrade-stuck', { master: M, newMaster, ms });
    }
    this.emit('not-ready', { master: newMaster, phase: 'upgrade', ms, pidFile: newMaster ? 'written' : 'missing' });
    h.notReadyAt = now + this.repeatMs();
  }

  /** The master died unasked and no other is left: start a new one, within the budget. */
  private masterLost(M: number, now: number): void {
    this.os.removePidFile(this.cfg.pidFile, M);
    this.os.removePidFile(this.oldbin, M);
    const e = this.exits.get(M);
    const orphans = this.workers.filter((p) => this.os.isAlive(p));
    this.orphans = uniq([...this.orphans, ...orphans]);
    this.master = undefined;
    this.workers = [];
    this.handover = undefined;
    this.candidate = undefined;
    const delay = this.restartDelay(now);
    this.emit('master-lost', {
      master: M,
      code: e?.code ?? undefined,
      signal: e?.signal ?? undefined,
      orphans: orphans.join(',') || undefined,
      restartInMs: delay,
    });
    if (delay === undefined) return this.giveUp(`the master (pid ${M}) ${describeExit(e)} without being asked to stop`);
    this.waitToRestart(lostFrom(M, now, e), now, delay);
  }
}
