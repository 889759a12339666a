// The stanza table of upstart 1.5 (init/parse_job.c of Ubuntu's
// 1.5-0ubuntu7) and the arguments each stanza accepts there.

import { isExitStatus, isSignalName } from './signals';
import { Problem, Stanza, Token } from './types';

type StanzaCheck = (s: Stanza) => Problem[];

const error = (line: number, message: string): Problem => ({ line, severity: 'error', message });

const INTEGER = /^[+-]?\d+$/;
const LONG_MAX = 9223372036854775807n;
const ULONG_MAX = 18446744073709551615n;

/** A count that strtol() reads whole without ERANGE, and not negative. */
const isCount = (word: string | undefined): boolean =>
  word !== undefined && INTEGER.test(word) && BigInt(word) >= 0n && BigInt(word) <= LONG_MAX;

/** A value that strtoul() reads whole without ERANGE. */
const isULong = (word: string | undefined): boolean =>
  word !== undefined && /^\d+$/.test(word) && BigInt(word) <= ULONG_MAX;

/** Words after the ones a stanza takes: init stops at them with "unexpected token". */
function extra(s: Stanza, from: number, name: string): Problem[] {
  const word = s.args[from];
  if (word === undefined) return [];
  return [
    error(
      word.line,
      `unexpected '${word.text}' after \`${name}\`: it takes nothing more (quote a value that contains spaces)`,
    ),
  ];
}

function oneValue(example: string): StanzaCheck {
  return (s) => {
    if (s.args.length === 0) return [error(s.line, `\`${s.keyword}\` needs a value: write \`${example}\``)];
    if (s.args.length > 1) {
      return [
        error(
          s.args[1].line,
          `\`${s.keyword}\` takes exactly one value but got ${s.args.length}: quote it as one word, e.g. \`${example}\``,
        ),
      ];
    }
    return [];
  };
}

function someValues(example: string): StanzaCheck {
  return (s) =>
    s.args.length === 0 ? [error(s.line, `\`${s.keyword}\` needs at least one value: write \`${example}\``)] : [];
}

const noArgs: StanzaCheck = (s) => extra(s, 0, s.keyword);

function processCheck(s: Stanza): Problem[] {
  const name = s.keyword === 'exec' || s.keyword === 'script' ? s.keyword : `${s.keyword} ${s.mode ?? ''}`.trim();
  if (s.mode === undefined) {
    return [
      error(
        s.line,
        `\`${s.keyword}\` must be followed by \`exec COMMAND\` or by \`script\` ... \`end script\`, e.g. \`${s.keyword} exec /bin/mkdir -p /var/run/app\``,
      ),
    ];
  }
  if (s.mode === 'exec') {
    const command = s.command?.text ?? '';
    if (command === '')
      return [error(s.line, `\`${name}\` needs a command: write \`${name} /absolute/path/to/program ARGS\``)];
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=\S*/.exec(command);
    if (assignment !== null) {
      return [
        error(
          s.line,
          `\`${name}\` starts with the assignment '${assignment[0]}': upstart runs such a line as ` +
            `\`sh -e -c "exec ${assignment[0]} ..."\` and sh then tries to execute '${assignment[0]}'; ` +
            `set it with an \`env ${assignment[1]}=...\` stanza or use a script block`,
        ),
      ];
    }
    return [];
  }
  const problems: Problem[] = [];
  if (s.args.length > 0) {
    problems.push(
      error(
        s.line,
        `nothing may follow \`${name}\` on its line (found '${s.args[0].text}'): start the commands on the next line`,
      ),
    );
  }
  if (s.script !== undefined && !s.script.terminated) {
    problems.push(
      error(
        s.line,
        `\`${name}\` block has no \`end script\`: add a line \`end script\` after its last command (upstart 1.5 rejects the whole file)`,
      ),
    );
  }
  return problems;
}

function eventCheck(s: Stanza): Problem[] {
  const first = s.args[0];
  if (first?.text === 'on') return [];
  const got = first === undefined ? 'nothing' : `'${first.text}'`;
  return [
    error(
      s.line,
      `\`${s.keyword}\` must be followed by \`on EVENT...\` (got ${got}): write \`${s.keyword} on runlevel [${s.keyword === 'start' ? '2345' : '!2345'}]\``,
    ),
  ];
}

function expectCheck(s: Stanza): Problem[] {
  const value = s.args[0]?.text;
  if (value === undefined || !['fork', 'daemon', 'stop', 'none'].includes(value)) {
    const got = value === undefined ? 'without a value' : `'${value}'`;
    return [
      error(
        s.line,
        `\`expect\` ${got} is not valid in upstart 1.5: write \`expect fork\` (the process forks ` +
          `once), \`expect daemon\` (it forks twice), \`expect stop\` (it raises SIGSTOP when ` +
          `ready), or leave expect out for a process that stays in the foreground`,
      ),
    ];
  }
  return extra(s, 1, `expect ${value}`);
}

