import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs as parseArgv } from 'node:util';
import { EXIT_CODE_DOCS, ExitCode, PhoenixError, messageOf } from './errors';

export type UpgradeMode = 'in-place' | 'reexec';
export type QuitOldbin = 'ready' | 'spawned';

export interface Options {
  /** addresses to bind when no socket is inherited: unix:/path, HOST:PORT or PORT */
  listen: string[];
  workers: number;
  /** absolute path of the app module; undefined = the built-in demo app */
  app?: string;
  upgrade: UpgradeMode;
  /** reexec: the new master QUITs the old one once its own workers are ready ('ready', the
   *  safe choice), or as soon as it has spawned them ('spawned': when unicorn's usual
   *  before_fork hook does it; faster, but a new app that fails to load leaves nothing serving) */
  quitOldbin: false | QuitOldbin;
  pid?: string;
  /** seconds a worker may go without a heartbeat (a blocked event loop) before SIGKILL;
   *  also the bound on graceful drains and on new workers becoming ready */
  timeout: number;
  /** mode of a unix socket this wrapper binds itself; 0666 lets nginx's www-data connect */
  socketMode: number;
  socketGroup?: string;
  logFile?: string;
  config?: string;
  check: boolean;
}

export const DEFAULTS: Options = {
  listen: [],
  workers: 2,
  upgrade: 'in-place',
  quitOldbin: false,
  timeout: 30,
  socketMode: 0o666,
  check: false,
};

const usage = (msg: string, reason = 'usage'): PhoenixError =>
  new PhoenixError(`${msg}\nRun 'phoenix --help' for the list of options.`, ExitCode.USAGE, reason);

function parseWorkers(v: string, from: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 256)
    throw usage(`${from}: '${v}' is not a worker count (a whole number from 1 to 256)`);
  // With no worker nobody ever listens: the master would say ready and refuse every connection.
  // Stopping all workers of a running master is WINCH's job (TTOU to 0 too), as in unicorn.
  if (Number(v) === 0)
    throw usage(`${from}: 0 workers would serve nothing; give 1 or more (WINCH stops the workers of a running master)`);
  return Number(v);
}

function parseTimeout(v: string, from: string): number {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || n <= 0) throw usage(`${from}: '${v}' is not a timeout in seconds (a number above 0)`);
  return n;
}

function parseMode(v: string, from: string): number {
  if (!/^0?[0-7]{3}$/.test(v)) throw usage(`${from}: '${v}' is not an octal file mode such as 0660`);
  return parseInt(v, 8);
}

function parseUpgrade(v: string, from: string): UpgradeMode {
  if (v !== 'in-place' && v !== 'reexec') throw usage(`${from}: '${v}' is not an upgrade mode: use in-place or reexec`);
  return v;
}

function parseQuitOldbin(v: string, from: string): QuitOldbin {
  if (v === '' || v === 'true' || v === 'ready') return 'ready';
  if (v === 'spawned') return 'spawned';
  throw usage(`${from}: '${v}' is not when to QUIT the old master: use ready or spawned`);
}

export function parseListenSpec(v: string, from: string): string {
  if (v.startsWith('unix:')) {
    const p = v.slice(5);
    if (!path.isAbsolute(p))
      throw usage(`${from}: '${v}' needs an absolute socket path, such as unix:/var/run/app.sock`);
    return `unix:${path.normalize(p)}`;
  }
  const m = /^(?:(\[[0-9a-fA-F:]+\]|[0-9.]+|localhost):)?(\d{1,5})$/.exec(v);
  if (!m || Number(m[2]) > 65535) throw usage(`${from}: '${v}' is not an address: use unix:/path, HOST:PORT or PORT`);
  const host = !m[1] || m[1] === 'localhost' ? '127.0.0.1' : m[1].replace(/^\[|\]$/g, '');
  return `tcp:${host}:${Number(m[2])}`;
}

