// Tokenises an upstart 1.5 job file into stanzas, following the rules of
// the nih config reader (nih/config.c, version 1.0.3) that upstart 1.5 uses,
// so that line numbers and word boundaries are the ones init itself sees.

import { Command, ParsedJob, Problem, ScriptBlock, SourceLine, Stanza, Token } from './types';

const BLANK = ' \t\r';
const WORD_DELIMS = ' \t\r#\n';
// Parentheses end a word only inside start on / stop on expressions.
const EVENT_DELIMS = '()' + WORD_DELIMS;
// exec keeps its spaces: only a comment or the end of the line ends it.
const COMMAND_DELIMS = '#\n';

const PROCESS_STANZAS = new Set(['pre-start', 'post-start', 'pre-stop', 'post-stop']);
const EVENT_STANZAS = new Set(['start', 'stop']);

// `end script` may be indented and followed by a comment, nothing else.
const END_SCRIPT = /^[ \t\r]*end[ \t\r]+script[ \t\r]*(#.*)?$/;

class SyntaxFailure extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

const isBlank = (c: string): boolean => c !== '' && BLANK.includes(c);

class Scanner {
  pos = 0;
  line = 1;

  constructor(readonly text: string) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text.charAt(this.pos);
  }

  /** Blanks, and backslash-newline, which the nih reader treats as a blank. */
  skipBlanks(): void {
    while (!this.done) {
      const c = this.peek();
      if (c === '\\' && this.text.charAt(this.pos + 1) === '\n') {
        this.pos += 2;
        this.line++;
      } else if (isBlank(c)) {
        this.pos++;
      } else {
        break;
      }
    }
  }

  atLineEnd(): boolean {
    return this.done || this.peek() === '\n' || this.peek() === '#';
  }

  /** Moves past the rest of the line, comment included. */
  nextLine(): void {
    while (!this.done && this.peek() !== '\n') this.pos++;
    if (!this.done) {
      this.pos++;
      this.line++;
    }
  }

  /**
   * One word up to an unquoted, unescaped delimiter. Quotes may span lines;
   * a line break inside a word (quoted or escaped) becomes a single space,
   * as in the nih reader.
   */
  readToken(delims: string, dequote: boolean): Token {
    const startLine = this.line;
    let out = '';
    let quote = '';
    let quoteLine = startLine;
    let quoted = false;
    let pendingBlank = '';
    let brokeLine = false;
    const flush = (): void => {
      out += brokeLine ? ' ' : pendingBlank;
      pendingBlank = '';
      brokeLine = false;
    };

    while (!this.done) {
      const c = this.peek();
      if (c === '\\') {
        const next = this.text.charAt(this.pos + 1);
        if (next === '') {
          throw new SyntaxFailure(
            this.line,
            'the file ends with a backslash: remove it, a continuation needs a following line',
          );
        }
        this.pos += 2;
        if (next === '\n') {
          this.line++;
          brokeLine = true;
          continue;
        }
        flush();
        out += dequote && (next === '\\' || isBlank(next)) ? next : '\\' + next;
        continue;
      }
      if (quote !== '') {
        this.pos++;
        if (c === quote) {
          quote = '';
          flush();
          if (!dequote) out += c;
        } else if (c === '\n') {
          this.line++;
          brokeLine = true;
        } else if (isBlank(c)) {
          pendingBlank += c;
        } else {
          flush();
          out += c;
        }
        continue;
      }
      if (c === '"' || c === "'") {
        quote = c;
        quoteLine = this.line;
        quoted = true;
        this.pos++;
        flush();
        if (!dequote) out += c;
        continue;
      }
      if (delims.includes(c)) break;
      this.pos++;
      if (isBlank(c)) {
        pendingBlank += c;
      } else {
        flush();
        out += c;
      }
    }

    if (quote !== '') {
      throw new SyntaxFailure(
        quoteLine,
        `unterminated ${quote} quote: close it on the same stanza (upstart 1.5 rejects the whole file)`,
      );
    }
    return { text: out, line: startLine, quoted };
  }

  /** The remaining words of the line; consumes the line end. */
  readWords(): Token[] {
    const words: Token[] = [];
    this.skipBlanks();
    while (!this.atLineEnd()) {
      words.push(this.readToken(WORD_DELIMS, true));
      this.skipBlanks();
    }
    this.nextLine();
    return words;
  }

  readCommand(line: number): Command {
    const text = this.atLineEnd() ? '' : this.readToken(COMMAND_DELIMS, false).text.trim();
    this.nextLine();
    return { text, line };
  }

  /**
   * An event expression; like upstart's parse_on() it carries on over line
   * ends while a parenthesis is open, so an unclosed one eats the rest of
   * the file, just as it does in init.
   */
  readEventWords(): Token[] {
    const words: Token[] = [];
    let depth = 0;
    for (;;) {
      this.skipBlanks();
      while (!this.atLineEnd()) {
        const c = this.peek();
        if (c === '(' || c === ')') {
          words.push({ text: c, line: this.line, quoted: false });
          depth += c === '(' ? 1 : -1;
          this.pos++;
        } else {
          words.push(this.readToken(EVENT_DELIMS, true));
        }
        this.skipBlanks();
      }
      this.nextLine();
      if (depth <= 0 || this.done) return words;
    }
  }

  readBlock(openLine: number): ScriptBlock {
    const body: SourceLine[] = [];
    while (!this.done) {
      const end = this.text.indexOf('\n', this.pos);
      const stop = end < 0 ? this.text.length : end;
      const current: SourceLine = { text: this.text.slice(this.pos, stop), line: this.line };
      this.pos = end < 0 ? this.text.length : end + 1;
      if (end >= 0) this.line++;
      if (END_SCRIPT.test(current.text)) return { line: openLine, body, terminated: true };
      body.push(current);
    }
    return { line: openLine, body, terminated: false };
  }
}

