import type { Fields, WrapperEvent } from '../events';
import { oldbinPath } from '../pidfile';
import { WrapperExit, type WrapperExitCode } from './exit-codes';
import { type ForwardedSignal, type MasterView, STOPS, route } from './forward';
import type { WrapperOs } from './os';

/**
 * unicorn's masters as the wrapper follows them. The pid file is the truth: the master in
 * PIDFILE is the current one; on USR2 it renames PIDFILE to PIDFILE.oldbin, its re-executed
 * child writes PIDFILE, and (usually through a before_fork hook) QUITs the .oldbin master. Only
 * the first master is the wrapper's child; the others are found through the files and polled.
 *
 * One pass: reap (what is alive), one queued signal, follow the pid files. A step that throws
 * is reported (wrapper-error, once per distinct error) and the next pass carries on.
 */

export type Emit = (event: WrapperEvent, fields?: Fields) => void;

export interface FollowConfig {
  pidFile: string;
  pidTimeoutMs: number;
  /** after TERM to what a failed start left behind, how long before KILL */
  killGraceMs: number;
  /** the program's name for messages: unicorn, phoenix... */
  name: string;
}

export interface Outcome {
  code: WrapperExitCode;
  event: 'exit' | 'start-failed';
  reason: string;
  /** for a person, written as `unicorn-wrapper: ...` on stderr; failures only */
  message?: string;
  fields?: Fields;
}

type Phase = 'starting' | 'running' | 'aborting';

const IDLE_MS = 100;
const BUSY_MS = 20;
/** after a forwarded signal, poll fast for a while: a USR2 handover takes a few hundred ms */
const WATCH_AFTER_SIGNAL_MS = 3000;
/** how long a dead child's exit status may take to arrive before it is reported without one */
const EXIT_STATUS_GRACE_MS = 1000;

