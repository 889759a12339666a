import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../engine/images';
import { unifiedDiff } from './diff';
import { initSocket } from './rules';
import type { AuditModel, Finding, Fix } from './types';
import { unitValue } from './units';

/**
 * Each finding's fix, as a diff against the team's own file, taken from the recommended recipe
 * read as it is at run time (so the fix follows the recipe as it changes): the recipe's text
 * with the recipe's paths replaced by the team's (socket, pid file, config, rackup, app dir).
 */

/** The recipe files, relative to the project root. */
export const RECIPE = {
  job: 'images/conf/unicorn/upstart/unicorn-wrapper.conf',
  socketPermissions: 'images/conf/upstart/container/socket-permissions.conf',
  bridgeRefresh: 'images/conf/upstart/container/bridge-socket-refresh.conf',
  service: 'images/conf/systemd/unicorn-wrapper.service',
  socket: 'images/conf/systemd/unicorn.socket',
  config: 'images/conf/unicorn/unicorn.rb',
  symlink: 'images/conf/unicorn/symlinked-releases/unicorn-fix.rb',
} as const;

export type Recipe = Record<keyof typeof RECIPE, string>;

export function readRecipe(root: string = projectRoot()): Recipe {
  const out = {} as Recipe;
  for (const [k, rel] of Object.entries(RECIPE)) out[k as keyof Recipe] = fs.readFileSync(path.join(root, rel), 'utf8');
  return out;
}

/** The paths the recipe uses, and the team's value for each where its files say it. */
function substitutions(m: AuditModel): Array<[string, string | undefined]> {
  const main = m.job?.main ?? m.service?.main;
  const sock =
    initSocket(m)?.path ??
    main?.unicorn?.listen.find((l) => l.replace(/^unix:/, '').startsWith('/'))?.replace(/^unix:/, '');
  const pid =
    (main?.runner === 'wrapper' ? main.wrapper?.pid : undefined) ?? m.config?.pid?.value ?? main?.unicorn?.pid;
  const dir =
    m.job?.chdir?.value ?? (m.service ? unitValue(m.service, 'Service', 'WorkingDirectory')?.value : undefined);
  const abs = (p: string | undefined) =>
    p === undefined ? undefined : path.isAbsolute(p) ? p : dir ? path.join(dir, p) : undefined;
  return [
    ['/opt/unicorn/app/unicorn.rb', abs(main?.unicorn?.config)],
    ['/opt/unicorn/app/config.ru', abs(main?.unicorn?.rackup)],
    ['/var/run/unicorn/unicorn.sock', sock],
    ['/run/unicorn/unicorn.sock', sock],
    ['/var/run/unicorn/unicorn.pid', pid],
    ['/run/unicorn/unicorn.pid', pid],
    ['/opt/unicorn/app', dir],
  ];
}

