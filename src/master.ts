import { type ChildProcess, spawn } from 'node:child_process';
import { ExitCode, PhoenixError, messageOf } from './errors';
import type { Fields, PhoenixEvent } from './events';
import { type Listener, FD_ENV, releaseOwnedPaths } from './listeners';
import { logEvent, logEventEverywhere, logFileFd, reopenLog } from './log';
import { type Options, reloadOptions } from './options';
import { isAlive, moveToOldbin, oldbinPath, readPid, removeIfOurs, restoreFromOldbin } from './pidfile';
import { WORKER_ENV, type WorkerMessage, type WorkerSpec, isWorkerMessage } from './protocol';

interface LoadError {
  exitCode: number;
  message: string;
  reason?: string;
}

interface WorkerRec {
  pid: number;
  gen: number;
  slot: number;
  child: ChildProcess;
  ready: boolean;
  started: number;
  lastBeat: number;
  /** asked to leave (QUIT/TERM): its exit is expected and not replaced */
  leaving: boolean;
  /** a leaving worker still there at this time is SIGKILLed */
  killAt?: number;
  /** SIGKILL sent: nothing left to do but reap it */
  killedAt?: number;
  loadError?: LoadError;
}

/** A generation on its way in: the first one at start, or one of HUP / in-place USR2. */
interface Roll {
  gen: number;
  why: string;
  count: number;
  started: number;
  deadline: number;
  first: boolean;
  /** kept here too: the worker that sent it may be reaped before the roll is judged */
  loadError?: LoadError;
  /** how a worker of this generation that died before it was ready ended */
  died?: string;
}

interface Stop {
  kind: 'graceful' | 'quick';
  then: () => void;
  done: boolean;
}

/** Workers of a replaced generation, until the last of them has gone. */
interface Retiring {
  wgen: number;
  pids: Set<number>;
  started: number;
}

/** Signals handled one per pass of the loop, in arrival order. */
const QUEUED = ['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGTTIN', 'SIGTTOU'] as const;
type QueuedSignal = (typeof QUEUED)[number];

const QUICK_STOP_MS = 5000;
/**
 * A draining worker ends its own drain at --timeout and says what it cut; the master's SIGKILL
 * comes this much later, for a worker that cannot.
 */
const DRAIN_KILL_GRACE_MS = 1000;
/** SIGKILLed workers still have to be reaped; past this the master leaves without them. */
const REAP_GRACE_MS = 2000;
const RESPAWN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

/**
 * A test seam: ms to wait between the liveness check of the old master and its QUIT, so a
 * test can make the old master exit inside that window. Unset in production.
 */
const QUIT_OLDBIN_DELAY_ENV = 'PHOENIX_TEST_QUIT_OLDBIN_DELAY_MS';

/**
 * The master never serves. It holds the listening fds and runs one loop, as unicorn's
 * master_loop does: each pass reaps exited workers, judges a generation on its way in, takes
 * one queued signal, kills stuck workers and tops the worker count up to what is wanted. Every
 * step that fails is logged (`master-error`, with its step) and the loop carries on serving.
 */
export class Master {
  private readonly workers = new Map<number, WorkerRec>();
  private readonly exited: { rec: WorkerRec; code: number | null; signal: NodeJS.Signals | null }[] = [];
  private readonly queue: QueuedSignal[] = [];
  /** slot -> earliest time a replacement may be spawned (backoff for workers dying before ready) */
  private readonly respawnAt = new Map<number, number>();
  private readonly retiring: Retiring[] = [];
  private current = 0;
  /** generations count on across reexec upgrades, so a timeline never sees a number twice */
  private lastGen = Number(process.env.PHOENIX_LAST_GEN) || 0;
  /** workers wanted in the current generation */
  private target: number;
  private roll: Roll | undefined;
  private stop: Stop | undefined;
  private reexecChild: ChildProcess | undefined;
  private failuresBeforeReady = 0;
  /** the master that re-executed into this one, while it may still run */
  private readonly oldbinPid = Number(process.env.PHOENIX_OLDBIN_PID) || undefined;
  private readonly quitOldbinDelayMs = Number(process.env[QUIT_OLDBIN_DELAY_ENV]) || 0;
  private running = false;
  /** something happened since the pass started: run another one without napping */
  private dirty = false;
  private wakeUp: (() => void) | undefined;
  private startOutcome: { resolve: () => void; reject: (err: Error) => void } | undefined;