function killCheck(s: Stanza): Problem[] {
  const [kind, value] = s.args;
  const usage = 'write `kill timeout SECONDS` or `kill signal NAME`';
  if (kind === undefined) return [error(s.line, `\`kill\` needs a sub-stanza: ${usage}`)];
  if (kind.text === 'timeout') {
    if (!isCount(value?.text)) {
      return [
        error(
          s.line,
          `\`kill timeout\` needs a whole number of seconds >= 0${value ? ` (got '${value.text}')` : ''}: e.g. \`kill timeout 30\``,
        ),
      ];
    }
    return extra(s, 2, 'kill timeout N');
  }
  if (kind.text === 'signal') {
    if (value === undefined) return [error(s.line, '`kill signal` needs a signal name: e.g. `kill signal QUIT`')];
    if (/^\d+$/.test(value.text)) {
      return [
        error(
          s.line,
          `\`kill signal ${value.text}\`: upstart 1.5 stores a numeric signal as -1 and breaks when ` +
            `it stops the job (fixed in 1.6): write the name, e.g. \`kill signal TERM\``,
        ),
      ];
    }
    if (!isSignalName(value.text)) {
      return [error(s.line, `\`kill signal ${value.text}\`: unknown signal: write a name such as TERM, QUIT or INT`)];
    }
    return extra(s, 2, 'kill signal NAME');
  }
  return [error(s.line, `\`kill ${kind.text}\` is not a stanza of upstart 1.5: ${usage}`)];
}

function respawnCheck(s: Stanza): Problem[] {
  const [kind, count, interval] = s.args;
  if (kind === undefined) return [];
  if (kind.text !== 'limit') {
    return [
      error(
        s.line,
        `\`respawn ${kind.text}\` is not valid: write \`respawn\` alone, or \`respawn limit COUNT INTERVAL\``,
      ),
    ];
  }
  if (count?.text === 'unlimited') return extra(s, 2, 'respawn limit unlimited');
  if (!isCount(count?.text) || !isCount(interval?.text)) {
    return [
      error(
        s.line,
        '`respawn limit` needs COUNT and INTERVAL as whole numbers, e.g. `respawn limit 10 5` (10 respawns in 5 seconds), or `respawn limit unlimited`',
      ),
    ];
  }
  return extra(s, 3, 'respawn limit COUNT INTERVAL');
}

function normalCheck(s: Stanza): Problem[] {
  const [kind, ...values] = s.args;
  if (kind?.text !== 'exit')
    return [error(s.line, '`normal` must be `normal exit STATUS|SIGNAL...`, e.g. `normal exit 0 TERM`')];
  if (values.length === 0)
    return [error(s.line, '`normal exit` needs at least one exit status or signal name, e.g. `normal exit 0 TERM`')];
  return values
    .filter((v) => !isSignalName(v.text) && !isExitStatus(v.text))
    .map((v) =>
      error(
        v.line,
        `\`normal exit\`: '${v.text}' is neither an exit status nor a signal name: write e.g. \`normal exit 0 TERM\``,
      ),
    );
}

function consoleCheck(s: Stanza): Problem[] {
  const value = s.args[0]?.text;
  if (value === undefined || !['log', 'output', 'owner', 'none'].includes(value)) {
    return [
      error(
        s.line,
        `\`console${value ? ` ${value}` : ''}\` is not valid: write \`console log\` (output to ` +
          `/var/log/upstart/JOB.log), \`console output\`, \`console owner\` or \`console none\``,
      ),
    ];
  }
  return extra(s, 1, `console ${value}`);
}

function umaskCheck(s: Stanza): Problem[] {
  const value = s.args[0]?.text ?? '';
  if (!/^[0-7]+$/.test(value) || parseInt(value, 8) > 0o777) {
    return [error(s.line, `\`umask ${value}\` is not valid: it needs an octal mask up to 0777, e.g. \`umask 022\``)];
  }
  return extra(s, 1, 'umask');
}

function inRange(word: string | undefined, low: number, high: number): boolean {
  return word !== undefined && INTEGER.test(word) && Number(word) >= low && Number(word) <= high;
}

function niceCheck(s: Stanza): Problem[] {
  if (!inRange(s.args[0]?.text, -20, 19)) {
    return [error(s.line, '`nice` needs a whole number from -20 to 19, e.g. `nice 5`')];
  }
  return extra(s, 1, 'nice');
}

