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

export type FdProblem = { problem: string };

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

/** Describes fd `fd` of this process, or says in words why it is not a listening stream socket. */
export function inspectFd(fd: number): SocketInfo | FdProblem {
  let target: string;
  try {
    fs.fstatSync(fd);
    target = fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return { problem: `fd ${fd} is not open in this process` };
  }
  const m = /^socket:\[(\d+)\]$/.exec(target);
  if (!m) return { problem: `fd ${fd} is not a socket (it is ${target})` };
  const inode = Number(m[1]);
  const info = lookupUnix(inode) ?? lookupTcp(inode);
  if (!info)
    return { problem: `fd ${fd} is a socket but neither a unix nor a TCP stream socket (UDP or another family)` };
  if (!info.stream) return { problem: `fd ${fd} (${info.address}) is not a stream socket` };
  if (!info.listening) return { problem: `fd ${fd} (${info.address}) is a connected socket, not a listening one` };
  return info;
}
