import { UNICORN_OPT } from '../servers/unicorn';
import { sleep } from '../session/context';
import { Judge } from '../session/judge';
import { servingMasters } from '../session/observe';
import type { Scenario } from '../session/types';
import {
  judgeNoneFailed,
  type StretchFacts,
  Stretches,
  askApp,
  pidFileMaster,
  stretchLine,
  IN_PRODUCTION,
} from '../session/unicorn-common';
import { waitForGenerationAbove } from '../session/upgrades';

const APP = `${UNICORN_OPT}/app`;
const BEFORE = 'release 1 serving';
const BROKEN = 'release 2 (broken) deployed: USR2';
const FIXED = 'release 3 (fixed) deployed: USR2';

type F = StretchFacts & {
  wrapperPid: number;
  /** the master serving release 1, and what the app said before the deploys */
  firstMaster: number;
  versionBefore: string;
  /** unicorn-wrapper's upgrade-failed events after the broken deploy */
  upgradeFailed: number;
  /** ms from USR2 to the upgrade-failed event (null: none came) */
  failedAfterMs: number | null;
  /** after the broken deploy: the pid file's master, whether an .oldbin is left, what answers */
  masterAfterBroken: number;
  oldbinAfterBroken: number | null;
  versionAfterBroken: string;
  servedByAfterBroken: number;
  /** QUITs the wrapper passed on during the run (it never sends one of its own) */
  quitsForwarded: number;
  /** the pid init tracks after each deploy */
  trackedAfterBroken: number | null;
  trackedAfterFixed: number | null;
  /** after the fixed deploy: the wrapper's master-followed events, the version and generation served */
  followed: number;
  versionAfterFixed: string;
  generationAfterFixed: number;
  mastersServingAfterFixed: number;
};

/**
 * A release that cannot load, deployed the usual way (new code on disk, USR2). With
 * preload_app (unicorn.rb's default here) the new master loads the app before it forks a
 * worker, so it dies before its before_fork hook could QUIT the old master; the old master
 * reaps it ("reaped ... exec()-ed"), renames its pid file back and serves on.
 */