/** One pass, longest path first, so /var/run/x is never also rewritten as /run/x. */
export function adapt(recipe: string, m: AuditModel): string {
  const map = new Map(substitutions(m).filter((s): s is [string, string] => s[1] !== undefined));
  if (map.size === 0) return recipe;
  const keys = [...map.keys()].sort((a, b) => b.length - a.length);
  const re = new RegExp(keys.map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  return recipe.replace(re, (hit) => map.get(hit) ?? hit);
}

const diffOf = (file: string, before: string, after: string, recipe: string): Fix | undefined => {
  const diff = unifiedDiff(before, after, before === '' ? '/dev/null' : `a/${file}`, `b/${file}`);
  return diff === '' ? undefined : { file, recipe, diff };
};

/** Lines start..end of the Ruby block that opens on `start` (0-based), ended by `end` at its indent. */
export function rubyBlock(lines: readonly string[], start: number): [number, number] {
  const indent = /^\s*/.exec(lines[start])?.[0] ?? '';
  if (!/\bdo\b(\s*\|[^|]*\|)?\s*$|^\s*def\b/.test(lines[start])) return [start, start];
  for (let i = start + 1; i < lines.length; i++) if (new RegExp(`^${indent}end\\b`).test(lines[i])) return [start, i];
  return [start, lines.length - 1];
}

/** A top-level statement of the recipe's config: its lines (a block whole), found by its first word. */
export function recipeStatement(recipe: string, word: string): string[] | undefined {
  const lines = recipe.split('\n');
  const i = lines.findIndex((l) => new RegExp(`^${word}\\b`).test(l));
  if (i < 0) return undefined;
  // The comment lines right above it belong to it.
  let from = i;
  while (from > 0 && /^\s*#/.test(lines[from - 1])) from--;
  const [, end] = rubyBlock(lines, i);
  return lines.slice(from, end + 1);
}

/** The recipe's helper (`def lab_flag`) when a statement uses it and the team's config lacks it. */
function helpersFor(statement: readonly string[], recipe: string, team: string): string[] {
  const out: string[] = [];
  for (const m of recipe.matchAll(/^def (\w+)/gm)) {
    const name = m[1];
    if (statement.some((l) => l.includes(`${name}(`)) && !new RegExp(`def ${name}\\b`).test(team)) {
      out.push(...(recipeStatement(recipe, `def ${name}`) ?? []), '');
    }
  }
  return out;
}

/** Where a new statement goes: after worker_processes, else after the leading comments. */
function insertionPoint(lines: readonly string[]): number {
  const wp = lines.findIndex((l) => /^\s*worker_processes\b/.test(l));
  if (wp >= 0) return wp + 1;
  let i = 0;
  while (i < lines.length && (/^\s*#/.test(lines[i]) || lines[i].trim() === '')) i++;
  return i;
}

function replaceOrInsert(team: string, word: string, statement: string[], helpers: string[], line?: number): string {
  const lines = team.split('\n');
  if (line && line > 0) {
    const [s, e] = rubyBlock(lines, line - 1);
    // The recipe's comments above the statement are not repeated over the team's own line.
    const body = statement.filter(
      (l, i) => !(/^\s*#/.test(l) && statement.slice(0, i + 1).every((x) => /^\s*#/.test(x))),
    );
    lines.splice(s, e - s + 1, ...body);
    if (helpers.length) lines.splice(insertionPoint(lines.slice(0, s)), 0, ...helpers);
    return lines.join('\n');
  }
  if (/^(before_fork|before_exec|after_fork)$/.test(word)) {
    // Hooks go at the end, after one blank line, as configs usually have them.
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    lines.push('', ...helpers, ...statement, '');
    return lines.join('\n');
  }
  lines.splice(insertionPoint(lines), 0, ...helpers, ...statement);
  return lines.join('\n');
}

export function fixesFor(f: Finding, m: AuditModel, recipe: Recipe): Fix[] {
  const sub = (s: string) => adapt(s, m);
  const out: Array<Fix | undefined> = [];
  const team = m.configText ?? '';
  const cfg = m.config?.file;
  switch (f.fixKind) {
    case 'job-to-recipe':
      if (m.job) out.push(diffOf(m.job.file, m.job.text, sub(recipe.job), RECIPE.job));
      break;
    case 'add-socket-permissions': {
      const dir = m.job ? path.dirname(m.job.file) : '.';
      out.push(
        diffOf(path.join(dir, 'socket-permissions.conf'), '', sub(recipe.socketPermissions), RECIPE.socketPermissions),
      );
      break;
    }
    case 'add-bridge-socket-refresh': {
      const dir = m.job ? path.dirname(m.job.file) : '.';
      out.push(diffOf(path.join(dir, 'bridge-socket-refresh.conf'), '', recipe.bridgeRefresh, RECIPE.bridgeRefresh));
      break;
    }
    case 'service-to-recipe':
      if (m.service) out.push(diffOf(m.service.file, m.service.text, sub(recipe.service), RECIPE.service));
      if (m.service && !m.socket) {
        const dir = path.dirname(m.service.file);
        out.push(diffOf(path.join(dir, 'unicorn.socket'), '', sub(recipe.socket), RECIPE.socket));
      }
      break;
    case 'add-socket-unit':
      if (m.socket) out.push(diffOf(m.socket.file, m.socket.text, sub(recipe.socket), RECIPE.socket));
      break;
    case 'config-pid': {
      const st = recipeStatement(recipe.config, 'pid');
      if (cfg && st)
        out.push(
          diffOf(
            cfg,
            team,
            replaceOrInsert(team, 'pid', st.map(sub), helpersFor(st, recipe.config, team), m.config?.pid?.line),
            RECIPE.config,
          ),
        );
      break;
    }
    case 'config-before-fork': {
      const st = recipeStatement(recipe.config, 'before_fork');
      const line = m.config?.beforeFork?.custom ? m.config.beforeFork.line : undefined;
      if (cfg && st)
        out.push(
          diffOf(
            cfg,
            team,
            replaceOrInsert(team, 'before_fork', st, helpersFor(st, recipe.config, team), line),
            RECIPE.config,
          ),
        );
      break;
    }
    case 'config-preload': {
      const st = recipeStatement(recipe.config, 'preload_app');
      if (cfg && st)
        out.push(
          diffOf(
            cfg,
            team,
            replaceOrInsert(team, 'preload_app', st, helpersFor(st, recipe.config, team), m.config?.preloadApp.line),
            RECIPE.config,
          ),
        );
      break;
    }
    case 'config-symlink': {
      const link = /^(.*\/current)(\/|$)/.exec(
        [
          m.job?.chdir?.value,
          m.service ? unitValue(m.service, 'Service', 'WorkingDirectory')?.value : undefined,
          (m.job?.main ?? m.service?.main)?.unicorn?.config,
          m.config?.workingDirectory?.value,
        ]
          .filter((x) => x !== undefined)
          .find((p) => /\/current(\/|$)/.test(p!)) ?? '',
      )?.[1];
      if (!cfg || !link) break;
      const fixText = recipe.symlink.split('/srv/app/current').join(link);
      const wd = recipeStatement(fixText, 'working_directory');
      let next = team;
      if (wd) next = replaceOrInsert(next, 'working_directory', wd, [], m.config?.workingDirectory?.line);
      const be = recipeStatement(fixText, 'before_exec');
      const gem = be?.filter(
        (l, i, all) =>
          /BUNDLE_GEMFILE/.test(l) ||
          (/^\s*#/.test(l) &&
            all
              .slice(i)
              .find((x) => !/^\s*#/.test(x))
              ?.includes('BUNDLE_GEMFILE')),
      );
      if (be && gem && (m.job?.main ?? m.service?.main)?.bundleExec) {
        if (m.config?.beforeExec?.custom) {
          const lines = next.split('\n');
          const start = lines.findIndex((l) => /^\s*before_exec\b/.test(l));
          if (start >= 0) {
            const [, end] = rubyBlock(lines, start);
            lines.splice(end, 0, ...gem);
            next = lines.join('\n');
          }
        } else next = replaceOrInsert(next, 'before_exec', be, []);
      }
      out.push(diffOf(cfg, team, next, RECIPE.symlink));
      break;
    }
  }
  return out.filter((x): x is Fix => x !== undefined);
}
