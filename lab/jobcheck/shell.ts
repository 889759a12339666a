// Finds the command names that /bin/sh would look up through PATH in a job's
// exec line or script block. Upstart 1.5 runs both with `/bin/sh -e`; a job
// started by the socket bridge gets the socket's path as PATH, so every such
// lookup fails. This is a line-oriented reading of sh, not a shell parser:
// it knows quoting, comments, here-documents, case patterns, functions and
// redirections well enough for job scripts, and stays silent where unsure.

import { SourceLine } from './types';

export interface PathLookup {
  word: string;
  line: number;
  /** From a script block (which can set PATH itself) rather than an exec line. */
  inScript: boolean;
}

// dash's builtins and reserved words: never looked up through PATH.
const BUILTINS = new Set([
  '.',
  ':',
  '[',
  'alias',
  'bg',
  'break',
  'cd',
  'chdir',
  'command',
  'continue',
  'echo',
  'eval',
  'exec',
  'exit',
  'export',
  'false',
  'fc',
  'fg',
  'getopts',
  'hash',
  'jobs',
  'kill',
  'local',
  'printf',
  'pwd',
  'read',
  'readonly',
  'return',
  'set',
  'shift',
  'test',
  'times',
  'trap',
  'true',
  'type',
  'ulimit',
  'umask',
  'unalias',
  'unset',
  'wait',
]);
const OPENERS = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', '!', '{', '}']);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;
const HIDDEN = '\u0001';

type Frame = 'sq' | 'dq' | 'sub' | 'arith' | 'brace';

/**
 * Replaces quoted text and expansions with a placeholder so that separators
 * inside them do not split commands; keeps $(...) inside double quotes,
 * because the commands in it are looked up like any other. Drops comments.
 */
class Masker {
  private stack: Frame[] = [];

  mask(line: string): string {
    let out = '';
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      const top = this.stack[this.stack.length - 1];
      const two = line.slice(i, i + 2);
      if (c === '\\' && top !== 'sq') {
        out += HIDDEN + HIDDEN;
        i++;
      } else if (top === 'sq') {
        if (c === "'") this.stack.pop();
        out += HIDDEN;
      } else if (top === 'arith') {
        if (two === '))') {
          this.stack.pop();
          i++;
        }
        out += HIDDEN;
      } else if (top === 'brace') {
        if (c === '}') this.stack.pop();
        out += HIDDEN;
      } else if (top === 'dq' && c !== '"' && two !== '$(' && c !== '`') {
        out += HIDDEN;
      } else if (line.slice(i, i + 3) === '$((') {
        this.stack.push('arith');
        out += HIDDEN;
        i += 2;
      } else if (two === '${') {
        this.stack.push('brace');
        out += HIDDEN;
        i++;
      } else if (two === '$(') {
        this.stack.push('sub');
        out += ' ( ';
        i++;
      } else if (c === ')' && top === 'sub') {
        this.stack.pop();
        out += ' ) ';
      } else if (c === '"') {
        if (top === 'dq') this.stack.pop();
        else this.stack.push('dq');
        out += HIDDEN;
      } else if (c === "'") {
        this.stack.push('sq');
        out += HIDDEN;
      } else if (c === '#' && (i === 0 || /[\s;&|()]/.test(line[i - 1]))) {
        break;
      } else {
        out += c;
      }
    }
    return out;
  }
}

function stripRedirections(text: string): string {
  return text.replace(/\d*[<>]&\d*-?/g, ' ').replace(/\d*(>>|>\||<>|>|<)\s*[^\s;&|()<>]+/g, ' ');
}

const HEREDOC = /<<(-?)\s*\u0001*([A-Za-z_][A-Za-z0-9_]*)\u0001*/;

class ScriptReader {
  readonly lookups: PathLookup[] = [];
  private readonly functions = new Set<string>();
  private readonly masker = new Masker();
  private caseDepth = 0;
  private heredoc: { word: string; tabs: boolean } | undefined;
  pathSet = false;

