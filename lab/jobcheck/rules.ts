// Checks that look at a whole job rather than one stanza: events, the socket
// bridge's side effects, and stanzas that silently replace one another.

import { EventMatch, readExpression } from './events';
import { execLookup, PathLookup, scriptLookups } from './shell';
import { checkSocketEvent } from './socket';
import { checkStanza } from './stanzas';
import { ParsedJob, Problem, Stanza } from './types';

/** Events a stock upstart 1.5 system (init, mountall, ifupdown, bridges) emits. */
export const BUILTIN_EVENTS: readonly string[] = [
  'startup',
  'runlevel',
  'started',
  'starting',
  'stopped',
  'stopping',
  'socket',
  'filesystem',
  'local-filesystems',
  'remote-filesystems',
  'virtual-filesystems',
  'all-swaps',
  'mounted',
  'mounting',
  'net-device-up',
  'net-device-down',
  'static-network-up',
  'control-alt-delete',
  'keyboard-request',
  'power-status-changed',
  'container',
];

export interface JobContext {
  /** Event names and `emits` patterns (which may use * ? [..]) known to be emitted. */
  knownEvents: readonly string[];
}

const error = (line: number, message: string): Problem => ({ line, severity: 'error', message });
const warning = (line: number, message: string): Problem => ({ line, severity: 'warning', message });

const PROCESS_KEYWORDS = new Set(['exec', 'script', 'pre-start', 'post-start', 'pre-stop', 'post-stop']);

/** `emits` may name events by fnmatch(3) pattern (upstart-udev-bridge.conf: `emits *-device-added`). */
function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    const close = c === '[' ? glob.indexOf(']', i + 2) : -1;
    if (c === '*') {
      source += '.*';
    } else if (c === '?') {
      source += '.';
    } else if (close > 0) {
      const body = glob.slice(i + 1, close);
      const negated = body.startsWith('!');
      source += `[${negated ? '^' : ''}${(negated ? body.slice(1) : body).replace(/[\\\]^]/g, '\\$&')}]`;
      i = close;
    } else {
      source += c.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}

function isKnownEvent(name: string, context: JobContext): boolean {
  if (name.includes('$')) return true;
  return [...BUILTIN_EVENTS, ...context.knownEvents].some((known) => known === name || globToRegExp(known).test(name));
}

/** What a stanza replaces when repeated; undefined when repeats add up (env, emits, ...). */
function replacementKey(s: Stanza): string | undefined {
  if (s.keyword === 'exec' || s.keyword === 'script') return 'main process';
  if (PROCESS_KEYWORDS.has(s.keyword)) return s.keyword;
  const sub = s.args[0]?.text;
  if (s.keyword === 'kill' || s.keyword === 'limit') return sub === undefined ? undefined : `${s.keyword} ${sub}`;
  if (s.keyword === 'respawn') return sub === 'limit' ? 'respawn limit' : undefined;
  const single = [
    'start',
    'stop',
    'description',
    'author',
    'version',
    'usage',
    'instance',
    'expect',
    'console',
    'umask',
    'nice',
    'oom',
    'chroot',
    'chdir',
    'setuid',
    'setgid',
  ];
  return single.includes(s.keyword) ? s.keyword : undefined;
}

function label(s: Stanza): string {
  if (s.mode === undefined) return s.keyword;
  return s.keyword === 'exec' || s.keyword === 'script' ? s.keyword : `${s.keyword} ${s.mode}`;
}

function replacements(stanzas: readonly Stanza[]): Problem[] {
  const seen = new Map<string, Stanza>();
  const problems: Problem[] = [];
  for (const s of stanzas) {
    const key = replacementKey(s);
    if (key === undefined) continue;
    const earlier = seen.get(key);
    seen.set(key, s);
    if (earlier === undefined) continue;
    if (PROCESS_KEYWORDS.has(s.keyword)) {
      problems.push(
        error(
          s.line,
          `\`${label(s)}\` replaces the ${key} \`${label(earlier)}\` of line ${earlier.line} ` +
            `(upstart 1.5 silently keeps only the last one): keep exactly one exec or script for it`,
        ),
      );
    } else if (s.keyword === 'start' || s.keyword === 'stop') {
      problems.push(
        warning(
          s.line,
          `this \`${s.keyword} on\` replaces the one on line ${earlier.line} (upstart keeps only the last): join the events with \`or\` in one stanza`,
        ),
      );
    } else {
      problems.push(
        warning(
          s.line,
          `\`${key}\` on line ${s.line} replaces the one on line ${earlier.line} (upstart keeps only the last): remove one of them`,
        ),
      );
    }
  }
  return problems;
}

