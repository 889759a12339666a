import type { AuditModel, Evidence, Finding, FixKind } from './types';
import { unitValue } from './units';

/**
 * The rules that map a configuration to the catalogue: each a pure function of the model,
 * naming the scenario (lab/scenarios/catalogue.ts) that reproduces what it predicts, with the
 * lines that prove it. A rule that needs something it does not have (a config that did not
 * load) says so instead of passing.
 */

export type RuleResult = Finding[] | { notJudged: string };

export interface Rule {
  name: string;
  scenario: string;
  /** one line for the README and --help */
  summary: string;
  check(m: AuditModel): RuleResult;
}

const none: Finding[] = [];

/** /var/run is a link to /run on every system the lab runs. */
export const samePath = (a: string, b: string): boolean => norm(a) === norm(b);
const norm = (p: string): string =>
  p
    .replace(/^unix:/, '')
    .replace(/^\/var\/run\//, '/run/')
    .replace(/\/+$/, '');

function finding(rule: Rule, what: string, evidence: Array<Evidence | undefined>, fixKind: FixKind): Finding {
  return {
    rule: rule.name,
    scenario: rule.scenario,
    what,
    evidence: evidence.filter((e): e is Evidence => e !== undefined),
    fixKind,
    fixes: [],
  };
}

const ev = (x: { file: string; line: number; text: string } | undefined): Evidence | undefined =>
  x === undefined ? undefined : { file: x.file, line: x.line, text: x.text };

/** The app's command, from the job or the service. */
const mainOf = (m: AuditModel) => m.job?.main ?? m.service?.main;
const fixFor = (m: AuditModel): FixKind => (m.job ? 'job-to-recipe' : 'service-to-recipe');

/** The socket init makes for the app: the bridge's PATH= or the socket unit's ListenStream=. */
export function initSocket(m: AuditModel): { path: string; at: Evidence } | undefined {
  if (m.job?.bridgeSocket) return { path: m.job.bridgeSocket.value, at: ev(m.job.bridgeSocket)! };
  const ls = m.socket ? unitValue(m.socket, 'Socket', 'ListenStream') : undefined;
  if (ls && ls.value.startsWith('/')) return { path: ls.value, at: ev(ls)! };
  return undefined;
}

export const execRespawn: Rule = {
  name: 'exec-respawn',
  scenario: 'unicorn-exec-respawn',
  summary: '`exec unicorn` (foreground) + `respawn` in an upstart job',
  check(m) {
    const main = m.job?.main;
    if (!m.job?.respawn || main?.runner !== 'direct' || main.unicorn?.daemonize) return none;
    return [
      finding(
        this,
        'upstart tracks the first master; a USR2 deploy re-executes it under a new pid and the old one exits, so upstart ' +
          'takes that for a crash and respawns unicorns that refuse to start, while the new master serves on as an orphan ' +
          '(parent PID 1) that `initctl stop` cannot stop',
        [main.at, m.job.respawn],
        'job-to-recipe',
      ),
    ];
  },
};

export const daemonExpect: Rule = {
  name: 'daemon-expect',
  scenario: 'unicorn-daemon-expect',
  summary: '`unicorn -D` in an upstart job (with or without `expect fork|daemon`)',
  check(m) {
    const main = m.job?.main;
    if (main?.runner !== 'direct' || !main.unicorn?.daemonize) return none;
    const mode = m.job?.expect?.value;
    const what =
      mode === 'fork'
        ? '`expect fork` follows one fork and unicorn -D forks twice: upstart tracks the intermediate process, ' +
          'so the job reads stop/waiting within a second while unicorn serves, and `initctl stop` answers "Unknown instance"'
        : mode === 'daemon'
          ? '`expect daemon` tracks the master until the first USR2; then the job ends and the new master serves on unsupervised (parent PID 1)'
          : 'without `expect`, upstart tracks the launcher that -D makes exit once the master is up: the job ends at once and the master runs unsupervised';
    return [finding(this, what, [main.at, ev(m.job?.expect)], 'job-to-recipe')];
  },
};

export const seedPoc: Rule = {
  name: 'bridge-unicorn-direct',
  scenario: 'seed-poc',
  summary: "unicorn started by the socket bridge itself (the seed's PoC: UNICORN_FD=$UPSTART_FDS)",
  check(m) {
    const main = m.job?.main;
    if (!m.job?.bridgeSocket || main?.runner !== 'direct' || main.unicorn?.daemonize) return none;
    return [
      finding(
        this,
        'after the first USR2 deploy upstart loses the master (stop/waiting while the site is up), `initctl stop` no longer ' +
          'stops it, and every new connection makes the bridge start a unicorn that refuses to run',
        [ev(m.job.bridgeSocket), main.at],
        'job-to-recipe',
      ),
    ];
  },
};

export const systemdForking: Rule = {
  name: 'forking-without-pidfile',
  scenario: 'unicorn-systemd-forking',
  summary: 'systemd `Type=forking` without `PIDFile=` (or with `KillMode=process`)',
  check(m) {
    const s = m.service;
    const type = s ? unitValue(s, 'Service', 'Type') : undefined;
    if (!s || type?.value !== 'forking') return none;
    const out: Finding[] = [];
    const pidFile = unitValue(s, 'Service', 'PIDFile');
    const reload = unitValue(s, 'Service', 'ExecReload');
    if (!pidFile || pidFile.value === '')
      out.push(
        finding(
          this,
          'without PIDFile= systemd guesses the main pid once, at start; when a reload (USR2) replaces the master it counts the ' +
            'service as stopped and kills the new master with it (257 of 333 requests got 502 in the lab)',
          [ev(type), ev(pidFile), ev(reload)],
          'service-to-recipe',
        ),
      );
    const killMode = unitValue(s, 'Service', 'KillMode');
    if (killMode?.value === 'process' && (!pidFile || pidFile.value === ''))
      out.push(
        finding(
          this,
          'KillMode=process on top: the re-executed master is left running, orphaned behind a socket file systemd deleted',
          [ev(killMode), ev(type)],
          'service-to-recipe',
        ),
      );
    return out;
  },
};

export const noPid: Rule = {
  name: 'no-pid-file',
  scenario: 'wrapper-fix',
  summary: "no `pid` in unicorn's config (or one the wrapper is not told about): the wrapper cannot follow the master",
  check(m) {
    const c = m.config;
    if (!c) return none;
    if (!c.loaded) return { notJudged: `${c.file} did not load, so its pid file is unknown` };
    const main = mainOf(m);
    const cliPid = main?.unicorn?.pid;
    if (!c.pid && !cliPid)
      return [
        finding(
          this,
          'unicorn writes no pid file: unicorn-wrapper (the fix) follows each new master through it and refuses to start ' +
            'without one (exit 78), and nothing else can tell which master is current after a USR2',
          [{ file: c.file, line: 0, text: 'no `pid` setting in the file' }],
          'config-pid',
        ),
      ];
    const wrapperPid = main?.runner === 'wrapper' ? main.wrapper?.pid : undefined;
    const written = cliPid ?? c.pid?.value;
    if (wrapperPid && written && !samePath(wrapperPid, written))
      return [
        finding(
          this,
          `the wrapper follows ${wrapperPid} but unicorn writes ${written}: the wrapper never sees a master (exit 73 after --pid-timeout)`,
          [main?.at, ev(c.pid)],
          'config-pid',
        ),
      ];
    return none;
  },
};

export const noQuitOldbin: Rule = {
  name: 'no-quit-oldbin',
  scenario: 'unicorn-herder-sleeps',
  summary: '`before_fork` does not QUIT the `.oldbin` master: two generations serve after a USR2',
  check(m) {
    const c = m.config;
    if (!c) return none;
    if (!c.loaded) return { notJudged: `${c.file} did not load, so its before_fork hook is unknown` };
    const bf = c.beforeFork;
    if (bf && bf.quitsOldbin === null)
      return { notJudged: `${c.file}:${bf.line}: before_fork could not be run with a stand-in server (${bf.probe})` };
    if (bf?.quitsOldbin) return none;
    return [
      finding(
        this,
        mainOf(m)?.runner === 'herder'
          ? 'only the herder QUITs the old master, after its fixed wait; once the wrapper replaces it (the fix), nobody ' +
              'would: old and new release would answer side by side, and the wrapper refuses the next USR2 meanwhile'
          : 'after a USR2 nobody QUITs the old master: old and new release answer side by side (as the herder scenario ' +
              'shows for its fixed wait), until someone QUITs it by hand; unicorn-wrapper refuses the next USR2 meanwhile',
        [
          bf?.custom
            ? {
                file: c.file,
                line: bf.line,
                text: `${m.configText?.split('\n')[bf.line - 1] ?? ''}  (run with the job's environment: sent no QUIT to .oldbin)`,
              }
            : { file: c.file, line: 0, text: 'no `before_fork` hook in the file' },
        ],
        'config-before-fork',
      ),
    ];
  },
};

export const coldWorkers: Rule = {
  name: 'cold-workers-small-backlog',
  scenario: 'unicorn-cold-workers',
  summary: '`preload_app false` with a listen backlog below 1024',
  check(m) {
    const c = m.config;
    if (!c) return none;
    if (!c.loaded) return { notJudged: `${c.file} did not load, so preload_app and the backlog are unknown` };
    if (c.preloadApp.value) return none;
    const small = c.listeners.filter((l) => l.backlog !== undefined && l.backlog < 1024);
    if (small.length === 0) return none;
    const lines = m.configText?.split('\n') ?? [];
    return [
      finding(
        this,
        'with preload_app false the new workers load the app only after before_fork has QUIT the old master: nobody accepts ' +
          `meanwhile and a backlog of ${small[0].backlog} fills, so nginx answers 502 (91 to 92 per deploy in the lab)`,
        [
          c.preloadApp.line
            ? { file: c.file, line: c.preloadApp.line, text: lines[c.preloadApp.line - 1] ?? '' }
            : { file: c.file, line: 0, text: "no `preload_app`: unicorn's default is false" },
          ...small.map((l) => ({ file: c.file, line: l.line, text: lines[l.line - 1] ?? '' })),
        ],
        'config-preload',
      ),
    ];
  },
};

const CURRENT = /^(.*\/current)(\/|$)/;

export const symlinkedReleases: Rule = {
  name: 'working-directory-not-on-symlink',
  scenario: 'unicorn-symlinked-releases',
  summary: 'a Capistrano `current` link without `working_directory` on it (and BUNDLE_GEMFILE reset in before_exec)',
  check(m) {
    const c = m.config;
    const main = mainOf(m);
    const wd = m.job?.chdir ?? (m.service ? unitValue(m.service, 'Service', 'WorkingDirectory') : undefined);
    const paths = [wd?.value, main?.unicorn?.config, main?.unicorn?.rackup, c?.workingDirectory?.value].filter(
      (p): p is string => p !== undefined,
    );
    const link = paths.map((p) => CURRENT.exec(p)?.[1]).find((p) => p !== undefined);
    const released =
      c?.workingDirectory && /\/releases\/[^/]+/.test(c.workingDirectory.value) ? c.workingDirectory : undefined;
    if (link === undefined && !released) return none;
    if (!c) return none;
    if (!c.loaded) return { notJudged: `${c.file} did not load, so its working_directory is unknown` };
    const out: Finding[] = [];
    if (released || !c.workingDirectory || !samePath(c.workingDirectory.value, link ?? '')) {
      out.push(
        finding(
          this,
          `neither init sets PWD to ${link ?? 'the link'}, so each USR2 re-executes unicorn in the release it first started in: ` +
            'a new release is never loaded, and once the old one is pruned the USR2 fails',
          [
            ev(wd),
            released
              ? ev(released)
              : (ev(c.workingDirectory) ?? { file: c.file, line: 0, text: 'no `working_directory` in the file' }),
          ],
          'config-symlink',
        ),
      );
    }
    if (main?.bundleExec && !c.beforeExec?.setsBundleGemfile)
      out.push(
        finding(
          this,
          '`bundle exec` resolved BUNDLE_GEMFILE in the first release, and every re-executed master inherits it: reset it in before_exec',
          [
            main.at,
            c.beforeExec?.custom
              ? { file: c.file, line: c.beforeExec.line, text: m.configText?.split('\n')[c.beforeExec.line - 1] ?? '' }
              : undefined,
          ],
          'config-symlink',
        ),
      );
    return out;
  },
};

export const socketPermissions: Rule = {
  name: 'bridge-socket-0755',
  scenario: 'socket-permissions',
  summary: "a socket the bridge makes at boot (root 0755) or a socket unit closed to nginx's www-data",
  check(m) {
    if (m.job?.bridgeSocket) {
      const sock = m.job.bridgeSocket.value;
      const handed = [m.job, ...m.helperJobs].some(
        (j) =>
          /\b(chmod|chgrp|chown)\b/.test(j.text) &&
          (j.text.includes(sock) || j.text.includes(sock.replace(/^\/var\/run\//, '/run/'))),
      );
      if (handed) return none;
      return [
        finding(
          this,
          `at boot the bridge makes ${sock} root:root 0755 and nginx's www-data workers cannot connect: every request is a 502 ` +
            '(a job added after boot gets 0777, which is why it worked when you tried it by hand)',
          [ev(m.job.bridgeSocket)],
          'add-socket-permissions',
        ),
      ];
    }
    if (m.socket) {
      const mode = unitValue(m.socket, 'Socket', 'SocketMode');
      const user = unitValue(m.socket, 'Socket', 'SocketUser')?.value;
      const group = unitValue(m.socket, 'Socket', 'SocketGroup')?.value;
      const bits = mode ? parseInt(mode.value, 8) : 0o666;
      const open =
        (bits & 0o002) !== 0 ||
        (group === 'www-data' && (bits & 0o020) !== 0) ||
        (user === 'www-data' && (bits & 0o200) !== 0);
      if (open) return none;
      return [
        finding(
          this,
          `SocketMode=${mode?.value} with neither SocketUser= nor SocketGroup= www-data: nginx's www-data workers cannot connect (502)`,
          [ev(mode)],
          'add-socket-unit',
        ),
      ];
    }
    return none;
  },
};

export const adoptedSocketHup: Rule = {
  name: 'adopted-socket-not-named',
  scenario: 'unicorn-initctl-reload',
  summary: 'unicorn adopts the init socket but neither `-l` nor `listen` names it: the next HUP closes it',
  check(m) {
    const main = mainOf(m);
    const sock = initSocket(m);
    if (!main?.unicorn || !sock) return none;
    const adopts =
      main.runner === 'direct'
        ? m.job
          ? main.adoptsBridgeFd
          : m.service?.socketActivated === true
        : main.runner === 'wrapper' && main.wrapper?.listenArg === 'never';
    if (!adopts) return none;
    if (main.unicorn.listen.some((l) => samePath(l, sock.path))) return none;
    const c = m.config;
    if (c && !c.loaded) return { notJudged: `${c.file} did not load, so its listeners are unknown` };
    if (c?.listeners.some((l) => samePath(l.address, sock.path))) return none;
    return [
      finding(
        this,
        `unicorn adopts ${sock.path} from init, but neither -l nor its config names it: the next HUP ` +
          `(${m.job ? '`initctl reload`' : '`systemctl reload`'}) closes it, and requests hang until nginx's 504`,
        [sock.at, main.at],
        fixFor(m),
      ),
    ];
  },
};

export const bridgePath: Rule = {
  name: 'bridge-path',
  scenario: 'unicorn-bridge-traps',
  summary: 'a command found through PATH in a job the bridge starts (the bridge sets PATH to the socket path)',
  check(m) {
    const j = m.job;
    if (!j?.bridgeSocket || j.pathLookups.length === 0) return none;
    return [
      finding(
        this,
        `the bridge replaces the job's PATH with ${j.bridgeSocket.value}: ${[...new Set(j.pathLookups.map((l) => `'${l.word}'`))].join(', ')} ` +
          'cannot be found and the job fails at once',
        j.pathLookups.map((l) => l.at),
        'job-to-recipe',
      ),
    ];
  },
};

export const bridgeRestart: Rule = {
  name: 'bridge-restart-stale-socket',
  scenario: 'unicorn-bridge-traps',
  summary: 'a bridge job with no job that removes its socket file when the bridge restarts',
  check(m) {
    const j = m.job;
    if (!j?.bridgeSocket) return none;
    // A job held by `starting upstart-socket-bridge` that removes a socket file first.
    const refreshes = [j, ...m.helperJobs].some(
      (h) =>
        /^\s*start\s+on\b[^\n]*\bstarting\s+upstart-socket-bridge\b/m.test(h.text) &&
        /\brm\s+(-\w+\s+)*\S*sock/.test(h.text),
    );
    if (refreshes) return none;
    return [
      finding(
        this,
        `upstart 1.5's bridge never unlinks ${j.bridgeSocket.value}: after a restart of upstart-socket-bridge (a package ` +
          "upgrade, its respawn) the new bridge cannot bind it, and the next time unicorn stops nginx gets 'Connection " +
          "refused' for good",
        [ev(j.bridgeSocket)],
        'add-bridge-socket-refresh',
      ),
    ];
  },
};

/** Is a version at least 2.2.26, from which bundler keeps inherited fds by default? */
export function keepsFdsByDefault(version: string | undefined): boolean {
  if (version === undefined) return false;
  const [a, b, c] = version.split('.').map((n) => parseInt(n, 10) || 0);
  return a > 2 || (a === 2 && (b > 2 || (b === 2 && c >= 26)));
}

export const bundleFds: Rule = {
  name: 'bundle-exec-closes-fd',
  scenario: 'unicorn-bridge-traps',
  summary: '`bundle exec` without `--keep-file-descriptors` on an inherited socket (bundler before 2.2.26)',
  check(m) {
    const main = mainOf(m);
    const inherits =
      (m.job?.bridgeSocket !== undefined || m.service?.socketActivated === true) && main?.runner !== 'herder';
    if (!inherits || !main?.bundleExec || main.keepFds || keepsFdsByDefault(m.bundlerVersion)) return none;
    return [
      finding(
        this,
        `\`bundle exec\` closes the socket init handed over before unicorn sees it (bundler ${m.bundlerVersion ?? 'of unknown version; before 2.2.26'} ` +
          'does): unicorn dies with EBADF and requests hang. Add --keep-file-descriptors (harmless on newer bundlers)',
        [main.at],
        fixFor(m),
      ),
    ];
  },
};

export const herder: Rule = {
  name: 'herder-fixed-waits',
  scenario: 'unicorn-herder-sleeps',
  summary: 'a herder (unicornherder, a shell shepherd) in front of `unicorn -D`, with fixed waits',
  check(m) {
    const main = mainOf(m);
    if (main?.runner !== 'herder') return none;
    const waits: Evidence[] = [];
    for (const s of m.scripts)
      s.text.split('\n').forEach((t, i) => {
        if (/^\s*[A-Z_]*(WAIT|TIMEOUT|SLEEP)[A-Z_]*=\d+/.test(t) || /\bsleep\s+[1-9]\d*\s*$/.test(t))
          waits.push({ file: s.file, line: i + 1, text: t });
      });
    return [
      finding(
        this,
        'a herder waits fixed times: a boot slower than its wait is given up (upstart respawns herders while the first ' +
          'unicorn serves unmanaged), and its reload QUITs the old master after a fixed sleep, ready or not (a gap, or two ' +
          'releases at once)',
        [main.at, ...waits.slice(0, 4)],
        fixFor(m),
      ),
    ];
  },
};

export const respawnBridge: Rule = {
  name: 'respawn-bridge-job',
  scenario: 'master-killed-respawn',
  summary: '`respawn` in a job the socket bridge starts',
  check(m) {
    const j = m.job;
    if (!j?.bridgeSocket || !j.respawn) return none;
    return [
      finding(
        this,
        "init closes its copy of the bridge's socket once the job runs: a respawned master finds UPSTART_FDS naming a closed " +
          'descriptor (or another connection) and cannot serve',
        [j.respawn, ev(j.bridgeSocket)],
        'job-to-recipe',
      ),
    ];
  },
};

export const killTimeout: Rule = {
  name: 'kill-timeout-below-stop-timeout',
  scenario: 'wrapper-fix',
  summary: "upstart's `kill timeout` not above the wrapper's --stop-timeout + 2 s",
  check(m) {
    const j = m.job;
    const main = j?.main;
    if (main?.runner !== 'wrapper') return none;
    const kt = j?.killTimeout?.value ?? 5;
    const st = main.wrapper?.stopTimeout ?? 30;
    if (kt > st + 2) return none;
    return [
      finding(
        this,
        `upstart KILLs the job's group ${kt} s after the stop signal, before the wrapper's own deadline (${st} s + 2): a stop ` +
          'that takes longer loses its events and leaves stale pid files; raise `kill timeout` above it or lower --stop-timeout',
        [
          j?.killTimeout
            ? ev(j.killTimeout)
            : { file: j!.file, line: 0, text: 'no `kill timeout`: upstart 1.5 waits 5 s' },
          main.at,
        ],
        'job-to-recipe',
      ),
    ];
  },
};

/** Every rule, in the order findings are listed. */
export const RULES: readonly Rule[] = [
  seedPoc,
  execRespawn,
  daemonExpect,
  herder,
  systemdForking,
  adoptedSocketHup,
  socketPermissions,
  bridgePath,
  bridgeRestart,
  bundleFds,
  respawnBridge,
  noPid,
  noQuitOldbin,
  coldWorkers,
  symlinkedReleases,
  killTimeout,
];

export function runRules(m: AuditModel, rules: readonly Rule[] = RULES): { findings: Finding[]; notJudged: string[] } {
  const findings: Finding[] = [];
  const notJudged: string[] = [];
  for (const r of rules) {
    const out = r.check(m);
    if (Array.isArray(out)) findings.push(...out);
    else notJudged.push(`${r.name} (${r.scenario}): ${out.notJudged}`);
  }
  return { findings, notJudged };
}
