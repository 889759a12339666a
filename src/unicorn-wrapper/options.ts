import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { PhoenixError } from '../errors';
import { parseListenSpec } from '../options';
import { EXIT_CODES, WrapperError, WrapperExit } from './exit-codes';

export type ListenArg = 'auto' | 'always' | 'never';

export interface WrapperOptions {
  /** addresses to bind when no socket is inherited, in --listen's canonical form (unix:/p, tcp:h:p) */
  listen: string[];
  /** absolute path; undefined = learn it from unicorn's config */
  pid?: string;
  pidTimeoutMs: number;
  /** a master with no workers this long after it started (or after a USR2) is reported not-ready */
  readyTimeoutMs: number;
  /** after a forwarded QUIT, TERM or INT: how long masters may take before TERM, then KILL */
  stopTimeoutMs: number;
  restart: RestartBudget;
  listenArg: ListenArg;
  /** the command after --, exactly as given */
  command: string[];
}

/** At most `max` restarts of a master that died unasked within any `windowMs`; 0: never restart. */
export interface RestartBudget {
  max: number;
  windowMs: number;
}

export type Parsed = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; options: WrapperOptions };

interface Decl {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** the value's name in the help text */
  value?: string;
  help: string;
}

/** The one declaration of the options: util.parseArgs reads it, and so does the help text. */
const DECLS = {
  listen: {
    type: 'string',
    multiple: true,
    value: 'ADDR',
    help: 'bind unix:/path, HOST:PORT or PORT here when no socket is inherited (UPSTART_FDS, LISTEN_FDS); repeatable',
  },
  pid: {
    type: 'string',
    value: 'FILE',
    help: "the master's pid file; default: the `pid` of unicorn's config (-c), read with unicorn's own Configurator",
  },
  'pid-timeout': {
    type: 'string',
    value: 'SECONDS',
    help: 'how long unicorn may take to write its pid file before the wrapper stops it and exits 73 (default 30)',
  },
  'ready-timeout': {
    type: 'string',
    value: 'SECONDS',
    help:
      'a master (first boot, a restart, or the new one of a USR2) with no workers after this long is ' +
      'reported (event not-ready, repeated; upgrade-stuck for a USR2, whose old master serves on and a ' +
      'second USR2 is refused); nothing is stopped (default 60: above the slowest boot seen, 40 s)',
  },
  'stop-timeout': {
    type: 'string',
    value: 'SECONDS',
    help:
      'after QUIT, TERM or INT, masters still alive this long are sent TERM, and whatever is left 2 s ' +
      "later KILL; exit 72 (default 30, for requests up to unicorn's timeout; keep init's kill timeout " +
      'above this + 2: the shipped job and unit have 35)',
  },
  'restart-budget': {
    type: 'string',
    value: 'N/WINDOW',
    help:
      'a master that dies unasked (crash, kill -9) is started again on the same socket, at most N times ' +
      'within WINDOW (30s, 2m, 1h), after a pause of 0.1 s that doubles with each recent restart, up to 5 s; ' +
      'then exit 71. 0 turns restarts off (default 5/30s)',
  },
  'listen-arg': {
    type: 'string',
    value: 'WHEN',
    help:
      'append `-l ADDR` for each socket to the command, because unicorn closes on HUP (initctl ' +
      'reload) an adopted socket that neither its config nor -l names: auto (when the command ' +
      'runs unicorn and has no -l of its own; default), always, never',
  },
  help: { type: 'boolean', short: 'h', help: 'this text' },
  version: { type: 'boolean', short: 'v', help: 'print the version' },
} as const satisfies Record<string, Decl>;

const PID_TIMEOUT_DEFAULT_S = 30;
const READY_TIMEOUT_DEFAULT_S = 60;
const STOP_TIMEOUT_DEFAULT_S = 30;
const RESTART_BUDGET_DEFAULT = '5/30s';
/** more restarts than this in one window is a storm, not a budget */
const RESTART_MAX = 100;

