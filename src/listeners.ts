import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { ExitCode, PhoenixError, errnoOf, messageOf } from './errors';
import { logFileFd } from './log';
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

/** The variables an init or a previous master passes fds in, in the order they are tried. */
const SOURCES = [
  { variable: 'UNICORN_FD', source: 'unicorn' },
  { variable: 'UPSTART_FDS', source: 'upstart' },
  { variable: 'LISTEN_FDS', source: 'systemd' },
] as const;
type Source = (typeof SOURCES)[number];

/** An fd variable phoenix does not serve from, and why: what the `fds-ignored` event says. */
export interface IgnoredFds {
  variable: Source['variable'];
  source: ListenerSource;
  /** other-source: another variable is served; listen-pid, no-fds: sd_listen_fds(3) ignores
   *  them; bad-fd-list: it does not parse (only said, since another variable is served) */
  reason: 'other-source' | 'listen-pid' | 'no-fds' | 'bad-fd-list';
  /** its listening sockets nothing else serves: closed, so their clients are refused instead
   *  of queueing for a master that never accepts there */
  close: number[];
  note: string;
}

export interface Inherited {
  listeners: Listener[];
  /** the variable served from */
  used?: Source['variable'];
  ignored: IgnoredFds[];
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
  const twice = fds.find((fd, i) => fds.indexOf(fd) !== i);
  if (twice !== undefined) throw bad(`${name}='${value}' names fd ${twice} twice; list each fd once`, 'bad-fd-list');
  return fds;
}

/** The log file is opened before the sockets are checked: its fd cannot have been passed. */
function ownFds(): number[] {
  const log = logFileFd();
  return log === undefined ? [] : [log];
}

function fromFds(name: string, fds: number[], source: ListenerSource): Listener[] {
  const seen = new Map<number, number>();
  return fds.map((fd) => {
    const info = inspectFd(fd, ownFds());
    if ('problem' in info)
      throw bad(`${name}: ${info.problem}; phoenix needs an open listening stream socket there`, info.reason);
    const other = seen.get(info.inode);
    if (other !== undefined)
      throw bad(`${name}: fds ${other} and ${fd} are the same socket (${info.address}); pass it once`, 'bad-fd-list');
    seen.set(info.inode, fd);
    return { fd, address: info.address, source };
  });
}

type Fds = { fds: number[] } | { ignore: 'listen-pid' | 'no-fds'; note: string };

/** The fd numbers a variable passes, by sd_listen_fds(3)'s rules for LISTEN_FDS. Throws when malformed. */
function fdsOf(variable: Source['variable'], env: NodeJS.ProcessEnv, pid: number): Fds {
  const value = env[variable] ?? '';
  if (variable !== 'LISTEN_FDS') return { fds: parseFdList(variable, value) };
  // sd_listen_fds(3) reads LISTEN_PID first: variables meant for another process are ignored.
  if (env.LISTEN_PID !== String(pid))
    return {
      ignore: 'listen-pid',
      note:
        `LISTEN_PID=${env.LISTEN_PID ?? '(unset)'} is not this process (${pid}): those fds were ` +
        `passed to another process. Start phoenix directly from the unit (ExecStart, no wrapper ` +
        `shell that forks)`,
    };
  if (!/^\d+$/.test(value))
    throw bad(`LISTEN_FDS='${value}' is not a count of fds (a whole number, 1 or more)`, 'bad-fd-list');
  if (Number(value) === 0) return { ignore: 'no-fds', note: 'LISTEN_FDS=0 passes no fds' };
  return { fds: Array.from({ length: Number(value) }, (_, i) => 3 + i) };
}

/** A variable set beside the one served: said, and its own listening sockets listed for closing. */
function loser(s: Source, env: NodeJS.ProcessEnv, pid: number, used: Source, served: Listener[]): IgnoredFds {
  const base = { variable: s.variable, source: s.source };
  let r: Fds;
  try {
    r = fdsOf(s.variable, env, pid);
  } catch (err) {
    return { ...base, reason: 'bad-fd-list', close: [], note: `${messageOf(err)}; serving ${used.variable}` };
  }
  if ('ignore' in r) return { ...base, reason: r.ignore, close: [], note: r.note };
  const kept = new Set(served.map((l) => l.fd));
  const close = r.fds.filter((fd) => !kept.has(fd) && !('problem' in inspectFd(fd, ownFds())));
  return {
    ...base,
    reason: 'other-source',
    close,
    note:
      `${used.variable} and ${s.variable} are both set: serving ${used.variable} (it comes first), ` +
      `not ${s.variable}=${env[s.variable]}` +
      (close.length ? `; closing fd ${close.join(', ')} so its clients are refused, not left waiting` : ''),
  };
}