export class Follower {
  private phase: Phase = 'starting';
  private readonly startedAt: number;
  private readonly oldbin: string;
  /** the master the wrapper follows: it serves */
  private master: number | undefined;
  /** a master the pid file names that does not serve yet */
  private candidate: number | undefined;
  /** the followed master renamed its pid file to .oldbin: a USR2 is under way */
  private handover: { from: number; since: number; newMaster?: number; reported?: boolean } | undefined;
  /** the master followed before the current one, while it still runs */
  private previous: number | undefined;
  private childExit: { code: number | null; signal: string | null } | undefined;
  /** when followStart first saw the child gone without its exit status (undefined: not yet) */
  private childGoneAt: number | undefined;
  private stopAsked: ForwardedSignal | undefined;
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
    readonly child: number,
  ) {
    this.startedAt = os.now();
    this.oldbin = oldbinPath(cfg.pidFile);
  }

  childExited(code: number | null, signal: string | null): void {
    this.childExit = { code, signal };
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
      this.stopAsked !== undefined ||
      this.os.now() < this.watchUntil;
    return busy ? BUSY_MS : IDLE_MS;
  }

  /** For tests and status: who is who right now. */
  state(): { phase: Phase; master?: number; candidate?: number; previous?: number; upgrading: boolean } {
    return {
      phase: this.phase,
      master: this.master,
      candidate: this.candidate,
      previous: this.previous,
      upgrading: this.handover !== undefined,
    };
  }

  pass(): Outcome | undefined {
    if (!this.outcome) this.step('reap', () => this.reap());
    if (!this.outcome) this.step('signal', () => this.handleSignal());
    if (!this.outcome) this.step('follow', () => this.follow());
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
    // The child's pid is free for reuse once node has reaped it.
    if (pid === this.child && this.childExit) return false;
    return this.os.isAlive(pid);
  }

  private reap(): void {
    if (this.phase === 'running' && this.alive(this.master)) this.workers = this.os.childrenOf(this.master);
    if (this.previous !== undefined && !this.alive(this.previous)) {
      this.emit('oldbin-exited', { oldbin: this.previous, master: this.master });
      this.os.removePidFile(this.oldbin, this.previous);
      this.previous = undefined;
    }
  }

  private view(): MasterView {
    const P = this.os.readPid(this.cfg.pidFile);
    if (this.phase !== 'running') {
      const current = this.alive(P) ? P : this.alive(this.child) ? this.child : undefined;
      // unicorn -D: the launcher (the child) and the daemon (in the pid file) both live a while
      const others = this.alive(this.child) && this.child !== current ? [this.child] : [];
      return { current, others, ready: false, handlers: this.alive(P) };
    }
    const O = this.os.readPid(this.oldbin);
    const current = this.alive(this.master) ? this.master : this.alive(this.candidate) ? this.candidate : undefined;
    const others = [...new Set([P, O, this.candidate, this.previous])].filter(
      (p): p is number => p !== current && this.alive(p),
    );
    const oldbinAlive = this.alive(O) && O !== current ? O : undefined;
    const upgrading =
      this.handover || this.candidate !== undefined || oldbinAlive !== undefined
        ? { oldbin: oldbinAlive ?? this.handover?.from, newMaster: this.candidate }
        : undefined;
    return { current, others, ready: true, handlers: true, upgrading };
  }

  private handleSignal(): void {
    const signal = this.queue.shift();
    if (!signal) return;
    this.watchUntil = this.os.now() + WATCH_AFTER_SIGNAL_MS;
    if (this.phase === 'aborting') {
      this.emit('signal-refused', { signal, reason: 'stopping what a failed start left behind' });
      return;
    }
    if (STOPS.includes(signal)) {
      if (!this.stopAsked) this.emit('stopping', { signal });
      this.stopAsked = signal;
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
      this.os.kill(master, signal);
      this.emit('signal-forwarded', { signal, master });
    } catch (err) {
      this.emit('wrapper-error', { step: 'forward', signal, master, error: (err as Error).message });
    }
  }

  private follow(): void {
    if (this.phase === 'starting') this.followStart();
    else if (this.phase === 'aborting') this.followAbort();
    else this.followRunning();
  }

  private followStart(): void {
    const now = this.os.now();
    const P = this.os.readPid(this.cfg.pidFile);
    if (this.alive(P)) {
      // Serving means workers: unicorn writes its pid file before it loads the app.
      const workers = this.os.childrenOf(P);
      if (workers.length === 0) return;
      this.phase = 'running';
      this.master = P;
      this.workers = workers;
      this.emit('ready', { master: P, workers: workers.length, ms: Math.round(now - this.startedAt) });
      return;
    }
    if (!this.alive(this.child)) {
      this.os.removePidFile(this.cfg.pidFile, this.child);
      if (this.stopAsked) {
        this.outcome = { code: WrapperExit.OK, event: 'exit', reason: 'stopped', fields: { signal: this.stopAsked } };
        return;
      }
      const e = this.childExit;
      // The child is our own: its exit status follows its death by a moment (Node delivers it
      // after /proc shows it gone). Wait for it a little, so the message says how it ended.
      if (!e && now - (this.childGoneAt ??= now) < EXIT_STATUS_GRACE_MS) return;
      const how = e?.signal ? `was killed by ${e.signal}` : e ? `exited with status ${e.code}` : 'is gone';
      this.outcome = {
        code: WrapperExit.START_FAILED,
        event: 'start-failed',
        reason: 'unicorn-exited',
        message: `${this.cfg.name} (pid ${this.child}) ${how} before it served: its own messages above say why (a config or app that does not load?)`,
        fields: { status: e?.code ?? undefined, signal: e?.signal ?? undefined },
      };
      return;
    }
    if (now - this.startedAt > this.cfg.pidTimeoutMs) {
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

  /** Everything a failed start left: the child, the master in the pid file, their children. */
  private tree(): number[] {
    const roots = [this.child, this.os.readPid(this.cfg.pidFile)].filter((p): p is number => this.alive(p));
    const seen = new Set<number>();
    const todo = [...roots];
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

  private followAbort(): void {
    const a = this.abort!;
    for (const p of this.tree()) a.pids.add(p);
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
   * After QUIT, TERM or INT: no following, only waiting until no master is left. A master
   * that appears meanwhile (a USR2 was under way) gets the same signal.
   */
  private followStop(): void {
    const signal = this.stopAsked!;
    const files = [this.os.readPid(this.cfg.pidFile), this.os.readPid(this.oldbin)];
    const live = [...new Set([this.master, ...files, this.candidate, this.previous])].filter((p) => this.alive(p));
    for (const p of live) if (!this.stopSent.has(p)) this.send(p, signal);
    if (live.length > 0) return;
    // A new master between its fork and its pid file is in no file, only among the stopped
    // master's children; so are workers still finishing a request.
    if (this.workers.some((p) => this.os.isAlive(p))) return;
    for (const p of [this.master, this.previous, this.candidate])
      if (p !== undefined) {
        this.os.removePidFile(this.cfg.pidFile, p);
        this.os.removePidFile(this.oldbin, p);
      }
    this.outcome = { code: WrapperExit.OK, event: 'exit', reason: 'stopped', fields: { signal } };
  }

  private followRunning(): void {
    if (this.stopAsked) return this.followStop();
    const M = this.master!;
    const now = this.os.now();
    const mAlive = this.alive(M);
    const P = this.os.readPid(this.cfg.pidFile);
    const O = this.os.readPid(this.oldbin);
    if (mAlive && O === M && !this.handover) {
      this.handover = { from: M, since: now };
      this.emit('upgrade-started', { master: M });
    }
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
          this.handover = O === next ? { from: next, since: now, newMaster: M, reported: true } : undefined;
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
    if (mAlive || next !== undefined) return;
    // Between its fork and its pid file, a new master is in no file: give it the pid timeout.
    if (this.handover && now - this.handover.since < this.cfg.pidTimeoutMs) return;

    this.os.removePidFile(this.cfg.pidFile, M);
    this.os.removePidFile(this.oldbin, M);
    const exit = M === this.child ? this.childExit : undefined;
    const orphans = this.workers.filter((p) => this.os.isAlive(p));
    this.emit('master-lost', {
      master: M,
      code: exit?.code ?? undefined,
      signal: exit?.signal ?? undefined,
      orphans: orphans.join(',') || undefined,
    });
    // The dead master's workers would serve on until their next check of their parent (up to
    // timeout/2 in unicorn). The job is over: QUIT lets them finish what they have.
    this.signalAll(orphans, 'SIGQUIT');
    this.outcome = {
      code: WrapperExit.MASTER_LOST,
      event: 'exit',
      reason: 'master-lost',
      message:
        `the master (pid ${M}) is gone without being asked to stop, and no other master is left: ` +
        `exit ${WrapperExit.MASTER_LOST}, for init to respawn the job`,
    };
  }
}
