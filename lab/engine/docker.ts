/**
 * Connecting to the Docker engine, and telling people clearly when it is not there.
 */
import Docker from 'dockerode';
import { accessSync, constants, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const DEFAULT_SOCKET = '/var/run/docker.sock';

const START_HINT =
  'start dockerd (dockerd >/var/log/dockerd.log 2>&1 &) and wait until `docker info` answers; ' +
  'if dockerd says "pid file found" while no dockerd runs, remove /var/run/docker.pid first';

export type DockerUnavailableReason = 'not-installed' | 'not-running' | 'no-permission' | 'no-answer';

/** Docker cannot be used; `message` says what to do about it. */
export class DockerUnavailableError extends Error {
  override readonly name = 'DockerUnavailableError';
  constructor(
    message: string,
    readonly reason: DockerUnavailableReason,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ConnectOptions {
  /** A unix socket; default: DOCKER_HOST when it is unix://..., else /var/run/docker.sock. */
  socketPath?: string;
}

/** The unix socket DOCKER_HOST names, the default one, or undefined when DOCKER_HOST is not a unix socket. */
export function dockerSocketPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const host = env.DOCKER_HOST;
  if (host === undefined || host === '') return DEFAULT_SOCKET;
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  return undefined;
}

/** A dockerode client; it does not contact the engine (see assertDockerReachable). */
export function connect(options: ConnectOptions = {}): Docker {
  const socketPath = options.socketPath ?? dockerSocketPath();
  // Without a unix socket, dockerode reads DOCKER_HOST (tcp://, ssh://) itself.
  return socketPath === undefined ? new Docker() : new Docker({ socketPath });
}

/** Whether `command` is on PATH or in the usual system directories (sbin may be missing from PATH). */
function installed(command: string): boolean {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/bin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    try {
      accessSync(path.join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/**
 * Resolve with a client when the Docker engine answers a ping; otherwise throw a
 * DockerUnavailableError whose message says what is wrong and how to fix it.
 */
export async function assertDockerReachable(options: ConnectOptions & { timeoutMs?: number } = {}): Promise<Docker> {
  const socketPath = options.socketPath ?? dockerSocketPath();
  const where = socketPath ?? `DOCKER_HOST=${process.env.DOCKER_HOST ?? ''}`;

  if (socketPath !== undefined && !existsSync(socketPath)) {
    if (!installed('dockerd')) {
      throw new DockerUnavailableError(
        `Docker is not installed: no dockerd on PATH and no socket at ${socketPath}. ` +
          `Install it (apt-get install -y docker.io), then ${START_HINT}.`,
        'not-installed',
      );
    }
    throw new DockerUnavailableError(
      `Docker is not running: no socket at ${socketPath}; ${START_HINT}.`,
      'not-running',
    );
  }

  const timeoutMs = options.timeoutMs ?? 5000;
  const pinger =
    socketPath === undefined ? new Docker({ timeout: timeoutMs }) : new Docker({ socketPath, timeout: timeoutMs });
  try {
    await pinger.ping();
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ECONNREFUSED' || code === 'ENOENT') {
      throw new DockerUnavailableError(
        `Docker is not running: nothing answers at ${where} (a socket left by a dockerd that was killed?); ${START_HINT}.`,
        'not-running',
        { cause: err },
      );
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new DockerUnavailableError(
        `Docker refuses this user: permission denied on ${where}; run as root or as a member of the docker group.`,
        'no-permission',
        { cause: err },
      );
    }
    const detail = err instanceof Error ? err.message : String(err);
    throw new DockerUnavailableError(
      `Docker does not answer at ${where} within ${timeoutMs} ms (${detail}); check that dockerd is healthy (docker info).`,
      'no-answer',
      { cause: err },
    );
  }
  return options.socketPath === undefined ? connect() : connect({ socketPath: options.socketPath });
}

/** The engine every lab command talks to, as DOCKER_HOST names it (the default socket when unset). */
export function engineHost(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST;
  return host === undefined || host === '' ? `unix://${DEFAULT_SOCKET}` : host;
}

export interface EngineLocality {
  local: boolean;
  host: string;
  /** why it is taken as local or remote, for the message */
  why: string;
}

const LOOPBACK_NAMES = new Set(['localhost', 'ip6-localhost', '::1', '[::1]']);

/** Whether `hostname` is this machine: loopback, its host name, or an address of one of its interfaces. */
export function isThisMachine(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (LOOPBACK_NAMES.has(h) || /^127\./.test(h)) return true;
  if (h === os.hostname().toLowerCase()) return true;
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.address.toLowerCase() === h) return true;
  }
  return false;
}

/**
 * Is the engine on this machine? A lab publishes its nginx on the engine host's 127.0.0.1
 * only, so the lab's load (which runs here) reaches it only when the engine runs here too:
 * a unix socket, or tcp:// / ssh:// to a loopback name or one of this machine's addresses.
 */
export function engineLocality(env: NodeJS.ProcessEnv = process.env): EngineLocality {
  const host = engineHost(env);
  if (host.startsWith('unix://')) return { local: true, host, why: 'a unix socket on this machine' };
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    return { local: false, host, why: 'DOCKER_HOST is not a URL this lab understands' };
  }
  if (!['tcp:', 'http:', 'https:', 'ssh:'].includes(url.protocol))
    return { local: false, host, why: `${url.protocol} engines are not on this machine` };
  return isThisMachine(url.hostname)
    ? { local: true, host, why: `${url.hostname} is this machine` }
    : { local: false, host, why: `${url.hostname} is another machine` };
}

/**
 * One clear message when the lab's load cannot reach what a remote engine publishes; undefined
 * when the engine is on this machine. The lab never publishes on a network address (a lab is
 * for one machine), so the answer is to run the lab where the engine is: a shard per machine,
 * then `lab report --merge`.
 */
export function remoteEngineProblem(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const e = engineLocality(env);
  if (e.local) return undefined;
  return (
    `the Docker engine at ${e.host} is not on this machine (${e.why}): each lab publishes its nginx on ` +
    `that engine's 127.0.0.1 only, which the lab's load, running here, cannot reach. Run lab on the ` +
    `engine's machine instead (one shard per machine: lab scenario run --all --shard I/N there, then ` +
    `lab report --merge DIR... here), or use an engine on this machine. Commands that only talk to ` +
    `the engine (status, down, logs, signal, initctl, apply, build) work with it as they are.`
  );
}

/** The engine does not answer any more (stopped, killed, unreachable): why, or undefined when it does. */
export async function engineGone(timeoutMs = 3000): Promise<string | undefined> {
  try {
    await assertDockerReachable({ timeoutMs });
    return undefined;
  } catch (err) {
    return `${engineHost()}: ${(err as Error).message.split(';')[0]}`;
  }
}

export interface EngineIdentity {
  host: string;
  /** the engine's own name and id (docker info): two engines on one machine differ by id */
  name?: string;
  id?: string;
  version?: string;
}

/** Who the engine is, for "where did this cell run"; never throws. */
export async function engineIdentity(docker: Docker = connect()): Promise<EngineIdentity> {
  try {
    const info = (await docker.info()) as { Name?: string; ID?: string; ServerVersion?: string };
    return { host: engineHost(), name: info.Name, id: info.ID, version: info.ServerVersion };
  } catch {
    return { host: engineHost() };
  }
}