function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join(`\n${indent}`);
}

function optionLines(): string {
  const heads = Object.entries(DECLS).map(([name, d]: [string, Decl]) => {
    const short = d.short ? `-${d.short}, ` : '';
    return `${short}--${name}${d.value ? ` ${d.value}` : ''}`;
  });
  const col = Math.max(...heads.map((h) => h.length)) + 4;
  return Object.values(DECLS)
    .map((d: Decl, i) => `  ${heads[i].padEnd(col)}${wrap(d.help, 92 - col, ' '.repeat(col + 2))}`)
    .join('\n');
}

export const USAGE = `usage: unicorn-wrapper [OPTIONS] -- COMMAND [ARG]...
e.g.   unicorn-wrapper -- /usr/bin/unicorn -E production -c /etc/unicorn/unicorn.rb config.ru

The process upstart starts and tracks in front of Ruby unicorn (or phoenix --upgrade reexec),
so that USR2 re-exec upgrades do not lose the job: it hands its listening socket to COMMAND
as fd 3 with UNICORN_FD=3, follows the current master through PIDFILE and PIDFILE.oldbin,
forwards signals to it, and exits only when no master is left.

The socket comes from UPSTART_FDS (upstart-socket-bridge), LISTEN_FDS with LISTEN_PID equal
to the wrapper's pid (systemd), UNICORN_FD, or --listen. PATH is reset to a standard list
when it is not a list of directories (upstart 1.5 sets it to the socket's path).

Options:
${optionLines()}

Signals: HUP USR1 USR2 WINCH TTIN TTOU go to the current master; QUIT TERM INT go to every
live master and mean "stop" (exit 0 once none is left; after --stop-timeout, TERM then KILL
and exit 72). USR2 is refused while an upgrade is in progress (a .oldbin master still runs,
or the new master is not ready), as unicorn refuses it; before unicorn has written its pid
file (and so set its signal handlers) only the stops are passed on. A master counts as serving
once its pid file names it and it has worker processes, never after a fixed sleep.

Supervision: the wrapper holds the socket, so a master that dies unasked (crash, kill -9, OOM
killer) is started again from the same socket and command (event master-restarted), within
--restart-budget; its orphaned workers are QUIT once the new master serves. A master that
exits after a forwarded stop, or during a USR2 while the other generation lives, is not a
crash. unicorn exiting before it ever served (a config.ru that raises at first boot) is not
restarted: exit 70.

Exit codes:
${EXIT_CODES.map((e) => `  ${String(e.code).padStart(3)}  ${wrap(e.meaning, 84, '       ')}`).join('\n')}`;

const usage = (msg: string) =>
  new WrapperError(`${msg}; run 'unicorn-wrapper --help' for the options`, WrapperExit.USAGE, 'usage');

/** parseArgs's own messages name its internals; one short sentence per kind of mistake instead. */
function explain(err: unknown): WrapperError {
  const e = err as { code?: string; message?: string };
  const quoted = /'([^']+)'/.exec(e.message ?? '')?.[1] ?? '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return usage(`unknown option '${quoted}'`);
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return usage(`stray argument '${quoted}' before '--': the command to run goes after '--'`);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      // "Option '-h, --help' does not take an argument" / "Option '--pid <value>' argument missing"
      const name = quoted.split(/,? /).find((w) => w.startsWith('--')) ?? quoted;
      return usage(/does not take/.test(e.message ?? '') ? `${name} takes no value` : `${name} needs a value`);
    }
    default:
      return usage(e.message ?? String(err));
  }
}

/** A number of seconds above 0, as ms: 0, negative, an exponent or a unit are refused. */
function parseSeconds(name: string, v: string | undefined, fallbackS: number): number {
  if (v === undefined) return fallbackS * 1000;
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !(n > 0) || !Number.isFinite(n))
    throw usage(`--${name}: '${v}' is not a number of seconds above 0`);
  return Math.max(1, Math.round(n * 1000));
}

