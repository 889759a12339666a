import * as fs from 'node:fs';

/**
 * One lifecycle event = one logfmt line, so the lab (and grep) can parse what happened
 * without guessing. Lines go to stderr, or to a log file that USR1 reopens (logrotate).
 */
export type Fields = Record<string, string | number | boolean | undefined>;

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

function quote(v: string | number | boolean): string {
  const s = String(v);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}

export function formatLine(fields: Fields): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') parts.push(`${k}=${quote(v)}`);
  return `phoenix ${parts.join(' ')}\n`;
}

export function logEvent(role: 'master' | 'worker', event: string, fields: Fields = {}): void {
  const line = formatLine({ ts: new Date().toISOString(), pid: process.pid, role, event, ...fields });
  try {
    fs.writeSync(logFd, line);
  } catch {
    // A closed stderr (pty gone under upstart's console log) must never take the server down.
  }
}
