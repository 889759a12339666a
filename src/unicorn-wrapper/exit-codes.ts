/**
 * The wrapper's exit codes are its contract with init: upstart's `respawn`, `normal exit` and
 * the lab branch on them. sysexits.h numbers, and the same number as phoenix wherever the two
 * mean the same thing (64 usage, 65 listener, 66 missing program/module, 69 bind, 70 failed
 * to load, 73 pid file, 75 already running).
 */
export const WrapperExit = {
  OK: 0,
  USAGE: 64,
  LISTENER: 65,
  NO_COMMAND: 66,
  ADDR_IN_USE: 69,
  START_FAILED: 70,
  MASTER_LOST: 71,
  STOP_FORCED: 72,
  PID_TIMEOUT: 73,
  RUNNING: 75,
  NO_PIDFILE: 78,
} as const;

export type WrapperExitCode = (typeof WrapperExit)[keyof typeof WrapperExit];

/** One row per code: the help text and the README table are generated from this list. */
export const EXIT_CODES: readonly { code: WrapperExitCode; meaning: string }[] = [
  { code: WrapperExit.OK, meaning: 'stopped as asked: QUIT, TERM or INT was forwarded and no master is left' },
  {
    code: WrapperExit.USAGE,
    meaning: "bad option or value, an argument before '--', no command, or no socket to serve",
  },
  { code: WrapperExit.LISTENER, meaning: 'an inherited fd is not an open, listening stream socket' },
  {
    code: WrapperExit.NO_COMMAND,
    meaning: 'the command after -- is not found or not executable (unicorn not installed)',
  },
  { code: WrapperExit.ADDR_IN_USE, meaning: 'a --listen address cannot be bound' },
  {
    code: WrapperExit.START_FAILED,
    meaning:
      'unicorn exited before it ever served (config or app failed to load at first boot: no restart), or the wrapper itself failed',
  },
  {
    code: WrapperExit.MASTER_LOST,
    meaning:
      'the master died unasked (crash, kill -9) and the restart budget is spent (or restarts are off: --restart-budget 0): respawn',
  },
  {
    code: WrapperExit.STOP_FORCED,
    meaning:
      'stopped, but by force: a master outlived --stop-timeout after QUIT, TERM or INT and was sent TERM, then KILL; nothing is left',
  },
  {
    code: WrapperExit.PID_TIMEOUT,
    meaning: 'no live master in the pid file within --pid-timeout; what was started has been stopped',
  },
  { code: WrapperExit.RUNNING, meaning: 'a live master already holds the pid file (or its .oldbin): nothing started' },
  {
    code: WrapperExit.NO_PIDFILE,
    meaning: "no pid file to follow: none in unicorn's config and no --pid, or the config could not be read",
  },
];

/** A refusal meant for a person: what is wrong and what to do, and the code to leave with. */
export class WrapperError extends Error {
  constructor(
    message: string,
    readonly exitCode: WrapperExitCode,
    /** short machine-readable reason for the start-failed event */
    readonly reason: string,
  ) {
    super(message);
    this.name = 'WrapperError';
  }
}
