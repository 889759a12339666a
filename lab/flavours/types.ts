import type Docker from 'dockerode';

/**
 * What differs between inits, behind one small interface; the rest of the lab never asks
 * which init it talks to.
 */
export interface FlavourDriver {
  name: 'precise' | 'bookworm';
  /** the init as people call it */
  init: string;
  /** what the engine must give the container; never --privileged */
  hostConfig: Docker.HostConfig;
  /** init's own report on the app's job/unit */
  statusCmd: string[];
  /** init's list of jobs/units */
  listCmd: string[];
  /** reads the pid init tracks for the app from statusCmd's output (undefined: not running) */
  trackedPid(statusOutput: string): number | undefined;
  /** `lab initctl ARGS` on this init: the command to run, a note for the user, or a refusal */
  initctl(args: string[]): { cmd: string[]; note?: string } | { refuse: string };
  /** the command that prints a log: the app job's, nginx's, the wrapper's lifecycle lines */
  logsCmd(what: 'job' | 'nginx' | 'wrapper', lines: number): string[];
  /** where job files / units go */
  jobDir: string;
}

export const SOCKET_PATH = '/var/run/phoenix/phoenix.sock';
export const PID_FILE = '/var/run/phoenix/phoenix.pid';
export const JOB = 'phoenix';
