import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ConfigFacts } from './types';

/**
 * unicorn's config read by unicorn's own Unicorn::Configurator (the class unicorn and the
 * wrapper use), so `pid`, `listen ... :backlog`, `preload_app` and the hooks mean what they
 * mean at start. Two things unicorn does at start would touch this machine and are recorded
 * instead: `working_directory` (a chdir) and `user` (a lookup of a user the host may lack).
 * Then the `before_fork` hook is called once with a stand-in server whose pid file's .oldbin
 * names a pid nobody has, and Process.kill replaced by a recorder: whether the hook QUITs the
 * old master is read from what it does, not from its text (a hook can be switched off by an
 * env var the job sets). It runs in a temp dir with only the job's environment.
 */
const SCRIPT = String.raw`
require 'json'
require 'tmpdir'
require 'logger'
require 'unicorn'
file = ARGV[0]
lines = {}
rec = Module.new do
  define_method(:audit_line) do |name|
    l = caller_locations(2, 6).find { |c| c.path == file }
    (lines[name] ||= []) << (l ? l.lineno : nil)
  end
  %w(pid listen preload_app before_fork before_exec after_fork worker_processes timeout stderr_path stdout_path).each do |m|
    define_method(m) do |*args, &blk|
      audit_line(m)
      super(*args, &blk)
    end
  end
  define_method(:working_directory) do |p|
    audit_line('working_directory')
    set[:working_directory] = p
  end
  define_method(:user) do |u, g = nil|
    audit_line('user')
    set[:user] = [u, g]
  end
end
Unicorn::Configurator.send(:prepend, rec)
out = { 'loaded' => false }
begin
  c = Unicorn::Configurator.new(:use_defaults => true)
  c.instance_eval(File.read(file), file)
  d = Unicorn::Configurator::DEFAULTS
  opts = c[:listener_opts]
  out['loaded'] = true
  out['lines'] = lines
  out['pid'] = c[:pid].is_a?(String) ? c[:pid] : nil
  out['listeners'] = c[:listeners].map { |a| { 'address' => a, 'backlog' => (opts[a] || {})[:backlog] } }
  out['preload_app'] = c[:preload_app] == true
  out['working_directory'] = c[:working_directory] == :unset ? nil : c[:working_directory]
  bf = c[:before_fork]
  be = c[:before_exec]
  out['before_fork_custom'] = !bf.equal?(d[:before_fork])
  out['before_exec_custom'] = !be.equal?(d[:before_exec])
  out['before_fork_line'] = bf.respond_to?(:source_location) && bf.source_location ? bf.source_location[1] : nil
  out['before_exec_line'] = be.respond_to?(:source_location) && be.source_location ? be.source_location[1] : nil
  # The probe: a stand-in server whose pid file's .oldbin names OLD; what does before_fork send?
  old = 2147483000
  sent = []
  Dir.mktmpdir('lab-audit-') do |dir|
    pidf = File.join(dir, 'unicorn.pid')
    File.open(pidf, 'w') { |f| f.write("#{Process.pid}\n") }
    File.open(pidf + '.oldbin', 'w') { |f| f.write("#{old}\n") }
    conf = Hash.new { |h, k| c[k] }
    conf[:pid] = pidf
    server = Object.new
    server.define_singleton_method(:config) { conf }
    server.define_singleton_method(:pid) { pidf }
    server.define_singleton_method(:logger) { Logger.new(File::NULL) }
    server.define_singleton_method(:worker_processes) { c[:worker_processes] }
    server.define_singleton_method(:method_missing) { |*a| nil }
    server.define_singleton_method(:respond_to_missing?) { |*a| true }
    worker = Object.new
    worker.define_singleton_method(:nr) { 0 }
    worker.define_singleton_method(:method_missing) { |*a| nil }
    Process.singleton_class.send(:define_method, :kill) { |sig, *pids| sent << [sig.to_s, pids.map { |p| p.to_i }]; pids.size }
    begin
      bf.call(server, worker)
      out['probe'] = 'ran'
    rescue Exception => e
      out['probe'] = "raised #{e.class}: #{e.message}"
    end
  end
  out['quits_oldbin'] = sent.any? { |s, pids| %w(QUIT SIGQUIT 3).include?(s) && pids.include?(old) }
  out['sent'] = sent
  be_text = ''
  if out['before_exec_line']
    src = File.readlines(file)
    i = out['before_exec_line'] - 1
    ind = src[i][/\A\s*/]
    j = i + 1
    j += 1 while j < src.size && !(src[j] =~ /\A#{ind}end\b/)
    be_text = src[i..j].join
  end
  out['before_exec_sets_bundle_gemfile'] = be_text.include?('BUNDLE_GEMFILE')
rescue Exception => e
  loc = (e.backtrace || []).map { |b| b[/\A#{Regexp.escape(file)}:(\d+)/, 1] }.compact.first
  out['error'] = "#{e.class}: #{e.message}".sub(/\A#{Regexp.escape(file)}:\d+: /, '')
  out['error_line'] = loc && loc.to_i
end
$stdout.write("\nlab-audit-facts=" + JSON.generate(out) + "\n")
`;