  constructor(
    private opts: Options,
    private readonly listeners: Listener[],
    /** the command line, read again with the config file on HUP */
    private readonly argv: string[] = process.argv.slice(2),
  ) {
    this.target = opts.workers;
  }

  private log(event: PhoenixEvent, fields: Fields = {}): void {
    logEvent('master', event, { gen: this.current, ...fields });
  }

  /** Runs `fn`; a throw is reported as a master-error of `step` and the master carries on. */
  private guard(step: string, fn: () => void, fields: Fields = {}): void {
    try {
      fn();
    } catch (err) {
      this.log('master-error', { step, ...fields, error: messageOf(err) });
    }
  }

  /** Starts generation 1 and resolves once it serves; on failure stops its workers and throws. */
  async start(): Promise<void> {
    this.log('start', {
      listeners: this.listeners.map((l) => `${l.address}(${l.source}:fd${l.fd})`).join(','),
      // where the sockets came from (fds-ignored says what else was passed and not served)
      source: [...new Set(this.listeners.map((l) => l.source))].join(','),
      workers: this.target,
      upgrade: this.opts.upgrade,
    });
    const started = new Promise<void>((resolve, reject) => (this.startOutcome = { resolve, reject }));
    this.installSignals();
    this.beginRoll('start', this.target, true);
    if (this.opts.quitOldbin === 'spawned') this.guard('quit-oldbin', () => this.quitOldbinIfAsked());
    void this.run();
    await started;
  }

  private installSignals(): void {
    for (const sig of QUEUED) {
      process.on(sig, () => {
        this.queue.push(sig);
        this.wake();
      });
    }
    process.on('SIGQUIT', () => this.guard('stop', () => this.shutdown('graceful')));
    process.on('SIGTERM', () => this.guard('stop', () => this.shutdown('quick')));
    process.on('SIGINT', () => this.guard('stop', () => this.shutdown('quick')));
    // The last net: whatever escaped a step is reported, and the loop keeps the workers going.
    process.on('uncaughtException', (err) => this.log('master-error', { step: 'uncaught', error: messageOf(err) }));
    process.on('unhandledRejection', (err) => this.log('master-error', { step: 'unhandled', error: messageOf(err) }));
  }

  // ---- the loop ----

  private wake(): void {
    this.dirty = true;
    this.wakeUp?.();
  }

  private nap(ms: number): Promise<void> {
    if (this.dirty) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.wakeUp = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    while (this.running) {
      this.dirty = false;
      this.pass();
      if (!this.running) break;
      let due = 1000;
      this.guard('schedule', () => (due = this.nextDueMs()));
      await this.nap(due);
    }
  }

  private pass(): void {
    this.guard('reap', () => this.reap());
    this.guard('roll', () => this.advanceRoll());
    this.takeSignal();
    this.guard('murder', () => this.murderLazyWorkers());
    this.guard('maintain', () => this.maintainWorkerCount());
    this.guard('stop', () => this.advanceStop());
  }

  /**
   * How long the loop may nap: until the next timeout check, respawn, deadline or kill. Only
   * times still ahead count: one already past was acted on, or waits for an event that wakes
   * the loop anyway (a reap, a stop), and must not make it spin.
   */
  private nextDueMs(): number {
    const now = Date.now();
    const times = [...this.respawnAt.values(), ...[...this.workers.values()].map((w) => w.killAt ?? 0)];
    if (this.roll) times.push(this.roll.deadline);
    const tick = Math.max(100, Math.min(1000, this.opts.timeout * 250));
    return Math.min(tick, ...times.filter((t) => t > now).map((t) => t - now));
  }

  // ---- reap ----

  private reap(): void {
    for (let e = this.exited.shift(); e; e = this.exited.shift()) this.reapOne(e.rec, e.code, e.signal);
  }

