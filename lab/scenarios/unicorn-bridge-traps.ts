import type { BootSpec } from '../engine/boot-spec';
import { checkJobFile } from '../jobcheck';
import { unicornBoot } from '../servers/unicorn';
import type { ScenarioContext } from '../session/context';
import { sleep } from '../session/context';
import { Judge } from '../session/judge';
import { initState } from '../session/observe';
import { type Scenario, perInit } from '../session/types';
import {
  shippedConf,
  LIFECYCLE_JOB,
  LIFECYCLE_JOB_TEXT,
  type StretchFacts,
  Stretches,
  jobEvents,
  okPercent,
  okRatio,
  socketHoldersScript,
  stretch,
  stretchLine,
  waitFor200,
  IN_PRODUCTION,
} from '../session/unicorn-common';

const STANDARD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const SOCK = '/var/run/unicorn/unicorn.sock';

/**
 * A bridge job as people wrote it from the PoC: unicorn called by its name, as a shell would
 * find it (`bundle exec unicorn` fails the same way: `bundle` is looked up through PATH).
 */
export function bareNameJob(): string {
  return `# Written by the lab (unicorn-bridge-traps): a socket-bridge job calling unicorn by its name.
description "unicorn behind the socket bridge, called by name"

start on socket PROTO=unix PATH=${SOCK}

console log

chdir /opt/unicorn/app

script
    export UNICORN_FD="$UPSTART_FDS"
    exec unicorn -E production -c /opt/unicorn/app/unicorn.rb -l ${SOCK} /opt/unicorn/app/config.ru
end script
`;
}

/** The one-line fix: the script sets PATH itself before anything is looked up. */
export function pathFixedJob(): string {
  const job = bareNameJob().replace('\nscript\n', `\nscript\n    export PATH=${STANDARD_PATH}\n`);
  if (job === bareNameJob()) throw new Error('the bare-name job has no script block to fix');
  return job;
}

/** Debian's ruby3.1 names bundler's command bundle3.1 (ruby-bundler, not in the images, adds `bundle`). */
const BUNDLE = 'bundle3.1';
const APP = '/opt/unicorn/app';

/**
 * The PATH-fixed job running unicorn through `bundle exec`, as a Rails app's job does. With
 * `keep` false it passes --no-keep-file-descriptors: what bundler before 2.2.26 did with no flag
 * at all (its exec.rb: `Kernel.exec(..., close_others: !keep_file_descriptors)`, keep defaulting
 * to false), so the images' bundler 2.3 shows the old default by being asked for it.
 */
export function bundleExecJob(keep: boolean): string {
  const flag = keep ? '' : ' --no-keep-file-descriptors';
  return `# Written by the lab (unicorn-bridge-traps): a socket-bridge job running unicorn through bundle exec${flag}.
description "unicorn behind the socket bridge, through bundle exec${flag}"

start on socket PROTO=unix PATH=${SOCK}

console log

chdir ${APP}

script
    export PATH=${STANDARD_PATH}
    export UNICORN_FD="$UPSTART_FDS"
    exec ${BUNDLE} exec${flag} unicorn -E production -c ${APP}/unicorn.rb -l ${SOCK} ${APP}/config.ru
end script
`;
}

const BARE = 'unicorn called by name';
const PATH_FIXED = 'fix 1: export PATH in the script';
const BRIDGE_RESTARTED = 'bridge restarted, unicorn still running';
const STRANDED = 'unicorn stopped: nobody listens';
const BRIDGE_FIXED = 'fix 2: rm the socket file, restart the bridge';
const BUNDLE_CLOSED = 'bundle exec --no-keep-file-descriptors (the old default)';
const BUNDLE_KEPT = 'bundle exec (bundler 2.3: fds kept)';

