import * as fs from 'node:fs';
import * as path from 'node:path';
import { LabError, LabExit } from '../errors';
import type { FileKind, TeamFile } from './types';

/**
 * The team's files, read once and never written: recognised by what they contain, because a
 * team names its job `unicorn.conf`, `app.conf` or `web`, and its nginx site `.conf` too.
 */

export interface AuditInput {
  dir?: string;
  job?: string;
  units: string[];
  unicornConfig?: string;
  nginxSite?: string;
  app?: string;
}

const WHAT = 'an upstart job, systemd units, a unicorn config, an nginx site, config.ru';

const NGINX_BLOCK = /^\s*(server|upstream|location|http|events)\b[^\n;{]*\{/m;
const UNICORN_DSL =
  /^\s*(worker_processes|preload_app|before_fork|after_fork|before_exec|listen|pid|timeout|working_directory|stderr_path|stdout_path)\b/m;
const UPSTART_STANZA = new RegExp(
  '^\\s*(start\\s+on|stop\\s+on|exec|script|respawn|expect|task|instance|pre-start|post-start|' +
    'pre-stop|post-stop|console|kill\\s+(signal|timeout)|chdir|setuid|normal\\s+exit)\\b',
  'm',
);
const UNIT_SECTION = /^\s*\[(Unit|Service|Socket|Install)\]\s*$/m;

/** What a file is, from its name and text; undefined: not one of the kinds audit reads. */
export function classify(name: string, text: string): FileKind | undefined {
  const base = path.basename(name);
  if (/\.(service|socket)$/.test(base) || UNIT_SECTION.test(text)) return 'systemd-unit';
  if (/\.ru$/.test(base)) return 'rackup';
  if (base === 'Gemfile' || base === 'Gemfile.lock') return 'gemfile';
  if (NGINX_BLOCK.test(text) && /;\s*(#.*)?$/m.test(text)) return 'nginx-site';
  if (/\.rb$/.test(base) && UNICORN_DSL.test(text)) return 'unicorn-config';
  if (text.startsWith('#!')) return 'script';
  if (UPSTART_STANZA.test(text)) return 'upstart-job';
  return undefined;
}

function usage(message: string): LabError {
  return new LabError(`lab audit: ${message}`, LabExit.USAGE);
}

/** A file's text, or one message that names it and says what to do. */
export function readTeamFile(file: string, what: string): string {
  let buf: Buffer;
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) throw usage(`${file} is a directory, not ${what}: give the file (or use --dir ${file})`);
    buf = fs.readFileSync(file);
  } catch (err) {
    if (err instanceof LabError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw usage(`${file} does not exist: give the path of ${what}`);
    if (code === 'EACCES')
      throw usage(`${file} cannot be read (permission denied): make it readable to you, or copy it`);
    throw usage(`${file} cannot be read (${(err as Error).message}): give ${what} as a readable file`);
  }
  const nul = buf.indexOf(0);
  if (nul >= 0)
    throw usage(
      `${file} is not a text file (a NUL byte at offset ${nul}): give ${what} itself, not a compiled, compressed or packed copy`,
    );
  return buf.toString('utf8');
}

/** A file named by a flag must be the kind the flag says. */
function named(file: string, want: FileKind, flag: string, what: string): TeamFile {
  const text = readTeamFile(file, what);
  const kind = classify(file, text);
  if (want === 'unicorn-config') return { path: file, kind: want, text };
  if (kind !== want) {
    const is =
      kind === 'systemd-unit'
        ? 'a systemd unit (give it with --unit)'
        : kind === 'upstart-job'
          ? 'an upstart job (give it with --job)'
          : kind === 'nginx-site'
            ? 'an nginx site (give it with --nginx-site)'
            : kind === 'unicorn-config'
              ? 'a unicorn config (give it with --unicorn-config)'
              : 'nothing lab audit recognises';
    throw usage(`${flag} ${file}: this is ${is}, not ${what}`);
  }
  return { path: file, kind, text };
}

export interface Gathered {
  files: TeamFile[];
  /** names in --dir that are none of the kinds, said so the person knows they were not read */
  ignored: string[];
}

/** The files the flags name, and every recognised file in --dir (and its UNIT.d/ drop-ins). */
export function gather(input: AuditInput): Gathered {
  const files: TeamFile[] = [];
  const ignored: string[] = [];
  if (input.dir !== undefined) {
    const dir = input.dir;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw usage(`--dir ${dir} does not exist: give the folder that holds your ${WHAT}`);
      if (code === 'ENOTDIR')
        throw usage(
          `--dir ${dir} is a file, not a folder: give it with --job, --unit, --unicorn-config or --nginx-site`,
        );
      throw usage(`--dir ${dir} cannot be read (${(err as Error).message})`);
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (/\.(service|socket)\.d$/.test(e.name)) {
          for (const d of fs.readdirSync(p).sort()) {
            if (d.endsWith('.conf'))
              files.push({
                path: path.join(p, d),
                kind: 'systemd-unit',
                text: readTeamFile(path.join(p, d), 'a drop-in'),
              });
          }
        } else ignored.push(`${p}/`);
        continue;
      }
      if (!e.isFile()) {
        ignored.push(p);
        continue;
      }
      const text = readTeamFile(p, 'a configuration file');
      const kind = classify(p, text);
      if (kind === undefined) ignored.push(p);
      else files.push({ path: p, kind, text });
    }
    if (!files.some((f) => f.kind !== 'gemfile' && f.kind !== 'script'))
      throw usage(
        `--dir ${dir} has nothing lab audit recognises (${WHAT})${ignored.length ? `; it read ${ignored.join(', ')}` : ''}: ` +
          'put your job file or units, unicorn.rb and nginx site in it, or name them with --job/--unit/--unicorn-config/--nginx-site',
      );
  }
  if (input.job !== undefined) files.push(named(input.job, 'upstart-job', '--job', 'an upstart job file'));
  for (const u of input.units) files.push(named(u, 'systemd-unit', '--unit', 'a systemd unit'));
  if (input.unicornConfig !== undefined)
    files.push(named(input.unicornConfig, 'unicorn-config', '--unicorn-config', "unicorn's config (unicorn.rb)"));
  if (input.nginxSite !== undefined) files.push(named(input.nginxSite, 'nginx-site', '--nginx-site', 'an nginx site'));
  if (input.app !== undefined) {
    const ru = path.join(input.app, 'config.ru');
    if (!fs.existsSync(ru))
      throw usage(`--app ${input.app} has no config.ru: give the folder of a Rack app (config.ru at its top)`);
    files.push({ path: ru, kind: 'rackup', text: readTeamFile(ru, 'config.ru') });
    for (const g of ['Gemfile', 'Gemfile.lock']) {
      const p = path.join(input.app, g);
      if (fs.existsSync(p)) files.push({ path: p, kind: 'gemfile', text: readTeamFile(p, g) });
    }
    checkVendored(input.app);
  }
  // One file given twice (--dir and a flag) is read once.
  const seen = new Set<string>();
  return {
    files: files.filter((f) => {
      const k = path.resolve(f.path);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    }),
    ignored,
  };
}

/**
 * The dynamic audit installs the app's gems offline (`bundle install --local`): every gem the
 * lock names must be in vendor/cache. Said now, before anything boots.
 */
export function checkVendored(app: string): void {
  const lock = path.join(app, 'Gemfile.lock');
  if (!fs.existsSync(path.join(app, 'Gemfile'))) return;
  if (!fs.existsSync(lock))
    throw usage(
      `${path.join(app, 'Gemfile')} has no Gemfile.lock beside it: run \`bundle lock\` and \`bundle package\` so the gems can be installed offline`,
    );
  const cache = path.join(app, 'vendor', 'cache');
  const have = fs.existsSync(cache) ? new Set(fs.readdirSync(cache)) : new Set<string>();
  const missing = missingGems(readTeamFile(lock, 'Gemfile.lock'), have);
  if (missing.length > 0)
    throw usage(
      `${lock} names gems that are not in ${cache} (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}): ` +
        'they cannot be installed offline; run `bundle package --all` in the app and audit again',
    );
}

/** Gems of a lock's GEM specs with no NAME-VERSION(.gem) in vendor/cache. */
export function missingGems(lockText: string, cache: ReadonlySet<string>): string[] {
  const missing: string[] = [];
  let inSpecs = false;
  for (const line of lockText.split('\n')) {
    if (/^\S/.test(line)) inSpecs = false;
    if (/^ {2}specs:/.test(line)) inSpecs = true;
    const m = inSpecs ? /^ {4}([^\s(]+) \(([^)]+)\)$/.exec(line) : null;
    if (m && !cache.has(`${m[1]}-${m[2]}.gem`) && !cache.has(`${m[1]}-${m[2]}`)) missing.push(`${m[1]} ${m[2]}`);
  }
  return missing;
}
