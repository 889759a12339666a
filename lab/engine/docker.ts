/**
 * Connecting to the Docker engine, and telling people clearly when it is not there.
 */
import Docker from 'dockerode';
import { accessSync, constants, existsSync } from 'node:fs';
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