type F = StretchFacts & {
  /** what the lab's job checker (`lab apply`) says of each job: its errors */
  checkerOnBareName: string[];
  checkerOnFixed: string[];
  /** upstart's starts of the job while it was called by name, and its state then */
  startsWhileBare: number;
  jobWhileBare: string;
  /** the job log's "unicorn: not found" lines (the shell's own words: a note, not judged) */
  notFoundLines: number;
  /** ms from the fixed job's install to the first 200 */
  pathFixUpMs: number | null;
  /** who has the listening socket at the path open ("pid:name"): before the bridge's restart, after it, once unicorn stopped, after the fix */
  listenersBefore: string[];
  listenersAfterRestart: string[];
  listenersWhenStranded: string[];
  listenersAfterFix: string[];
  socketFileWhenStranded: boolean;
  jobWhenStranded: string;
  bridgeFixUpMs: number | null;
  /** the bridge's socket events (one per new connection, even while unicorn runs) before and after its restart, until the fix */
  socketEventsBeforeRestart: number;
  socketEventsAfterRestart: number;
  /** the bundler `bundle exec` runs in the container (Bundler::VERSION) */
  bundlerVersion: string;
  /** the job checker's errors on the two bundle exec jobs */
  checkerOnBundleJobs: string[];
  /** upstart's starts of the job while bundle exec closed the fds, and its state then */
  startsWhileClosed: number;
  jobWhileClosed: string;
  /** unicorn's "Bad file descriptor" lines (inherit_listeners! on UNICORN_FD) in the job log, and bundler's deprecation warnings */
  ebadfLines: number;
  deprecationLines: number;
  /** ms from the plain `bundle exec` job's install to the first 200 */
  bundleKeptUpMs: number | null;
};

/** Who has the listening socket at the path open, as "pid:name" words ([] when nobody listens there). */
async function listeners(ctx: ScenarioContext): Promise<string[]> {
  const out = await ctx.sh(socketHoldersScript(SOCK));
  return out.stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => l.trim().replace(' ', ':'));
}

/** "2.3.7" >= "2.2.26", numerically part by part */
export function versionAtLeast(v: string, min: string): boolean {
  const a = v.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < b.length; i++) {
    const x = a[i] ?? 0;
    if (Number.isNaN(x)) return false;
    if (x !== b[i]) return x > b[i];
  }
  return true;
}

/** The bundler release from which `bundle exec` keeps file descriptors unless told not to (rubygems#4812). */
const KEEPS_FDS_FROM = '2.2.26';

/** The third trap: `bundle exec` closing the bridge's fd before unicorn can adopt it. */
function judgeBundle(j: Judge, f: F): void {
  j.equal("the lab's job checker on the bundle exec jobs: errors", 0, f.checkerOnBundleJobs.length);
  j.check(
    'the bundler in the image',
    `${KEEPS_FDS_FROM} or later (keeps fds by default)`,
    f.bundlerVersion || 'none',
    versionAtLeast(f.bundlerVersion, KEEPS_FDS_FROM),
  );
  j.atLeast(`${BUNDLE_CLOSED}: job starts (one per connection, each unicorn dying)`, 2, f.startsWhileClosed);
  j.atLeast(`${BUNDLE_CLOSED}: unicorn's "Bad file descriptor" (UNICORN_FD names a closed fd)`, 1, f.ebadfLines);
  const closed = stretch(f, BUNDLE_CLOSED);
  j.check(
    `${BUNDLE_CLOSED}: answered 200`,
    'none, requests waiting until the client gives up',
    closed ? `${okPercent(f, BUNDLE_CLOSED)}, ${closed.waited} of ${closed.sent} waited` : 'not reached',
    !!closed && closed.ok === 0 && closed.waited >= 1,
  );
  j.check(
    `${BUNDLE_KEPT}: answered 200`,
    'at least 99%',
    `${okPercent(f, BUNDLE_KEPT)} (first 200 after ${f.bundleKeptUpMs ?? '-'} ms)`,
    okRatio(f, BUNDLE_KEPT) >= 0.99,
  );
}

const isBridge = (w: string) => /:upstart-socket/.test(w);

