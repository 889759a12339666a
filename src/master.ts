import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { ExitCode, PhoenixError } from './errors';
import { type Listener, FD_ENV, releaseOwnedPaths } from './listeners';
import type { PhoenixEvent } from './events';
import { logEvent, reopenLog } from './log';
import { type Options, applyConfigFile } from './options';
import { isAlive, moveToOldbin, oldbinPath, readPid, removeIfOurs, restoreFromOldbin } from './pidfile';
import { WORKER_ENV, type WorkerSpec, isWorkerMessage } from './protocol';

interface WorkerRec {
  pid: number;
  gen: number;
  slot: number;
  child: ChildProcess;
  ready: boolean;
  started: number;
  lastBeat: number;
  /** asked to leave (QUIT/TERM/KILL): its exit is expected and not replaced */
  leaving: boolean;
  loadError?: { exitCode: number; message: string };
}

/** Signals handled one at a time, in arrival order, by drainQueue(). */
const QUEUED = ['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGTTIN', 'SIGTTOU'] as const;
type QueuedSignal = (typeof QUEUED)[number];

const QUICK_STOP_MS = 5000;
const RESPAWN_BACKOFF_MS = 1000;

/**
 * The master never serves. It holds the listening fds, keeps `target` workers of the current
 * generation alive, and turns signals into lifecycle steps, one at a time.
 */
export class Master {
  private readonly workers = new Map<number, WorkerRec>();
  private readonly changed = new EventEmitter();
  private current = 0;
  /** generations count on across reexec upgrades, so a timeline never sees a number twice */
  private lastGen = Number(process.env.PHOENIX_LAST_GEN) || 0;
  private target: number;
  private readonly queue: QueuedSignal[] = [];
  private draining = false;
  private stopping: 'graceful' | 'quick' | undefined;
  private reexecChild: ChildProcess | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private failuresBeforeReady = 0;
  /** the master that re-executed into this one, while it may still run */
  private readonly oldbinPid = Number(process.env.PHOENIX_OLDBIN_PID) || undefined;

  constructor(
    private opts: Options,
    private readonly listeners: Listener[],
  ) {
    this.target = opts.workers;
    this.changed.setMaxListeners(0);
  }

  private log(event: PhoenixEvent, fields: Record<string, string | number | boolean | undefined> = {}): void {
    logEvent('master', event, { gen: this.current, ...fields });
  }

  /** Starts generation 1 and resolves once it serves; on failure cleans up and throws. */
  async start(): Promise<void> {
    this.log('start', {
      listeners: this.listeners.map((l) => `${l.address}(${l.source}:fd${l.fd})`).join(','),
      workers: this.target,
      upgrade: this.opts.upgrade,
    });
    this.installSignals();
    this.watchdog = setInterval(() => this.checkTimeouts(), Math.max(100, Math.min(1000, this.opts.timeout * 250)));
    const gen = ++this.lastGen;
    this.current = gen;
    for (let slot = 0; slot < this.target; slot++) this.spawnWorker(gen, slot);
    if (this.opts.quitOldbin === 'spawned') this.quitOldbinIfAsked();
    try {
      await this.waitReady(gen, this.target);
    } catch (err) {
      this.stopping = 'quick';
      await this.stopWorkers(() => true, 'SIGTERM', QUICK_STOP_MS);
      clearInterval(this.watchdog);
      throw err;
    }
    this.log('ready', { workers: this.target });
    if (this.opts.quitOldbin === 'ready') this.quitOldbinIfAsked();
  }

  private quitOldbinIfAsked(): void {
    const old = this.oldbinPid;
    delete process.env.PHOENIX_OLDBIN_PID;
    // Only the master that started us: a recycled pid must never get our QUIT.
    if (!this.opts.quitOldbin || !old || old !== process.ppid || !isAlive(old)) return;
    this.log('quit-oldbin', { oldbin: old });
    process.kill(old, 'SIGQUIT');
  }

