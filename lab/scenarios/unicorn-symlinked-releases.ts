import { request } from 'undici';
import { type BootSpec, mergeBoot } from '../engine/boot-spec';
import type { Flavour } from '../engine/flavour-images';
import { UNICORN_OPT, unicornBoot } from '../servers/unicorn';
import { edit } from '../session/configs';
import type { ScenarioContext } from '../session/context';
import { sleep } from '../session/context';
import { Judge } from '../session/judge';
import { servingMasters } from '../session/observe';
import { type Scenario, perInit } from '../session/types';
import {
  judgeNoneFailed,
  type StretchFacts,
  Stretches,
  pidFileMaster,
  shippedConf,
  stretchLine,
  IN_PRODUCTION,
} from '../session/unicorn-common';
import { waitForGenerationAbove } from '../session/upgrades';

/**
 * Capistrano's layout: /srv/app/releases/<X> per deploy, /srv/app/current -> releases/<X>, the
 * job started "in current". Neither upstart 1.5's `chdir` nor systemd's WorkingDirectory= puts
 * PWD in the environment (seen: a probe job printed none; a `script` block's sh would export the
 * resolved path), and chdir(2) resolves the link, so
 * unicorn's START_CTX[:cwd] (ENV['PWD'] if it names the same inode as Dir.pwd, else Dir.pwd:
 * lib/unicorn/http_server.rb) is the release itself, releases/A. Each USR2 forks, chdirs there
 * and re-executes: the new master loads config.ru from A whatever `current` names, and carries
 * the BUNDLE_GEMFILE `bundle exec` resolved at the first start (releases/A/Gemfile). Once A is
 * pruned, the fork's chdir raises ENOENT before it execs; the old master reaps it, renames its
 * pid file back and serves on. The fix: `working_directory "/srv/app/current"` (which sets
 * START_CTX[:cwd] and ENV['PWD'] to the link) and a before_exec that points BUNDLE_GEMFILE at
 * current's Gemfile, read by the running master on a HUP.
 *
 * No bundler runs here: the job sets BUNDLE_GEMFILE as `bundle exec unicorn` would have, from
 * /srv/app/current at the first start (Bundler finds the Gemfile from Dir.pwd: the resolved
 * path). Bundler 2.3 is in the images, but running it would add a resolve step per release to
 * what is compared; the variable alone is what capistrano/bundler#33 is about.
 */

const APP = '/srv/app';
const STAGE = `${UNICORN_OPT}/symlinked-releases`;
const FIX = `${STAGE}/unicorn-fix.rb`;
const gemfileOf = (release: string) => `${APP}/releases/${release}/Gemfile`;
const CURRENT_GEMFILE = `${APP}/current/Gemfile`;
const CONFIG = `${APP}/current/config/unicorn.rb`;

const BEFORE = 'release A serving';
const DEPLOY_B = 'deploy B (current -> releases/B) + USR2';
const PRUNE_A = 'prune releases/A + USR2';
const FIX_C = 'deploy C with the fix + HUP + USR2';
const DEPLOY_D = 'deploy D + prune releases/C + USR2';

/** The checkpoints at which the app is asked what it is, in order. */
export const STEPS = ['before', 'after deploy B', 'after prune A', 'after the fix (C)', 'after deploy D'] as const;

/** What the shipped wrapper job/unit runs, and what it runs here: the only lines that change. */
const SHIPPED_RUN = '-c /opt/unicorn/app/unicorn.rb /opt/unicorn/app/config.ru';
// No rackup argument: unicorn then loads `config.ru` from its working directory, as
// capistrano3-unicorn starts it (`bundle exec unicorn -c current/config/unicorn/ENV.rb`).
const CAP_RUN = `-c ${CONFIG}`;