const errorsOf = (text: string) =>
  checkJobFile(text, 'unicorn.conf')
    .filter((p) => p.severity === 'error')
    .map((p) => `line ${p.line}: ${p.message}`);

type BundleFacts = Pick<
  F,
  'bundlerVersion' | 'startsWhileClosed' | 'jobWhileClosed' | 'ebadfLines' | 'deprecationLines' | 'bundleKeptUpMs'
>;

/**
 * The job through `bundle exec` that closes the fds, then through today's `bundle exec`; each
 * installed with traffic paused, so no connection starts the previous job meanwhile.
 */
async function bundleStretches(ctx: ScenarioContext, st: Stretches, traffic: () => void): Promise<BundleFacts> {
  const bundlerVersion = (await ctx.must(`ruby -e 'require "bundler"; print Bundler::VERSION'`)).trim();
  await ctx.loadHandle?.stop();
  const t0 = Date.now();
  await ctx.applyConfig(
    'unicorn.conf',
    bundleExecJob(false),
    `lab apply unicorn.conf: ${BUNDLE} exec --no-keep-file-descriptors unicorn`,
  );
  traffic();
  await st.hold(BUNDLE_CLOSED, 4000);
  const startsWhileClosed = (await jobEvents(ctx)).filter((e) => e.event === 'starting' && e.at >= t0 - 50).length;
  const jobWhileClosed = initState(await ctx.inspect());
  const log = (await ctx.wrapperLog()).split('\n');
  await ctx.loadHandle?.stop();
  await ctx.applyConfig('unicorn.conf', bundleExecJob(true), `lab apply unicorn.conf: ${BUNDLE} exec unicorn`);
  traffic();
  const bundleKeptUpMs = await waitFor200(ctx, 20_000);
  await st.hold(BUNDLE_KEPT, 2000);
  return {
    bundlerVersion,
    startsWhileClosed,
    jobWhileClosed,
    ebadfLines: log.filter((l) => l.includes('Bad file descriptor')).length,
    deprecationLines: log.filter((l) => l.includes('--no-keep-file-descriptors` has been deprecated')).length,
    bundleKeptUpMs,
  };
}

/**
 * Two traps of upstart 1.5's socket bridge, each with what nginx sees and its one-line fix:
 * the bridge gives the job PATH=<socket path> (its event's PATH replaces the job's), and a
 * restart of the bridge leaves the socket file behind, so the new bridge cannot bind again.
 */
