import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { ExitCode, PhoenixError, errnoOf } from './errors';
import { inspectFd } from './sockinfo';

/**
 * Where the listening sockets come from. Order matters: a re-executed master also carries
 * its parent's UPSTART_FDS in its environment, but that fd was not passed on; UNICORN_FD is.
 */
export type ListenerSource = 'unicorn' | 'upstart' | 'systemd' | 'bound';

export interface Listener {
  fd: number;
  address: string;
  source: ListenerSource;
  /** a unix socket file this master answers for: unlinked at exit unless handed over */
  ownedPath?: { path: string; dev: number; ino: number };
  /** keeps the bind handle (and so the fd) alive for the life of the master */
  handle?: unknown;
}

/** Environment variables that describe inherited fds: removed before starting children. */
export const FD_ENV = ['UNICORN_FD', 'UPSTART_FDS', 'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES'];

const bad = (msg: string, reason: string) => new PhoenixError(msg, ExitCode.LISTENER, reason);

/**
 * The start-failed reason for an fd inspectFd refused. sockinfo's answer is a sentence for
 * people (it is shared with the lab); the token is read off it here, in one place.
 */
function fdReason(problem: string): string {
  if (/is not open/.test(problem)) return 'fd-closed';
  if (/is not a socket/.test(problem)) return 'not-socket';
  if (/not a listening one/.test(problem)) return 'not-listening';
  if (/stream socket/.test(problem)) return 'not-stream';
  return 'bad-fd';
}

function parseFdList(name: string, value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) {
    throw bad(
      `${name}='${value}' is not a list of fd numbers (expected e.g. ${name}=3 or 3,4); unset it or fix whoever starts phoenix`,
      'bad-fd-list',
    );
  }
  const fds = parts.map(Number);
  if (fds.some((fd) => fd < 3))
    throw bad(
      `${name}='${value}' names fd 0, 1 or 2 (stdin/stdout/stderr), which are never a listening socket`,
      'bad-fd-list',
    );
  return fds;
}

function fromFds(name: string, fds: number[], source: ListenerSource): Listener[] {
  return fds.map((fd) => {
    const info = inspectFd(fd);
    if ('problem' in info)
      throw bad(
        `${name}: ${info.problem}; phoenix needs an open listening stream socket there`,
        fdReason(info.problem),
      );
    return { fd, address: info.address, source };
  });
}

/** Inherited listeners from the environment, validated; [] when nothing was inherited. */
export function inheritedListeners(env: NodeJS.ProcessEnv, pid: number): Listener[] {
  if (env.UNICORN_FD !== undefined) return fromFds('UNICORN_FD', parseFdList('UNICORN_FD', env.UNICORN_FD), 'unicorn');
  if (env.UPSTART_FDS !== undefined)
    return fromFds('UPSTART_FDS', parseFdList('UPSTART_FDS', env.UPSTART_FDS), 'upstart');
  if (env.LISTEN_FDS !== undefined) {
    if (!/^\d+$/.test(env.LISTEN_FDS) || Number(env.LISTEN_FDS) < 1)
      throw bad(`LISTEN_FDS='${env.LISTEN_FDS}' is not a count of fds (a whole number above 0)`, 'bad-fd-list');
    if (env.LISTEN_PID !== String(pid)) {
      throw bad(
        `LISTEN_PID=${env.LISTEN_PID ?? '(unset)'} is not this process (${pid}): those fds were ` +
          `passed to another process. Start phoenix directly from the unit (ExecStart, no wrapper ` +
          `shell that forks)`,
        'listen-pid',
      );
    }
    const count = Number(env.LISTEN_FDS);
    return fromFds(
      'LISTEN_FDS',
      Array.from({ length: count }, (_, i) => 3 + i),
      'systemd',
    );
  }
  return [];
}

interface BindHandle {
  fd: number;
  bind(path: string): number;
  bind(host: string, port: number): number;
  bind6(host: string, port: number, flags: number): number;
  getsockname(out: { port?: number }): number;
  close(): void;
}
interface WrapModule {
  [name: string]: unknown;
  constants: { SERVER: number };
}

/**
 * Binds without listen(): a listening handle in the master would make libuv accept
 * connections there, and the master must never serve. The first worker's listen() on the
 * shared socket turns it into a listening one. Node exposes bind-only only on its wrap modules.
 */
function newServerHandle(kind: 'pipe' | 'tcp'): BindHandle {
  // process.binding is deprecated but present in Node 20 and is the only bind-without-listen.
  const binding = (process as unknown as { binding(name: string): WrapModule }).binding;
  const mod = binding(kind === 'pipe' ? 'pipe_wrap' : 'tcp_wrap');
  const Ctor = (kind === 'pipe' ? mod.Pipe : mod.TCP) as new (type: number) => BindHandle;
  return new Ctor(mod.constants.SERVER);
}

function uvError(code: number): string {
  const util = require('node:util') as { getSystemErrorName(n: number): string };
  return util.getSystemErrorName(code);
}

/** Resolves with 'listening' when something accepts on `p`, 'stale' when nothing does, 'absent'. */
function probeUnixPath(p: string): Promise<'listening' | 'stale' | 'absent'> {
  return new Promise((resolve) => {
    const s = net.connect(p);
    s.once('connect', () => {
      s.destroy();
      resolve('listening');
    });
    s.once('error', (err) => resolve(errnoOf(err) === 'ENOENT' ? 'absent' : 'stale'));
  });
}

function groupId(name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  let text = '';
  try {
    text = fs.readFileSync('/etc/group', 'utf8');
  } catch {
    /* falls through to the error below */
  }
  const line = text.split('\n').find((l) => l.split(':')[0] === name);
  if (!line)
    throw new PhoenixError(`--socket-group: no group named '${name}' in /etc/group`, ExitCode.USAGE, 'no-group');
  return Number(line.split(':')[2]);
}