function shape(stanzas: readonly Stanza[]): Problem[] {
  const problems: Problem[] = [];
  // A job with only pre-start/post-stop is a known idiom (a state holder,
  // e.g. 12.04's container-detect.conf); a job with no process at all is not.
  if (!stanzas.some((s) => PROCESS_KEYWORDS.has(s.keyword))) {
    problems.push(
      warning(
        1,
        'the job runs nothing: no `exec`, `script` or pre-/post- process; upstart 1.5 accepts it, ' +
          'but it only changes state: add `exec /absolute/program ARGS` or a script block',
      ),
    );
  }
  const limit = stanzas.find((s) => s.keyword === 'respawn' && s.args[0]?.text === 'limit');
  if (limit !== undefined && !stanzas.some((s) => s.keyword === 'respawn' && s.args.length === 0)) {
    problems.push(warning(limit.line, '`respawn limit` alone does not turn respawning on: add a line `respawn`'));
  }
  return problems;
}

/** A `socket` match that the bridge's PROTO=unix events (carrying PATH=) can satisfy. */
function feedsSocketPath(event: EventMatch): boolean {
  return event.name === 'socket' && !event.args.some((a) => a.text === 'PROTO=inet');
}

function pathLookups(stanzas: readonly Stanza[]): PathLookup[] {
  const lookups: PathLookup[] = [];
  for (const s of stanzas) {
    if (s.mode === 'exec' && s.command !== undefined) {
      const lookup = execLookup(s.command.text, s.line);
      if (lookup !== undefined) lookups.push(lookup);
    } else if (s.mode === 'script' && s.script !== undefined) {
      lookups.push(...scriptLookups(s.script.body));
    }
  }
  return lookups;
}

function bridgeRules(stanzas: readonly Stanza[], socketEvent: EventMatch): Problem[] {
  const problems = pathLookups(stanzas).map(({ word, line, inScript }) => {
    const fix = inScript
      ? 'write its absolute path, or begin the script with `export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`'
      : `write its absolute path (\`command -v ${word}\` on the target shows it), or move the command into a script block that sets PATH first`;
    return error(
      line,
      `'${word}' is found through PATH, but a job started by \`start on socket\` (line ` +
        `${socketEvent.line}) gets PATH=<socket path> from the bridge's event, replacing its own ` +
        `PATH (an \`env PATH=\` stanza too): ${fix}`,
    );
  });
  const respawn = stanzas.find((s) => s.keyword === 'respawn' && s.args.length === 0);
  if (respawn !== undefined && socketEvent.args.length > 0) {
    problems.push(
      warning(
        respawn.line,
        '`respawn` in a job started by the socket bridge: init closes its copy of the listening ' +
          'socket once the job runs, so a respawned process finds UPSTART_FDS naming a closed ' +
          'descriptor: drop respawn and let the next connection start the job again, or let the ' +
          'process bind the socket itself',
      ),
    );
  }
  return problems;
}

export function checkParsedJob(job: ParsedJob, context: JobContext): Problem[] {
  const problems: Problem[] = [...job.problems];
  for (const s of job.stanzas) problems.push(...checkStanza(s));
  problems.push(...replacements(job.stanzas), ...shape(job.stanzas));

  let socketEvent: EventMatch | undefined;
  for (const s of job.stanzas) {
    if ((s.keyword !== 'start' && s.keyword !== 'stop') || s.args[0]?.text !== 'on') continue;
    const expression = readExpression(s);
    problems.push(...expression.problems);
    for (const event of expression.events) {
      if (!isKnownEvent(event.name, context)) {
        problems.push(
          warning(
            event.line,
            `unknown event '${event.name}': neither upstart 1.5 nor any checked job (\`emits\`) emits ` +
              `it, so this never fires: check the spelling, or add \`emits ${event.name}\` to the job ` +
              `that emits it`,
          ),
        );
      }
      if (event.name === 'socket') problems.push(...checkSocketEvent(event));
      if (s.keyword === 'start' && feedsSocketPath(event)) socketEvent ??= event;
    }
  }
  if (socketEvent !== undefined) problems.push(...bridgeRules(job.stanzas, socketEvent));
  return problems;
}
