import * as fs from 'node:fs';
import { ExitCode, PhoenixError, messageOf } from './errors';
import { type Fields, type PhoenixEvent, type Role, formatEvent } from './events';

/**
 * One lifecycle event = one logfmt line, so the lab (and grep) can parse what happened
 * without guessing. Lines go to stderr, or to a log file that USR1 reopens (logrotate).
 */
export type { Fields };

let logPath: string | undefined;
let logFd = 2;

function openLog(path: string): number {
  return fs.openSync(path, 'a');
}

/** At start: the log file must open, or the process refuses to start (exit 74, one message). */
export function useLogFile(path: string | undefined): void {
  logPath = path;
  if (!path) return;
  try {
    logFd = openLog(path);
  } catch (err) {
    throw new PhoenixError(
      `cannot open log file ${path}: ${messageOf(err)}; create its directory or choose another --log-file`,
      ExitCode.IO,
      'log-file',
    );
  }
}

/**
 * A worker writes to the fd its master hands it rather than opening the path: a worker born
 * while the log's directory is gone (rotation gone wrong) must still start and still log.
 */
export function useLogFd(fd: number | undefined, path: string | undefined): void {
  logPath = path;
  if (fd !== undefined) logFd = fd;
  else if (path) useLogFile(path);
}

/** The fd this process logs to when it is a log file (handed to workers), else undefined. */
export function logFileFd(): number | undefined {
  return logFd > 2 ? logFd : undefined;
}

/**
 * USR1: a rotated file is closed and the path opened again. When the path cannot be opened the
 * old fd is kept (lines still go somewhere) and the error is thrown for the caller to report;
 * the next USR1 tries again.
 */
export function reopenLog(): boolean {
  if (!logPath) return false;
  const fd = openLog(logPath);
  const old = logFd;
  logFd = fd;
  if (old > 2) fs.closeSync(old);
  return true;
}

export function formatLine(fields: Fields): string {
  return formatEvent('phoenix', fields);
}

function write(fd: number, line: string): void {
  try {
    fs.writeSync(fd, line);
  } catch {
    // A closed stderr (pty gone under upstart's console log) or a full disk must never take
    // the server down.
  }
}

export function logEvent(role: Extract<Role, 'master' | 'worker'>, event: PhoenixEvent, fields: Fields = {}): void {
  write(logFd, formatLine({ ts: new Date().toISOString(), pid: process.pid, role, event, ...fields }));
}

/**
 * For failures of the log itself: the line goes to the log (which may be a deleted file
 * nobody reads) and to stderr, where init collects it.
 */
export function logEventEverywhere(
  role: Extract<Role, 'master' | 'worker'>,
  event: PhoenixEvent,
  fields: Fields,
): void {
  const line = formatLine({ ts: new Date().toISOString(), pid: process.pid, role, event, ...fields });
  write(logFd, line);
  if (logFd !== 2) write(2, line);
}
