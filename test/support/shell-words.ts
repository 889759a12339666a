/**
 * The simple commands of a `run:` script, split into words as bash splits them, for reading
 * the `lab` command lines out of a workflow: quotes, backslash-newline continuations,
 * $VAR / ${VAR} / ${VAR:offset:length} expansion, comments, and the operators that end a
 * command (&& || ; | &) or redirect it. What it does not understand ($(...), $?, a variable
 * it was not given) is an error for the lines it is asked about, never a guess.
 */

export type Vars = Record<string, string>;

const ENDS = ['&&', '||', ';', '|', '&'];
const REDIRECTS = ['>>', '>', '<', '2>&1', '2>'];

/** The script's lines with continuations joined, comments kept out. */
export function logicalLines(script: string): string[] {
  return script
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => !/^\s*#/.test(l));
}

function expandVar(text: string, at: number, vars: Vars): { value: string; end: number } {
  const braced = /^\$\{([A-Za-z_]\w*)(?::(\d*):?(\d+)?)?\}/.exec(text.slice(at));
  const plain = /^\$([A-Za-z_]\w*)/.exec(text.slice(at));
  const m = braced ?? plain;
  if (!m) throw new Error(`'${text.slice(at, at + 12)}...': not a variable this reader expands`);
  if (!(m[1] in vars)) throw new Error(`$${m[1]}: no value given for it`);
  let value = vars[m[1]];
  if (braced && braced[2] !== undefined) {
    const from = Number(braced[2] || 0);
    value = braced[3] === undefined ? value.slice(from) : value.slice(from, from + Number(braced[3]));
  }
  return { value, end: at + m[0].length };
}

function quoted(text: string, at: number, vars: Vars): { value: string; end: number } {
  const q = text[at];
  let value = '';
  let i = at + 1;
  while (i < text.length && text[i] !== q) {
    if (q === '"' && text[i] === '$') {
      const v = expandVar(text, i, vars);
      value += v.value;
      i = v.end;
    } else if (q === '"' && text[i] === '\\' && '"\\$`'.includes(text[i + 1])) {
      value += text[i + 1];
      i += 2;
    } else value += text[i++];
  }
  if (i >= text.length) throw new Error(`unterminated ${q} in: ${text}`);
  return { value, end: i + 1 };
}

const startsWithAny = (text: string, at: number, list: string[]): string | undefined =>
  list.find((op) => text.startsWith(op, at));

/** One logical line's simple commands, each a list of words. */
export function shellCommands(line: string, vars: Vars): string[][] {
  const commands: string[][] = [[]];
  let word: string | undefined;
  let skipNext = false;
  const endWord = () => {
    if (word !== undefined && !skipNext) commands[commands.length - 1].push(word);
    else if (word !== undefined) skipNext = false;
    word = undefined;
  };
  for (let i = 0; i < line.length;) {
    const c = line[i];
    const redirect = word === undefined ? startsWithAny(line, i, REDIRECTS) : undefined;
    const end = startsWithAny(line, i, ENDS);
    if (/\s/.test(c)) {
      endWord();
      i++;
    } else if (c === '#' && word === undefined) break;
    else if (redirect) {
      // the target of a redirection is not an argument of the command
      endWord();
      skipNext = redirect !== '2>&1';
      i += redirect.length;
    } else if (end) {
      endWord();
      commands.push([]);
      i += end.length;
    } else if (c === "'" || c === '"') {
      const q = quoted(line, i, vars);
      word = (word ?? '') + q.value;
      i = q.end;
    } else if (c === '$') {
      const v = expandVar(line, i, vars);
      word = (word ?? '') + v.value;
      i = v.end;
    } else if (c === '\\') {
      word = (word ?? '') + (line[i + 1] ?? '');
      i += 2;
    } else {
      word = (word ?? '') + c;
      i++;
    }
  }
  endWord();
  return commands.filter((c) => c.length > 0);
}
