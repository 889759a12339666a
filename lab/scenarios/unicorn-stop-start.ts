import { unicornBoot } from '../servers/unicorn';
import { sleep } from '../session/context';
import { Judge } from '../session/judge';
import { servingMasters } from '../session/observe';
import { type Scenario, perInit } from '../session/types';
import {
  judgeNoneFailed,
  type StretchFacts,
  Stretches,
  okPercent,
  okRatio,
  stretch,
  stretchLine,
  unicornProcesses,
  waitFor200,
  IN_PRODUCTION,
} from '../session/unicorn-common';
import { wrapperExecJob } from './unicorn-exec-respawn';
import { upgrades } from '../session/upgrades';

const BEFORE = 'before the deploy';
const STOP_START = 'deploy by stop + start';
const USR2 = 'deploy by USR2';

type F = StretchFacts & {
  stopCommand: string;
  stopExit: number;
  /** how long the stop command took, and the start command after it */
  stopMs: number;
  startExit: number;
  startMs: number;
  /** ms from the stop command until the first 200 after the start (null: none within 30 s) */
  backMs: number | null;
  /** what the USR2 went to, the pid init tracks after it, and the master serving then */
  usr2Target: string;
  trackedAfterUsr2: number | null;
  servingAfterUsr2: number[];
  usr2ToNewGenerationMs: number | null;
};

/**
 * The deploy people fall back to when a USR2 confuses their init: stop the job, start it
 * again. unicorn binds its own socket here (unicorn-exec.conf, unicorn-plain.service), as most
 * 12.04 teams ran it: between the old master closing the socket and the new one binding it
 * after loading the app, nothing listens. Then the same deploy by USR2, for comparison.
 */
