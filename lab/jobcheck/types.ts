// Shared shapes of the upstart 1.5 job checker.

export type Severity = 'error' | 'warning';

export interface Problem {
  line: number;
  severity: Severity;
  message: string;
}

/** One word of a stanza, after upstart's quote and backslash handling. */
export interface Token {
  text: string;
  line: number;
  /** A quoted `"and"` is an event name to upstart, not an operator. */
  quoted: boolean;
}

/** A physical line of a script block, numbered as in the file. */
export interface SourceLine {
  text: string;
  line: number;
}

export interface ScriptBlock {
  /** Line of the `script` keyword, where a missing `end script` is reported. */
  line: number;
  body: SourceLine[];
  terminated: boolean;
}

export interface Command {
  /** The command as upstart keeps it: quotes intact, continuations joined. */
  text: string;
  line: number;
}

export interface Stanza {
  keyword: string;
  line: number;
  /**
   * Words after the keyword. For exec/script forms these are the words that
   * follow `exec`/`script` on a line where none belong; for `start`/`stop`
   * they include `on`, the event words and the parentheses.
   */
  args: Token[];
  /** `exec` or `script` for the process stanzas (exec, script, pre-start, ...). */
  mode?: 'exec' | 'script';
  command?: Command;
  script?: ScriptBlock;
}

export interface ParsedJob {
  stanzas: Stanza[];
  /** Syntax errors found while tokenising (quotes, backslashes, blocks). */
  problems: Problem[];
}

export interface CheckOptions {
  /** Events emitted by something outside the checked files (e.g. initctl emit in a Dockerfile). */
  knownEvents?: readonly string[];
}
