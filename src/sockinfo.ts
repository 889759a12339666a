import * as fs from 'node:fs';

/**
 * What kind of socket an fd number is, read from /proc: Node has no getsockopt(SO_ACCEPTCONN),
 * but the kernel's socket tables say whether a socket inode is a listening stream socket.
 */
export interface SocketInfo {
  inode: number;
  kind: 'unix' | 'tcp';
  /** unix:/path or tcp:HOST:PORT, the form --listen uses, so addresses can be compared */
  address: string;
  listening: boolean;
  stream: boolean;
}

/**
 * Why an fd is refused: `problem` is a sentence for people, `reason` the start-failed token.
 * `fd-closed` means nothing was passed at that number, whatever this process holds there now.
 */
export type FdProblem = {
  problem: string;
  reason: 'fd-closed' | 'not-socket' | 'not-stream' | 'not-listening';
};

const SO_ACCEPTCON = 0x10000;
const SOCK_STREAM = 1;
const TCP_LISTEN = 0x0a;

function readTable(file: string): string[] {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(1).filter(Boolean);
  } catch {
    return [];
  }
}

function hexIPv4(hex: string): string {
  // /proc/net/tcp prints the address in host byte order (little-endian on x86).
  const n = parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join('.');
}

function hexIPv6(hex: string): string {
  const words: string[] = [];
  for (let i = 0; i < 32; i += 8) {
    const w = hex
      .slice(i, i + 8)
      .match(/../g)!
      .reverse()
      .join('');
    words.push(w.slice(0, 4), w.slice(4));
  }
  return words
    .map((w) => parseInt(w, 16).toString(16))
    .join(':')
    .replace(/(^|:)0(:0)+(:|$)/, '::');
}

export function lookupUnix(inode: number): SocketInfo | undefined {
  for (const line of readTable('/proc/net/unix')) {
    const f = line.trim().split(/\s+/);
    if (Number(f[6]) !== inode) continue;
    const flags = parseInt(f[3], 16);
    return {
      inode,
      kind: 'unix',
      address: `unix:${f[7] ?? '(unnamed)'}`,
      listening: (flags & SO_ACCEPTCON) !== 0,
      stream: parseInt(f[4], 16) === SOCK_STREAM,
    };
  }
  return undefined;
}

export function lookupTcp(inode: number): SocketInfo | undefined {
  for (const [file, v6] of [
    ['/proc/net/tcp', false],
    ['/proc/net/tcp6', true],
  ] as const) {
    for (const line of readTable(file)) {
      const f = line.trim().split(/\s+/);
      if (Number(f[9]) !== inode) continue;
      const [ipHex, portHex] = f[1].split(':');
      const host = v6 ? hexIPv6(ipHex) : hexIPv4(ipHex);
      return {
        inode,
        kind: 'tcp',
        address: `tcp:${host}:${parseInt(portHex, 16)}`,
        listening: parseInt(f[3], 16) === TCP_LISTEN,
        stream: true,
      };
    }
  }
  return undefined;
}

/** The fds of this process whose link in /proc/self/fd is `target`, with their access modes. */
function holdersOf(target: string): number[] {
  const modes: number[] = [];
  for (const n of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${n}`) !== target) continue;
      const flags = /^flags:\s*([0-7]+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${n}`, 'utf8'));
      if (flags) modes.push(parseInt(flags[1], 8) & 3);
    } catch {
      /* closed meanwhile (the directory's own fd among them) */
    }
  }
  return modes;
}

/**
 * Whether what is at an fd is Node's own rather than something passed in: its event loop and
 * wakeup fds (anon inodes), and the self-pipes it holds both ends of. Node opens these at the
 * lowest free numbers before any of our code runs, so an fd number nobody passed usually
 * lands on one. Node also marks inherited fds close-on-exec at start (uv_disable_stdio_inheritance),
 * so that flag cannot tell the two apart.
 */
function nodesOwn(target: string): boolean {
  if (target.startsWith('anon_inode:')) return true;
  if (!/^pipe:\[\d+\]$/.test(target)) return false;
  const modes = holdersOf(target);
  return modes.includes(0) && modes.includes(1);
}

/**
 * Describes fd `fd` of this process, or says in words why it is not a listening stream socket.
 * `ownFds`: fds this process opened itself (its log file), which nobody can have passed.
 */
export function inspectFd(fd: number, ownFds: readonly number[] = []): SocketInfo | FdProblem {
  const notPassed = `nothing was passed at fd ${fd}`;
  let target: string;
  try {
    fs.fstatSync(fd);
    target = fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return { problem: `fd ${fd} is not open in this process: ${notPassed}`, reason: 'fd-closed' };
  }
  if (ownFds.includes(fd) || nodesOwn(target))
    return {
      problem: `fd ${fd} was not inherited: ${notPassed} (the ${target} there is this process's own)`,
      reason: 'fd-closed',
    };
  const m = /^socket:\[(\d+)\]$/.exec(target);
  if (!m) return { problem: `fd ${fd} is not a socket (it is ${target})`, reason: 'not-socket' };
  const inode = Number(m[1]);
  const info = lookupUnix(inode) ?? lookupTcp(inode);
  if (!info)
    return {
      problem: `fd ${fd} is a socket but neither a unix nor a TCP stream socket (UDP or another family)`,
      reason: 'not-stream',
    };
  if (!info.stream) return { problem: `fd ${fd} (${info.address}) is not a stream socket`, reason: 'not-stream' };
  if (!info.listening)
    return {
      problem: `fd ${fd} (${info.address}) is a connected socket, not a listening one`,
      reason: 'not-listening',
    };
  return info;
}