  private reapOne(rec: WorkerRec, code: number | null, signal: NodeJS.Signals | null): void {
    this.workers.delete(rec.pid);
    this.log('worker-exit', {
      wgen: rec.gen,
      worker: rec.slot,
      wpid: rec.pid,
      code: code ?? undefined,
      signal: signal ?? undefined,
      expected: rec.leaving,
    });
    if (this.roll?.gen === rec.gen && !rec.ready && !rec.leaving)
      this.roll.died ??= signal ? `killed by ${signal}` : `exited with code ${code}`;
    for (const r of this.retiring) r.pids.delete(rec.pid);
    this.noteRetired();
    if (rec.leaving || this.stop || rec.gen !== this.current || rec.slot >= this.target || this.roll?.first) return;
    // A worker that dies before it is ready is likely to do it again: back off instead of spinning.
    const delay = rec.ready ? 0 : Math.min(MAX_BACKOFF_MS, RESPAWN_BACKOFF_MS * 2 ** this.failuresBeforeReady++);
    this.respawnAt.set(rec.slot, Date.now() + delay);
  }

  private noteRetired(): void {
    for (const r of [...this.retiring]) {
      if (r.pids.size > 0) continue;
      this.retiring.splice(this.retiring.indexOf(r), 1);
      this.log('generation-retired', { wgen: r.wgen, handoverMs: Date.now() - r.started });
    }
  }

  // ---- generations ----

  /**
   * A new generation loads the app from disk and must be ready (listening) before the old
   * one is asked to drain; if it cannot get ready, it is stopped and the old one keeps serving.
   */
  private beginRoll(why: string, count: number, first: boolean): void {
    const gen = ++this.lastGen;
    const now = Date.now();
    this.roll = { gen, why, count, started: now, deadline: now + this.opts.timeout * 1000, first };
    if (first) this.current = gen;
    else this.log('generation-start', { wgen: gen, why, workers: count });
    for (let slot = 0; slot < count; slot++) this.spawnWorker(gen, slot);
  }

  private rollOutcome(r: Roll): 'ready' | PhoenixError | undefined {
    const ofGen = [...this.workers.values()].filter((w) => w.gen === r.gen);
    const loadError = r.loadError ?? ofGen.find((w) => w.loadError)?.loadError;
    if (loadError)
      return new PhoenixError(
        loadError.message,
        loadError.exitCode === ExitCode.APP_MISSING ? ExitCode.APP_MISSING : ExitCode.APP_LOAD,
        loadError.reason,
      );
    if (ofGen.filter((w) => w.ready).length >= r.count) return 'ready';
    if (ofGen.length < r.count)
      return new PhoenixError(
        `a worker of generation ${r.gen} ${r.died ?? 'exited'} before it was ready, loading app ` +
          `module ${this.opts.app ?? 'the demo app'}; run 'phoenix --check' with the same options to load it here`,
        ExitCode.APP_LOAD,
        'worker-exited',
      );
    if (Date.now() >= r.deadline)
      return new PhoenixError(
        `workers of generation ${r.gen} were not ready within ${this.opts.timeout}s`,
        ExitCode.APP_LOAD,
        'workers-not-ready',
      );
    return undefined;
  }

  private advanceRoll(): void {
    const r = this.roll;
    if (!r || this.stop) return;
    const outcome = this.rollOutcome(r);
    if (outcome === undefined) return;
    this.roll = undefined;
    // The next queued signal may be taken now.
    this.dirty = true;
    if (outcome === 'ready') return r.first ? this.started() : this.goLive(r);
    if (r.first) return this.failStart(outcome);
    this.log('generation-failed', { wgen: r.gen, error: outcome.message, kept: this.current });
    for (const w of this.workers.values()) if (w.gen === r.gen) this.retire(w, 'SIGQUIT', this.opts.timeout * 1000);
  }

  private started(): void {
    this.log('ready', { workers: this.target });
    this.startOutcome?.resolve();
    if (this.opts.quitOldbin === 'ready') this.guard('quit-oldbin', () => this.quitOldbinIfAsked());
  }

  private failStart(err: PhoenixError): void {
    this.stopAll('quick', () => {
      this.running = false;
      this.wake();
      this.startOutcome?.reject(err);
    });
  }

  private goLive(r: Roll): void {
    const old = this.current;
    this.current = r.gen;
    this.target = r.count;
    this.failuresBeforeReady = 0;
    this.respawnAt.clear();
    this.log('generation-live', { wgen: r.gen, previous: old, readyMs: Date.now() - r.started });
    const older = [...this.workers.values()].filter((w) => w.gen !== r.gen);
    for (const w of older) if (!w.leaving) this.retire(w, 'SIGQUIT', this.opts.timeout * 1000);
    this.retiring.push({ wgen: old, pids: new Set(older.map((w) => w.pid)), started: r.started });
    this.noteRetired();
  }

