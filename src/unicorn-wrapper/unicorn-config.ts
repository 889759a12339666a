import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveCommand } from './command';
import { WrapperError, WrapperExit } from './exit-codes';
import type { ListenArg } from './options';

/**
 * What the wrapper needs to know about a unicorn command line: where its config is, whether it
 * names its listeners, and the pid file the config sets, read by unicorn's own Configurator.
 */

const UNICORN_NAMES = /^unicorn(_rails)?$/;

/** Index of the word that runs unicorn (`unicorn`, `bundle exec unicorn`, `ruby /usr/bin/unicorn`), or -1. */
export function unicornIndex(command: readonly string[]): number {
  return command.findIndex((w) => UNICORN_NAMES.test(path.basename(w)));
}

// /usr/bin/unicorn's OptionParser: which switches take a value (so their value is skipped).
const SHORT_WITH_VALUE = new Set(['e', 'I', 'r', 'o', 'p', 'E', 'P', 's', 'l', 'c']);
const LONG: Record<string, { short: string; value: boolean }> = {
  eval: { short: 'e', value: true },
  debug: { short: 'd', value: false },
  warn: { short: 'w', value: false },
  include: { short: 'I', value: true },
  require: { short: 'r', value: true },
  host: { short: 'o', value: true },
  port: { short: 'p', value: true },
  env: { short: 'E', value: true },
  'no-default-middleware': { short: 'N', value: false },
  daemonize: { short: 'D', value: false },
  pid: { short: 'P', value: true },
  server: { short: 's', value: true },
  listen: { short: 'l', value: true },
  'config-file': { short: 'c', value: true },
  help: { short: 'h', value: false },
  version: { short: 'v', value: false },
};

/** OptionParser accepts any unambiguous prefix of a long switch (--config for --config-file). */
function longSwitch(name: string): { short: string; value: boolean } | undefined {
  if (LONG[name]) return LONG[name];
  const hits = Object.keys(LONG).filter((k) => k.startsWith(name));
  return hits.length === 1 ? LONG[hits[0]] : undefined;
}

export interface UnicornArgs {
  /** -c / --config-file, the last one wins as in OptionParser */
  config?: string;
  /** -P / --pid (deprecated in unicorn, still honoured) */
  pid?: string;
  /** -l / --listen */
  listen: string[];
  daemonize: boolean;
}

/** Reads unicorn's switches from its arguments (everything after the word that runs unicorn). */
export function readUnicornArgs(args: readonly string[]): UnicornArgs {
  const out: UnicornArgs = { listen: [], daemonize: false };
  const record = (short: string, value: string | undefined) => {
    if (short === 'c') out.config = value;
    else if (short === 'P') out.pid = value;
    else if (short === 'l' && value !== undefined) out.listen.push(value);
    else if (short === 'D') out.daemonize = true;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') break;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const sw = longSwitch(eq < 0 ? a.slice(2) : a.slice(2, eq));
      if (!sw) continue;
      record(sw.short, sw.value ? (eq < 0 ? args[++i] : a.slice(eq + 1)) : undefined);
    } else if (a.startsWith('-') && a.length > 1) {
      // Clustered short switches: -Nc unicorn.rb, -cunicorn.rb
      for (let j = 1; j < a.length; j++) {
        const ch = a[j];
        if (SHORT_WITH_VALUE.has(ch)) {
          record(ch, j + 1 < a.length ? a.slice(j + 1) : args[++i]);
          break;
        }
        record(ch, undefined);
      }
    }
  }
  return out;
}

/** `-l` takes a path or HOST:PORT; the wrapper's canonical forms are unix:/path and tcp:HOST:PORT. */
export function unicornAddress(spec: string): string {
  if (spec.startsWith('unix:')) return spec.slice('unix:'.length);
  const rest = spec.startsWith('tcp:') ? spec.slice(4) : spec;
  const i = rest.lastIndexOf(':');
  const host = rest.slice(0, i);
  return host.includes(':') ? `[${host}]:${rest.slice(i + 1)}` : rest;
}

export interface ListenArgDecision {
  command: string[];
  /** added: the wrapper appended -l; user: the command has its own; none: not added */
  listenArg: 'added' | 'user' | 'none';
}

/**
 * unicorn 6 closes, on the next HUP, an adopted UNICORN_FD socket that neither its config nor
 * `-l` names (HUP re-applies the configured listeners and drops the rest), and upstart 1.5's
 * `initctl reload` sends HUP. Naming the socket with -l keeps it. phoenix has no -l, hence
 * `auto`: only for a command that runs unicorn.
 */
export function withListenArgs(command: readonly string[], addresses: string[], mode: ListenArg): ListenArgDecision {
  const at = unicornIndex(command);
  const own = at < 0 ? [] : readUnicornArgs(command.slice(at + 1)).listen;
  if (mode === 'never' || (mode === 'auto' && at < 0)) return { command: [...command], listenArg: 'none' };
  if (own.length > 0 && mode === 'auto') return { command: [...command], listenArg: 'user' };
  const extra = addresses.flatMap((a) => ['-l', unicornAddress(a)]);
  // Right after the word that runs unicorn, so a `--` or the rackup file later on cannot
  // turn them into positional arguments; `always` with no unicorn word: after the command.
  const insertAt = at < 0 ? 1 : at + 1;
  return { command: [...command.slice(0, insertAt), ...extra, ...command.slice(insertAt)], listenArg: 'added' };
}

