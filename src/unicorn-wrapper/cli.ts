#!/usr/bin/env node
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PhoenixError } from '../errors';
import { type Listener, closeListeners, inheritedListeners, openListeners } from '../listeners';
import { isAlive, oldbinPath, readPid } from '../pidfile';
import { childEnv, resolveCommand, sanePath } from './command';
import { WrapperError, WrapperExit, type WrapperExitCode } from './exit-codes';
import { Follower, type Outcome } from './follow';
import { FORWARDED, type ForwardedSignal } from './forward';
import { emitEvent, say } from './log';
import { runLoop } from './loop';
import { USAGE, parseWrapperArgs } from './options';
import { realOs } from './os';
import { type PidSource, learnPidFile, unicornIndex, withListenArgs } from './unicorn-config';

/**
 * After TERM to what a failed start or an overdue stop left behind, how long before KILL. A
 * stop then takes at most --stop-timeout + 2 s: init's kill timeout must be longer than that
 * (upstart KILLs the whole process group when it runs out, and stops waiting the moment the
 * wrapper exits: a wrapper that left a master behind would orphan it).
 */
const KILL_GRACE_MS = 2000;

function version(): string {
  for (const up of [
    ['..', '..'],
    ['..', '..', '..'],
  ]) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, ...up, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.version) return pkg.version;
    } catch {
      /* try the next level: ts-node runs from src/, the build from dist/src/ */
    }
  }
  return 'unknown';
}

/** phoenix's listener checks, word for word, except that they are about this program. */
function fromPhoenix(err: PhoenixError): WrapperError {
  const known: number[] = [WrapperExit.USAGE, WrapperExit.LISTENER, WrapperExit.ADDR_IN_USE];
  const code = (known.includes(err.exitCode) ? err.exitCode : WrapperExit.START_FAILED) as WrapperExitCode;
  const reason = (err as { reason?: string }).reason ?? (code === WrapperExit.LISTENER ? 'bad-fd' : 'listener');
  return new WrapperError(err.message.replace(/\bphoenix\b/g, 'unicorn-wrapper'), code, reason);
}

function refuse(err: unknown): never {
  const e =
    err instanceof WrapperError
      ? err
      : err instanceof PhoenixError
        ? fromPhoenix(err)
        : new WrapperError(
            `internal error (a bug in unicorn-wrapper): ${err instanceof Error ? err.message : String(err)}`,
            WrapperExit.START_FAILED,
            'internal',
          );
  say(e.message);
  emitEvent('start-failed', { code: e.exitCode, reason: e.reason });
  process.exit(e.exitCode);
}

/** A live master in the pid file (or its .oldbin): unicorn would refuse too, after loading. */
function refuseLiveMaster(pidFile: string): void {
  for (const file of [pidFile, oldbinPath(pidFile)]) {
    const pid = readPid(file);
    if (pid === undefined || pid === process.pid || !isAlive(pid)) continue;
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      /* the pid is enough */
    }
    throw new WrapperError(
      `a master is already running: pid ${pid} from ` +
        `${file}${cmd ? ` (${cmd.slice(0, 120)})` : ''}; stop it, or signal the wrapper that ` +
        `started it, before starting another`,
      WrapperExit.RUNNING,
      'master-running',
    );
  }
}