  // ---- signals ----

  private takeSignal(): void {
    if (this.roll || this.stop) return;
    const sig = this.queue.shift();
    if (!sig) return;
    if (this.queue.length) this.dirty = true;
    this.log('signal', { signal: sig });
    const steps: Record<QueuedSignal, string> = {
      SIGHUP: 'reload',
      SIGUSR1: 'reopen-log',
      SIGUSR2: this.opts.upgrade === 'reexec' ? 'reexec' : 'upgrade',
      SIGWINCH: 'resize',
      SIGTTIN: 'resize',
      SIGTTOU: 'resize',
    };
    this.guard(steps[sig], () => this.handle(sig), { signal: sig });
  }

  private handle(sig: QueuedSignal): void {
    switch (sig) {
      case 'SIGHUP':
        return this.beginRoll('HUP', this.reloadConfig(), false);
      case 'SIGUSR2':
        return this.opts.upgrade === 'reexec' ? this.reexec() : this.beginRoll('USR2', this.target, false);
      case 'SIGUSR1':
        return this.reopenLogs();
      case 'SIGWINCH':
        return this.resize(0);
      case 'SIGTTIN':
        return this.resize(this.target + 1);
      case 'SIGTTOU':
        return this.resize(Math.max(0, this.target - 1));
    }
  }

  /** Returns the worker count the next generation gets. A bad file keeps the previous config. */
  private reloadConfig(): number {
    if (!this.opts.config) return this.opts.workers;
    try {
      this.opts = reloadOptions(this.argv, this.opts);
      this.log('config-reloaded', { file: this.opts.config, workers: this.opts.workers, upgrade: this.opts.upgrade });
    } catch (err) {
      const error = messageOf(err).split('\n')[0];
      this.log('config-rejected', { file: this.opts.config, error, kept: 'previous' });
    }
    return this.opts.workers;
  }

  /**
   * USR1 (logrotate). When the path cannot be opened (its directory removed, a read-only
   * mount) the old fd is kept, the failure goes to stderr as well, and the next USR1 retries.
   */
  private reopenLogs(): void {
    try {
      if (reopenLog()) this.log('log-reopened', { file: this.opts.logFile });
    } catch (err) {
      logEventEverywhere('master', 'master-error', {
        gen: this.current,
        step: 'reopen-log',
        signal: 'SIGUSR1',
        error: messageOf(err),
        kept: 'previous log fd',
      });
      return;
    }
    for (const w of this.workers.values()) w.child.kill('SIGUSR1');
  }

  private resize(n: number): void {
    this.log('resize', { from: this.target, to: n });
    this.target = n;
  }

  // ---- workers ----