/**
 * One declaration per setting: it drives util.parseArgs, the config file's keys (the Options
 * key, camelCase) and the help text, so the three can never disagree.
 *  value: 'required' = `--flag V` or `--flag=V`; 'optional' = `--flag` alone or `--flag=V`,
 *  never the next argument; 'none' = a switch.
 *  file: whether a config file may set it (--config and --check only make sense on a command line).
 */
interface Setting {
  flag: string;
  key: keyof Options;
  value: 'required' | 'optional' | 'none';
  /** the value's name in the help text */
  arg?: string;
  multiple?: boolean;
  file: boolean;
  help: string[];
  set: (o: Options, v: string, from: string) => void;
}

const SETTINGS: Setting[] = [
  {
    flag: 'listen',
    key: 'listen',
    value: 'required',
    arg: 'ADDR',
    multiple: true,
    file: true,
    help: ['unix:/path, HOST:PORT or PORT (127.0.0.1); repeatable'],
    set: (o, v, f) => o.listen.push(parseListenSpec(v, f)),
  },
  {
    flag: 'workers',
    key: 'workers',
    value: 'required',
    arg: 'N',
    file: true,
    help: ['worker processes (default 2)'],
    set: (o, v, f) => (o.workers = parseWorkers(v, f)),
  },
  {
    flag: 'app',
    key: 'app',
    value: 'required',
    arg: 'MODULE',
    file: true,
    help: ['module exporting a request handler (default: built-in demo app)'],
    set: (o, v) => (o.app = path.resolve(v)),
  },
  {
    flag: 'upgrade',
    key: 'upgrade',
    value: 'required',
    arg: 'MODE',
    file: true,
    help: [
      'what USR2 does: in-place (same master pid, new workers; default)',
      "or reexec (unicorn's: a new master process, old pid file -> .oldbin)",
    ],
    set: (o, v, f) => (o.upgrade = parseUpgrade(v, f)),
  },
  {
    flag: 'quit-oldbin',
    key: 'quitOldbin',
    value: 'optional',
    arg: 'WHEN',
    file: true,
    help: [
      'reexec: the new master sends QUIT to the old one when its workers',
      'are ready (default) or, =spawned, as soon as it has started them',
      "(unicorn's before_fork timing: faster, no fallback if the app breaks)",
    ],
    set: (o, v, f) => (o.quitOldbin = parseQuitOldbin(v, f)),
  },
  {
    flag: 'pid',
    key: 'pid',
    value: 'required',
    arg: 'FILE',
    file: true,
    help: ["pid file (unicorn's .oldbin rule applies on reexec)"],
    set: (o, v) => (o.pid = path.resolve(v)),
  },
  {
    flag: 'timeout',
    key: 'timeout',
    value: 'required',
    arg: 'SECONDS',
    file: true,
    help: ['kill a worker whose event loop is stuck this long (default 30)'],
    set: (o, v, f) => (o.timeout = parseTimeout(v, f)),
  },
  {
    flag: 'socket-mode',
    key: 'socketMode',
    value: 'required',
    arg: 'OCTAL',
    file: true,
    help: ['mode of a unix socket bound here (default 0666)'],
    set: (o, v, f) => (o.socketMode = parseMode(v, f)),
  },
  {
    flag: 'socket-group',
    key: 'socketGroup',
    value: 'required',
    arg: 'NAME',
    file: true,
    help: ['group of a unix socket bound here'],
    set: (o, v) => (o.socketGroup = v),
  },
  {
    flag: 'log-file',
    key: 'logFile',
    value: 'required',
    arg: 'FILE',
    file: true,
    help: ['write lifecycle lines here instead of stderr (USR1 reopens it)'],
    set: (o, v) => (o.logFile = path.resolve(v)),
  },
  {
    flag: 'config',
    key: 'config',
    value: 'required',
    arg: 'FILE',
    file: false,
    help: ['JSON file with the same settings (camelCase keys); flags win'],
    set: (o, v) => (o.config = path.resolve(v)),
  },
  {
    flag: 'check',
    key: 'check',
    value: 'none',
    file: false,
    help: ['validate settings, app module and sockets, then exit'],
    set: (o) => (o.check = true),
  },
];