export const unicornBrokenRelease: Scenario<F> = {
  name: 'unicorn-broken-release',
  title: 'a release whose config.ru raises, deployed with USR2 through unicorn-wrapper: the old master serves on',
  story:
    'A deploy ships a release whose config.ru raises while loading and the USR2 seems to do ' +
    'nothing: the site keeps answering with the previous release, the job log shows the new ' +
    'master dying, and unicorn-wrapper logs event=upgrade-failed while init still tracks it. ' +
    'Deploying a fixed release with another USR2 moves the site on, because the wrapper never ' +
    'QUITs a master whose successor does not serve and unicorn restores its pid file when the ' +
    'new master dies.',
  ...IN_PRODUCTION,
  expect: {
    precise: {
      applicable: true,
      expect:
        'unicorn-wrapper.conf (bridge socket, upstart tracks the wrapper): the USR2 is forwarded, ' +
        'unicorn renames its pid file to .oldbin and re-execs; the new master raises while loading ' +
        'config.ru (preload_app) and exits before forking a worker, so the before_fork hook never ' +
        'QUITs the old master; the old master reaps it and renames its pid file back; the wrapper ' +
        'reports one upgrade-failed event and keeps following the same master; the old release ' +
        'answers throughout and no request fails. A fixed release and a second USR2: the new ' +
        "master serves, the wrapper follows it (master-followed), the old one is QUIT by unicorn's " +
        'hook, and the fixed release answers; upstart tracks the wrapper throughout',
    },
    bookworm: {
      applicable: true,
      expect:
        "the same through unicorn-wrapper.service (systemd's MainPID is the wrapper): one " +
        'upgrade-failed event, the old master and the old release serve on with no failed request; ' +
        'the fixed release is followed after the second USR2; MainPID stays the wrapper throughout',
    },
  },
  // As shipped for unicorn: the wrapper in front, and the image's good config.ru at boot.
  boot: () => ({
    label: 'as shipped for unicorn: the bridge (or socket unit) + unicorn-wrapper; config.ru as in the image',
  }),
  async run(ctx) {
    await ctx.warmUp();
    const wrapperPid = await ctx.trackedMaster();
    const first = await pidFileMaster(ctx);
    if (!first) throw new Error("unicorn's pid file names no live master after the first request");
    const v0 = await askApp(ctx);
    const st = new Stretches(ctx);
    ctx.load({ durationMs: 120_000, rate: 100, concurrency: 8, slowEvery: 10, slowMs: 300, timeoutMs: 5000 });
    await st.hold(BEFORE, 1000);

    const eventsBefore = (await ctx.events()).length;
    let failedAfterMs: number | null = null;
    await st.holdWhile(
      BROKEN,
      async () => {
        await ctx.act('apply', 'release 2 on disk: config.ru raises when loaded', () =>
          ctx.must(
            `cp ${APP}/config.ru ${APP}/config.ru.release-1 && printf '%s\\n' "raise 'release 2 cannot ` +
              `load: a missing constant, a typo, a gem not installed'" > ${APP}/config.ru`,
          ),
        );
        const t = Date.now();
        await ctx.signal('USR2', wrapperPid, 'wrapper', 'deploy release 2');
        const seen = await ctx.waitFor(
          async () =>
            (await ctx.events()).slice(eventsBefore).some((e) => e.event === 'upgrade-failed') ? true : undefined,
          20_000,
          200,
        );
        if (seen) {
          failedAfterMs = Date.now() - t;
          ctx.mark('note', `unicorn-wrapper: upgrade-failed after ${failedAfterMs} ms`);
        }
      },
      3000,
    );
    const afterBroken = await ctx.inspect();
    const masterAfterBroken = (await pidFileMaster(ctx))?.pid ?? 0;
    const v1 = await askApp(ctx);

    await st.holdWhile(
      FIXED,
      async () => {
        await ctx.act('apply', 'release 3 on disk: release 1 with its version set to 3', () =>
          ctx.must(`{ echo "ENV['DEMO_VERSION'] = '3'"; cat ${APP}/config.ru.release-1; } > ${APP}/config.ru`),
        );
        await ctx.signal('USR2', wrapperPid, 'wrapper', 'deploy release 3');
        await waitForGenerationAbove(ctx, 1, 20_000);
        await ctx.waitFor(async () => {
          const s = await ctx.inspect();
          return s.oldbin === undefined && servingMasters(s).length === 1 ? true : undefined;
        }, 15_000);
        await sleep(500);
      },
      2000,
    );
    const afterFixed = await ctx.inspect();
    const v2 = await askApp(ctx);
    const records = await ctx.allRecords();
    const events = (await ctx.events()).filter((e) => e.program === 'unicorn-wrapper');
    return {
      ...st.facts(records),
      wrapperPid,
      firstMaster: first.pid,
      versionBefore: v0.version ?? '',
      upgradeFailed: events.filter((e) => e.event === 'upgrade-failed').length,
      failedAfterMs,
      masterAfterBroken,
      oldbinAfterBroken: afterBroken.oldbin ?? null,
      versionAfterBroken: v1.version ?? '',
      servedByAfterBroken: v1.master ?? 0,
      quitsForwarded: events.filter((e) => e.event === 'signal-forwarded' && e.fields.signal === 'SIGQUIT').length,
      trackedAfterBroken: afterBroken.init.trackedPid ?? null,
      trackedAfterFixed: afterFixed.init.trackedPid ?? null,
      followed: events.filter((e) => e.event === 'master-followed').length,
      versionAfterFixed: v2.version ?? '',
      generationAfterFixed: v2.generation ?? 0,
      mastersServingAfterFixed: servingMasters(afterFixed).length,
    };
  },
  verdict({ facts: f }) {
    const j = new Judge();
    j.equal('release answering before the deploys', '1', f.versionBefore);
    j.equal("unicorn-wrapper's upgrade-failed events after the broken deploy", 1, f.upgradeFailed);
    j.check(
      "the pid file's master after the broken deploy",
      `the first master ${f.firstMaster}, no .oldbin left`,
      `${f.masterAfterBroken || 'none'}${f.oldbinAfterBroken ? `, .oldbin ${f.oldbinAfterBroken}` : ', no .oldbin'}`,
      f.masterAfterBroken === f.firstMaster && f.oldbinAfterBroken === null,
    );
    j.check(
      'what answers after the broken deploy',
      `release 1 from master ${f.firstMaster}`,
      `release ${f.versionAfterBroken || '?'} from master ${f.servedByAfterBroken || '?'}`,
      f.versionAfterBroken === '1' && f.servedByAfterBroken === f.firstMaster,
    );
    j.equal('QUITs the wrapper passed to a master (it sends none of its own)', 0, f.quitsForwarded);
    j.check(
      'pid init tracks after each deploy',
      `the wrapper ${f.wrapperPid} both times`,
      `${f.trackedAfterBroken ?? 'none'}, ${f.trackedAfterFixed ?? 'none'}`,
      f.trackedAfterBroken === f.wrapperPid && f.trackedAfterFixed === f.wrapperPid,
    );
    for (const name of [BEFORE, BROKEN, FIXED]) judgeNoneFailed(j, f, name);
    j.equal('masters the wrapper followed (the fixed release only)', 1, f.followed);
    j.check(
      'what answers after the fixed deploy',
      'release 3, generation 2, one master serving',
      `release ${f.versionAfterFixed || '?'}, generation ${f.generationAfterFixed}, ${f.mastersServingAfterFixed} serving`,
      f.versionAfterFixed === '3' && f.generationAfterFixed === 2 && f.mastersServingAfterFixed === 1,
    );
    j.note(`upgrade-failed ${f.failedAfterMs === null ? 'never reported' : `${f.failedAfterMs} ms after the USR2`}`);
    for (const name of f.phaseNames) j.note(stretchLine(f, name));
    return j.verdict();
  },
};
