/** An error for the person at the terminal: what is wrong, what to do, and the exit code. */
export class LabError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'LabError';
  }
}

/** Exit codes of `lab`: 0 ok, 1 the lab ran and found a failure, 2 usage, 3 environment. */
export const LabExit = { OK: 0, FAILED: 1, USAGE: 2, ENVIRONMENT: 3 } as const;
