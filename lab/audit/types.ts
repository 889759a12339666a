import type { Flavour } from '../flavours';

/**
 * The shapes `lab audit` passes between its parts. The model is plain data read from the
 * team's files, so every rule is a pure function of it and can be tested without a file.
 */

/** Where a finding's proof is: a file as the person named it, a 1-based line, that line's text. */
export interface Evidence {
  file: string;
  line: number;
  text: string;
}

/** A value read from a file, with where it was read. */
export interface At<T> {
  value: T;
  file: string;
  line: number;
  text: string;
}

export type FileKind =
  'upstart-job' | 'systemd-unit' | 'unicorn-config' | 'nginx-site' | 'rackup' | 'script' | 'gemfile';

export interface TeamFile {
  /** the path as given (or DIR/name): what every message names */
  path: string;
  kind: FileKind;
  text: string;
}

/** How the job or unit runs the app. */
/** direct: unicorn itself (or through bundle exec); wrapper: unicorn-wrapper in front of it */
export type Runner = 'direct' | 'wrapper' | 'herder' | 'other';

export interface AppCommand {
  runner: Runner;
  /** the command's words, quotes removed, variables left as written */
  words: string[];
  at: Evidence;
  /** unicorn's own switches (after `--` for the wrapper) */
  unicorn?: {
    config?: string;
    pid?: string;
    listen: string[];
    daemonize: boolean;
    rackup?: string;
  };
  /** the wrapper's --pid and --listen-arg */
  wrapper?: { pid?: string; listenArg?: string; stopTimeout?: number };
  bundleExec: boolean;
  keepFds: boolean;
  /** UNICORN_FD set from the bridge's UPSTART_FDS (the seed's hand-off) */
  adoptsBridgeFd: boolean;
}

export interface JobModel {
  file: string;
  text: string;
  lines: string[];
  /** `start on socket PROTO=unix PATH=...`: the socket the bridge makes */
  bridgeSocket?: At<string>;
  respawn?: Evidence;
  expect?: At<string>;
  chdir?: At<string>;
  env: Record<string, At<string>>;
  killTimeout?: At<number>;
  main?: AppCommand;
  /** every command the bridge's PATH would break: word and line */
  pathLookups: Array<{ word: string; at: Evidence }>;
}

export interface UnitModel {
  file: string;
  text: string;
  lines: string[];
  /** section -> key -> every assignment, in order (the last one counts for single values) */
  values: Record<string, Record<string, Array<At<string>>>>;
}

export interface ServiceModel extends UnitModel {
  main?: AppCommand;
  /** a socket unit in the files starts it (LISTEN_FDS) */
  socketActivated: boolean;
}

export interface ListenerFact {
  address: string;
  backlog?: number;
  line: number;
}

/** What unicorn's own Configurator made of the config, with the line of each setting. */
export interface ConfigFacts {
  file: string;
  /** false: it did not load; error says why */
  loaded: boolean;
  error?: string;
  pid?: At<string>;
  listeners: ListenerFact[];
  preloadApp: { value: boolean; line?: number };
  workingDirectory?: At<string>;
  beforeFork?: { line: number; custom: boolean; quitsOldbin: boolean | null; probe: string };
  beforeExec?: { line: number; custom: boolean; setsBundleGemfile: boolean };
}

export interface SiteModel {
  file: string;
  lines: string[];
  /** `server unix:/path` and `proxy_pass http://unix:/path` */
  unixUpstreams: Array<At<string>>;
  /** `server 127.0.0.1:8080` and proxy_pass to a host:port */
  tcpUpstreams: Array<At<string>>;
}

export interface AuditModel {
  flavour: Flavour;
  job?: JobModel;
  /** other jobs in the folder (helpers such as a socket-permissions task) */
  helperJobs: JobModel[];
  service?: ServiceModel;
  socket?: UnitModel;
  config?: ConfigFacts;
  configText?: string;
  site?: SiteModel;
  /** scripts the job or unit runs (a herder), read from the folder */
  scripts: Array<{ file: string; text: string }>;
  /** `BUNDLED WITH` of a Gemfile.lock in the files */
  bundlerVersion?: string;
}

/** What a fix changes: one file, as a unified diff, and the recipe file it comes from. */
export interface Fix {
  file: string;
  recipe: string;
  diff: string;
}

/** A way to fix, asked for by a rule; the fix builder turns it into a diff from the recipe. */
export type FixKind =
  | 'job-to-recipe'
  | 'service-to-recipe'
  | 'add-socket-unit'
  | 'add-socket-permissions'
  | 'add-bridge-socket-refresh'
  | 'config-pid'
  | 'config-before-fork'
  | 'config-preload'
  | 'config-symlink';

export interface Finding {
  rule: string;
  /** a catalogue scenario (lab/scenarios/catalogue.ts) that shows this failure */
  scenario: string;
  /** what happens to this team, in a sentence */
  what: string;
  evidence: Evidence[];
  fixKind: FixKind;
  /** the diffs, from the recipe as it is today (empty: the recipe has nothing for it) */
  fixes: Fix[];
}

/** A tool's or a cross-file check's result: not a catalogue failure, but a reason the config fails. */
export interface CheckResult {
  tool: string;
  file: string;
  status: 'ok' | 'error' | 'skipped';
  /** file:line: message lines, or why it was skipped */
  messages: string[];
}

export interface AuditReport {
  flavour: Flavour;
  /** where the init was read from */
  flavourFrom: string;
  files: Array<{ path: string; kind: FileKind }>;
  ignored: string[];
  checks: CheckResult[];
  findings: Finding[];
  /** rules that could not be judged, and why */
  notJudged: string[];
  seconds: number;
}