export const unicornBridgeTraps: Scenario<F> = {
  name: 'unicorn-bridge-traps',
  title:
    'socket-bridge traps: PATH replaced by the socket path, the socket file a bridge restart leaves behind, and bundle exec closing the fd',
  story:
    `A bridge job that runs \`unicorn\` (or \`bundle exec unicorn\`) by name never starts, ` +
    `because the bridge sets the job's PATH to the socket's path, so nginx's requests wait in ` +
    `the socket until they time out; after \`initctl restart upstart-socket-bridge\` the ` +
    `site works only until unicorn next stops, then nginx answers 502 (connection refused) for ` +
    `good, because the new bridge could not bind over the file the old one left; and through ` +
    `\`bundle exec\` with a bundler older than 2.2.26 unicorn dies at once with "Bad file ` +
    `descriptor" (bundler closed the bridge's fd before exec'ing it), requests waiting as in the ` +
    `first trap. One line fixes each: \`export PATH=${STANDARD_PATH}\` at the top of the job's ` +
    `script, \`rm -f ${SOCK}\` before the bridge starts again, and \`bundle exec ` +
    `--keep-file-descriptors unicorn\` (the default from bundler 2.2.26 on, as with the images' 2.3).`,
  ...IN_PRODUCTION,
  expect: {
    precise: {
      applicable: true,
      expect:
        `with a job whose script runs \`exec unicorn ...\` by name, each new connection makes the ` +
        `bridge start the job and the shell cannot find unicorn (its PATH is ${SOCK}): the job is ` +
        `stop/waiting again at once, no request is answered, each waits in the bridge's socket ` +
        `until the load's timeout (nginx would answer 504 after 60 s); the lab's job checker names ` +
        `the line. With \`export PATH=...\` as the script's first line (the job replaced with lab ` +
        `apply), the next connection starts unicorn and every request is answered. Then \`initctl ` +
        `restart upstart-socket-bridge\` (traffic paused for it): the new bridge cannot bind (the ` +
        `file is still there, unicorn listening on it) and emits no more socket events, which ` +
        `shows nothing while unicorn runs; once unicorn stops (initctl stop) nothing listens at ` +
        `the path: nginx answers 502 to every request, the job stays stop/waiting and no ` +
        `connection can start it. \`rm -f ${SOCK} && initctl restart upstart-socket-bridge\` lets ` +
        `the bridge bind again and the next connection starts unicorn: every request is answered. ` +
        `(Restarted under traffic, the new bridge was seen holding a copy of the old socket it did ` +
        `not bind, presumably inherited from init while a socket event was in flight: connections ` +
        `then hang instead of being refused.) Last, the job runs \`${BUNDLE} exec ` +
        `--no-keep-file-descriptors unicorn ...\` (PATH exported): bundler exec's unicorn with ` +
        `close_others, fd $UPSTART_FDS is closed, unicorn's inherit_listeners! dies with EBADF ` +
        `("Bad file descriptor"), the job is started again by each new connection, no request is ` +
        `answered, each waits until the client's timeout, as in the first trap. That flag is ` +
        `deprecated; it is what every \`bundle exec\` did before bundler 2.2.26 (rubygems#4812) on ` +
        `Ruby >= 2.0 (Ruby 1.9's exec kept fds; from bundler 1.12 an executable whose shebang is ` +
        `Gem.ruby or \`/usr/bin/env ruby\` is loaded in-process, no exec, nothing closed; Debian's ` +
        `/usr/bin/unicorn says #!/usr/bin/ruby, so it is exec'd). The same job with plain \`bundle ` +
        `exec\` (bundler 2.3: --keep-file-descriptors is the default) serves every request: the ` +
        `trap does not exist with the images' bundler, only with the older ones.`,
    },
    bookworm: {
      applicable: false,
      reason:
        "neither bridge trap exists with systemd: a socket-activated service gets the manager's " +
        "environment (PATH is never the socket's path), and systemd binds the socket unit itself, " +
        "the lab's with RemoveOnStop=yes, so no bridge process can leave a file it then cannot " +
        "bind over (the third, bundle exec closing the fd, would hit systemd's LISTEN_FDS too, but only " +
        "with a bundler older than 2.2.26: the images' 2.3 keeps fds, and the precise run shows both)",
    },
  },
  boot(flavour): BootSpec {
    const spec = unicornBoot(flavour, 'unicorn-seed-poc');
    return perInit(flavour, {
      precise: () => ({
        ...spec,
        label:
          'unicorn.conf = a bridge job calling unicorn by name; lab-unicorn-lifecycle.conf counts its starts; ' +
          'bridge-socket-refresh.conf removed (the PoC had no such job: the stale-socket trap is what it fixes)',
        remove: [...(spec.remove ?? []), '/etc/init/bridge-socket-refresh.conf'],
        files: {
          ...spec.files,
          '/var/lib/lab/unicorn-bare-name.conf': bareNameJob(),
          [LIFECYCLE_JOB]: LIFECYCLE_JOB_TEXT,
          [`${APP}/Gemfile`]: shippedConf('unicorn', 'bridge-traps', 'Gemfile'),
        },
        shell: [
          ...(spec.shell ?? []),
          // Resolved from the installed gems, offline: what `bundle install` left on a server.
          `cd ${APP} && ${BUNDLE} lock --local`,
          'cp /var/lib/lab/unicorn-bare-name.conf /etc/init/unicorn.conf',
        ],
      }),
      bookworm: () => spec,
    })();
  },
  async run(ctx) {
    const job = ctx.server.job;
    const st = new Stretches(ctx);
    const traffic = () => ctx.load({ durationMs: 120_000, rate: 50, concurrency: 8, timeoutMs: 3000 });
    ctx.before = await ctx.inspect();

    const t0 = Date.now();
    traffic();
    await st.hold(BARE, 5000);
    const startsWhileBare = (await jobEvents(ctx)).filter((e) => e.event === 'starting' && e.at >= t0 - 50).length;
    const jobWhileBare = initState(await ctx.inspect());
    const notFoundLines = (await ctx.wrapperLog()).split('\n').filter((l) => l.includes('unicorn: not found')).length;
    // Replaced with traffic paused, so no connection starts the old job meanwhile.
    await ctx.loadHandle?.stop();
    await ctx.applyConfig('unicorn.conf', pathFixedJob(), `lab apply unicorn.conf: + export PATH=${STANDARD_PATH}`);
    traffic();
    const pathFixUpMs = await waitFor200(ctx, 20_000);
    await st.hold(PATH_FIXED, 2000);

    const listenersBefore = await listeners(ctx);
    // With traffic paused: a bridge started while init holds a connection's socket event was
    // seen keeping a copy of the old socket (connections then hang instead of being refused).
    await ctx.loadHandle?.stop();
    await ctx.act('initctl', 'initctl restart upstart-socket-bridge (traffic paused)', () =>
      ctx.sh('/sbin/initctl restart upstart-socket-bridge'),
    );
    // The cut between the bridges is when traffic resumes, not when the restart began: the
    // counter job logs an event some ms after the bridge emitted it, and one of the old
    // bridge's last events was seen logged after `initctl restart` had begun.
    const restartAt = Date.now();
    traffic();
    await st.hold(BRIDGE_RESTARTED, 2000);
    const listenersAfterRestart = await listeners(ctx);

    await ctx.initctl('stop', job);
    await st.hold(STRANDED, 3000);
    const listenersWhenStranded = await listeners(ctx);
    const socketFileWhenStranded = (await ctx.sh(`[ -S ${SOCK} ]`)).code === 0;
    const jobWhenStranded = initState(await ctx.inspect());

    const t = Date.now();
    const eventTimes = await ctx.socketEventTimes();
    await ctx.act('apply', `rm -f ${SOCK} && initctl restart upstart-socket-bridge`, () =>
      ctx.must(`rm -f ${SOCK} && /sbin/initctl restart upstart-socket-bridge`),
    );
    const up = await waitFor200(ctx, 20_000);
    const bridgeFixUpMs = up === null ? null : Date.now() - t;
    await st.hold(BRIDGE_FIXED, 2000);
    const listenersAfterFix = await listeners(ctx);

    // The third trap, last so the first two are measured as before.
    const bundle = await bundleStretches(ctx, st, traffic);
    await sleep(100);
    const records = await ctx.allRecords();
    return {
      ...st.facts(records),
      checkerOnBareName: errorsOf(bareNameJob()),
      checkerOnFixed: errorsOf(pathFixedJob()),
      startsWhileBare,
      jobWhileBare,
      notFoundLines,
      pathFixUpMs,
      listenersBefore,
      listenersAfterRestart,
      listenersWhenStranded,
      listenersAfterFix,
      socketFileWhenStranded,
      jobWhenStranded,
      bridgeFixUpMs,
      socketEventsBeforeRestart: eventTimes.filter((e) => e < restartAt).length,
      socketEventsAfterRestart: eventTimes.filter((e) => e >= restartAt).length,
      checkerOnBundleJobs: [...errorsOf(bundleExecJob(false)), ...errorsOf(bundleExecJob(true))],
      ...bundle,
    };
  },
  verdict({ facts: f }) {
    const j = new Judge();
    const pct = (name: string) => okPercent(f, name);
    // The first trap: PATH.
    j.check(
      "the lab's job checker on the bare-name job",
      'an error naming unicorn',
      f.checkerOnBareName.join('; ') || 'no error',
      f.checkerOnBareName.some((e) => e.includes("'unicorn'")),
    );
    j.equal("the lab's job checker on the fixed job: errors", 0, f.checkerOnFixed.length);
    j.atLeast(`${BARE}: job starts (one per connection, each failing at once)`, 2, f.startsWhileBare);
    j.equal(`${BARE}: the job`, 'stop/waiting', f.jobWhileBare);
    j.check(`${BARE}: answered 200`, 'none', pct(BARE), okRatio(f, BARE) === 0);
    const bare = stretch(f, BARE);
    j.check(
      `${BARE}: requests that waited until the client gave up`,
      'at least 1',
      bare ? `${bare.waited} of ${bare.sent}` : 'not reached',
      !!bare && bare.waited >= 1,
    );
    j.check(
      `${PATH_FIXED}: answered 200`,
      'at least 99%',
      `${pct(PATH_FIXED)} (first 200 after ${f.pathFixUpMs ?? '-'} ms)`,
      okRatio(f, PATH_FIXED) >= 0.99,
    );
    // The second trap: the file a bridge restart leaves.
    const who = (l: string[]) => l.join(' ') || 'nobody';
    j.check(
      'who holds the socket before the bridge restart',
      'the bridge and unicorn',
      who(f.listenersBefore),
      f.listenersBefore.some(isBridge) && f.listenersBefore.some((w) => !isBridge(w)),
    );
    j.check(
      'who holds the socket after the bridge restart',
      'unicorn only (the new bridge could not bind)',
      who(f.listenersAfterRestart),
      f.listenersAfterRestart.length > 0 && !f.listenersAfterRestart.some(isBridge),
    );
    j.check(
      "the bridge's socket events (one per new connection)",
      'some before its restart, none after it',
      `${f.socketEventsBeforeRestart} before, ${f.socketEventsAfterRestart} after`,
      f.socketEventsBeforeRestart > 0 && f.socketEventsAfterRestart === 0,
    );
    j.check(
      `${BRIDGE_RESTARTED}: answered 200`,
      'at least 99%',
      pct(BRIDGE_RESTARTED),
      okRatio(f, BRIDGE_RESTARTED) >= 0.99,
    );
    j.check(
      `${STRANDED}`,
      'the file still there, nobody listening, the job stop/waiting',
      `${f.socketFileWhenStranded ? 'file there' : 'no file'}, listening: ${who(f.listenersWhenStranded)}, ${f.jobWhenStranded}`,
      f.socketFileWhenStranded && f.listenersWhenStranded.length === 0 && f.jobWhenStranded === 'stop/waiting',
    );
    const stranded = stretch(f, STRANDED);
    j.check(
      `${STRANDED}: answered 200`,
      'none, nginx answering 502',
      stranded ? `${pct(STRANDED)} (${stranded.failures || 'no failure'})` : 'not reached',
      !!stranded && stranded.sent > 0 && stranded.ok === 0 && /^http-502=\d+$/.test(stranded.failures),
    );
    j.check(
      'who holds the socket after the fix',
      'the bridge (and unicorn)',
      who(f.listenersAfterFix),
      f.listenersAfterFix.some(isBridge),
    );
    j.check(
      `${BRIDGE_FIXED}: answered 200`,
      'at least 98%',
      `${pct(BRIDGE_FIXED)} (first 200 after ${f.bridgeFixUpMs ?? '-'} ms)`,
      okRatio(f, BRIDGE_FIXED) >= 0.98,
    );
    judgeBundle(j, f);
    j.note(
      `job starts while unicorn was called by name: ${f.startsWhileBare}; "unicorn: not found" in the job log: ${f.notFoundLines}`,
    );
    j.note(
      `job starts while bundle exec closed the fds: ${f.startsWhileClosed}, the job then ${f.jobWhileClosed}; ` +
        `bundler's deprecation warnings for --no-keep-file-descriptors: ${f.deprecationLines}`,
    );
    for (const name of f.phaseNames) j.note(stretchLine(f, name));
    return j.verdict();
  },
};
