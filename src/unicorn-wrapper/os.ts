import * as fs from 'node:fs';
import { errnoOf } from '../errors';
import { isAlive, readPid } from '../pidfile';

/**
 * Every operating-system call the follow logic makes, behind one interface: the real one
 * below, and a scripted one in the unit tests, so the rules are tested without processes
 * (tableflip's approach).
 */
export interface WrapperOs {
  /** ms, monotonic */
  now(): number;
  readPid(file: string): number | undefined;
  /** alive and not a zombie */
  isAlive(pid: number): boolean;
  /** live (non-zombie) children */
  childrenOf(pid: number): number[];
  kill(pid: number, signal: NodeJS.Signals): void;
  /** removes `file` if it still names `pid` */
  removePidFile(file: string, pid: number): void;
  /**
   * What changes when the file at this path is replaced or renamed (device, inode and ctime: unicorn
   * renames its pid file to .oldbin and back, the same inode, but each rename sets the ctime);
   * undefined when none is there.
   */
  fileId(file: string): string | undefined;
  /** starts the command again on the same sockets (a new master after one died); its pid */
  startMaster(): number;
  /**
   * The other live members of the wrapper's process group when the wrapper leads its own
   * session, as init makes it (upstart and systemd call setsid for each job): every process of
   * the job is then in it. undefined otherwise (a shell's pipeline may share the group).
   */
  processGroup(): number[] | undefined;
}

function statFields(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name in parentheses may hold spaces and parentheses: split after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

const notZombie = (pid: number) => {
  const f = statFields(pid);
  return f !== undefined && f[0] !== 'Z';
};

let childrenFileWorks: boolean | undefined;

/**
 * /proc/PID/task/TID/children lists each thread's children (Linux 3.5+); older kernels, such as
 * 12.04's 3.2, lack it, and every process's stat is read for its parent instead.
 */
export function childrenOf(pid: number): number[] {
  if (childrenFileWorks !== false) {
    try {
      const out: number[] = [];
      for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
        const text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
        for (const c of text.split(' ')) if (/^\d+$/.test(c)) out.push(Number(c));
      }
      childrenFileWorks = true;
      return out.filter(notZombie);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT' || childrenFileWorks) return [];
      // ENOENT on a live process: either it just exited or the kernel has no children file.
      if (fs.existsSync(`/proc/${pid}/task`)) childrenFileWorks = false;
      else return [];
    }
  }
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(Number(d));
    if (f && Number(f[1]) === pid && f[0] !== 'Z') out.push(Number(d));
  }
  return out;
}

/** The other members of this process's group, when it leads its session and its group. */
export function processGroup(self: number = process.pid): number[] | undefined {
  const mine = statFields(self);
  // after the command: state, ppid, pgrp, session
  if (!mine || Number(mine[2]) !== self || Number(mine[3]) !== self) return undefined;
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === self) continue;
    const f = statFields(Number(d));
    if (f && Number(f[2]) === self && f[0] !== 'Z') out.push(Number(d));
  }
  return out;
}

/** Everything but starting a master, which needs the command and sockets (cli.ts adds it). */
export const realOs: Omit<WrapperOs, 'startMaster'> = {
  now: () => performance.now(),
  readPid,
  isAlive,
  childrenOf,
  kill: (pid, signal) => void process.kill(pid, signal),
  removePidFile: (file, pid) => {
    if (readPid(file) === pid) fs.rmSync(file, { force: true });
  },
  processGroup: () => processGroup(),
  fileId: (file) => {
    try {
      const st = fs.statSync(file, { bigint: true });
      return `${st.dev}:${st.ino}:${st.ctimeNs}`;
    } catch {
      return undefined;
    }
  },
};