function readProcess(sc: Scanner, stanza: Stanza): void {
  if (sc.atLineEnd()) {
    sc.nextLine();
    return;
  }
  const form = sc.readToken(WORD_DELIMS, false);
  sc.skipBlanks();
  if (!readExecOrScript(sc, stanza, form.text)) stanza.args = [form, ...sc.readWords()];
}

/** `exec COMMAND` or `script ... end script`, at the top level or after pre-start & co. */
function readExecOrScript(sc: Scanner, stanza: Stanza, word: string): boolean {
  if (word === 'exec') {
    stanza.mode = 'exec';
    stanza.command = sc.readCommand(stanza.line);
  } else if (word === 'script') {
    stanza.mode = 'script';
    stanza.args = sc.readWords();
    stanza.script = sc.readBlock(stanza.line);
  } else {
    return false;
  }
  return true;
}

function readStanza(sc: Scanner, keyword: Token): Stanza {
  const stanza: Stanza = { keyword: keyword.text, line: keyword.line, args: [] };
  if (readExecOrScript(sc, stanza, keyword.text)) {
    // exec/script at the top level: the job's main process
  } else if (PROCESS_STANZAS.has(keyword.text)) {
    readProcess(sc, stanza);
  } else if (EVENT_STANZAS.has(keyword.text) && !sc.atLineEnd()) {
    const first = sc.readToken(WORD_DELIMS, false);
    sc.skipBlanks();
    stanza.args = [first, ...(first.text === 'on' ? sc.readEventWords() : sc.readWords())];
  } else {
    stanza.args = sc.readWords();
  }
  return stanza;
}

export function parseJob(text: string): ParsedJob {
  const sc = new Scanner(text);
  const stanzas: Stanza[] = [];
  const problems: Problem[] = [];
  while (!sc.done) {
    while (isBlank(sc.peek())) sc.pos++;
    if (sc.atLineEnd()) {
      sc.nextLine();
      continue;
    }
    try {
      // Stanza names are not dequoted: `"exec"` is an unknown stanza to init.
      const keyword = sc.readToken(WORD_DELIMS, false);
      sc.skipBlanks();
      stanzas.push(readStanza(sc, keyword));
    } catch (err) {
      if (!(err instanceof SyntaxFailure)) throw err;
      problems.push({ line: err.line, severity: 'error', message: err.message });
      sc.nextLine();
    }
  }
  return { stanzas, problems };
}
