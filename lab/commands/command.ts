/** One `lab` subcommand: its help text and what it does; the exit code is its result. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
  /**
   * The arguments as run() reads and checks them, with nothing done: a LabError (exit 2) for
   * what run() would refuse. run() goes through it, so a command line that passes here (the
   * hosted workflow's, checked in test/unit/workflow.test.ts) is one run() accepts.
   */
  parse?(argv: string[]): unknown;
}
