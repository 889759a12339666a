#!/usr/bin/env node
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadApp, resolveApp } from './app-loader';
import { ExitCode, PhoenixError } from './errors';
import { type Listener, closeListeners, inheritedListeners, openListeners } from './listeners';
import { logEvent, useLogFile } from './log';
import { USAGE, parseArgs } from './options';
import { claimPidFile, isAlive, readPid, removeIfOurs } from './pidfile';
import { WORKER_ENV } from './protocol';

function version(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Every failure leaves through here: one message, one documented exit code, nothing left behind. */
function fail(err: unknown): never {
  if (err instanceof PhoenixError) {
    process.stderr.write(`phoenix: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`phoenix: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(ExitCode.APP_LOAD);
}

async function runMaster(argv: string[]): Promise<void> {
  const parsed = parseArgs(argv);
  if (parsed.kind === 'help') return void process.stdout.write(`${USAGE}\n`);
  if (parsed.kind === 'version') return void process.stdout.write(`phoenix ${version()}\n`);
  const opts = parsed.options;
  useLogFile(opts.logFile);
  resolveApp(opts.app);

  if (opts.check) {
    // Touches nothing: the inherited fds are inspected, the app is loaded in this process only.
    loadApp(opts.app);
    const inherited = inheritedListeners(process.env, process.pid);
    const other = opts.pid ? readPid(opts.pid) : undefined;
    if (other && other !== process.pid && isAlive(other))
      process.stdout.write(`note: a master is running with pid ${other} (${opts.pid})\n`);
    const sockets = inherited.map((l) => l.address).concat(opts.listen);
    process.stdout.write(
      `phoenix: configuration OK (workers=${opts.workers} upgrade=${opts.upgrade} sockets=${sockets.join(',') || 'none'})\n`,
    );
    if (sockets.length === 0)
      throw new PhoenixError('no socket to serve: none inherited and no --listen given', ExitCode.USAGE);
    return;
  }

  if (opts.pid) claimPidFile(opts.pid, process.pid);
  let listeners: Listener[] = [];
  try {
    listeners = await openListeners(process.env, process.pid, opts.listen, opts.socketMode, opts.socketGroup);
    const { Master } = require('./master') as typeof import('./master');
    await new Master(opts, listeners).start();
  } catch (err) {
    closeListeners(listeners);
    if (opts.pid) removeIfOurs(opts.pid, process.pid);
    logEvent('master', 'start-failed', { error: (err as Error).message });
    throw err;
  }
}

// Workers and masters load only their own code: it is less memory, and a worker is up sooner.
if (process.env[WORKER_ENV]) {
  const { runWorker, workerSpecFromEnv } = require('./worker') as typeof import('./worker');
  runWorker(workerSpecFromEnv());
} else {
  runMaster(process.argv.slice(2)).catch(fail);
}