function oomCheck(s: Stanza): Problem[] {
  const [first, second] = s.args;
  if (first?.text === 'score') {
    if (second?.text !== 'never' && !inRange(second?.text, -1000, 1000)) {
      return [error(s.line, '`oom score` needs a number from -1000 to 1000 or `never`, e.g. `oom score -500`')];
    }
    return extra(s, 2, 'oom score');
  }
  if (first?.text !== 'never' && !inRange(first?.text, -17, 15)) {
    return [
      error(s.line, '`oom` needs `oom score N` (-1000..1000), `oom score never`, or the old form `oom N` (-17..15)'),
    ];
  }
  return extra(s, 1, 'oom');
}

const RESOURCES = [
  'as',
  'core',
  'cpu',
  'data',
  'fsize',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'sigpending',
  'stack',
];

function limitCheck(s: Stanza): Problem[] {
  const [resource, soft, hard] = s.args;
  if (resource === undefined || !RESOURCES.includes(resource.text)) {
    return [
      error(
        s.line,
        `\`limit ${resource?.text ?? ''}\`: unknown resource: write \`limit RESOURCE SOFT HARD\` ` +
          `with one of ${RESOURCES.join(', ')}, e.g. \`limit nofile 4096 4096\``,
      ),
    ];
  }
  const isLimit = (t: Token | undefined): boolean => t !== undefined && (t.text === 'unlimited' || isULong(t.text));
  if (!isLimit(soft) || !isLimit(hard)) {
    return [
      error(
        s.line,
        `\`limit ${resource.text}\` needs a SOFT and a HARD value, each a number or \`unlimited\`, e.g. \`limit ${resource.text} 4096 4096\``,
      ),
    ];
  }
  return extra(s, 3, `limit ${resource.text} SOFT HARD`);
}

// A Map, not an object literal: a stanza called `constructor` must stay unknown.
const CHECKS: ReadonlyMap<string, StanzaCheck> = new Map(
  Object.entries({
    instance: oneValue('instance $NAME'),
    description: oneValue('description "what this job does"'),
    author: oneValue('author "Name <address>"'),
    version: oneValue('version "1.0"'),
    usage: oneValue('usage "start JOB NAME=value"'),
    env: oneValue('env KEY=VALUE (quote a value with spaces: env KEY="a b")'),
    export: someValues('export KEY'),
    emits: someValues('emits EVENT'),
    start: eventCheck,
    stop: eventCheck,
    exec: processCheck,
    script: processCheck,
    'pre-start': processCheck,
    'post-start': processCheck,
    'pre-stop': processCheck,
    'post-stop': processCheck,
    expect: expectCheck,
    task: noArgs,
    kill: killCheck,
    respawn: respawnCheck,
    normal: normalCheck,
    console: consoleCheck,
    umask: umaskCheck,
    nice: niceCheck,
    oom: oomCheck,
    limit: limitCheck,
    chroot: oneValue('chroot /path/to/root'),
    chdir: oneValue('chdir /path/to/dir'),
    setuid: oneValue('setuid USERNAME'),
    setgid: oneValue('setgid GROUPNAME'),
    debug: noArgs,
    manual: noArgs,
  } satisfies Record<string, StanzaCheck>),
);

export const STANZA_NAMES: readonly string[] = [...CHECKS.keys()];

// Stanzas people copy from newer upstart documentation.
const LATER: ReadonlyMap<string, string> = new Map([
  [
    'reload',
    '`reload signal` is not in upstart 1.5 (added in 1.10): `initctl reload JOB` always sends ' +
      'SIGHUP to the main process; remove this line and make the process reload on HUP',
  ],
  [
    'apparmor',
    '`apparmor` is not in upstart 1.5 (added in 1.9): remove it, or load the profile with apparmor_parser in a pre-start script',
  ],
  ['cgroup', '`cgroup` is not in upstart 1.5 (added in 1.13): remove it'],
]);

function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

function unknown(s: Stanza): Problem {
  const later = LATER.get(s.keyword);
  if (later !== undefined) return error(s.line, later);
  const near = STANZA_NAMES.find((name) => distance(name, s.keyword) <= 2);
  const hint = near !== undefined ? `did you mean \`${near}\`? ` : '';
  return error(
    s.line,
    `unknown stanza '${s.keyword}': upstart 1.5 rejects the whole file; ${hint}valid stanzas are ${STANZA_NAMES.join(', ')}`,
  );
}

/** Checks one stanza's name and arguments against what init 1.5 parses. */
export function checkStanza(s: Stanza): Problem[] {
  const check = CHECKS.get(s.keyword);
  return check === undefined ? [unknown(s)] : check(s);
}