export interface Raw {
  loaded: boolean;
  error?: string;
  error_line?: number;
  lines?: Record<string, Array<number | null>>;
  pid?: string | null;
  listeners?: Array<{ address: string; backlog?: number | null }>;
  preload_app?: boolean;
  working_directory?: string | null;
  before_fork_custom?: boolean;
  before_exec_custom?: boolean;
  before_fork_line?: number | null;
  before_exec_line?: number | null;
  probe?: string;
  quits_oldbin?: boolean;
  before_exec_sets_bundle_gemfile?: boolean;
}

export interface ConfiguratorRun {
  facts: ConfigFacts;
  /** the command that ran, for the report */
  command: string;
  /** ruby or unicorn missing on this host: nothing could be judged */
  unavailable?: string;
}

/** Facts from Raw: pure, so the rules' tests can build facts from a synthetic Raw too. */
export function factsFrom(file: string, text: string, raw: Raw): ConfigFacts {
  const lines = text.split('\n');
  const lineOf = (name: string, n = -1): number | undefined => {
    const all = raw.lines?.[name] ?? [];
    const v = n < 0 ? all[all.length - 1] : all[n];
    return v ?? undefined;
  };
  const atLine = (value: string, line: number | undefined) => ({
    value,
    file,
    line: line ?? 0,
    text: line ? (lines[line - 1] ?? '') : '',
  });
  if (!raw.loaded)
    return {
      file,
      loaded: false,
      error: `${raw.error_line ? `line ${raw.error_line}: ` : ''}${raw.error ?? 'did not load'}`,
      listeners: [],
      preloadApp: { value: false },
    };
  const listenLines = raw.lines?.listen ?? [];
  return {
    file,
    loaded: true,
    pid: raw.pid ? atLine(raw.pid, lineOf('pid')) : undefined,
    listeners: (raw.listeners ?? []).map((l, i) => ({
      address: l.address,
      backlog: l.backlog ?? undefined,
      line: listenLines[i] ?? 0,
    })),
    preloadApp: { value: raw.preload_app === true, line: lineOf('preload_app') },
    workingDirectory: raw.working_directory ? atLine(raw.working_directory, lineOf('working_directory')) : undefined,
    beforeFork: {
      line: raw.before_fork_line ?? lineOf('before_fork') ?? 0,
      custom: raw.before_fork_custom === true,
      quitsOldbin: raw.probe === 'ran' ? raw.quits_oldbin === true : null,
      probe: raw.probe ?? 'not run',
    },
    beforeExec: {
      line: raw.before_exec_line ?? lineOf('before_exec') ?? 0,
      custom: raw.before_exec_custom === true,
      setsBundleGemfile: raw.before_exec_sets_bundle_gemfile === true,
    },
  };
}

const RUBY = ['/usr/bin/ruby', '/usr/local/bin/ruby'].find((p) => fs.existsSync(p)) ?? 'ruby';

/** Runs the config through Unicorn::Configurator with the job's environment, in a temp dir. */
export function readConfig(file: string, text: string, env: Record<string, string>): ConfiguratorRun {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-audit-cfg-'));
  const abs = path.resolve(file);
  try {
    const r = spawnSync(RUBY, ['-e', SCRIPT, abs], {
      cwd,
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: cwd, LANG: 'C.UTF-8', ...env },
      encoding: 'utf8',
      timeout: 15_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const command = `ruby -runicorn (Unicorn::Configurator) ${file}`;
    if (r.error)
      return {
        command,
        unavailable: `ruby cannot be run (${r.error.message}): apt-get install ruby unicorn`,
        facts: factsFrom(file, text, { loaded: false, error: r.error.message }),
      };
    const m = /^lab-audit-facts=(.*)$/m.exec(r.stdout ?? '');
    if (!m) {
      const why = (r.stderr ?? '').split('\n').find((l) => l.trim() !== '') ?? `ruby exited ${r.status}`;
      if (/cannot load such file -- (unicorn|json)/.test(why))
        return {
          command,
          unavailable: `unicorn is not installed on this host (${why.trim()}): apt-get install unicorn`,
          facts: factsFrom(file, text, { loaded: false, error: why }),
        };
      return {
        command,
        facts: factsFrom(file, text, {
          loaded: false,
          error: r.signal ? `stopped by ${r.signal} after 15 s (does the config wait for something?)` : why.trim(),
        }),
      };
    }
    // The file name is the abs path inside Ruby; say it as the person gave it.
    const raw = JSON.parse(m[1].split(abs).join(file)) as Raw;
    return { command, facts: factsFrom(file, text, raw) };
  } finally {
    fs.rmSync(cwd, { recursive: true, force: true });
  }
}
