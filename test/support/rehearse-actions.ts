/**
 * GitHub's own pieces as the rehearsal (rehearse-workflow.ts) stands them in on this machine:
 * the actions the workflows use (checkout, setup-node, upload-artifact, download-artifact),
 * the files a step talks to the runner through (GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH) and
 * the shims put first on PATH (sudo, npm). Each behaves as the hosted one does in what the
 * workflows rely on; anything else they could be asked is refused, so it is never faked.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Step, globToRegExp } from './workflow';

export interface ActionContext {
  workspace: string;
  artifacts: string;
  root: string;
  sha: string;
  /** `with:` values, expressions already expanded */
  inputs: Record<string, string>;
  say(line: string): void;
}

/** An action's result: 0 success, anything else a failed step. */
type Action = (ctx: ActionContext) => number;

const fail = (ctx: ActionContext, why: string): number => {
  ctx.say(`::error::${why}`);
  return 1;
};

/** actions/checkout: the workspace becomes a fresh clone of the commit being rehearsed. */
const checkout: Action = (ctx) => {
  const clone = spawnSync('git', ['clone', '--quiet', ctx.root, ctx.workspace], { encoding: 'utf8' });
  if (clone.status !== 0) return fail(ctx, `git clone ${ctx.root}: ${clone.stderr.trim()}`);
  const co = spawnSync('git', ['-C', ctx.workspace, 'checkout', '--quiet', '--detach', ctx.sha], { encoding: 'utf8' });
  if (co.status !== 0) return fail(ctx, `git checkout ${ctx.sha}: ${co.stderr.trim()}`);
  ctx.say(`checkout: a clone of ${ctx.root} at ${ctx.sha.slice(0, 12)} in ${ctx.workspace}`);
  return 0;
};

/** actions/setup-node: nothing to install, but the Node asked for must be the one here. */
const setupNode: Action = (ctx) => {
  const want = ctx.inputs['node-version'];
  const have = process.versions.node;
  if (want && have.split('.')[0] !== want.split('.')[0])
    return fail(ctx, `setup-node: the workflow asks for Node ${want}; this machine has ${have}`);
  ctx.say(
    `setup-node: no-op, Node ${have} is here${ctx.inputs.cache ? ` (cache: ${ctx.inputs.cache} not emulated)` : ''}`,
  );
  return 0;
};

const isHidden = (rel: string): boolean => rel.split(path.sep).some((part) => part.startsWith('.'));

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  if (!fs.statSync(dir).isDirectory()) return [dir];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

/**
 * actions/upload-artifact@v4: the files under `path` (one path, no glob: all the workflows
 * use) go to artifacts/<name>/, relative to that path as v4 roots them; hidden files are left
 * out unless include-hidden-files, as v4.4 and later do; a second artifact of the same name
 * fails, as v4's does (names are unique in a run).
 */
