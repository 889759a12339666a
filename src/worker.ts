import * as http from 'node:http';
import { loadApp } from './app-loader';
import { ExitCode, PhoenixError, messageOf } from './errors';
import { logEvent, logEventEverywhere, reopenLog, useLogFd } from './log';
import { WORKER_ENV, type WorkerMessage, type WorkerSpec } from './protocol';

/**
 * Signals meant for the master. A worker ignores them, as unicorn's workers do
 * (init_worker_process traps them to nil): Node's default action would kill it, and a stray
 * `kill -USR2` or `pkill -HUP node` must not cost a worker.
 */
const MASTER_ONLY = ['SIGUSR2', 'SIGHUP', 'SIGWINCH', 'SIGTTIN', 'SIGTTOU'] as const;

/**
 * A worker accepts on the shared listening socket(s) itself, like a unicorn worker: the
 * kernel hands each connection to one of the workers blocked in accept/epoll.
 */
function send(msg: WorkerMessage): void {
  if (process.connected) process.send?.(msg);
}

type Fields = { gen: number; worker: number };

/** Every way out of a worker says so, with its exit code. */
function leave(fields: Fields, code: number, why: string): never {
  logEvent('worker', 'exit', { ...fields, code, why });
  process.exit(code);
}

function ignoreMasterSignals(fields: Fields): void {
  for (const sig of MASTER_ONLY)
    process.on(sig, () => logEvent('worker', 'signal', { ...fields, signal: sig, ignored: true }));
}

function reopenWorkerLog(fields: Fields): void {
  try {
    if (reopenLog()) logEvent('worker', 'log-reopened', fields);
  } catch (err) {
    // The old fd is kept (lines still go somewhere) and the next USR1 tries again.
    logEventEverywhere('worker', 'error', { ...fields, step: 'reopen-log', error: messageOf(err) });
  }
}

function reportLoadError(fields: Fields, err: unknown): void {
  const e = err instanceof PhoenixError ? err : new PhoenixError(messageOf(err), ExitCode.APP_LOAD, 'app-threw');
  logEvent('worker', 'load-error', { ...fields, code: e.exitCode, reason: e.reason, error: e.message });
  const msg: WorkerMessage = { t: 'load-error', exitCode: e.exitCode, message: e.message, reason: e.reason };
  // Leave only once the master has the message, so it can say why instead of guessing.
  if (process.connected && process.send) process.send(msg, () => leave(fields, e.exitCode, 'load-error'));
  else leave(fields, e.exitCode, 'load-error');
}

export async function runWorker(spec: WorkerSpec): Promise<void> {
  useLogFd(spec.logFd, spec.logFile);
  const fields: Fields = { gen: spec.generation, worker: spec.slot };
  process.env.PHOENIX_GENERATION = String(spec.generation);
  process.env.PHOENIX_WORKER_SLOT = String(spec.slot);
  ignoreMasterSignals(fields);

  let handler: http.RequestListener;
  try {
    handler = await loadApp(spec.app);
  } catch (err) {
    reportLoadError(fields, err);
    return;
  }

  let draining = false;
  const ids = {
    'x-phoenix-pid': String(process.pid),
    'x-phoenix-generation': String(spec.generation),
    'x-phoenix-worker': String(spec.slot),
  };

  // Headers are decided when they are sent, not when the request arrives: a request already
  // in flight when the drain starts must also close its connection afterwards. Doing it in
  // writeHead costs nothing per request, unlike tracking every response in a set.
  class PhoenixResponse<Req extends http.IncomingMessage = http.IncomingMessage> extends http.ServerResponse<Req> {
    constructor(req: Req) {
      super(req);
      for (const [k, v] of Object.entries(ids)) this.setHeader(k, v);
    }
  }
  // writeHead has overloads a subclass method cannot restate; end() without it calls it too.
  const baseWriteHead = http.ServerResponse.prototype.writeHead as (
    this: http.ServerResponse,
    ...a: unknown[]
  ) => http.ServerResponse;
  PhoenixResponse.prototype.writeHead = function writeHead(this: http.ServerResponse, ...a: unknown[]) {
    if (draining && !this.headersSent) this.setHeader('connection', 'close');
    return baseWriteHead.apply(this, a);
  } as typeof baseWriteHead as http.ServerResponse['writeHead'];

  const onRequest: http.RequestListener = (req, res) => {
    try {
      handler(req, res);
    } catch (err) {
      logEvent('worker', 'app-error', { ...fields, error: (err as Error).message });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    }
  };

  const servers = spec.fds.map(() =>
    http.createServer({ keepAliveTimeout: 5000, ServerResponse: PhoenixResponse }, onRequest),
  );

  let listening = 0;
  spec.fds.forEach((fd, i) => {
    servers[i].once('error', (err) => {
      logEvent('worker', 'listen-error', { ...fields, fd, error: err.message });
      leave(fields, ExitCode.LISTENER, 'listen-error');
    });
    servers[i].listen({ fd }, () => {
      if (++listening === spec.fds.length) {
        send({ t: 'ready' });
        logEvent('worker', 'ready', fields);
      }
    });
  });

  // The event loop itself is the heartbeat: a worker stuck in synchronous code stops beating.
  const beatEvery = Math.max(100, Math.min(1000, (spec.timeout * 1000) / 4));
  const beat = setInterval(() => send({ t: 'hb' }), beatEvery);
  beat.unref();

  const graceful = (why: string) => {
    if (draining) return;
    draining = true;
    logEvent('worker', 'draining', { ...fields, why });
    let open = servers.length;
    for (const s of servers) {
      s.close(() => {
        if (--open === 0) leave(fields, 0, why);
      });
      s.closeIdleConnections();
    }
    // Keep-alive connections go idle as their last response ends: close them as they do.
    const sweep = setInterval(() => {
      for (const s of servers) s.closeIdleConnections();
    }, 50);
    sweep.unref();
    // The worker ends its own drain, before the master's SIGKILL, so what it cuts is said.
    setTimeout(() => void cutAndLeave(), spec.timeout * 1000).unref();
  };

  const cutAndLeave = async () => {
    const counts = await Promise.all(
      servers.map((s) => new Promise<number>((r) => s.getConnections((err, n) => r(err ? 0 : n)))),
    );
    for (const s of servers) s.closeAllConnections();
    logEvent('worker', 'drain-timeout', { ...fields, cut: counts.reduce((a, b) => a + b, 0) });
    leave(fields, 0, 'drain-timeout');
  };

  process.on('SIGQUIT', () => graceful('QUIT'));
  process.on('SIGTERM', () => leave(fields, 0, 'TERM'));
  process.on('SIGINT', () => leave(fields, 0, 'INT'));
  process.on('SIGUSR1', () => reopenWorkerLog(fields));
  // Master gone (killed, or exited): nobody will replace or stop us, so leave gracefully.
  process.on('disconnect', () => graceful('master-gone'));
}

export function workerSpecFromEnv(): WorkerSpec {
  return JSON.parse(process.env[WORKER_ENV] ?? '{}') as WorkerSpec;
}
