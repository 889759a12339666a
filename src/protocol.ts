/** What a worker tells its master over the IPC channel; signals carry everything else. */
export type WorkerMessage =
  { t: 'ready' } | { t: 'hb' } | { t: 'load-error'; exitCode: number; message: string; reason?: string };

/** How a master describes a worker's job to it (env PHOENIX_WORKER, JSON). */
export interface WorkerSpec {
  generation: number;
  slot: number;
  /** absolute module path; the demo app when undefined */
  app?: string;
  /** fds of the listening sockets in the worker */
  fds: number[];
  timeout: number;
  /** the path USR1 reopens */
  logFile?: string;
  /** the master's open log file, inherited at this fd: the worker logs there from the start */
  logFd?: number;
}

export const WORKER_ENV = 'PHOENIX_WORKER';

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  return typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string';
}