/** The Ruby that runs the command: its script's #! line, else `ruby` on the path. */
export function rubyFor(resolvedCommand: string, searchPath: string, cwd: string): string {
  if (/^ruby[\d.]*$/.test(path.basename(resolvedCommand))) return resolvedCommand;
  let first = '';
  try {
    const fd = fs.openSync(resolvedCommand, 'r');
    const buf = Buffer.alloc(256);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    fs.closeSync(fd);
    first = buf.subarray(0, n).toString('latin1').split('\n')[0];
  } catch {
    /* not readable: fall back to the path */
  }
  const m = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(first);
  if (m && /^ruby/.test(path.basename(m[1])) && path.isAbsolute(m[1])) return m[1];
  if (m && path.basename(m[1]) === 'env' && m[2] && /^ruby/.test(m[2])) return resolveCommand(m[2], searchPath, cwd);
  return resolveCommand('ruby', searchPath, cwd);
}

/**
 * Evaluates the config as unicorn does at start (Unicorn::Configurator, the same class and the
 * same relative-path rules: after the config's own working_directory), without binding or
 * writing anything. Plain Ruby 1.8 syntax so that 12.04's Ruby runs it too. SyntaxError is not
 * a StandardError, hence `rescue Exception`.
 */
const LEARN_SCRIPT = [
  'begin',
  '  o = { :config_file => ARGV[0] }',
  '  o[:pid] = ARGV[1] unless ARGV[1].to_s.empty?',
  '  v = Unicorn::Configurator.new(o)[:pid]',
  '  $stdout.write("\\nunicorn-wrapper-pid=" + (String === v ? File.expand_path(v) : "") + "\\n")',
  'rescue Exception => e',
  '  $stderr.write("#{e.class}: #{e.message}\\n")',
  '  exit!(2)',
  'end',
].join('\n');

const LEARN_TIMEOUT_MS = 30_000;

export interface PidSource {
  file: string;
  /** option: --pid; config: unicorn's config; cli: unicorn's -P */
  from: 'option' | 'config' | 'cli';
}

const noPid = (msg: string, reason: string) => new WrapperError(msg, WrapperExit.NO_PIDFILE, reason);

/** The pid file to follow, learnt from unicorn's command line and config. */
export function learnPidFile(
  command: readonly string[],
  resolvedCommand: string,
  env: NodeJS.ProcessEnv,
  searchPath: string,
  cwd: string,
): PidSource {
  const at = unicornIndex(command);
  if (at < 0) {
    throw noPid(
      `no pid file to follow: ${command[0]} does not look like unicorn, so there is no config to read it from; give --pid FILE (the file the master writes)`,
      'no-pidfile',
    );
  }
  const args = readUnicornArgs(command.slice(at + 1));
  if (args.config === undefined) {
    if (args.pid !== undefined) return { file: path.resolve(cwd, args.pid), from: 'cli' };
    throw noPid(
      "no pid file to follow: the unicorn command names no config file (-c FILE) and no --pid was given; set `pid` in unicorn's config or give --pid FILE",
      'no-pidfile',
    );
  }
  let ruby: string;
  try {
    ruby = rubyFor(resolvedCommand, searchPath, cwd);
  } catch {
    throw noPid(
      `cannot read the pid file from ${args.config}: no ruby found to evaluate it; give --pid FILE`,
      'no-ruby',
    );
  }
  const r = spawnSync(ruby, ['-runicorn', '-e', LEARN_SCRIPT, args.config, args.pid ?? ''], {
    cwd,
    env,
    encoding: 'utf8',
    timeout: LEARN_TIMEOUT_MS,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error) {
    throw noPid(
      `cannot read the pid file from ${args.config} with ${ruby}: ${r.error.message}; give --pid FILE`,
      'config-unreadable',
    );
  }
  const learnt = /^unicorn-wrapper-pid=(.*)$/m.exec(r.stdout ?? '');
  if (r.status !== 0 || !learnt) {
    const why = (r.stderr ?? '').split('\n').find((l) => l.trim() !== '') ?? `ruby exited with ${r.status}`;
    throw noPid(`unicorn's config ${args.config} cannot be read: ${why.trim()}`, 'config-unreadable');
  }
  if (learnt[1] === '') {
    throw noPid(
      `no pid file to follow: unicorn's config ${args.config} sets no \`pid\`, and no --pid was ` +
        `given; the wrapper follows the master through its pid file (add e.g. pid "/var/run/unicorn/unicorn.pid")`,
      'no-pidfile',
    );
  }
  return {
    file: learnt[1],
    from: args.pid !== undefined && learnt[1] === path.resolve(cwd, args.pid) ? 'cli' : 'config',
  };
}
