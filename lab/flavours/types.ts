import type Docker from 'dockerode';
import type { ExecResult } from '../engine/containers';
import type { EnsureOptions } from '../engine/images';
import type { Flavour } from './index';
import type { ServerDriver } from '../servers/types';
import type { InitCommand } from './socket-owner';

/** Runs a command inside the lab's container. */
export type Exec = (cmd: string[]) => Promise<ExecResult>;

/** What the engine the lab runs on is like, as far as an init cares. */
export interface EngineFacts {
  /** `docker info`'s CgroupVersion: '1' or '2' */
  cgroupVersion: string;
}

export interface ContainerSettings {
  hostConfig: Docker.HostConfig;
  /** what `lab up` says about the privileges it gave the container (none: nothing to say) */
  note?: string;
}

/** One section of a report's logs: a title and a shell command that prints it. */
export interface LogSection {
  title: string;
  script: string;
  lines: number;
}

/** Which init program: what its job files, control tool and socket hand-over look like. */
export type InitFamily = 'upstart' | 'systemd';

/** How a flavour's image is made (lab/engine/flavour-images.ts builds it from this). */
export interface InitImage {
  /** the folder under images/ with the flavour's Dockerfile */
  dir: string;
  /**
   * The base image the Dockerfile builds FROM, found or made; when none can be had, throws a
   * BaseUnavailableError (lab/engine/images.ts) whose message names every way to get one.
   */
  ensureBase(options: EnsureOptions): Promise<string>;
  /** job strategies the image can be built with (build arg STRATEGY); the first is the default; [] for none */
  strategies: readonly string[];
  /** run instead, with a banner, when this flavour's base cannot be had and nobody asked for it by name */
  fallback?: Flavour;
}

/**
 * Everything that differs between inits, behind one interface: the rest of the lab asks the
 * driver and never which init it has (scenarios say what they EXPECT of each init, nothing
 * more). A new init is one file here and one line in index.ts.
 */
export interface InitDriver {
  name: Flavour;
  /** the init as people call it */
  init: string;
  family: InitFamily;
  image: InitImage;
  /** what people type to control a job on this init ('initctl', 'systemctl') */
  controlTool: string;
  /** what the engine must give the container; never --privileged */
  containerSettings(engine: EngineFacts): ContainerSettings;
  /** init has booted far enough for the lab: the app's socket owner and nginx run */
  ready(exec: Exec, server: ServerDriver): Promise<boolean>;
  /** init's own report on the app's job/unit */
  statusCmd(server: ServerDriver): string[];
  /** the pid init tracks for the app, from statusCmd's output (undefined: none) */
  trackedPid(statusOutput: string): number | undefined;
  /** a short state from statusCmd's output: "start/running", "active/running" */
  state(statusOutput: string): string;
  /** init's list of jobs/units */
  listCmd: string[];
  /** how many jobs/units init says are running, from listCmd's output */
  runningCount(listOutput: string): number;
  /** `lab initctl ARGS` on this init: the command to run, a note for the user, or a refusal */
  initctl(args: string[], server: ServerDriver): { cmd: string[]; label: string; note?: string } | { refuse: string };
  /** the command that prints a log: the app job's, nginx's, the wrapper's lifecycle lines */
  logsCmd(what: 'job' | 'nginx' | 'wrapper', lines: number, server: ServerDriver): string[];
  /** a shell command printing everything the app's processes wrote (their events among it) */
  appLogScript(server: ServerDriver): string;
  /** the report's log sections about init and the app */
  reportLogs(server: ServerDriver): LogSection[];
  /** wall-clock ms of each socket event init emitted for the app's socket ([] if init has none) */
  socketEventTimes(exec: Exec, server: ServerDriver): Promise<number[]>;
  /** how many times init itself restarted the app (systemd's NRestarts; upstart keeps no count) */
  restarts(exec: Exec, server: ServerDriver): Promise<number>;
  /** an id that changes each time init starts the app anew (systemd's InvocationID), '' if none */
  invocation(exec: Exec, server: ServerDriver): Promise<string>;
  /** lines of init's own log saying it stopped the app's whole group after the main pid left */
  deactivations(exec: Exec, server: ServerDriver): Promise<number>;
  /**
   * restart what owns the app's listening socket, as an operator does it: upstart-socket-bridge
   * (upstart), the app's .socket unit (systemd); `lab chaos`'s bridge-restart fault
   */
  restartSocketOwner(server: ServerDriver): InitCommand;
  /** the config kinds this init takes through `lab apply` */
  jobKind: 'upstart-job' | 'systemd-unit';
  /** where job files / units go */
  jobDir: string;
}