/** unicorn-wrapper.conf started in /srv/app/current, with what `bundle exec` would have set. */
export function symlinkedJob(): string {
  let job = shippedConf('unicorn', 'upstart', 'unicorn-wrapper.conf');
  job = edit(job, 'chdir /opt/unicorn/app', `chdir ${APP}/current`, 'chdir');
  job = edit(
    job,
    'env UNICORN_PID=/var/run/unicorn/unicorn.pid',
    `env UNICORN_PID=/var/run/unicorn/unicorn.pid\n# What \`bundle exec\` sets, started from current: the Gemfile by its resolved path.\n` +
      `env BUNDLE_GEMFILE=${gemfileOf('A')}`,
    'BUNDLE_GEMFILE',
  );
  job = edit(job, SHIPPED_RUN, CAP_RUN, 'unicorn command line');
  return (
    '# Written by the lab (unicorn-symlinked-releases): why it exists is to start the shipped\n' +
    '# unicorn-wrapper.conf the Capistrano way, in /srv/app/current, config from the release.\n' +
    job
  );
}

/** unicorn-wrapper.service, the same three changes. */
export function symlinkedUnit(): string {
  let unit = shippedConf('systemd', 'unicorn-wrapper.service');
  unit = edit(unit, 'WorkingDirectory=/opt/unicorn/app', `WorkingDirectory=${APP}/current`, 'WorkingDirectory');
  unit = edit(
    unit,
    'Environment=UNICORN_PID=/run/unicorn/unicorn.pid',
    `Environment=UNICORN_PID=/run/unicorn/unicorn.pid\n# What \`bundle exec\` sets, started from current: the Gemfile by its resolved path.\n` +
      `Environment=BUNDLE_GEMFILE=${gemfileOf('A')}`,
    'BUNDLE_GEMFILE',
  );
  unit = edit(unit, SHIPPED_RUN, CAP_RUN, 'unicorn command line');
  return `# Written by the lab (unicorn-symlinked-releases): unicorn-wrapper.service started in /srv/app/current.\n${unit}`;
}

/**
 * sh: one Capistrano deploy of `release`: a copy of the repository's files, its REVISION, and
 * the link switched in one rename (Capistrano 3: ln -s to a temporary name, then mv over).
 */
export function deployScript(release: string): string {
  const dir = `${APP}/releases/${release}`;
  return [
    'set -e',
    `mkdir ${dir}`,
    `cp -R ${APP}/repo/. ${dir}/`,
    `echo ${release} > ${dir}/REVISION`,
    `ln -s ${dir} ${APP}/current.tmp`,
    `mv -T ${APP}/current.tmp ${APP}/current`,
  ].join('\n');
}

function boot(flavour: Flavour): BootSpec {
  const own: BootSpec = {
    label: 'unicorn-wrapper started in /srv/app/current -> releases/A (Capistrano layout), no working_directory',
    files: {
      [`${APP}/repo/config.ru`]: shippedConf('unicorn', 'symlinked-releases', 'config.ru'),
      [`${APP}/repo/Gemfile`]: shippedConf('unicorn', 'symlinked-releases', 'Gemfile'),
      // The lab's unicorn.rb as it is: only the layout differs from unicorn-broken-release.
      [`${APP}/repo/config/unicorn.rb`]: shippedConf('unicorn', 'unicorn.rb'),
      [FIX]: shippedConf('unicorn', 'symlinked-releases', 'unicorn-fix.rb'),
      [`${STAGE}/unicorn.conf`]: symlinkedJob(),
      [`${STAGE}/unicorn.service`]: symlinkedUnit(),
    },
    shell: [
      `mkdir -p ${APP}/releases`,
      deployScript('A').replace(/^set -e\n/, ''),
      // After unicornBoot's own copy of the shipped job or unit: this one wins.
      perInit(flavour, {
        precise: `cp ${STAGE}/unicorn.conf /etc/init/unicorn.conf`,
        bookworm: `cp ${STAGE}/unicorn.service /etc/systemd/system/unicorn.service`,
      }),
    ],
  };
  return { ...mergeBoot(unicornBoot(flavour, 'unicorn-wrapper'), own), activatesServer: true };
}

