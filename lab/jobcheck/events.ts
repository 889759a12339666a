// Reads a `start on` / `stop on` expression the way upstart 1.5's parse_on()
// does and reports the expressions that init would reject.

import { Problem, Stanza, Token } from './types';

export interface EventMatch {
  name: string;
  args: Token[];
  line: number;
}

export interface Expression {
  events: EventMatch[];
  problems: Problem[];
}

/** Thrown to stop at the first structural error, where init stops too. */
class Rejected extends Error {}

const isOpen = (t: Token | undefined): boolean => t !== undefined && !t.quoted && t.text === '(';
const isClose = (t: Token | undefined): boolean => t !== undefined && !t.quoted && t.text === ')';
// Quoting an operator makes it an ordinary word for upstart.
const isOperator = (t: Token | undefined): boolean =>
  t !== undefined && !t.quoted && (t.text === 'and' || t.text === 'or');

class ExpressionReader {
  private at = 0;
  readonly events: EventMatch[] = [];
  readonly problems: Problem[] = [];

  constructor(
    private readonly words: Token[],
    private readonly stanza: string,
    private readonly line: number,
  ) {}

  read(): void {
    try {
      if (this.words.length === 0) {
        this.reject(this.line, `\`${this.stanza}\` needs an event, e.g. \`${this.stanza} runlevel [2345]\``);
      }
      this.expression();
      const left = this.words[this.at];
      if (left !== undefined) {
        this.reject(
          left.line,
          `unbalanced parentheses: ')' on line ${left.line} has no matching '(': remove it or add the '('`,
        );
      }
    } catch (err) {
      if (!(err instanceof Rejected)) throw err;
    }
  }

  private reject(line: number, message: string): never {
    this.problems.push({ line, severity: 'error', message });
    throw new Rejected(message);
  }

  private expression(): void {
    this.operand(undefined);
    const operators = new Set<string>();
    let first: Token | undefined;
    while (isOperator(this.words[this.at])) {
      const operator = this.words[this.at++];
      first ??= operator;
      operators.add(operator.text);
      this.operand(operator);
    }
    if (operators.size > 1 && first !== undefined) {
      this.problems.push({
        line: first.line,
        severity: 'warning',
        message:
          '`and` and `or` mixed without parentheses: upstart 1.5 has no precedence and groups ' +
          'strictly left to right (`A or B and C` means `(A or B) and C`): add parentheses to say ' +
          'which you mean',
      });
    }
  }

  private operand(after: Token | undefined): void {
    const t = this.words[this.at];
    if (t === undefined || isClose(t)) {
      if (after !== undefined) {
        this.reject(
          after.line,
          `dangling '${after.text}' on line ${after.line}: and/or must join two events, e.g. \`(A ` +
            `${after.text} B)\`: add the missing event or remove the '${after.text}'`,
        );
      }
      if (t !== undefined && isOpen(this.words[this.at - 1])) {
        this.reject(t.line, `empty parentheses on line ${t.line}: put an event inside them or remove them`);
      }
      this.reject(t?.line ?? this.line, `\`${this.stanza}\` needs an event, e.g. \`${this.stanza} runlevel [2345]\``);
    }
    if (isOperator(t)) {
      this.reject(
        t.line,
        `'${t.text}' on line ${t.line} has no event before it: and/or must join two events, e.g. \`(A ${t.text} B)\``,
      );
    }
    if (isOpen(t)) {
      this.at++;
      this.expression();
      if (!isClose(this.words[this.at])) {
        this.reject(
          t.line,
          `unbalanced parentheses: '(' on line ${t.line} is never closed: add the ')' (upstart 1.5 ` +
            `reads the rest of the file as part of this expression and rejects the job)`,
        );
      }
      this.at++;
      return;
    }
    this.event(t);
  }

  private event(name: Token): void {
    this.at++;
    const args: Token[] = [];
    while (this.at < this.words.length) {
      const t = this.words[this.at];
      if (isOperator(t) || isClose(t)) break;
      if (isOpen(t)) {
        this.reject(
          t.line,
          `'(' on line ${t.line} follows the event '${name.text}' without and/or: join them, e.g. \`${name.text} and (B or C)\``,
        );
      }
      args.push(t);
      this.at++;
    }
    this.events.push({ name: name.text, args, line: name.line });
    const named = args.findIndex((a) => a.text.includes('='));
    const positional = named < 0 ? undefined : args.slice(named).find((a) => !a.text.includes('='));
    if (positional !== undefined) {
      this.reject(
        positional.line,
        `event '${name.text}': the positional value '${positional.text}' follows a KEY=VALUE ` +
          `match, which upstart 1.5 rejects ("expected variable"): put positional values first or ` +
          `write it as KEY=${positional.text}`,
      );
    }
  }
}

/** The events of a `start on`/`stop on` stanza and what init would reject in it. */
export function readExpression(stanza: Stanza): Expression {
  const name = `${stanza.keyword} on`;
  const reader = new ExpressionReader(stanza.args.slice(1), name, stanza.line);
  reader.read();
  return { events: reader.events, problems: reader.problems };
}
