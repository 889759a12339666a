/**
 * Exit codes are part of the wrapper's contract: init scripts and the lab branch on them.
 * They follow sysexits.h where a matching code exists, so `man sysexits` explains them too.
 */
export const ExitCode = {
  OK: 0,
  /** bad flag, bad value, bad config file */
  USAGE: 64,
  /** an inherited fd (UPSTART_FDS, UNICORN_FD, LISTEN_FDS) is not an open listening stream socket */
  LISTENER: 65,
  /** the app module does not exist */
  APP_MISSING: 66,
  /** the address to bind is taken, or cannot be bound */
  ADDR_IN_USE: 69,
  /** the app module threw while loading, or workers could not start */
  APP_LOAD: 70,
  /** the pid file cannot be written */
  PIDFILE: 73,
  /** another master is alive according to the pid file */
  RUNNING: 75,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error meant for a person: what is wrong and what to do, plus the exit code to leave with. */
export class PhoenixError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
  ) {
    super(message);
    this.name = 'PhoenixError';
  }
}

export function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}