async function bindUnix(spec: string, mode: number, group: string | undefined): Promise<Listener> {
  const p = spec.slice('unix:'.length);
  const gid = group === undefined ? undefined : groupId(group);
  if (!fs.existsSync(path.dirname(p))) {
    throw new PhoenixError(
      `cannot bind ${spec}: directory ${path.dirname(p)} does not exist; create it first`,
      ExitCode.ADDR_IN_USE,
      'socket-dir-missing',
    );
  }
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(p);
  } catch {
    st = undefined;
  }
  if (st && !st.isSocket())
    throw new PhoenixError(
      `cannot bind ${spec}: ${p} exists and is not a socket; phoenix will not replace it`,
      ExitCode.ADDR_IN_USE,
      'path-not-socket',
    );
  if (st) {
    const state = await probeUnixPath(p);
    if (state === 'listening') {
      throw new PhoenixError(
        `cannot bind ${spec}: another process is listening on it; stop it first, or let phoenix inherit the socket`,
        ExitCode.ADDR_IN_USE,
        'in-use',
      );
    }
    // Nobody accepts there: a stale file from a crash, the one case where replacing is safe.
    fs.unlinkSync(p);
  }
  const handle = newServerHandle('pipe');
  const rc = handle.bind(p);
  if (rc !== 0) {
    handle.close();
    throw new PhoenixError(`cannot bind ${spec}: ${uvError(rc)}`, ExitCode.ADDR_IN_USE);
  }
  try {
    fs.chmodSync(p, mode);
    if (gid !== undefined) fs.chownSync(p, -1, gid);
  } catch (err) {
    handle.close();
    fs.rmSync(p, { force: true });
    throw new PhoenixError(
      `cannot set owner/mode of ${p}: ${(err as Error).message}`,
      ExitCode.ADDR_IN_USE,
      'socket-mode',
    );
  }
  const s = fs.statSync(p);
  return { fd: handle.fd, address: spec, source: 'bound', ownedPath: { path: p, dev: s.dev, ino: s.ino }, handle };
}

function bindTcp(spec: string): Listener {
  const rest = spec.slice('tcp:'.length);
  const i = rest.lastIndexOf(':');
  const host = rest.slice(0, i);
  const port = Number(rest.slice(i + 1));
  const handle = newServerHandle('tcp');
  let rc = host.includes(':') ? handle.bind6(host, port, 0) : handle.bind(host, port);
  // libuv defers EADDRINUSE from bind() to listen(); the socket is then left unbound and the
  // worker's listen() would silently pick a random port. Only getsockname tells.
  const bound: { port?: number } = {};
  if (rc === 0 && (handle.getsockname(bound) !== 0 || (port !== 0 && bound.port !== port))) rc = -98;
  if (rc !== 0) {
    handle.close();
    const name = uvError(rc);
    const hint = name === 'EADDRINUSE' ? 'the port is in use: stop what holds it or pick another --listen' : name;
    throw new PhoenixError(
      `cannot bind ${spec}: ${hint}`,
      ExitCode.ADDR_IN_USE,
      name === 'EADDRINUSE' ? 'in-use' : 'bind-failed',
    );
  }
  return { fd: handle.fd, address: spec, source: 'bound', handle };
}

export async function bindListener(spec: string, mode: number, group: string | undefined): Promise<Listener> {
  return spec.startsWith('unix:') ? bindUnix(spec, mode, group) : bindTcp(spec);
}

/**
 * Inherited listeners first; each --listen that no inherited socket already serves is bound.
 * A --listen matching an inherited unix socket makes this master its owner (the successor of
 * the master that bound it), so the file is cleaned up when the last master leaves.
 */
export async function openListeners(
  env: NodeJS.ProcessEnv,
  pid: number,
  specs: string[],
  mode: number,
  group?: string,
): Promise<Listener[]> {
  const listeners = inheritedListeners(env, pid);
  const bound: Listener[] = [];
  try {
    for (const spec of specs) {
      const same = listeners.find((l) => l.address === spec);
      if (same) {
        if (spec.startsWith('unix:') && same.source === 'unicorn') {
          const s = fs.statSync(spec.slice(5), { throwIfNoEntry: false });
          if (s) same.ownedPath = { path: spec.slice(5), dev: s.dev, ino: s.ino };
        }
        continue;
      }
      bound.push(await bindListener(spec, mode, group));
    }
  } catch (err) {
    closeListeners(bound);
    throw err;
  }
  const all = [...listeners, ...bound];
  if (all.length === 0) {
    throw new PhoenixError(
      'no socket to serve: none inherited (UNICORN_FD, UPSTART_FDS, LISTEN_FDS) and no --listen given',
      ExitCode.USAGE,
      'no-socket',
    );
  }
  return all;
}

/** Unlinks the socket files this master owns, if the file there is still the one it bound. */
export function releaseOwnedPaths(listeners: Listener[]): void {
  for (const l of listeners) {
    if (!l.ownedPath) continue;
    const s = fs.statSync(l.ownedPath.path, { throwIfNoEntry: false });
    if (s && s.dev === l.ownedPath.dev && s.ino === l.ownedPath.ino) fs.rmSync(l.ownedPath.path, { force: true });
  }
}

/** Undoes a failed start: only what this process bound itself, never an inherited socket. */
export function closeListeners(listeners: Listener[]): void {
  const bound = listeners.filter((l) => l.source === 'bound');
  releaseOwnedPaths(bound);
  for (const l of bound) (l.handle as BindHandle | undefined)?.close();
}
