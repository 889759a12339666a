#!/usr/bin/env node
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadApp, resolveApp } from './app-loader';
import { ExitCode, PhoenixError, describeFailure, messageOf } from './errors';
import { type IgnoredFds, type Listener, closeListeners, openSockets, readInherited } from './listeners';
import { logEvent, useLogFile } from './log';
import { type Options, USAGE, parseArgs } from './options';
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

/**
 * Every refused start leaves through here: one message for people on stderr, one
 * `start-failed` event with code and reason for the lab, one documented exit code.
 */
function fail(err: unknown): never {
  const f = describeFailure(err);
  process.stderr.write(`phoenix: ${f.message}\n`);
  logEvent('master', 'start-failed', { code: f.code, reason: f.reason, error: f.message.split('\n')[0] });
  process.exit(f.code);
}

/** Undoing a failed start must not hide why it failed: a failure here is only reported. */
function undo(step: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    logEvent('master', 'master-error', { step, error: messageOf(err) });
  }
}

/** An fd variable not served is said as an event: verdicts read `reason`, people the note. */
function ignoredFields(i: IgnoredFds, used: string | undefined): Record<string, string | undefined> {
  return {
    variable: i.variable,
    source: i.source,
    reason: i.reason,
    used: used ?? '--listen',
    closed: i.close.join(',') || undefined,
    note: i.note,
  };
}

/** --check touches nothing: the inherited fds are inspected, the app is loaded in this process only. */
async function check(opts: Options): Promise<void> {
  await loadApp(opts.app);
  const inherited = readInherited(process.env, process.pid, opts.listen.length > 0);
  for (const i of inherited.ignored) process.stdout.write(`note: ${i.note}\n`);
  const other = opts.pid ? readPid(opts.pid) : undefined;
  if (other && other !== process.pid && isAlive(other))
    process.stdout.write(`note: a master is running with pid ${other} (${opts.pid})\n`);
  const sockets = inherited.listeners.map((l) => l.address).concat(opts.listen);
  process.stdout.write(
    `phoenix: configuration OK (workers=${opts.workers} upgrade=${opts.upgrade} sockets=${sockets.join(',') || 'none'})\n`,
  );
  if (sockets.length === 0)
    throw new PhoenixError('no socket to serve: none inherited and no --listen given', ExitCode.USAGE, 'no-socket');
  logEvent('master', 'exit', { code: ExitCode.OK, reason: 'check' });
}

async function runMaster(argv: string[]): Promise<void> {
  const parsed = parseArgs(argv);
  if (parsed.kind === 'help') return void process.stdout.write(`${USAGE}\n`);
  if (parsed.kind === 'version') return void process.stdout.write(`phoenix ${version()}\n`);
  const opts = parsed.options;
  useLogFile(opts.logFile);
  resolveApp(opts.app);
  if (opts.check) return check(opts);

  if (opts.pid) claimPidFile(opts.pid, process.pid);
  let listeners: Listener[] = [];
  try {
    const opened = await openSockets(process.env, process.pid, opts.listen, opts.socketMode, opts.socketGroup);
    listeners = opened.listeners;
    for (const i of opened.ignored) logEvent('master', 'fds-ignored', ignoredFields(i, opened.used));
    const { Master } = require('./master') as typeof import('./master');
    await new Master(opts, listeners, argv).start();
  } catch (err) {
    undo('close-listeners', () => closeListeners(listeners));
    const pid = opts.pid;
    if (pid) undo('remove-pid-file', () => removeIfOurs(pid, process.pid));
    throw err;
  }
}

// Workers and masters load only their own code: it is less memory, and a worker is up sooner.
if (process.env[WORKER_ENV]) {
  const { runWorker, workerSpecFromEnv } = require('./worker') as typeof import('./worker');
  void runWorker(workerSpecFromEnv());
} else {
  runMaster(process.argv.slice(2)).catch(fail);
}
