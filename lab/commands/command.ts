/** One `lab` subcommand: its help text and what it does; the exit code is its result. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}