/** What the app said about itself: its release, where it runs, its BUNDLE_GEMFILE. */
interface AppSaid {
  versions: string[];
  cwd: string;
  gemfile: string;
  generation: number;
}

/** The JSON images/conf/unicorn/symlinked-releases/config.ru answers on `/`. */
interface AppJson {
  version?: string;
  cwd?: string;
  bundleGemfile?: string;
  generation?: number;
}

async function askOnce(ctx: ScenarioContext): Promise<AppJson | undefined> {
  try {
    const res = await request(`${ctx.origin}/`, { headersTimeout: 5000, bodyTimeout: 5000 });
    const body = await res.body.text();
    return res.statusCode === 200 ? (JSON.parse(body) as AppJson) : undefined;
  } catch {
    return undefined;
  }
}

/** A few requests through nginx: every release that answered, and what the last one said. */
async function askRelease(ctx: ScenarioContext, n = 4): Promise<AppSaid> {
  const versions = new Set<string>();
  let last: AppJson | undefined;
  for (let i = 0; i < n; i++) {
    const a = await askOnce(ctx);
    if (a?.version) versions.add(a.version);
    last = a ?? last;
  }
  return {
    versions: [...versions].sort(),
    cwd: last?.cwd ?? '',
    gemfile: last?.bundleGemfile ?? '',
    generation: last?.generation ?? 0,
  };
}

/** After a USR2 that works: the new generation answers, the old master has left. */
async function upgraded(ctx: ScenarioContext, above: number): Promise<void> {
  await waitForGenerationAbove(ctx, above, 20_000);
  await ctx.waitFor(async () => {
    const s = await ctx.inspect();
    return s.oldbin === undefined && servingMasters(s).length === 1 ? true : undefined;
  }, 15_000);
  await sleep(500);
}

type F = StretchFacts & {
  wrapperPid: number;
  firstMaster: number;
  /** PWD in the first master's environment ('' when init set none) */
  masterPwd: string;
  /** per step (STEPS): the releases that answered, the cwd, BUNDLE_GEMFILE and generation the app reported */
  stepVersions: string[];
  stepCwd: string[];
  stepGemfile: string[];
  stepGeneration: number[];
  /** the pid init tracks at each step */
  stepTracked: (number | null)[];
  /** after the prune's USR2: the pid file's master, and an .oldbin left (null: none) */
  masterBeforePrune: number;
  masterAfterPrune: number;
  oldbinAfterPrune: number | null;
  /** unicorn-wrapper's events over the run */
  upgradeFailed: number;
  followed: number;
  /** ms from the prune's USR2 to upgrade-failed, and the wrapper's own upgrade-started -> upgrade-failed */
  failedAfterMs: number | null;
  failedWindowMs: number | null;
  /** the re-exec's own error as the job log has it ('' when none) */
  reexecError: string;
  /** after the HUP that read the fix: the master's working directory, and what answered */
  cwdAfterHup: string;
  versionAfterHup: string;
};

const eventsOf = async (ctx: ScenarioContext) => (await ctx.events()).filter((e) => e.program === 'unicorn-wrapper');

async function masterCwd(ctx: ScenarioContext): Promise<string> {
  const m = await pidFileMaster(ctx);
  return m ? (await ctx.sh(`readlink /proc/${m.pid}/cwd`)).stdout.trim() : '';
}

