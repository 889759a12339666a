/**
 * Exit codes are part of the wrapper's contract: init scripts and the lab branch on them.
 * They follow sysexits.h where a matching code exists, so `man sysexits` explains them too.
 */
export const ExitCode = {
  OK: 0,
  /** bad flag, bad value, bad config file, or no socket to serve (EX_USAGE) */
  USAGE: 64,
  /** an inherited fd (UPSTART_FDS, UNICORN_FD, LISTEN_FDS) is not an open listening stream socket (EX_DATAERR) */
  LISTENER: 65,
  /** the app module does not exist (EX_NOINPUT) */
  APP_MISSING: 66,
  /** the address to bind is taken, or cannot be bound (EX_UNAVAILABLE) */
  ADDR_IN_USE: 69,
  /** the app module threw or exited while loading, workers could not start, or a bug in phoenix (EX_SOFTWARE) */
  APP_LOAD: 70,
  /** the pid file cannot be written (EX_CANTCREAT) */
  PIDFILE: 73,
  /**
   * the log file (--log-file) cannot be opened, or another filesystem call failed at start
   * (EX_IOERR). Not 73: that one already means "pid file", and init scripts branch on it.
   */
  IO: 74,
  /** another master is alive according to the pid file (EX_TEMPFAIL: try again once it is gone) */
  RUNNING: 75,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * The machine-readable `reason=` of a `start-failed` event when the error names none itself.
 * Verdicts branch on code and reason, never on the message, which is for people.
 */
export const DEFAULT_REASON: Record<ExitCodeValue, string> = {
  0: 'ok',
  64: 'usage',
  65: 'bad-fd',
  66: 'app-missing',
  69: 'bind-failed',
  70: 'app-load',
  73: 'pid-file',
  74: 'io-error',
  75: 'master-running',
};

/** The README's table and `phoenix --help` are both written from this one list. */
export const EXIT_CODE_DOCS: ReadonlyArray<readonly [ExitCodeValue, string]> = [
  [0, 'stopped normally'],
  [64, 'bad flag, value or config file; no socket to serve'],
  [65, 'an inherited fd is not an open listening stream socket'],
  [66, 'the app module does not exist'],
  [69, 'the address is in use or cannot be bound'],
  [70, 'the app threw or exited while loading, workers did not start, or an internal error'],
  [73, 'the pid file cannot be written'],
  [74, 'the log file cannot be opened, or another filesystem error at start'],
  [75, 'another master is running (live pid file)'],
];

/** An error meant for a person: what is wrong and what to do, plus the exit code to leave with. */
export class PhoenixError extends Error {
  readonly reason: string;

  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
    reason?: string,
  ) {
    super(message);
    this.name = 'PhoenixError';
    this.reason = reason ?? DEFAULT_REASON[exitCode];
  }
}

export function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface Failure {
  code: ExitCodeValue;
  reason: string;
  message: string;
}

/**
 * What to exit with for any error that ends a start. A PhoenixError says it itself; a failed
 * system call nobody anticipated is an I/O problem of this host (74), not the app's fault;
 * anything else is a bug in phoenix (70, EX_SOFTWARE), said as such with its stack.
 */
export function describeFailure(err: unknown): Failure {
  if (err instanceof PhoenixError) return { code: err.exitCode, reason: err.reason, message: err.message };
  const errno = errnoOf(err);
  if (errno && /^E[A-Z]+$/.test(errno))
    return { code: ExitCode.IO, reason: 'io-error', message: `a system call failed: ${messageOf(err)}` };
  const stack = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return { code: ExitCode.APP_LOAD, reason: 'internal', message: `internal error (a bug in phoenix): ${stack}` };
}
