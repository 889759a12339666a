import type { BootSpec } from '../engine/boot-spec';
import type { InitDriver, InitFamily } from '../flavours/types';

/** One process the status probe found, as the server driver is asked to classify it. */
export interface ProbedProcess {
  pid: number;
  ppid: number;
  user: string;
  args: string;
  /** the few environment variables the probe reads (PROBE_ENV) */
  env: Record<string, string>;
}

export type ProcessRole =
  | { role: 'master' }
  | { role: 'worker'; generation: number; slot: number }
  /** a stable process in front of the masters (unicorn-wrapper, phoenix-herder) */
  | { role: 'wrapper' };

export const SERVERS = ['phoenix', 'unicorn'] as const;
export type ServerName = (typeof SERVERS)[number];

/**
 * Everything that differs between app servers, behind one interface: how each init starts
 * it, where its socket, pid file and logs are, how its masters and workers are told apart.
 * A new server is one file in this folder and one line in index.ts.
 */
export interface ServerDriver {
  name: ServerName;
  /** for people: "phoenix (Node)" */
  title: string;
  /** the job (upstart) and unit (systemd) name */
  job: string;
  socketPath: string;
  pidFile: string;
  nginxErrorLog: string;
  /** what a program of this server prefixes its event lines with */
  eventPrograms: string[];
  /** what a process's command line must contain to be looked at by the status probe */
  probePatterns: string[];
  /** environment variables the probe reads from each process (generation, worker spec) */
  probeEnv: string[];
  classify(p: ProbedProcess, all: readonly ProbedProcess[]): ProcessRole | undefined;
  /** files put in place before init starts so that init runs this server (as shipped) on this init */
  activate(init: InitDriver): BootSpec;
  /**
   * Where master-directed signals (USR2, HUP, TTIN...) go as shipped: to the master itself, or
   * to the wrapper in front of it, which forwards them and stays the process init tracks.
   */
  signalVia: 'master' | 'wrapper';
  /** how a USR2 upgrade goes as shipped, for people */
  upgradeMode: string;
  /** the response headers by which its app says who served (SERVED_BY: every server's app sends them) */
  servedBy: typeof SERVED_BY;
  /** the boot change that gives its shipped job or unit a worker timeout of S seconds, per init family */
  workerTimeoutBoot: Record<InitFamily, (seconds: number, label: string) => BootSpec>;
  /** the shipped files scenarios re-apply or edit, under the names `lab apply` takes */
  shipped: {
    /** upstart: the job as shipped (the bridge's socket) */
    job: { file: string; text(): string };
    /** upstart: a job that binds its own socket (no bridge), and the owner, group and mode that socket gets */
    ownSocketJob: { label: string; text(): string; socket: string };
    /** systemd: the socket unit as shipped */
    socketUnit: { file: string; text(): string };
  };
  /** how many stuck workers its masters killed for their timeout, as the app's log (wrapperLog) tells */
  workerTimeouts(log: string): number;
  /** a shell command printing where a running master (pid) shows its worker timeout */
  workerTimeoutShown(pid: string): string;
}

/**
 * The headers the lab reads to know which worker of which generation answered. Every server's
 * app sends them (phoenix's demo app, images/conf/unicorn/config.ru, the pm2 app of the soak):
 * the load, the first-answer wait and the scenarios count generations by them.
 */
export const SERVED_BY = { pid: 'x-phoenix-pid', generation: 'x-phoenix-generation' } as const;