  private workerEnv(spec: WorkerSpec): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, [WORKER_ENV]: JSON.stringify(spec) };
    for (const k of FD_ENV) delete env[k];
    delete env.PHOENIX_OLDBIN_PID;
    delete env.PHOENIX_LAST_GEN;
    return env;
  }

  /** Returns false when the process could not be started at all. */
  private spawnWorker(gen: number, slot: number): boolean {
    const fds = this.listeners.map((l) => l.fd);
    const logFd = logFileFd();
    // stdio positions become fd numbers in the child: ipc at 3, listeners from 4, then the log.
    const spec: WorkerSpec = {
      generation: gen,
      slot,
      app: this.opts.app,
      fds: fds.map((_, i) => 4 + i),
      timeout: this.opts.timeout,
      logFile: this.opts.logFile,
      logFd: logFd === undefined ? undefined : 4 + fds.length,
    };
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', ...fds, ...(logFd === undefined ? [] : [logFd])],
      env: this.workerEnv(spec),
    });
    // An unhandled 'error' (spawn failure, a kill that raced an exit) would take the master down.
    child.on('error', (err) =>
      this.log('worker-error', { wgen: gen, worker: slot, wpid: child.pid, error: err.message }),
    );
    if (child.pid === undefined) {
      this.log('worker-spawn-failed', { wgen: gen, worker: slot });
      return false;
    }
    const now = Date.now();
    const rec: WorkerRec = {
      pid: child.pid,
      gen,
      slot,
      child,
      ready: false,
      started: now,
      lastBeat: now,
      leaving: false,
    };
    this.workers.set(rec.pid, rec);
    this.log('worker-spawn', { wgen: gen, worker: slot, wpid: rec.pid });
    child.on('message', (m: unknown) => this.guard('worker-message', () => this.onMessage(rec, m)));
    child.on('exit', (code, signal) => {
      this.exited.push({ rec, code, signal });
      this.wake();
    });
    return true;
  }

  private onMessage(rec: WorkerRec, m: unknown): void {
    if (!isWorkerMessage(m)) return;
    rec.lastBeat = Date.now();
    if (m.t === 'ready') {
      rec.ready = true;
      if (rec.gen === this.current) this.failuresBeforeReady = 0;
      this.log('worker-ready', { wgen: rec.gen, worker: rec.slot, wpid: rec.pid });
      this.wake();
    } else if (m.t === 'load-error') {
      rec.loadError = loadErrorOf(m);
      if (this.roll?.gen === rec.gen) this.roll.loadError ??= rec.loadError;
      this.wake();
    }
  }

  /** Asks a worker to leave; one still there after `ms` is SIGKILLed by the loop. */
  private retire(w: WorkerRec, sig: NodeJS.Signals, ms: number): void {
    const killAt = Date.now() + ms + (sig === 'SIGQUIT' ? DRAIN_KILL_GRACE_MS : 0);
    w.leaving = true;
    w.killAt = w.killAt === undefined ? killAt : Math.min(w.killAt, killAt);
    w.child.kill(sig);
  }

  private kill9(w: WorkerRec): void {
    w.killedAt = Date.now();
    w.child.kill('SIGKILL');
  }

  /** unicorn's murder_lazy_workers: a silent event loop, or a drain past its time. */
  private murderLazyWorkers(): void {
    const now = Date.now();
    const limit = this.opts.timeout * 1000;
    for (const w of this.workers.values()) {
      if (w.killedAt !== undefined) continue;
      if (w.leaving) {
        if (w.killAt !== undefined && now >= w.killAt) this.kill9(w);
        continue;
      }
      const silentMs = now - (w.ready ? w.lastBeat : w.started);
      if (silentMs <= limit) continue;
      this.log('worker-timeout', { wgen: w.gen, worker: w.slot, wpid: w.pid, silentMs });
      this.kill9(w);
    }
  }

  /** unicorn's maintain_worker_count: every slot of the current generation filled, no more. */
  private maintainWorkerCount(): void {
    if (this.stop || this.roll?.first || this.current === 0) return;
    const now = Date.now();
    const live = [...this.workers.values()].filter((w) => w.gen === this.current && !w.leaving);
    for (let slot = 0; slot < this.target; slot++) {
      if (live.some((w) => w.slot === slot) || (this.respawnAt.get(slot) ?? 0) > now) continue;
      this.respawnAt.delete(slot);
      if (!this.spawnWorker(this.current, slot))
        this.respawnAt.set(slot, now + Math.min(MAX_BACKOFF_MS, RESPAWN_BACKOFF_MS * 2 ** this.failuresBeforeReady++));
    }
    for (const w of live) if (w.slot >= this.target) this.retire(w, 'SIGQUIT', this.opts.timeout * 1000);
  }

  // ---- reexec ----

  /**
   * reexec upgrade, unicorn's: a new master process inherits the sockets as UNICORN_FD; this
   * pid file becomes .oldbin. If the new master dies, the pid file is put back. A pid file
   * that cannot be moved refuses the upgrade before anything is started.
   */
  private reexec(): void {
    if (this.reexecChild) {
      this.log('reexec-refused', { reason: 'a new master is already running', child: this.reexecChild.pid });
      return;
    }
    // Unicorn's rule: never a third master while the previous one (.oldbin) still runs.
    const oldbin = this.opts.pid ? readPid(oldbinPath(this.opts.pid)) : undefined;
    const older = [this.oldbinPid, oldbin].find((p) => p !== undefined && p !== process.pid && isAlive(p));
    if (older) {
      this.log('reexec-refused', { reason: 'the previous master is still running: QUIT it first', oldbin: older });
      return;
    }
    const pidFile = this.opts.pid;
    if (pidFile) moveToOldbin(pidFile, process.pid);
    let child: ChildProcess;
    try {
      child = this.spawnMaster();
    } catch (err) {
      if (pidFile) this.guard('restore-oldbin', () => restoreFromOldbin(pidFile, process.pid));
      throw err;
    }
    this.reexecChild = child;
    this.log('reexec', { child: child.pid, unicornFd: this.listeners.map((_, i) => 3 + i).join(',') });
    const failed = (fields: Fields) => {
      if (this.reexecChild !== child) return;
      this.reexecChild = undefined;
      if (pidFile) this.guard('restore-oldbin', () => restoreFromOldbin(pidFile, process.pid));
      this.log('reexec-failed', { child: child.pid, ...fields });
    };
    child.on('exit', (code, signal) => failed({ code: code ?? undefined, signal: signal ?? undefined }));
    // A spawn that fails outright emits 'error' and never 'exit'.
    child.on('error', (err) =>
      child.pid === undefined ? failed({ error: err.message }) : this.log('reexec-error', { error: err.message }),
    );
  }

  private spawnMaster(): ChildProcess {
    const fds = this.listeners.map((l) => l.fd);
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of FD_ENV) delete env[k];
    env.UNICORN_FD = fds.map((_, i) => 3 + i).join(',');
    env.PHOENIX_OLDBIN_PID = String(process.pid);
    env.PHOENIX_LAST_GEN = String(this.lastGen);
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: ['ignore', 'inherit', 'inherit', ...fds],
      env,
    });
    // The new master outlives this one: it must not keep this process's event loop alive.
    child.unref();
    return child;
  }

  private quitOldbinIfAsked(): void {
    const old = this.oldbinPid;
    delete process.env.PHOENIX_OLDBIN_PID;
    // Only the master that started us: a recycled pid must never get our QUIT.
    if (!this.opts.quitOldbin || !old || old !== process.ppid || !isAlive(old)) return;
    this.log('quit-oldbin', { oldbin: old });
    // The old master may exit between the check above and the kill (an operator's QUIT, a
    // crash): kill then throws ESRCH, which guard() reports; there is nothing left to undo.
    const quit = () => process.kill(old, 'SIGQUIT');
    if (this.quitOldbinDelayMs > 0)
      setTimeout(() => this.guard('quit-oldbin', quit, { oldbin: old }), this.quitOldbinDelayMs);
    else quit();
  }

  // ---- stopping ----

  /** QUIT: workers finish what they have. INT/TERM (also during a QUIT): workers stop now. */
  shutdown(kind: 'graceful' | 'quick'): void {
    if (this.stop?.kind === 'quick' || this.stop?.kind === kind) return;
    this.log('stopping', { how: kind });
    this.stopAll(kind, () => this.exit());
  }

  private stopAll(kind: 'graceful' | 'quick', then: () => void): void {
    this.stop = { kind, then: this.stop?.then ?? then, done: false };
    const sig = kind === 'quick' ? 'SIGTERM' : 'SIGQUIT';
    const ms = kind === 'quick' ? QUICK_STOP_MS : this.opts.timeout * 1000;
    for (const w of this.workers.values()) if (w.killedAt === undefined) this.retire(w, sig, ms);
    this.wake();
  }

  private advanceStop(): void {
    const s = this.stop;
    if (!s || s.done) return;
    const now = Date.now();
    const waiting = [...this.workers.values()].some(
      (w) => w.killedAt === undefined || now - w.killedAt < REAP_GRACE_MS,
    );
    if (waiting) return;
    s.done = true;
    s.then();
  }

  /** Last step of every stop: what this master answers for is removed, unless handed over. */
  private exit(): never {
    this.running = false;
    const handedOver = this.reexecChild !== undefined && this.reexecChild.exitCode === null;
    if (!handedOver) this.guard('exit', () => releaseOwnedPaths(this.listeners));
    const pidFile = this.opts.pid;
    if (pidFile) {
      this.guard('exit', () => removeIfOurs(pidFile, process.pid));
      this.guard('exit', () => removeIfOurs(oldbinPath(pidFile), process.pid));
    }
    this.log('exit', { code: ExitCode.OK, handedOver });
    process.exit(ExitCode.OK);
  }
}

function loadErrorOf(m: Extract<WorkerMessage, { t: 'load-error' }>): LoadError {
  return { exitCode: m.exitCode, message: m.message, reason: m.reason };
}
