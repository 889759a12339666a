import * as fs from 'node:fs';
import * as path from 'node:path';
import { ExitCode, PhoenixError } from './errors';

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

export const USAGE = `usage: phoenix [options]

A unicorn-style pre-forking HTTP server for Node apps. The listening socket comes from
UNICORN_FD (a previous master), UPSTART_FDS (upstart-socket-bridge), LISTEN_FDS (systemd)
or --listen, in that order.

  --listen ADDR        unix:/path, HOST:PORT or PORT (127.0.0.1); repeatable
  --workers N          worker processes (default 2)
  --app MODULE         module exporting a request handler (default: built-in demo app)
  --upgrade MODE       what USR2 does: in-place (same master pid, new workers; default)
                       or reexec (unicorn's: a new master process, old pid file -> .oldbin)
  --quit-oldbin[=WHEN] reexec: the new master sends QUIT to the old one when its workers
                       are ready (default) or, =spawned, as soon as it has started them
                       (unicorn's before_fork timing: faster, no fallback if the app breaks)
  --pid FILE           pid file (unicorn's .oldbin rule applies on reexec)
  --timeout SECONDS    kill a worker whose event loop is stuck this long (default 30)
  --socket-mode OCTAL  mode of a unix socket bound here (default 0666)
  --socket-group NAME  group of a unix socket bound here
  --log-file FILE      write lifecycle lines here instead of stderr (USR1 reopens it)
  --config FILE        JSON file with the same settings (camelCase keys); flags win
  --check              validate settings, app module and sockets, then exit
  -h, --help           this text
  -v, --version        version

Signals (master): HUP reload config + new workers, QUIT graceful stop, INT/TERM quick stop,
USR1 reopen logs, USR2 upgrade, WINCH stop workers, TTIN/TTOU one worker more/less.
Exit codes: 64 usage, 65 bad inherited fd, 66 app missing, 69 address in use,
70 app failed to load, 73 pid file not writable, 75 already running.`;

const usage = (msg: string): PhoenixError =>
  new PhoenixError(`${msg}\nRun 'phoenix --help' for the list of options.`, ExitCode.USAGE);

function parseWorkers(v: string, from: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 256)
    throw usage(`${from}: '${v}' is not a worker count (a whole number from 0 to 256)`);
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

type Setter = (o: Options, v: string, from: string) => void;

/** One table for flags and config keys, so both accept exactly the same things. */
function parseQuitOldbin(v: string, from: string): QuitOldbin {
  if (v === '' || v === 'true' || v === 'ready') return 'ready';
  if (v === 'spawned') return 'spawned';
  throw usage(`${from}: '${v}' is not when to QUIT the old master: use ready or spawned`);
}

/** takesValue 'optional': `--flag` alone or `--flag=VALUE`, never the next argument. */
const SETTINGS: Record<string, { key: keyof Options; takesValue: boolean | 'optional'; set: Setter }> = {
  listen: { key: 'listen', takesValue: true, set: (o, v, f) => o.listen.push(parseListenSpec(v, f)) },
  workers: { key: 'workers', takesValue: true, set: (o, v, f) => (o.workers = parseWorkers(v, f)) },
  app: { key: 'app', takesValue: true, set: (o, v) => (o.app = path.resolve(v)) },
  upgrade: { key: 'upgrade', takesValue: true, set: (o, v, f) => (o.upgrade = parseUpgrade(v, f)) },
  'quit-oldbin': {
    key: 'quitOldbin',
    takesValue: 'optional',
    set: (o, v, f) => (o.quitOldbin = parseQuitOldbin(v, f)),
  },
  pid: { key: 'pid', takesValue: true, set: (o, v) => (o.pid = path.resolve(v)) },
  timeout: { key: 'timeout', takesValue: true, set: (o, v, f) => (o.timeout = parseTimeout(v, f)) },
  'socket-mode': { key: 'socketMode', takesValue: true, set: (o, v, f) => (o.socketMode = parseMode(v, f)) },
  'socket-group': { key: 'socketGroup', takesValue: true, set: (o, v) => (o.socketGroup = v) },
  'log-file': { key: 'logFile', takesValue: true, set: (o, v) => (o.logFile = path.resolve(v)) },
  config: { key: 'config', takesValue: true, set: (o, v) => (o.config = path.resolve(v)) },
  check: { key: 'check', takesValue: false, set: (o) => (o.check = true) },
};

const camel = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const CONFIG_KEYS = new Map(
  Object.keys(SETTINGS)
    .filter((f) => f !== 'config' && f !== 'check')
    .map((f) => [camel(f), f]),
);

/** Applies a JSON config file onto `base`. Throws a USAGE error naming the file and key. */
export function applyConfigFile(base: Options, file: string): Options {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw usage(`config file ${file} cannot be read: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (err) {
    throw usage(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw usage(`config file ${file} must hold a JSON object`);
  const o: Options = { ...base, listen: [...base.listen] };
  const dir = path.dirname(file);
  for (const [key, value] of Object.entries(data)) {
    const flag = CONFIG_KEYS.get(key);
    if (!flag) throw usage(`config file ${file}: unknown key '${key}' (known: ${[...CONFIG_KEYS.keys()].join(', ')})`);
    const setting = SETTINGS[flag];
    const from = `config file ${file}: ${key}`;
    if (setting.takesValue === 'optional' && typeof value === 'boolean') {
      if (value) setting.set(o, '', from);
      else (o[setting.key] as boolean) = false;
      continue;
    }
    if (!setting.takesValue) {
      if (typeof value !== 'boolean') throw usage(`${from} must be true or false`);
      (o[setting.key] as boolean) = value;
      continue;
    }
    const values = key === 'listen' && Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (typeof v !== 'string' && typeof v !== 'number') throw usage(`${from} must be a string or number`);
      // Relative paths in a config file are relative to the file, not to wherever init started us.
      const s = String(v);
      setting.set(o, ['app', 'pid', 'logFile'].includes(key) && !path.isAbsolute(s) ? path.join(dir, s) : s, from);
    }
  }
  return o;
}

export type ParseResult = { kind: 'run'; options: Options } | { kind: 'help' } | { kind: 'version' };

export function parseArgs(argv: string[]): ParseResult {
  const flags: Options = { ...DEFAULTS, listen: [] };
  const seen = new Set<keyof Options>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') return { kind: 'help' };
    if (arg === '-v' || arg === '--version') return { kind: 'version' };
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    const setting = m ? SETTINGS[m[1]] : undefined;
    if (!m || !setting) throw usage(`unknown option '${arg}'`);
    let value = m[2];
    if (setting.takesValue === true && value === undefined) {
      value = argv[++i];
      if (value === undefined) throw usage(`option --${m[1]} needs a value`);
    } else if (!setting.takesValue && value !== undefined) {
      throw usage(`option --${m[1]} takes no value`);
    }
    setting.set(flags, value ?? '', `--${m[1]}`);
    seen.add(setting.key);
  }
  if (!flags.config) return { kind: 'run', options: flags };
  // Flags given on the command line win over the config file.
  const fromFile = applyConfigFile({ ...DEFAULTS, listen: [] }, flags.config);
  const merged: Options = { ...fromFile };
  for (const key of seen) (merged as unknown as Record<string, unknown>)[key] = flags[key];
  if (seen.has('listen')) merged.listen = flags.listen;
  merged.config = flags.config;
  return { kind: 'run', options: merged };
}