const WINDOW_UNITS: Record<string, number> = { '': 1000, s: 1000, m: 60_000, h: 3_600_000 };

export function parseRestartBudget(v: string | undefined): RestartBudget {
  const text = v ?? RESTART_BUDGET_DEFAULT;
  const bad = (why: string) => usage(`--restart-budget: '${text}' ${why}`);
  if (text === '0') return { max: 0, windowMs: 0 };
  const m = /^(\d+)\/(\d+(?:\.\d+)?)([smh]?)$/.exec(text);
  if (!m) throw bad('is not N/WINDOW (5/30s: at most 5 restarts within 30 s; 0: never restart)');
  const max = Number(m[1]);
  const windowMs = Math.round(Number(m[2]) * WINDOW_UNITS[m[3]]);
  if (max > RESTART_MAX) throw bad(`allows more than ${RESTART_MAX} restarts: that is a restart storm, not a budget`);
  if (max === 0) return { max: 0, windowMs: 0 };
  if (!(windowMs >= 1000))
    throw bad('has a window under 1 s: restarts would leave it before the next one, and never spend it');
  return { max, windowMs };
}

function parseListenArg(v: string | undefined): ListenArg {
  if (v === undefined) return 'auto';
  if (v === 'auto' || v === 'always' || v === 'never') return v;
  throw usage(`--listen-arg: '${v}' is not one of auto, always, never`);
}

function parseListen(v: string): string {
  try {
    return parseListenSpec(v, '--listen');
  } catch (err) {
    // phoenix's message ends with a pointer to phoenix's help: keep only the first line.
    if (err instanceof PhoenixError) throw usage(err.message.split('\n')[0]);
    throw err;
  }
}

/**
 * `--stop-timeout -1` would be "needs a value" to parseArgs (a dash starts an option): a value
 * option followed by a negative number takes it, so the value check says what is wrong with it.
 */
function joinNegativeValues(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = args[i].startsWith('--') ? args[i].slice(2) : undefined;
    const decl = name !== undefined ? (DECLS as Record<string, Decl>)[name] : undefined;
    if (decl?.type === 'string' && /^-\d/.test(args[i + 1] ?? '')) out.push(`${args[i]}=${args[++i]}`);
    else out.push(args[i]);
  }
  return out;
}

function readValues(args: string[]) {
  try {
    return parseArgs({ args: joinNegativeValues(args), options: DECLS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw explain(err);
  }
}

export function parseWrapperArgs(argv: string[], cwd = process.cwd()): Parsed {
  const dashes = argv.indexOf('--');
  const own = dashes < 0 ? argv : argv.slice(0, dashes);
  const command = dashes < 0 ? [] : argv.slice(dashes + 1);
  const values = readValues(own);
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  const v = values;
  const options: WrapperOptions = {
    listen: (v.listen ?? []).map(parseListen),
    pid: v.pid === undefined ? undefined : path.resolve(cwd, v.pid),
    pidTimeoutMs: parseSeconds('pid-timeout', v['pid-timeout'], PID_TIMEOUT_DEFAULT_S),
    readyTimeoutMs: parseSeconds('ready-timeout', v['ready-timeout'], READY_TIMEOUT_DEFAULT_S),
    stopTimeoutMs: parseSeconds('stop-timeout', v['stop-timeout'], STOP_TIMEOUT_DEFAULT_S),
    restart: parseRestartBudget(v['restart-budget']),
    listenArg: parseListenArg(v['listen-arg']),
    command,
  };
  if (v.pid === '') throw usage('--pid needs a file name');
  if (command.length === 0 || command[0] === '')
    throw usage("no command to run: put it after '--', e.g. -- /usr/bin/unicorn -c unicorn.rb config.ru");
  return { kind: 'run', options };
}