/** Not settings: they answer and exit. */
const INFO = [
  { flag: 'help', short: 'h', help: 'this text' },
  { flag: 'version', short: 'v', help: 'version' },
] as const;

const BY_FLAG = new Map(SETTINGS.map((s) => [s.flag, s]));
const BY_KEY = new Map(SETTINGS.filter((s) => s.file).map((s) => [s.key as string, s]));
/** Keys of a config file relative paths in which are relative to the file. */
const PATH_KEYS = new Set<keyof Options>(['app', 'pid', 'logFile']);

function spelling(s: Setting): string {
  if (s.value === 'optional') return `--${s.flag}[=${s.arg}]`;
  return s.arg ? `--${s.flag} ${s.arg}` : `--${s.flag}`;
}

function helpRows(): string[] {
  const rows: [string, string[]][] = SETTINGS.map((s) => [spelling(s), s.help]);
  for (const i of INFO) rows.push([`-${i.short}, --${i.flag}`, [i.help]]);
  const width = 21;
  return rows.flatMap(([left, lines]) => lines.map((l, n) => `  ${(n === 0 ? left : '').padEnd(width)}${l}`));
}

function exitCodeLines(): string[] {
  const items = EXIT_CODE_DOCS.filter(([code]) => code !== 0).map(([code, what]) => `${code} ${what}`);
  return ['Exit codes:', ...items.map((i) => `  ${i}`)];
}

export const USAGE = [
  'usage: phoenix [options]',
  '',
  'A unicorn-style pre-forking HTTP server for Node apps. The listening socket comes from',
  'UNICORN_FD (a previous master), UPSTART_FDS (upstart-socket-bridge), LISTEN_FDS (systemd)',
  'or --listen, in that order.',
  '',
  ...helpRows(),
  '',
  'Signals (master): HUP reload config + new workers, QUIT graceful stop, INT/TERM quick stop,',
  'USR1 reopen logs, USR2 upgrade, WINCH stop workers, TTIN/TTOU one worker more/less.',
  ...exitCodeLines(),
].join('\n');

