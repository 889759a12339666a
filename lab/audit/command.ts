import * as path from 'node:path';
import { readUnicornArgs, unicornIndex } from '../../src/unicorn-wrapper/unicorn-config';
import type { AppCommand, Evidence } from './types';

/**
 * How a job's exec line, a script's last command or a unit's ExecStart= runs the app: unicorn
 * itself, unicorn-wrapper in front of it, a herder, or something else. Read with unicorn's
 * own switch table (src/unicorn-wrapper/unicorn-config.ts), so `-c`, `--config-file=`,
 * clustered `-Dc FILE` mean here what they mean to unicorn.
 */

/** sh-like words: quotes removed, backslash-newline joined; `$VAR` left as written. */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = '';
      else if (c === '\\' && quote === '"' && i + 1 < text.length && '"\\$`'.includes(text[i + 1])) cur += text[++i];
      else cur += c;
      continue;
    }
    if (c === '\\' && text[i + 1] === '\n') {
      i++;
      continue;
    }
    if (c === '\\' && i + 1 < text.length) {
      cur += text[++i];
      inWord = true;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
      continue;
    }
    if (c === '#' && !inWord) break;
    if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    cur += c;
    inWord = true;
  }
  if (inWord) words.push(cur);
  return words;
}

const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;
const isWrapperWord = (w: string): boolean =>
  path.basename(w) === 'unicorn-wrapper' || /unicorn-wrapper\/cli\.js$/.test(w);
const HERDER = /herder|shepherd/i;

/** The words from the program on: leading VAR=x, `env VAR=x`, `exec` and `nice`-like prefixes dropped. */
export function programWords(words: readonly string[]): string[] {
  let i = 0;
  for (;;) {
    const w = words[i];
    if (w === undefined) return [];
    if (ASSIGNMENT.test(w) || w === 'exec' || w === '-') i++;
    else if (path.basename(w) === 'env') {
      i++;
      while (words[i] !== undefined && (ASSIGNMENT.test(words[i]) || words[i].startsWith('-'))) i++;
    } else return words.slice(i);
  }
}

function wrapperOptions(words: readonly string[]): AppCommand['wrapper'] {
  const out: NonNullable<AppCommand['wrapper']> = {};
  const end = words.indexOf('--');
  const opts = end < 0 ? words : words.slice(0, end);
  for (let i = 0; i < opts.length; i++) {
    const [flag, inline] = opts[i].split(/=(.*)/s);
    const value = () => (inline !== undefined ? inline : opts[++i]);
    if (flag === '--pid') out.pid = value();
    else if (flag === '--listen-arg') out.listenArg = value();
    else if (flag === '--stop-timeout') out.stopTimeout = Number(value());
  }
  return out;
}

/** Reads one command line (already joined) into what runs and how. */
export function readCommand(text: string, at: Evidence, scriptText = text): AppCommand {
  const words = shellWords(text);
  const prog = programWords(words);
  const first = prog[0] ?? '';
  // `bundle exec` anywhere: after the wrapper's `--` it is what runs unicorn.
  const bundleExec = prog.some((w, i) => path.basename(w) === 'bundle' && prog[i + 1] === 'exec');
  const keepFds = prog.includes('--keep-file-descriptors');
  const adoptsBridgeFd = /UNICORN_FD=["']?\$\{?UPSTART_FDS\b/.test(scriptText);
  const base = { words, at, bundleExec, keepFds, adoptsBridgeFd };
  const wrapperAt = prog.findIndex(isWrapperWord);
  // `node .../unicorn-wrapper/cli.js` or `unicorn-wrapper`: the wrapper runs unicorn after `--`.
  if (wrapperAt >= 0 && wrapperAt <= 1) {
    const rest = prog.slice(wrapperAt + 1);
    const dash = rest.indexOf('--');
    const after = dash < 0 ? [] : rest.slice(dash + 1);
    return { ...base, runner: 'wrapper', wrapper: wrapperOptions(rest), unicorn: unicornOf(after) };
  }
  const u = unicornIndex(prog);
  const program =
    path.basename(first) === 'bundle' && prog[1] === 'exec'
      ? (prog.slice(2).find((w) => !w.startsWith('-')) ?? '')
      : first;
  const runsUnicornFirst = u >= 0 && (prog[u] === program || (u === 1 && /^ruby[\d.]*$/.test(path.basename(first))));
  if (runsUnicornFirst) return { ...base, runner: 'direct', unicorn: unicornOf(prog) };
  if (HERDER.test(path.basename(program)) || u > 0) return { ...base, runner: 'herder', unicorn: unicornOf(prog) };
  return { ...base, runner: 'other' };
}

function unicornOf(words: readonly string[]): AppCommand['unicorn'] {
  const u = unicornIndex(words);
  if (u < 0) return undefined;
  const args = words.slice(u + 1);
  const read = readUnicornArgs(args);
  // The rackup file: the last word that is not a switch or a switch's value.
  const rackup = [...args].reverse().find((w, i, rev) => {
    const before = rev[i + 1];
    return !w.startsWith('-') && !(before !== undefined && /^-[A-Za-z]*[ceIroEPslp]$/.test(before));
  });
  return { ...read, rackup: rackup !== undefined && /\.ru$/.test(rackup) ? rackup : undefined };
}

/**
 * A script block's command that runs the app: the last command line naming unicorn, the
 * wrapper or a herder (continuation lines joined), with the line it starts on.
 */
export function scriptCommand(
  body: ReadonlyArray<{ text: string; line: number }>,
): { text: string; line: number } | undefined {
  const joined: Array<{ text: string; line: number }> = [];
  let cur: { text: string; line: number } | undefined;
  for (const l of body) {
    if (cur === undefined) cur = { text: l.text, line: l.line };
    else cur.text += `\n${l.text}`;
    if (!/\\\s*$/.test(l.text)) {
      joined.push(cur);
      cur = undefined;
    }
  }
  if (cur) joined.push(cur);
  const runs = (t: string) => {
    const prog = programWords(shellWords(t));
    return unicornIndex(prog) >= 0 || prog.some(isWrapperWord) || HERDER.test(path.basename(prog[0] ?? ''));
  };
  return [...joined].reverse().find((c) => runs(c.text));
}