export const unicornStopStart: Scenario<F> = {
  name: 'unicorn-stop-start',
  title: 'deploying with stop + start instead of USR2: the cost in failed requests and gap, beside a USR2',
  story:
    'Because a USR2 confuses upstart, the team deploys with `initctl stop unicorn; initctl ' +
    'start unicorn`, and every deploy shows up in the nginx logs as a second or two of 502 Bad ' +
    'Gateway, the time unicorn takes to load the app while nothing listens on its socket. A ' +
    'USR2 re-exec hands the open socket to the new master while the old one still serves and ' +
    'loses nothing, once init can follow it: unicorn-wrapper in the job on upstart, PIDFile= ' +
    'in the unit on systemd.',
  ...IN_PRODUCTION,
  expect: {
    precise: {
      applicable: true,
      expect:
        'unicorn-exec.conf (unicorn binds its own socket): initctl stop QUITs the master, which ' +
        'closes its socket and finishes what it has; from then until the new unicorn started by ' +
        'initctl start has loaded the app and bound the socket again (a second or more) nginx ' +
        'finds nothing listening and answers 502 at once: requests fail and the longest gap is ' +
        'about that long. After switching the job to unicorn-wrapper (quietly, traffic paused), ' +
        'one USR2 to the process upstart tracks: the new master takes the open socket, no request ' +
        'fails, the gap stays at the length of a slow request, and upstart still tracks the wrapper',
    },
    bookworm: {
      applicable: true,
      expect:
        'unicorn-plain.service (unicorn binds its own socket): systemctl stop removes the socket ' +
        'with the runtime directory, systemctl start binds it again once unicorn has loaded: nginx ' +
        'answers 502 in between (a second or more). A USR2 to MainPID on the same unit: systemd ' +
        'follows the new master through PIDFile=, no request fails, the gap stays at the length of ' +
        'a slow request',
    },
  },
  boot: (flavour) => unicornBoot(flavour, 'unicorn-exec'),
  async run(ctx) {
    const job = ctx.server.job;
    await ctx.warmUp();
    const st = new Stretches(ctx);
    const traffic = () =>
      ctx.load({ durationMs: 120_000, rate: 100, concurrency: 8, slowEvery: 10, slowMs: 300, timeoutMs: 5000 });
    traffic();
    // A request still in flight when the stop is sent meets the stop: its 502 is the stop's cost.
    await st.hold(BEFORE, 1000, { blameNext: true });
    const stopPlan = ctx.driver.initctl(['stop', job], ctx.server);
    const cost = await st.span(
      STOP_START,
      async () => {
        const t0 = Date.now();
        const stop = await ctx.initctl('stop', job);
        const stopMs = Date.now() - t0;
        const t1 = Date.now();
        // The lab's `initctl start` on systemd also starts the socket unit, which this setup has not.
        const start = await perInit(ctx.flavour, {
          precise: () => ctx.initctl('start', job),
          bookworm: () =>
            ctx.act('initctl', `systemctl start ${job}.service`, () => ctx.sh(`systemctl start ${job}.service`)),
        })();
        const startMs = Date.now() - t1;
        const back = await waitFor200(ctx, 30_000);
        if (back !== null) ctx.mark('note', `answering again ${Date.now() - t0} ms after the stop`);
        return { stop, stopMs, start, startMs, backMs: back === null ? null : Date.now() - t0 };
      },
      1500,
    );

    const target = await perInit(ctx.flavour, {
      precise: async () => {
        // The job is switched with the traffic paused: its cost is not what is measured here.
        await ctx.loadHandle?.stop();
        await ctx.initctl('stop', job);
        await ctx.waitFor(async () => ((await unicornProcesses(ctx)) === 0 ? true : undefined), 40_000);
        await ctx.applyConfig(
          'unicorn.conf',
          wrapperExecJob(),
          'lab apply unicorn.conf = unicorn-exec.conf + unicorn-wrapper',
        );
        const start = await ctx.initctl('start', job);
        if (start.code !== 0) throw new Error(`initctl start ${job}: ${(start.stderr || start.stdout).trim()}`);
        if ((await waitFor200(ctx, 20_000)) === null) throw new Error('the wrapper job never answered');
        traffic();
        await sleep(1000);
        return { pid: await ctx.trackedMaster(), who: 'wrapper' };
      },
      bookworm: async () => ({ pid: await ctx.trackedMaster(), who: 'master' }),
    })();
    const trace = await st.span(
      USR2,
      () =>
        upgrades(ctx, target.pid, 1, target.who, 0, async () => {
          await ctx.waitFor(async () => {
            const s = await ctx.inspect();
            return s.oldbin === undefined && servingMasters(s).length === 1 ? true : undefined;
          }, 15_000);
        }),
      1500,
    );
    const after = await ctx.inspect();
    const records = await ctx.allRecords();
    return {
      ...st.facts(records),
      stopCommand: 'label' in stopPlan ? stopPlan.label : 'stop',
      stopExit: cost.stop.code,
      stopMs: cost.stopMs,
      startExit: cost.start.code,
      startMs: cost.startMs,
      backMs: cost.backMs,
      usr2Target: `${target.who} ${target.pid}`,
      trackedAfterUsr2: trace.trackedAfter[0] ?? null,
      servingAfterUsr2: servingMasters(after).map((m) => m.pid),
      usr2ToNewGenerationMs: trace.tookMs[0] ?? null,
    };
  },
  verdict({ flavour, facts: f }) {
    const j = new Judge();
    j.check(`${BEFORE}: answered 200`, 'at least 99%', okPercent(f, BEFORE), okRatio(f, BEFORE) >= 0.99);
    j.equal(`${f.stopCommand} exit code`, 0, f.stopExit);
    j.equal('start exit code', 0, f.startExit);
    j.check(
      'answering again after the stop',
      'within 30 s',
      f.backMs === null ? 'never' : `after ${f.backMs} ms`,
      f.backMs !== null,
    );
    const cost = stretch(f, STOP_START);
    j.check(
      `${STOP_START}: failed requests`,
      'at least 1, nginx answering 502 (nothing listens)',
      cost ? `${cost.failed} of ${cost.sent} (${cost.failures || 'none'})` : 'not reached',
      !!cost && cost.failed >= 1 && /^http-502=/.test(cost.failures),
    );
    judgeNoneFailed(j, f, USR2);
    const usr2 = stretch(f, USR2);
    j.check(
      'longest gap: USR2 against stop + start',
      'shorter with USR2',
      cost && usr2 ? `${usr2.gapMs} ms against ${cost.gapMs} ms` : 'not reached',
      !!cost && !!usr2 && usr2.gapMs < cost.gapMs,
    );
    j.check(
      'new generation serving after the USR2',
      'yes',
      f.usr2ToNewGenerationMs === null ? 'never' : `after ${f.usr2ToNewGenerationMs} ms`,
      f.usr2ToNewGenerationMs !== null,
    );
    perInit(flavour, {
      precise: () => {
        j.check(
          'pid upstart tracks after the USR2',
          `the wrapper (${f.usr2Target})`,
          f.trackedAfterUsr2,
          f.usr2Target === `wrapper ${f.trackedAfterUsr2}`,
        );
      },
      bookworm: () => {
        j.check(
          'MainPID after the USR2',
          'the new master, which serves (PIDFile=)',
          `${f.trackedAfterUsr2 ?? 'none'}; serving ${f.servingAfterUsr2.join(',') || 'none'} (USR2 went to ${f.usr2Target})`,
          f.trackedAfterUsr2 !== null &&
            f.usr2Target !== `master ${f.trackedAfterUsr2}` &&
            f.servingAfterUsr2.includes(f.trackedAfterUsr2),
        );
      },
    })();
    j.note(`stop took ${f.stopMs} ms, start ${f.startMs} ms, answering again ${f.backMs ?? '-'} ms after the stop`);
    for (const name of f.phaseNames) j.note(stretchLine(f, name));
    return j.verdict();
  },
};