/**
 * What the environment passes, validated, touching nothing: the first variable set is served
 * (UNICORN_FD, UPSTART_FDS, LISTEN_FDS), the others are said and their sockets listed for
 * closing. `fallback`: a --listen serves when nothing is inherited, so LISTEN_FDS meant for
 * another process is ignored, as sd_listen_fds(3) says; without one it is refused, being then
 * the likeliest reason there is nothing to serve.
 */
export function readInherited(env: NodeJS.ProcessEnv, pid: number, fallback = false): Inherited {
  const ignored: IgnoredFds[] = [];
  let used: { s: Source; listeners: Listener[] } | undefined;
  for (const s of SOURCES) {
    if (env[s.variable] === undefined) continue;
    if (used) {
      ignored.push(loser(s, env, pid, used.s, used.listeners));
      continue;
    }
    const r = fdsOf(s.variable, env, pid);
    if ('fds' in r) used = { s, listeners: fromFds(s.variable, r.fds, s.source) };
    else if (r.ignore === 'listen-pid' && !fallback) throw bad(r.note, 'listen-pid');
    else ignored.push({ variable: s.variable, source: s.source, reason: r.ignore, close: [], note: r.note });
  }
  return { listeners: used?.listeners ?? [], used: used?.s.variable, ignored };
}

/** Inherited listeners from the environment, validated; [] when nothing was inherited. */
export function inheritedListeners(env: NodeJS.ProcessEnv, pid: number, fallback = false): Listener[] {
  return readInherited(env, pid, fallback).listeners;
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
  // Port 0 asks the kernel for one: the address says which, so the start event names it.
  return { fd: handle.fd, address: `tcp:${host}:${bound.port ?? port}`, source: 'bound', handle };
}

/** A --listen spec an inherited listener already serves; port 0 takes whichever port it has. */
function serves(l: Listener, spec: string): boolean {
  if (l.address === spec) return true;
  if (!spec.startsWith('tcp:') || !spec.endsWith(':0')) return false;
  const rest = l.address.slice(spec.length - 1);
  return l.address.startsWith(spec.slice(0, -1)) && /^\d+$/.test(rest);
}

export async function bindListener(spec: string, mode: number, group: string | undefined): Promise<Listener> {
  return spec.startsWith('unix:') ? bindUnix(spec, mode, group) : bindTcp(spec);
}

export interface Opened {
  listeners: Listener[];
  used?: Inherited['used'];
  /** fd variables not served; their `close` fds are closed by now */
  ignored: IgnoredFds[];
}

/**
 * Inherited listeners first; each --listen that no inherited socket already serves is bound.
 * A --listen matching an inherited unix socket makes this master its owner (the successor of
 * the master that bound it), so the file is cleaned up when the last master leaves. Sockets of
 * a variable not served are closed only once the start has everything it needs: a refused
 * start leaves every inherited fd as it found it.
 */
export async function openSockets(
  env: NodeJS.ProcessEnv,
  pid: number,
  specs: string[],
  mode: number,
  group?: string,
): Promise<Opened> {
  const inherited = readInherited(env, pid, specs.length > 0);
  const listeners = inherited.listeners;
  const bound: Listener[] = [];
  try {
    for (const spec of specs) {
      const same = listeners.find((l) => serves(l, spec));
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
    const why = inherited.ignored.map((i) => `${i.note}, `).join('');
    throw new PhoenixError(
      `no socket to serve: ${why || 'none inherited (UNICORN_FD, UPSTART_FDS, LISTEN_FDS) '}and no --listen given`,
      ExitCode.USAGE,
      'no-socket',
    );
  }
  for (const i of inherited.ignored) for (const fd of i.close) fs.closeSync(fd);
  return { listeners: all, used: inherited.used, ignored: inherited.ignored };
}

export async function openListeners(
  env: NodeJS.ProcessEnv,
  pid: number,
  specs: string[],
  mode: number,
  group?: string,
): Promise<Listener[]> {
  return (await openSockets(env, pid, specs, mode, group)).listeners;
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