async function main(argv: string[]): Promise<void> {
  // Signals that arrive while the wrapper checks its inputs are kept for the loop: a TERM from
  // init at that moment must not kill the wrapper with Node's default action.
  const early: ForwardedSignal[] = [];
  let deliver = (sig: ForwardedSignal) => void early.push(sig);
  for (const sig of FORWARDED) process.on(sig, () => deliver(sig));

  const parsed = parseWrapperArgs(argv);
  if (parsed.kind === 'help') return void process.stdout.write(`${USAGE}\n`);
  if (parsed.kind === 'version') return void process.stdout.write(`unicorn-wrapper ${version()}\n`);
  const o = parsed.options;
  const cwd = process.cwd();
  const search = sanePath(process.env.PATH);
  const resolved = resolveCommand(o.command[0], search.path, cwd);
  const name = unicornIndex(o.command) >= 0 ? 'unicorn' : path.basename(o.command[0]);

  // Sockets first, as phoenix checks them: a bad fd from init is the commonest bad start.
  // sd_listen_fds(3): a LISTEN_PID that is not ours means the variables are not for us; with a
  // --listen to fall back to, that is no reason to refuse (phoenix does the same).
  const inherited = inheritedListeners(process.env, process.pid, o.listen.length > 0);
  if (inherited.length === 0 && o.listen.length === 0) {
    throw new WrapperError(
      'no socket to serve: none inherited (UPSTART_FDS, LISTEN_FDS, UNICORN_FD) and no --listen given',
      WrapperExit.USAGE,
      'no-socket',
    );
  }
  const learnEnv = childEnv(process.env, search.path, 0);
  delete learnEnv.UNICORN_FD;
  const pid: PidSource = o.pid
    ? { file: o.pid, from: 'option' }
    : learnPidFile(o.command, resolved, learnEnv, search.path, cwd);
  refuseLiveMaster(pid.file);
  if (early.some((s) => s === 'SIGTERM' || s === 'SIGQUIT' || s === 'SIGINT')) {
    emitEvent('exit', { code: WrapperExit.OK, reason: 'stopped-before-start' });
    process.exit(WrapperExit.OK);
  }

  let listeners: Listener[] = [];
  listeners = await openListeners(process.env, process.pid, o.listen, 0o666);
  const addresses = listeners.map((l) => l.address);
  const decision = withListenArgs(o.command, addresses, o.listenArg);
  // The same command, environment and sockets for the first master and for every master the
  // wrapper starts again after one died (UNICORN_FD=3 and the same -l).
  const launch = () =>
    spawn(resolved, decision.command.slice(1), {
      // Only the fds named here reach the child: the sockets become 3, 4, ...
      stdio: ['inherit', 'inherit', 'inherit', ...listeners.map((l) => l.fd)],
      env: childEnv(process.env, search.path, listeners.length),
      cwd,
    });
  const child = launch();
  const finish = (out: Outcome) => {
    if (out.message) say(out.message);
    emitEvent(out.event, { code: out.code, reason: out.reason, ...out.fields });
    closeListeners(listeners);
    process.exit(out.code);
  };
  if (child.pid === undefined) {
    // Found a moment ago, gone now (or not executable by this user): spawn reports it as 'error'.
    child.once('error', (err) => {
      closeListeners(listeners);
      refuse(new WrapperError(`cannot run ${resolved}: ${err.message}`, WrapperExit.NO_COMMAND, 'command-not-found'));
    });
    return;
  }
  emitEvent('start', {
    socket: addresses.join(','),
    fd: listeners.map((l) => l.fd).join(','),
    source: [...new Set(listeners.map((l) => l.source))].join(','),
    command: decision.command.join(' '),
    child: child.pid,
    pidFile: pid.file,
    pidFrom: pid.from,
    listenArg: decision.listenArg,
    path: search.restored ? 'restored' : undefined,
    readyTimeout: o.readyTimeoutMs / 1000,
    stopTimeout: o.stopTimeoutMs / 1000,
    restartBudget: o.restart.max === 0 ? '0' : `${o.restart.max}/${o.restart.windowMs / 1000}s`,
  });

  // Exits and restarts happen on later turns, once `loop` below exists.
  const watch = (c: ChildProcess, pid: number) => {
    c.on('error', (err) => emitEvent('wrapper-error', { step: 'child', child: pid, error: err.message }));
    c.on('exit', (code, signal) => {
      follower.childExited(pid, code, signal);
      loop.wake();
    });
  };
  const startMaster = (): number => {
    const c = launch();
    if (c.pid === undefined) {
      c.once('error', () => undefined);
      throw new Error(`cannot run ${resolved}`);
    }
    watch(c, c.pid);
    return c.pid;
  };
  const follower = new Follower(
    { ...realOs, startMaster },
    {
      pidFile: pid.file,
      pidTimeoutMs: o.pidTimeoutMs,
      killGraceMs: KILL_GRACE_MS,
      name,
      readyTimeoutMs: o.readyTimeoutMs,
      stopTimeoutMs: o.stopTimeoutMs,
      restart: o.restart,
    },
    emitEvent,
    child.pid,
  );
  watch(child, child.pid);
  const loop = runLoop(follower, finish);
  deliver = (sig) => {
    follower.enqueue(sig);
    loop.wake();
  };
  for (const sig of early) deliver(sig);
  process.on('uncaughtException', (err) => {
    // Like unicorn's master loop: report, carry on. Exiting would lose the master for init.
    emitEvent('wrapper-error', { step: 'uncaught', error: err.message });
    loop.wake();
  });
}

main(process.argv.slice(2)).catch(refuse);