  line(text: string, line: number): void {
    if (this.heredoc !== undefined) {
      const candidate = this.heredoc.tabs ? text.replace(/^\t+/, '') : text;
      if (candidate === this.heredoc.word) this.heredoc = undefined;
      return;
    }
    let masked = this.masker.mask(text);
    const heredoc = HEREDOC.exec(masked);
    if (heredoc !== null) {
      this.heredoc = { word: heredoc[2], tabs: heredoc[1] === '-' };
      masked = masked.replace(HEREDOC, ' ');
    }
    masked = stripRedirections(masked);
    const fn = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(\s*\)/.exec(masked);
    if (fn !== null) {
      this.functions.add(fn[1]);
      masked = masked.slice(fn[0].length);
    }
    if (this.caseDepth > 0 && !/^\s*esac\b/.test(masked)) {
      masked = masked.replace(/^\s*\(?\s*[^\s()|;]+(\s*\|\s*[^\s()|;]+)*\s*\)/, ' ');
    }
    for (const segment of masked.split(/[;&|()`{}]/)) {
      this.segment(
        segment
          .trim()
          .split(/\s+/)
          .filter((w) => w !== ''),
        line,
      );
      if (this.pathSet) return;
    }
  }

  private segment(words: string[], line: number): void {
    let at = 0;
    while (at < words.length && OPENERS.has(words[at])) at++;
    const head = words[at];
    if (head === 'case') {
      this.caseDepth++;
      return;
    }
    if (head === 'esac') {
      this.caseDepth = Math.max(0, this.caseDepth - 1);
      return;
    }
    if (head === 'for') return;
    let prefixPath = false;
    while (at < words.length && ASSIGNMENT.test(words[at])) {
      if (words[at].startsWith('PATH=')) prefixPath = true;
      at++;
    }
    if (at >= words.length) {
      // An assignment on its own changes the shell's own PATH from here on.
      if (prefixPath) this.pathSet = true;
      return;
    }
    let command = words[at];
    if ((command === 'export' || command === 'readonly') && words.slice(at + 1).some((w) => w.startsWith('PATH='))) {
      this.pathSet = true;
      return;
    }
    if (command === 'exec' || command === 'command') {
      const next = words.slice(at + 1).find((w) => !w.startsWith('-'));
      if (next === undefined) return;
      command = next;
    }
    if (prefixPath || !needsPath(command) || this.functions.has(command)) return;
    this.lookups.push({ word: command, line, inScript: true });
  }
}

/** True for a command name that sh can only find through PATH. */
export function needsPath(word: string): boolean {
  if (word.includes('/') || word.includes('$') || word.includes(HIDDEN)) return false;
  if (BUILTINS.has(word) || OPENERS.has(word)) return false;
  return /^[A-Za-z0-9_.+-]+$/.test(word);
}

/** PATH lookups in a script, up to the line that sets PATH itself. */
export function scriptLookups(body: readonly SourceLine[]): PathLookup[] {
  const reader = new ScriptReader();
  let pending = '';
  let pendingLine = 0;
  for (const { text, line } of body) {
    // A trailing backslash joins the next line into one command.
    if (/(^|[^\\])(\\\\)*\\$/.test(text)) {
      if (pending === '') pendingLine = line;
      pending += text.slice(0, -1) + ' ';
      continue;
    }
    reader.line(pending + text, pending === '' ? line : pendingLine);
    pending = '';
    if (reader.pathSet) break;
  }
  if (pending !== '' && !reader.pathSet) reader.line(pending, pendingLine);
  return reader.lookups;
}

/** The command of an exec line, if sh or execvp() must find it through PATH. */
export function execLookup(command: string, line: number): PathLookup | undefined {
  const first = command.split(/\s+/)[0] ?? '';
  return needsPath(first) ? { word: first, line, inScript: false } : undefined;
}