const uploadArtifact: Action = (ctx) => {
  const name = ctx.inputs.name ?? 'artifact';
  const given = (ctx.inputs.path ?? '').trim();
  if (!given || given.includes('\n') || /[*?[!]/.test(given))
    return fail(ctx, `upload-artifact: path '${given}': only one plain path is emulated`);
  const from = path.resolve(ctx.workspace, given);
  const root = fs.existsSync(from) && fs.statSync(from).isDirectory() ? from : path.dirname(from);
  const all = filesUnder(from);
  const files =
    ctx.inputs['include-hidden-files'] === 'true' ? all : all.filter((f) => !isHidden(path.relative(root, f)));
  const dest = path.join(ctx.artifacts, name);
  if (fs.existsSync(dest)) return fail(ctx, `upload-artifact: an artifact named ${name} already exists in this run`);
  if (files.length === 0) return noFiles(ctx, name, given, all.length);
  for (const f of files) {
    const to = path.join(dest, path.relative(root, f));
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(f, to);
  }
  const hidden = all.length - files.length;
  ctx.say(
    `upload-artifact: ${files.length} file(s) as ${name} -> ${dest}${hidden ? ` (${hidden} hidden file(s) left out)` : ''}`,
  );
  return 0;
};

function noFiles(ctx: ActionContext, name: string, given: string, hidden: number): number {
  const why = `no files were found with the provided path: ${given}${hidden ? ` (${hidden} hidden ones left out)` : ''}`;
  const mode = ctx.inputs['if-no-files-found'] ?? 'warn';
  if (mode === 'error') return fail(ctx, `upload-artifact ${name}: ${why}`);
  if (mode === 'warn') ctx.say(`::warning::upload-artifact ${name}: ${why}; no artifact will be uploaded`);
  else if (mode === 'ignore') ctx.say(`upload-artifact ${name}: ${why}; no artifact will be uploaded`);
  else return fail(ctx, `upload-artifact: if-no-files-found: ${mode} is not warn, error or ignore`);
  return 0;
}

/**
 * actions/download-artifact@v4: `name` downloads one artifact into `path`; `pattern` (or
 * nothing) downloads every matching one into path/<name>/, or all into `path` with
 * merge-multiple. No match is not an error for a pattern, as on GitHub.
 */
const downloadArtifact: Action = (ctx) => {
  const into = path.resolve(ctx.workspace, ctx.inputs.path ?? '.');
  const have = fs.existsSync(ctx.artifacts) ? fs.readdirSync(ctx.artifacts).sort() : [];
  if (ctx.inputs.name !== undefined) {
    if (!have.includes(ctx.inputs.name)) return fail(ctx, `download-artifact: artifact not found: ${ctx.inputs.name}`);
    fs.cpSync(path.join(ctx.artifacts, ctx.inputs.name), into, { recursive: true });
    ctx.say(`download-artifact: ${ctx.inputs.name} -> ${into}`);
    return 0;
  }
  const pattern = ctx.inputs.pattern;
  const matched = pattern ? have.filter((a) => globToRegExp(pattern).test(a)) : have;
  const merge = ctx.inputs['merge-multiple'] === 'true';
  for (const a of matched)
    fs.cpSync(path.join(ctx.artifacts, a), merge ? into : path.join(into, a), { recursive: true });
  ctx.say(`download-artifact: ${matched.length} artifact(s)${pattern ? ` matching ${pattern}` : ''} -> ${into}`);
  for (const a of matched) ctx.say(`  ${a}`);
  return 0;
};

const ACTIONS: Record<string, Action> = {
  'actions/checkout@v4': checkout,
  'actions/setup-node@v4': setupNode,
  'actions/upload-artifact@v4': uploadArtifact,
  'actions/download-artifact@v4': downloadArtifact,
};

export function actionFor(step: Step): Action | undefined {
  return step.uses === undefined ? undefined : ACTIONS[step.uses];
}

export const emulatedActions = (): string[] => Object.keys(ACTIONS);

/** A GITHUB_OUTPUT / GITHUB_ENV file: NAME=value lines and NAME<<DELIMITER blocks. */
export function readCommandFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!fs.existsSync(file)) return out;
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^=<]+)<<(.+)$/.exec(lines[i]);
    if (heredoc) {
      const end = lines.indexOf(heredoc[2], i + 1);
      if (end < 0) throw new Error(`${file}: ${heredoc[1]}<<${heredoc[2]} is never closed`);
      out[heredoc[1]] = lines.slice(i + 1, end).join('\n');
      i = end;
    } else if (lines[i].includes('='))
      out[lines[i].slice(0, lines[i].indexOf('='))] = lines[i].slice(lines[i].indexOf('=') + 1);
    else if (lines[i].trim()) throw new Error(`${file}: '${lines[i]}' is neither NAME=value nor NAME<<EOF`);
  }
  return out;
}

/**
 * sudo: this machine is root and has none. With -E the command keeps the environment; without
 * it gets sudo's reset one (secure_path), with the shims still first so that nothing reached
 * through sudo escapes them.
 */
const SUDO = (shims: string) => `#!/bin/sh
keep=
while [ $# -gt 0 ]; do
  case "$1" in
    -E|--preserve-env) keep=1; shift ;;
    --) shift; break ;;
    -*) echo "rehearsal sudo: option $1 is not emulated" >&2; exit 1 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "rehearsal sudo: no command" >&2; exit 1; }
if [ -n "$keep" ]; then exec "$@"; fi
exec env -i PATH="${shims}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" HOME=/root USER=root \\
  LOGNAME=root SHELL=/bin/sh TERM="\${TERM:-dumb}" "$@"
`;

/** npm: `npm ci` would replace the shared node_modules; here it becomes a symlink to it. */
const NPM = (realNpm: string, nodeModules: string) => `#!/bin/sh
case "$1" in
  ci)
    echo "rehearsal: 'npm $*' is NOT run here: node_modules -> ${nodeModules} (a symlink)"
    rm -rf node_modules && ln -s "${nodeModules}" node_modules ;;
  install|i|add|update)
    echo "rehearsal: 'npm $*' refused: this machine's node_modules is shared" >&2; exit 1 ;;
  *) exec "${realNpm}" "$@" ;;
esac
`;

/** The shims' folder, to put first on every step's PATH. */
export function writeShims(dir: string, nodeModules: string): string {
  const which = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' });
  const realNpm = which.stdout.trim();
  if (!realNpm) throw new Error('npm is not on PATH');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'sudo'), SUDO(dir), { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'npm'), NPM(realNpm, nodeModules), { mode: 0o755 });
  return dir;
}