  private workerEnv(spec: WorkerSpec): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, [WORKER_ENV]: JSON.stringify(spec) };
    for (const k of FD_ENV) delete env[k];
    delete env.PHOENIX_OLDBIN_PID;
    delete env.PHOENIX_LAST_GEN;
    return env;
  }

  private spawnWorker(gen: number, slot: number): void {
    const fds = this.listeners.map((l) => l.fd);
    // stdio positions become fd numbers in the child: ipc at 3, listeners from 4.
    const spec: WorkerSpec = {
      generation: gen,
      slot,
      app: this.opts.app,
      fds: fds.map((_, i) => 4 + i),
      timeout: this.opts.timeout,
      logFile: this.opts.logFile,
    };
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', ...fds],
      env: this.workerEnv(spec),
    });
    // An unhandled 'error' (spawn failure, a kill that raced an exit) would take the master down.
    child.on('error', (err) =>
      this.log('worker-error', { wgen: gen, worker: slot, wpid: child.pid, error: err.message }),
    );
    if (child.pid === undefined) {
      this.log('worker-spawn-failed', { worker: slot });
      return;
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
    child.on('message', (m: unknown) => {
      if (!isWorkerMessage(m)) return;
      rec.lastBeat = Date.now();
      if (m.t === 'ready') {
        rec.ready = true;
        if (gen === this.current) this.failuresBeforeReady = 0;
        this.log('worker-ready', { wgen: gen, worker: slot, wpid: rec.pid });
      } else if (m.t === 'load-error') {
        rec.loadError = { exitCode: m.exitCode, message: m.message };
      }
      this.changed.emit('change');
    });
    child.on('exit', (code, signal) => this.onWorkerExit(rec, code, signal));
  }

  private onWorkerExit(rec: WorkerRec, code: number | null, signal: NodeJS.Signals | null): void {
    this.workers.delete(rec.pid);
    this.log('worker-exit', {
      wgen: rec.gen,
      worker: rec.slot,
      wpid: rec.pid,
      code: code ?? undefined,
      signal: signal ?? undefined,
      expected: rec.leaving,
    });
    this.changed.emit('change');
    if (rec.leaving || this.stopping || rec.gen !== this.current || rec.slot >= this.target) return;
    // A worker that dies before it is ready is likely to do it again: back off instead of spinning.
    const delay = rec.ready ? 0 : Math.min(30_000, RESPAWN_BACKOFF_MS * 2 ** this.failuresBeforeReady++);
    setTimeout(() => {
      const taken = [...this.workers.values()].some((w) => w.gen === this.current && w.slot === rec.slot && !w.leaving);
      if (!this.stopping && rec.gen === this.current && rec.slot < this.target && !taken)
        this.spawnWorker(this.current, rec.slot);
    }, delay);
  }

  /** Resolves when `count` workers of `gen` are ready; rejects when one fails first or time runs out. */
  private waitReady(gen: number, count: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const deadline = setTimeout(
        () =>
          finish(
            new PhoenixError(
              `workers of generation ${gen} were not ready within ${this.opts.timeout}s`,
              ExitCode.APP_LOAD,
            ),
          ),
        this.opts.timeout * 1000,
      );
      const check = () => {
        if (this.stopping) return finish(new PhoenixError('stopping', ExitCode.OK));
        const ofGen = [...this.workers.values()].filter((w) => w.gen === gen);
        const failed = ofGen.find((w) => w.loadError);
        if (failed?.loadError)
          return finish(new PhoenixError(failed.loadError.message, failed.loadError.exitCode as 66 | 70));
        if (ofGen.filter((w) => w.ready).length >= count) return finish();
        if (ofGen.length < count)
          return finish(
            new PhoenixError(`a worker of generation ${gen} exited before it was ready`, ExitCode.APP_LOAD),
          );
      };
      const finish = (err?: Error) => {
        clearTimeout(deadline);
        this.changed.off('change', check);
        if (err) reject(err);
        else resolve();
      };
      this.changed.on('change', check);
      check();
    });
  }

  /** Sends `sig` to the matching workers and waits up to `ms` for them, then SIGKILLs the rest. */
  private async stopWorkers(match: (w: WorkerRec) => boolean, sig: NodeJS.Signals, ms: number): Promise<void> {
    const targets = [...this.workers.values()].filter(match);
    for (const w of targets) {
      w.leaving = true;
      w.child.kill(sig);
    }
    const gone = () => targets.every((w) => !this.workers.has(w.pid));
    if (gone()) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        for (const w of targets) if (this.workers.has(w.pid)) w.child.kill('SIGKILL');
        finish();
      }, ms);
      const check = () => gone() && finish();
      const finish = () => {
        clearTimeout(t);
        this.changed.off('change', check);
        resolve();
      };
      this.changed.on('change', check);
    });
    // SIGKILLed workers still have to be reaped; their exit events arrive shortly.
    const until = Date.now() + 2000;
    while (!gone() && Date.now() < until) await new Promise<void>((resolve) => setTimeout(resolve, 20));
  }

  private checkTimeouts(): void {
    const now = Date.now();
    const limit = this.opts.timeout * 1000;
    for (const w of this.workers.values()) {
      const stuck = w.ready ? now - w.lastBeat > limit : now - w.started > limit;
      if (!stuck || w.child.killed) continue;
      this.log('worker-timeout', {
        wgen: w.gen,
        worker: w.slot,
        wpid: w.pid,
        silentMs: now - (w.ready ? w.lastBeat : w.started),
      });
      w.child.kill('SIGKILL');
    }
  }

  private installSignals(): void {
    for (const sig of QUEUED) {
      process.on(sig, () => {
        this.queue.push(sig);
        void this.drainQueue();
      });
    }
    process.on('SIGQUIT', () => void this.shutdown('graceful'));
    process.on('SIGTERM', () => void this.shutdown('quick'));
    process.on('SIGINT', () => void this.shutdown('quick'));
  }

  private async drainQueue(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let sig = this.queue.shift(); sig && !this.stopping; sig = this.queue.shift()) {
        this.log('signal', { signal: sig });
        await this.handle(sig);
      }
    } finally {
      this.draining = false;
    }
  }

  private async handle(sig: QueuedSignal): Promise<void> {
    switch (sig) {
      case 'SIGHUP':
        this.reloadConfig();
        return this.rollGeneration('HUP');
      case 'SIGUSR2':
        return this.opts.upgrade === 'reexec' ? this.reexec() : this.rollGeneration('USR2');
      case 'SIGUSR1':
        reopenLog();
        for (const w of this.workers.values()) w.child.kill('SIGUSR1');
        return;
      case 'SIGWINCH':
        return this.resize(0);
      case 'SIGTTIN':
        return this.resize(this.target + 1);
      case 'SIGTTOU':
        return this.resize(Math.max(0, this.target - 1));
    }
  }

  private reloadConfig(): void {
    if (!this.opts.config) {
      this.target = this.opts.workers;
      return;
    }
    try {
      const next = applyConfigFile({ ...this.opts, listen: [] }, this.opts.config);
      // Sockets stay as they are: they are what keeps connections queued during the reload.
      this.opts = { ...next, listen: this.opts.listen, config: this.opts.config };
      this.log('config-reloaded', { file: this.opts.config, workers: this.opts.workers, upgrade: this.opts.upgrade });
    } catch (err) {
      this.log('config-rejected', { file: this.opts.config, error: (err as Error).message, kept: 'previous' });
    }
    this.target = this.opts.workers;
  }

  private async resize(n: number): Promise<void> {
    const before = this.target;
    this.target = n;
    this.log('resize', { from: before, to: n });
    const live = [...this.workers.values()].filter((w) => w.gen === this.current && !w.leaving);
    for (let slot = 0; slot < n; slot++) if (!live.some((w) => w.slot === slot)) this.spawnWorker(this.current, slot);
    const extra = live.filter((w) => w.slot >= n);
    if (extra.length) void this.stopWorkers((w) => extra.includes(w), 'SIGQUIT', this.opts.timeout * 1000);
  }

  /**
   * in-place upgrade: the master keeps its pid; a new generation loads the app from disk and
   * must be ready (listening) before the old generation is asked to drain. If it cannot get
   * ready, it is stopped and the old generation keeps serving.
   */
  private async rollGeneration(why: string): Promise<void> {
    const gen = ++this.lastGen;
    const started = Date.now();
    this.log('generation-start', { wgen: gen, why, workers: this.target });
    for (let slot = 0; slot < this.target; slot++) this.spawnWorker(gen, slot);
    try {
      await this.waitReady(gen, this.target);
    } catch (err) {
      if (this.stopping) return;
      this.log('generation-failed', { wgen: gen, error: (err as Error).message, kept: this.current });
      await this.stopWorkers((w) => w.gen === gen, 'SIGQUIT', this.opts.timeout * 1000);
      return;
    }
    const old = this.current;
    this.current = gen;
    this.log('generation-live', { wgen: gen, previous: old, readyMs: Date.now() - started });
    void this.stopWorkers((w) => w.gen !== gen, 'SIGQUIT', this.opts.timeout * 1000).then(() =>
      this.log('generation-retired', { wgen: old, handoverMs: Date.now() - started }),
    );
  }

  /**
   * reexec upgrade, unicorn's: a new master process inherits the sockets as UNICORN_FD; this
   * pid file becomes .oldbin. If the new master dies, the pid file is put back.
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
    if (this.opts.pid) moveToOldbin(this.opts.pid, process.pid);
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
    this.reexecChild = child;
    this.log('reexec', { child: child.pid, unicornFd: env.UNICORN_FD });
    const failed = (fields: Record<string, string | number | undefined>) => {
      if (this.reexecChild !== child) return;
      this.reexecChild = undefined;
      if (this.opts.pid) restoreFromOldbin(this.opts.pid, process.pid);
      this.log('reexec-failed', { child: child.pid, ...fields });
    };
    child.on('exit', (code, signal) => failed({ code: code ?? undefined, signal: signal ?? undefined }));
    // A spawn that fails outright emits 'error' and never 'exit'.
    child.on('error', (err) =>
      child.pid === undefined ? failed({ error: err.message }) : this.log('reexec-error', { error: err.message }),
    );
  }

  /** QUIT: workers finish what they have. INT/TERM (also during a QUIT): workers stop now. */
  async shutdown(kind: 'graceful' | 'quick'): Promise<void> {
    if (this.stopping === 'quick' || this.stopping === kind) return;
    this.stopping = kind;
    this.log('stopping', { how: kind });
    this.changed.emit('change');
    if (kind === 'quick') await this.stopWorkers(() => true, 'SIGTERM', QUICK_STOP_MS);
    else await this.stopWorkers(() => true, 'SIGQUIT', this.opts.timeout * 1000);
    this.exit();
  }

  /** Last step of every stop: what this master answers for is removed, unless handed over. */
  private exit(): never {
    if (this.watchdog) clearInterval(this.watchdog);
    const handedOver = this.reexecChild !== undefined && this.reexecChild.exitCode === null;
    if (!handedOver) releaseOwnedPaths(this.listeners);
    if (this.opts.pid) {
      removeIfOurs(this.opts.pid, process.pid);
      removeIfOurs(oldbinPath(this.opts.pid), process.pid);
    }
    this.log('exit', { handedOver });
    process.exit(0);
  }
}