/** The USR2 after the prune: waits for unicorn-wrapper's upgrade-failed; ms taken and the wrapper's window. */
async function usr2Refused(ctx: ScenarioContext, wrapperPid: number) {
  const before = (await eventsOf(ctx)).length;
  const t = Date.now();
  await ctx.signal('USR2', wrapperPid, 'wrapper', 'deploy after the prune');
  const failed = await ctx.waitFor(
    async () => (await eventsOf(ctx)).slice(before).find((e) => e.event === 'upgrade-failed'),
    20_000,
    200,
  );
  if (!failed) return { failedAfterMs: null, failedWindowMs: null };
  const failedAfterMs = Date.now() - t;
  ctx.mark('note', `unicorn-wrapper: upgrade-failed after ${failedAfterMs} ms`);
  const started = (await eventsOf(ctx)).slice(before).find((e) => e.event === 'upgrade-started');
  const failedWindowMs = started ? Date.parse(failed.ts) - Date.parse(started.ts) : null;
  return { failedAfterMs, failedWindowMs };
}

/**
 * Deploy C with the fix, HUP so the running master reads it, USR2. Without the HUP the USR2
 * would fail as the last one did: the master chdirs to START_CTX[:cwd] before the new config is
 * read (capistrano3-unicorn#39 says stop + start; HUP does it without a gap). With preload_app,
 * unicorn 6's HUP also rebuilds the app from `config.ru` in the new working directory, so C may
 * answer already from the old master: noted, not judged (an app's `require`d files would not be
 * read again).
 */
async function deployFix(ctx: ScenarioContext, wrapperPid: number): Promise<{ cwd: string; version: string }> {
  await ctx.act('apply', 'the fix committed: working_directory + before_exec BUNDLE_GEMFILE; deploy C', () =>
    ctx.must(`cat ${FIX} >> ${APP}/repo/config/unicorn.rb\n${deployScript('C')}`),
  );
  // working_directory binds when the config is read: the running master reads it on HUP.
  await ctx.signal('HUP', wrapperPid, 'wrapper', 'reload the config: the fix');
  const cwd =
    (await ctx.waitFor(
      async () => ((await masterCwd(ctx)) === `${APP}/releases/C` ? `${APP}/releases/C` : undefined),
      15_000,
    )) ?? (await masterCwd(ctx));
  await sleep(1500);
  const version = (await askRelease(ctx, 4)).versions.join(',');
  await ctx.signal('USR2', wrapperPid, 'wrapper', 'deploy C');
  await upgraded(ctx, 2);
  return { cwd, version };
}

/**
 * unicorn behind the lab's wrapper, started in Capistrano's `current`: the same socket owner
 * and wrapper as unicorn-broken-release, only the release layout differs.
 */