/** Applies a JSON config file onto `base`. Throws a USAGE error naming the file and key. */
export function applyConfigFile(base: Options, file: string): Options {
  const bad = (msg: string) => usage(msg, 'config');
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw bad(`config file ${file} cannot be read: ${messageOf(err)}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (err) {
    throw bad(`config file ${file} is not valid JSON: ${messageOf(err)}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw bad(`config file ${file} must hold a JSON object`);
  const o: Options = { ...base, listen: [...base.listen] };
  for (const [key, value] of Object.entries(data)) {
    const setting = BY_KEY.get(key);
    if (!setting) throw bad(`config file ${file}: unknown key '${key}' (known: ${[...BY_KEY.keys()].join(', ')})`);
    try {
      applyConfigValue(o, setting, value, file);
    } catch (err) {
      throw err instanceof PhoenixError ? new PhoenixError(err.message, err.exitCode, 'config') : err;
    }
  }
  return o;
}

function applyConfigValue(o: Options, setting: Setting, value: unknown, file: string): void {
  const from = `config file ${file}: ${setting.key}`;
  if (setting.value === 'optional' && typeof value === 'boolean') {
    if (value) setting.set(o, '', from);
    else (o[setting.key] as boolean) = false;
    return;
  }
  const values = setting.multiple && Array.isArray(value) ? value : [value];
  for (const v of values) {
    if (typeof v !== 'string' && typeof v !== 'number') throw usage(`${from} must be a string or number`);
    // Relative paths in a config file are relative to the file, not to wherever init started us.
    const s = String(v);
    setting.set(o, PATH_KEYS.has(setting.key) && !path.isAbsolute(s) ? path.join(path.dirname(file), s) : s, from);
  }
}

export type ParseResult = { kind: 'run'; options: Options } | { kind: 'help' } | { kind: 'version' };

type ArgvOptions = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;

const ARGV_OPTIONS: ArgvOptions = Object.fromEntries([
  // util.parseArgs rejects `multiple: undefined`: the key is only there when it is true.
  ...SETTINGS.map(
    (s) =>
      [s.flag, { type: s.value === 'none' ? 'boolean' : 'string', ...(s.multiple && { multiple: true }) }] as const,
  ),
  ...INFO.map((i) => [i.flag, { type: 'boolean', short: i.short }] as const),
]);

/**
 * util.parseArgs knows a value as required or absent, not optional: a bare `--quit-oldbin` is
 * spelled out as its default value first, so it never swallows the next argument.
 */
function spellOutOptional(argv: string[]): string[] {
  const end = argv.indexOf('--');
  return argv.map((a, i) => {
    const s = BY_FLAG.get(a.slice(2));
    return (end < 0 || i < end) && a.startsWith('--') && s?.value === 'optional' ? `${a}=` : a;
  });
}

/**
 * util.parseArgs' own messages name Node's terms; a second, lenient pass over the same argv
 * finds the argument at fault so the message names it the way the rest of phoenix does.
 */
function argvError(argv: string[], code: string | undefined): PhoenixError {
  const { tokens } = parseArgv({
    args: argv,
    options: ARGV_OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  for (const t of tokens) {
    if (t.kind === 'positional') return usage(`unexpected argument '${t.value}': phoenix takes options only`);
    if (t.kind !== 'option') continue;
    const decl = ARGV_OPTIONS[t.name];
    if (!decl) return usage(`unknown option '${t.rawName}'`);
    if (decl.type === 'boolean' && t.value !== undefined) return usage(`option ${t.rawName} takes no value`);
    if (decl.type === 'string' && (t.value === undefined || (!t.inlineValue && t.value.startsWith('-')))) {
      // `--workers -1` has a value, a bad one: util.parseArgs refuses it only for its dash, so
      // the setting judges it and says what is wrong with the number itself.
      const setting = BY_FLAG.get(t.name);
      if (setting && t.value !== undefined && /^-\d/.test(t.value)) {
        setting.set({ ...DEFAULTS, listen: [] }, t.value, t.rawName);
        return usage(`option ${t.rawName}: a value starting with '-' is written ${t.rawName}=${t.value}`);
      }
      return usage(`option ${t.rawName} needs a value`);
    }
  }
  return usage(`cannot parse the command line (${code ?? 'unknown error'})`);
}

export function parseArgs(argv: string[]): ParseResult {
  const args = spellOutOptional(argv);
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    // util.parseArgs: no dependency, ships with Node 20, and strict mode rejects unknown
    // options, missing values and stray arguments, which a hand-made loop has to remember to.
    ({ values } = parseArgv({ args, options: ARGV_OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw argvError(args, (err as { code?: string }).code);
  }
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  const flags: Options = { ...DEFAULTS, listen: [] };
  const seen = new Set<keyof Options>();
  for (const s of SETTINGS) {
    const v = values[s.flag];
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) s.set(flags, typeof one === 'string' ? one : '', `--${s.flag}`);
    seen.add(s.key);
  }
  return { kind: 'run', options: flags.config ? withConfigFile(flags, seen) : flags };
}

/** Flags given on the command line win over the config file. */
function withConfigFile(flags: Options, seen: Set<keyof Options>): Options {
  const merged: Options = applyConfigFile({ ...DEFAULTS, listen: [] }, flags.config!);
  for (const key of seen) (merged as unknown as Record<string, unknown>)[key] = flags[key];
  merged.config = flags.config;
  return merged;
}

/**
 * HUP: the config file is read again and the command line applied over it, exactly as at
 * start. What was bound or opened at start (sockets, pid file, log file) stays as it is: the
 * sockets are what keeps connections queued during the reload, and moving a pid or log file
 * under a running master would leave the old one behind. Throws when the file is bad.
 */
export function reloadOptions(argv: string[], current: Options): Options {
  const parsed = parseArgs(argv);
  if (parsed.kind !== 'run') return current;
  const next = parsed.options;
  return { ...next, listen: current.listen, pid: current.pid, logFile: current.logFile, config: current.config };
}
