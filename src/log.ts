import * as fs from 'node:fs';
import { type Fields, type PhoenixEvent, type Role, formatEvent } from './events';

/**
 * One lifecycle event = one logfmt line, so the lab (and grep) can parse what happened
 * without guessing. Lines go to stderr, or to a log file that USR1 reopens (logrotate).
 */
export type { Fields };

let logPath: string | undefined;
let logFd = 2;

export function useLogFile(path: string | undefined): void {
  logPath = path;
  reopenLog();
}

/** USR1: a rotated file is closed and the path opened again. */
export function reopenLog(): void {
  if (!logPath) return;
  const fd = fs.openSync(logPath, 'a');
  const old = logFd;
  logFd = fd;
  if (old > 2) fs.closeSync(old);
}

export function formatLine(fields: Fields): string {
  return formatEvent('phoenix', fields);
}

export function logEvent(role: Extract<Role, 'master' | 'worker'>, event: PhoenixEvent, fields: Fields = {}): void {
  const line = formatLine({ ts: new Date().toISOString(), pid: process.pid, role, event, ...fields });
  try {
    fs.writeSync(logFd, line);
  } catch {
    // A closed stderr (pty gone under upstart's console log) must never take the server down.
  }
}
