import * as fs from 'node:fs';
import { ExitCode, PhoenixError, errnoOf } from './errors';

/**
 * Pid file rules, as unicorn's: a live master's pid file is never overwritten; on a reexec
 * upgrade the old master's file becomes FILE.oldbin and the new master writes FILE; each
 * process removes only a file that still holds its own pid.
 */
export const oldbinPath = (file: string): string => `${file}.oldbin`;

export function readPid(file: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Alive and not a zombie. An exited master stays a zombie until its parent reaps it, and
 * after a reexec that parent is whatever adopted it (PID 1 of a container without a real
 * init may never reap): kill(pid, 0) alone would call it running.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (errnoOf(err) !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}

/** A live pid that is not phoenix (pids recycle, notably after a container restart) is stale. */
function isPhoenix(pid: number): boolean {
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /phoenix|cli\.js/.test(cmd);
  } catch {
    return false;
  }
}

export function writePid(file: string, pid: number): void {
  const tmp = `${file}.${pid}.tmp`;
  try {
    fs.writeFileSync(tmp, `${pid}\n`);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new PhoenixError(
      `cannot write pid file ${file}: ${(err as Error).message}; fix its directory's permissions or choose another --pid`,
      ExitCode.PIDFILE,
    );
  }
}

/** Claims `file` for `pid`, refusing when another phoenix master is alive there. */
export function claimPidFile(file: string, pid: number): void {
  const other = readPid(file);
  if (other !== undefined && other !== pid && isAlive(other) && isPhoenix(other)) {
    throw new PhoenixError(
      `another master is running (pid ${other}, from ${file}); send it USR2 to upgrade or QUIT to stop it`,
      ExitCode.RUNNING,
    );
  }
  writePid(file, pid);
}

export function removeIfOurs(file: string, pid: number): void {
  if (readPid(file) === pid) fs.rmSync(file, { force: true });
}

/** Before a reexec: FILE -> FILE.oldbin, so the new master can write FILE. */
export function moveToOldbin(file: string, pid: number): void {
  if (readPid(file) === pid) fs.renameSync(file, oldbinPath(file));
}

/** A failed reexec: FILE.oldbin -> FILE again, unless a newer master has written FILE since. */
export function restoreFromOldbin(file: string, pid: number): void {
  if (readPid(oldbinPath(file)) !== pid) return;
  const current = readPid(file);
  if (current !== undefined && current !== pid && isAlive(current)) return;
  fs.renameSync(oldbinPath(file), file);
}
