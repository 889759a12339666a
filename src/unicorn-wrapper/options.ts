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
  listenArg: ListenArg;
  /** the command after --, exactly as given */
  command: string[];
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
live master and mean "stop" (exit 0 once none is left). USR2 is refused while an upgrade is
in progress (a .oldbin master still runs), as unicorn refuses it; before unicorn has written
its pid file (and so set its signal handlers) only the stops are passed on. The wrapper never
signals a master on its own; when one dies unasked, it QUITs the orphaned workers and exits 71.
A new master counts as serving once its pid file names it and it has worker processes.

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

function parsePidTimeout(v: string | undefined): number {
  if (v === undefined) return PID_TIMEOUT_DEFAULT_S * 1000;
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || n <= 0) throw usage(`--pid-timeout: '${v}' is not a number of seconds above 0`);
  return Math.round(n * 1000);
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

function readValues(args: string[]) {
  try {
    return parseArgs({ args, options: DECLS, strict: true, allowPositionals: false }).values;
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
    pidTimeoutMs: parsePidTimeout(v['pid-timeout']),
    listenArg: parseListenArg(v['listen-arg']),
    command,
  };
  if (v.pid === '') throw usage('--pid needs a file name');
  if (command.length === 0 || command[0] === '')
    throw usage("no command to run: put it after '--', e.g. -- /usr/bin/unicorn -c unicorn.rb config.ru");
  return { kind: 'run', options };
}
