/**
 * The one format every program of this project reports its lifecycle in, and the one parser
 * the lab and the tests read it with. A line is logfmt, led by the program's name:
 *
 *   phoenix ts=2026-11-30T01:02:03.456Z pid=812 role=master event=generation-live gen=3 ...
 *   unicorn-wrapper ts=... pid=40 role=wrapper event=master-followed master=52 previous=47
 *
 * Verdicts count events by name and read their fields; they never match message text, which
 * is for people and may be reworded. Adding an event means adding its name here.
 */

export const PROGRAMS = ['phoenix', 'unicorn-wrapper'] as const;
export type Program = (typeof PROGRAMS)[number];

export type Role = 'master' | 'worker' | 'wrapper';

/** phoenix's events. Fields named in the comment are always present. */
export const PHOENIX_EVENTS = [
  /** listeners, workers, upgrade */
  'start',
  /** workers */
  'ready',
  /** code, reason, error: the master could not start (every refusal at start included) */
  'start-failed',
  /** variable, source, reason, used, note (closed: fds closed): an fd variable phoenix does
   *  not serve (another one was, or sd_listen_fds(3) ignores it) */
  'fds-ignored',
  /** signal */
  'signal',
  'config-reloaded',
  'config-rejected',
  'resize',
  'worker-spawn',
  'worker-spawn-failed',
  'worker-ready',
  'worker-exit',
  'worker-error',
  'worker-timeout',
  'generation-start',
  'generation-live',
  'generation-failed',
  'generation-retired',
  'reexec',
  'reexec-refused',
  'reexec-failed',
  'reexec-error',
  'quit-oldbin',
  /** step, error: a step failed and the master carries on serving */
  'master-error',
  'log-reopened',
  'stopping',
  /** code, handedOver */
  'exit',
  // worker side
  'listen-error',
  'load-error',
  'app-error',
  'draining',
  'drain-timeout',
  'error',
] as const;

/** unicorn-wrapper's events. */
export const WRAPPER_EVENTS = [
  /** socket, fd, source, command */
  'start',
  /** master: unicorn's first master wrote its pid file and serves */
  'ready',
  /** code, reason, error */
  'start-failed',
  /** signal, master */
  'signal-forwarded',
  /** master, previous: unicorn re-executed and the wrapper now follows the new master */
  'master-followed',
  /** master, previous: a USR2 whose new master never served; the old one keeps serving */
  'upgrade-failed',
  /** master, code, signal: the master the wrapper followed is gone and no other is left */
  'master-lost',
  /** step, error */
  'wrapper-error',
  'stopping',
  /** code, reason */
  'exit',
  /** master: the followed master renamed its pid file to .oldbin (it took a USR2) */
  'upgrade-started',
  /** signal, reason: a signal the wrapper did not pass on (USR2 while .oldbin lives, no master) */
  'signal-refused',
  /** oldbin, master: the master followed before the current one has exited */
  'oldbin-exited',
  /** child, lost, attempt, delayMs: the wrapper started a new master after one died unasked */
  'master-restarting',
  /** master, lost, reason, status or signal, ms, attempt: the new master serves (ms since the death was seen) */
  'master-restarted',
  /** master, status or signal (or error), attempt: a restarted master exited before it served */
  'restart-failed',
  /** master, phase, ms: a master (first boot, restart or USR2) has no workers after --ready-timeout; repeated */
  'not-ready',
  /** master, newMaster, ms: a USR2's new master has no workers after --ready-timeout; the old one serves on */
  'upgrade-stuck',
  /** signal, pids, ms: a stop outlived --stop-timeout; what was left was sent TERM, then KILL */
  'stop-timeout',
] as const;

export type PhoenixEvent = (typeof PHOENIX_EVENTS)[number];
export type WrapperEvent = (typeof WRAPPER_EVENTS)[number];
export type EventName = PhoenixEvent | WrapperEvent;

export type FieldValue = string | number | boolean | undefined;
export type Fields = Record<string, FieldValue>;

export interface LifecycleEvent {
  program: Program;
  ts: string;
  pid: number;
  role: Role | string;
  event: string;
  /** every field of the line as text, ts/pid/role/event included */
  fields: Record<string, string>;
}

function quote(v: string | number | boolean): string {
  const s = String(v);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}

/** One line, newline included; undefined and empty fields are left out. */
export function formatEvent(program: Program, fields: Fields): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') parts.push(`${k}=${quote(v)}`);
  return `${program} ${parts.join(' ')}\n`;
}

const LEAD = new RegExp(`(?:^|\\s)(${PROGRAMS.map((p) => p.replace('-', '\\-')).join('|')}) ts=`);

/** Parses one line; anything that is not an event line (a person's message, a prefix from
 * upstart's or journald's log) gives undefined. A prefix before the program name is allowed. */
export function parseEventLine(line: string): LifecycleEvent | undefined {
  const m = LEAD.exec(line);
  if (!m) return undefined;
  const program = m[1] as Program;
  const body = line.slice(m.index + m[0].length - 'ts='.length);
  const fields: Record<string, string> = {};
  for (const f of body.matchAll(/([A-Za-z][\w]*)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
    fields[f[1]] = f[2].startsWith('"') ? (JSON.parse(f[2]) as string) : f[2];
  }
  if (!fields.event) return undefined;
  return {
    program,
    ts: fields.ts ?? '',
    pid: Number(fields.pid),
    role: fields.role ?? '',
    event: fields.event,
    fields,
  };
}

export function parseEvents(text: string): LifecycleEvent[] {
  const out: LifecycleEvent[] = [];
  for (const line of text.split('\n')) {
    const e = parseEventLine(line);
    if (e) out.push(e);
  }
  return out;
}