export const unicornSymlinkedReleases: Scenario<F> = {
  name: 'unicorn-symlinked-releases',
  title: "Capistrano's symlinked releases: USR2 re-executes unicorn in the first release, then fails once it is pruned",
  story:
    'After a Capistrano deploy and the usual USR2 the site still serves the previous release, ' +
    'because the re-executed master goes back to the release directory it was first started in ' +
    '(with that release in BUNDLE_GEMFILE), and once that release is pruned every USR2 fails ' +
    'while the old master keeps serving old code, a failed deploy only unicorn-wrapper reports. ' +
    '`working_directory "/srv/app/current"` and a before_exec that sets BUNDLE_GEMFILE to ' +
    "current's Gemfile in unicorn.rb, read by the running master on one HUP, make each USR2 " +
    'load the release the link names, and pruning old releases no longer matters.',
  ...IN_PRODUCTION,
  expect: {
    precise: {
      applicable: true,
      expect:
        'unicorn-wrapper.conf with `chdir /srv/app/current` (-> releases/A): upstart 1.5 sets no PWD, ' +
        "so unicorn's START_CTX[:cwd] is /srv/app/releases/A. Deploy B + USR2: the new master " +
        '(generation 2) is re-executed in releases/A and answers A, BUNDLE_GEMFILE releases/A/Gemfile; ' +
        'the wrapper follows it as a good upgrade. Prune A + USR2: the fork cannot chdir to ' +
        'releases/A, the old master reaps it and renames its pid file back, the wrapper reports one ' +
        'upgrade-failed, A (generation 2) serves on. Deploy C with working_directory + before_exec, ' +
        'HUP, USR2: C answers from releases/C with BUNDLE_GEMFILE /srv/app/current/Gemfile; deploy D, ' +
        'prune C, USR2: D answers. No request fails; upstart tracks the wrapper throughout',
    },
    bookworm: {
      applicable: true,
      expect:
        'the same through unicorn-wrapper.service with WorkingDirectory=/srv/app/current: systemd ' +
        "sets no PWD either, so B's USR2 still answers A from releases/A, the prune's USR2 gives one " +
        'upgrade-failed with A serving on, and after the fix C then D answer from their own releases ' +
        'with BUNDLE_GEMFILE /srv/app/current/Gemfile; no request fails; MainPID stays the wrapper',
    },
  },
  boot,
  async run(ctx) {
    await ctx.warmUp();
    const wrapperPid = await ctx.trackedMaster();
    const first = await pidFileMaster(ctx);
    if (!first) throw new Error("unicorn's pid file names no live master after the first request");
    const masterPwd = (await ctx.sh(`tr '\\0' '\\n' < /proc/${first.pid}/environ | sed -n 's/^PWD=//p'`)).stdout.trim();
    const said: AppSaid[] = [];
    const tracked: (number | null)[] = [];
    const checkpoint = async () => {
      said.push(await askRelease(ctx));
      tracked.push((await ctx.inspect()).init.trackedPid ?? null);
    };
    const st = new Stretches(ctx);
    ctx.load({ durationMs: 120_000, rate: 100, concurrency: 8, slowEvery: 10, slowMs: 300, timeoutMs: 5000 });
    await st.hold(BEFORE, 1500);
    await checkpoint();

    await st.holdWhile(DEPLOY_B, async () => {
      await ctx.act('apply', 'deploy B: releases/B, current -> releases/B', () => ctx.must(deployScript('B')));
      await ctx.signal('USR2', wrapperPid, 'wrapper', 'deploy B');
      await upgraded(ctx, 1);
    });
    await checkpoint();

    const masterBeforePrune = (await pidFileMaster(ctx))?.pid ?? 0;
    const refused = await st.holdWhile(
      PRUNE_A,
      async () => {
        await ctx.act('apply', 'prune: rm -rf releases/A (keep_releases)', () => ctx.must(`rm -rf ${APP}/releases/A`));
        return usr2Refused(ctx, wrapperPid);
      },
      3000,
    );
    const afterPrune = await ctx.inspect();
    const masterAfterPrune = (await pidFileMaster(ctx))?.pid ?? 0;
    await checkpoint();

    const hup = await st.holdWhile(FIX_C, () => deployFix(ctx, wrapperPid));
    await checkpoint();

    await st.holdWhile(
      DEPLOY_D,
      async () => {
        await ctx.act('apply', 'deploy D, prune releases/C (the running master started there) and B', () =>
          ctx.must(`${deployScript('D')}\nrm -rf ${APP}/releases/C ${APP}/releases/B`),
        );
        await ctx.signal('USR2', wrapperPid, 'wrapper', 'deploy D');
        await upgraded(ctx, 3);
      },
      1000,
    );
    await checkpoint();

    const records = await ctx.allRecords();
    const events = await eventsOf(ctx);
    const log = await ctx.wrapperLog();
    return {
      ...st.facts(records),
      wrapperPid,
      firstMaster: first.pid,
      masterPwd,
      stepVersions: said.map((s) => s.versions.join(',')),
      stepCwd: said.map((s) => s.cwd),
      stepGemfile: said.map((s) => s.gemfile),
      stepGeneration: said.map((s) => s.generation),
      stepTracked: tracked,
      masterBeforePrune,
      masterAfterPrune,
      oldbinAfterPrune: afterPrune.oldbin ?? null,
      upgradeFailed: events.filter((e) => e.event === 'upgrade-failed').length,
      followed: events.filter((e) => e.event === 'master-followed').length,
      ...refused,
      // upstart's console log is a pty: Ruby colours its error messages there.
      reexecError: (/^.*`chdir'.*$/m.exec(log.replace(/\x1b\[[0-9;]*m/g, ''))?.[0] ?? '').trim().slice(0, 240),
      cwdAfterHup: hup.cwd,
      versionAfterHup: hup.version,
    };
  },
  verdict({ facts: f }) {
    const j = new Judge();
    const step = (name: (typeof STEPS)[number]) => {
      const i = STEPS.indexOf(name);
      return {
        versions: f.stepVersions[i] ?? '',
        cwd: f.stepCwd[i] ?? '',
        gemfile: f.stepGemfile[i] ?? '',
        generation: f.stepGeneration[i] ?? 0,
      };
    };
    const answers = (
      name: (typeof STEPS)[number],
      release: string,
      cwd: string,
      gemfile: string,
      generation: number,
    ) => {
      const s = step(name);
      j.check(
        `${name}: what answers through nginx`,
        `release ${release} only, generation ${generation}, cwd ${cwd}, BUNDLE_GEMFILE ${gemfile}`,
        `release ${s.versions || 'none'}, generation ${s.generation}, cwd ${s.cwd || '?'}, BUNDLE_GEMFILE ${s.gemfile || 'unset'}`,
        s.versions === release && s.generation === generation && s.cwd === cwd && s.gemfile === gemfile,
      );
    };
    j.equal("PWD in the first master's environment (init sets none)", 'none', f.masterPwd || 'none');
    answers('before', 'A', `${APP}/releases/A`, gemfileOf('A'), 1);
    // The harm: a USR2 that "worked" (a new master, followed by the wrapper) and serves old code.
    answers('after deploy B', 'A', `${APP}/releases/A`, gemfileOf('A'), 2);
    j.equal("unicorn-wrapper's upgrade-failed events (the prune's USR2 only)", 1, f.upgradeFailed);
    j.check(
      "the pid file's master after the prune's USR2",
      `the same master ${f.masterBeforePrune}, no .oldbin left`,
      `${f.masterAfterPrune || 'none'}${f.oldbinAfterPrune ? `, .oldbin ${f.oldbinAfterPrune}` : ', no .oldbin'}`,
      f.masterAfterPrune > 0 && f.masterAfterPrune === f.masterBeforePrune && f.oldbinAfterPrune === null,
    );
    answers('after prune A', 'A', `${APP}/releases/A (deleted)`, gemfileOf('A'), 2);
    answers('after the fix (C)', 'C', `${APP}/releases/C`, CURRENT_GEMFILE, 3);
    answers('after deploy D', 'D', `${APP}/releases/D`, CURRENT_GEMFILE, 4);
    j.equal('masters the wrapper followed (B, C and D)', 3, f.followed);
    j.check(
      'pid init tracks at each step',
      `the wrapper ${f.wrapperPid} throughout`,
      f.stepTracked.map((p) => p ?? 'none').join(', '),
      f.stepTracked.length === STEPS.length && f.stepTracked.every((p) => p === f.wrapperPid),
    );
    for (const name of [BEFORE, DEPLOY_B, PRUNE_A, FIX_C, DEPLOY_D]) judgeNoneFailed(j, f, name);
    j.note(
      `upgrade-failed ${f.failedAfterMs === null ? 'never reported' : `${f.failedAfterMs} ms after the USR2`}` +
        `${f.failedWindowMs === null ? '' : `; ${f.failedWindowMs} ms after the wrapper saw the .oldbin rename`}`,
    );
    j.note(`the re-exec's error: ${f.reexecError || 'none in the log'}`);
    j.note(`after the HUP: the master runs in ${f.cwdAfterHup || '?'}, release ${f.versionAfterHup || '?'} answers`);
    for (const name of f.phaseNames) j.note(stretchLine(f, name));
    return j.verdict();
  },
};
