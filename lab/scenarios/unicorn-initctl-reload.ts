import { unicornBoot } from '../servers/unicorn';
import { sleep } from '../session/context';
import { Judge } from '../session/judge';
import { initState } from '../session/observe';
import { type Scenario, perInit } from '../session/types';
import {
  judgeNoneFailed,
  IMAGE_JOB,
  IMAGE_UNIT,
  type StretchFacts,
  Stretches,
  askApp,
  okPercent,
  okRatio,
  socketHolders,
  stretch,
  stretchLine,
  waitFor200,
  IN_PRODUCTION,
} from '../session/unicorn-common';

const RELOADS = 5;
/** The load's own patience: well under nginx's proxy_read_timeout, so a hang shows as 'timeout'. */
const CLIENT_TIMEOUT_MS = 3000;
/** One visitor waits longer than nginx does, to see what nginx answers a hung request. */
const PATIENT_MS = 70_000;

const BEFORE = 'before the reload';
const AFTER = "after one reload, the PoC's setup";
const WRAPPED = `the wrapper's setup: ${RELOADS} reloads`;

type F = StretchFacts & {
  reloadCommand: string;
  reloadExit: number;
  /** unicorn's master has the listening socket open (before / 1 s after the reload) */
  masterHeldBefore: boolean;
  masterHeldAfterReload: boolean;
  /** processes holding the socket after the reload (the bridge or systemd keeps its copy) */
  holdersAfterReload: number;
  /** init's state of the job 1 s after the reload */
  initAfterReload: string;
  /** the visitor who waited as long as nginx does */
  patientStatus: number;
  patientMs: number;
  /** nginx's proxy_read_timeout in the enabled unicorn site */
  nginxReadTimeout: string;
  /** ms from the switch to the wrapper's setup until the first 200 */
  wrapperUpMs: number | null;
  reloadExits: number[];
  heldAfterEachReload: boolean[];
  /** HUPs unicorn-wrapper passed on to unicorn's master (its signal-forwarded events) */
  hupsForwarded: number;
};

/**
 * upstart 1.5's `initctl reload` is a plain HUP to the job's main process (no `reload signal`
 * before 1.10). unicorn's HUP re-reads its config and sets its listeners to what the config
 * and -l name (`listeners=` in unicorn/http_server.rb): a socket adopted through UNICORN_FD
 * that neither names is closed. The PoC passes no -l and unicorn.rb has no `listen`.
 */
export const unicornInitctlReload: Scenario<F> = {
  name: 'unicorn-initctl-reload',
  title: `initctl reload (HUP) closes the socket the PoC's unicorn adopted; the wrapper's -l keeps it across ${RELOADS} reloads`,
  story:
    `After \`initctl reload unicorn\` the site stops answering while \`initctl status ` +
    `unicorn\` still says start/running: every request hangs until nginx gives up with 504 ` +
    `Gateway Time-out after its proxy_read_timeout (60 s in the lab), because unicorn closed ` +
    `the socket the bridge handed it and the bridge's copy only queues connections. Naming the ` +
    `socket on unicorn's command line (\`-l /var/run/unicorn/unicorn.sock\`, which ` +
    `unicorn-wrapper adds by itself) keeps it across HUP: with the wrapper's job ${RELOADS} ` +
    `reloads in a row lose nothing.`,
  ...IN_PRODUCTION,
  expect: {
    precise: {
      applicable: true,
      expect:
        `with the PoC's job (UNICORN_FD=UPSTART_FDS, no -l, no listen in unicorn.rb), initctl ` +
        `reload sends HUP to unicorn's master, which closes the adopted socket (it is in neither ` +
        `its config nor -l) and replaces its workers with ones that have nothing to accept on; the ` +
        `bridge still holds its copy, so connections are accepted by the kernel and wait: no ` +
        `request is answered after the reload, each one runs into the load's ` +
        `${CLIENT_TIMEOUT_MS / 1000} s timeout, and a visitor who waits longer gets nginx's 504 ` +
        `after proxy_read_timeout (60 s); upstart still reads start/running. With ` +
        `unicorn-wrapper.conf in its place (the wrapper passes -l with the socket's path), ` +
        `${RELOADS} initctl reloads are forwarded as HUP, the master keeps the socket after each ` +
        `one and no request fails`,
    },
    bookworm: {
      applicable: true,
      expect:
        `systemctl reload runs unicorn.service's ExecReload (kill -HUP $MAINPID): the same HUP, ` +
        `but the unit passes -l /run/unicorn/unicorn.sock, which names the socket systemd handed ` +
        `over (LISTEN_FDS), so unicorn keeps it: every request is answered after the reload and ` +
        `the patient visitor gets a 200 at once (without that -l, unicorn 6.0 closes a LISTEN_FDS ` +
        `socket on HUP as well: its listeners= keeps only what the config and -l name; seen with ` +
        `the same unicorn and a parent passing LISTEN_FDS as systemd does). With ` +
        `unicorn-wrapper.service, ${RELOADS} systemctl reloads go to the wrapper, which forwards ` +
        `each HUP; the master keeps the socket and no request fails`,
    },
  },
  boot: (flavour) => unicornBoot(flavour, 'unicorn-seed-poc'),
  async run(ctx) {
    const job = ctx.server.job;
    await ctx.warmUp();
    const st = new Stretches(ctx);
    const nginxReadTimeout =
      (await ctx.sh(`grep -ho 'proxy_read_timeout [^;]*' /etc/nginx/sites-enabled/unicorn`)).stdout
        .trim()
        .split(/\s+/)[1] ?? 'unknown';
    const traffic = () =>
      ctx.load({
        durationMs: 150_000,
        rate: 100,
        concurrency: 8,
        slowEvery: 10,
        slowMs: 300,
        timeoutMs: CLIENT_TIMEOUT_MS,
      });
    const held = await socketHolders(ctx);
    traffic();
    // A request sent just before the reload and still queued when the master closed the socket
    // hangs because of the reload: it belongs to the stretch that shows the hang (seen on
    // precise with another lab beside it: 4 requests sent 90 to 120 ms before the HUP).
    await st.hold(BEFORE, 1000, { blameNext: true });

    const reload = await ctx.initctl('reload', job);
    let afterReload = held;
    let initAfterReload = '';
    const patient = await st.holdWhile(
      AFTER,
      async () => {
        // unicorn handles the HUP in its master loop after `reload` has returned, and its old
        // workers keep the socket until they exit: the visitor comes once only the socket's
        // owner holds it (or, where the socket is kept, after a second: nothing changes then).
        const settled = await ctx.waitFor(
          async () => {
            const h = await socketHolders(ctx);
            return !h.masterHolds && h.holders <= 1 ? h : undefined;
          },
          3000,
          100,
        );
        if (!settled) await sleep(1000);
        const p = askApp(ctx, PATIENT_MS);
        afterReload = settled ?? (await socketHolders(ctx));
        initAfterReload = initState(await ctx.inspect());
        ctx.mark(
          'note',
          `unicorn's master ${afterReload.master} ` +
            `${afterReload.masterHolds ? 'still holds' : 'no longer holds'} the socket ` +
            `(${afterReload.holders} processes hold it)`,
        );
        return p;
      },
      4000,
    );
    ctx.mark('note', `a visitor who waited: ${patient.status || 'no answer'} after ${patient.ms} ms`);
    // Traffic pauses while the job is replaced, so no connection starts the old job meanwhile.
    await ctx.loadHandle?.stop();

    await perInit(ctx.flavour, {
      precise: async () => {
        const text = await ctx.must(`cat ${IMAGE_JOB('unicorn-wrapper')}`);
        await ctx.applyConfig(
          'unicorn.conf',
          text,
          'lab apply unicorn.conf = unicorn-wrapper.conf (the wrapper adds -l)',
        );
      },
      bookworm: async () => {
        const text = await ctx.must(`cat ${IMAGE_UNIT('unicorn-wrapper.service')}`);
        await ctx.applyConfig('unicorn.service', text, 'lab apply unicorn.service = unicorn-wrapper.service');
        await ctx.initctl('restart', job);
      },
    })();
    const wrapperUpMs = await waitFor200(ctx, 20_000);
    traffic();
    await sleep(500);
    const reloadExits: number[] = [];
    const heldAfterEachReload: boolean[] = [];
    await st.span(
      WRAPPED,
      async () => {
        for (let i = 1; i <= RELOADS; i++) {
          reloadExits.push((await ctx.initctl('reload', job)).code);
          await sleep(1000);
          heldAfterEachReload.push((await socketHolders(ctx)).masterHolds);
        }
      },
      500,
    );
    const records = await ctx.allRecords();
    const events = await ctx.events();
    const plan = ctx.driver.initctl(['reload', job], ctx.server);
    return {
      ...st.facts(records),
      reloadCommand: 'label' in plan ? plan.label : 'reload',
      reloadExit: reload.code,
      masterHeldBefore: held.masterHolds,
      masterHeldAfterReload: afterReload.masterHolds,
      holdersAfterReload: afterReload.holders,
      initAfterReload,
      patientStatus: patient.status,
      patientMs: patient.ms,
      nginxReadTimeout,
      wrapperUpMs,
      reloadExits,
      heldAfterEachReload,
      hupsForwarded: events.filter(
        (e) => e.program === 'unicorn-wrapper' && e.event === 'signal-forwarded' && e.fields.signal === 'SIGHUP',
      ).length,
    };
  },
  verdict({ flavour, facts: f }) {
    const j = new Judge();
    j.check(`${BEFORE}: answered 200`, 'at least 99%', okPercent(f, BEFORE), okRatio(f, BEFORE) >= 0.99);
    j.equal("unicorn's master holds the socket before the reload", true, f.masterHeldBefore);
    j.equal(`${f.reloadCommand} exit code`, 0, f.reloadExit);
    const after = stretch(f, AFTER);
    perInit(flavour, {
      precise: () => {
        j.equal('upstart after the reload (it sees nothing wrong)', 'start/running', f.initAfterReload);
        j.equal("unicorn's master holds the socket after the reload", false, f.masterHeldAfterReload);
        j.atLeast('processes still holding the socket (the bridge: connections queue)', 1, f.holdersAfterReload);
        j.check(`${AFTER}: answered 200`, 'none', okPercent(f, AFTER), okRatio(f, AFTER) === 0);
        j.check(
          `${AFTER}: requests that hung until the client or nginx gave up`,
          'at least 1',
          after ? `${after.waited} of ${after.sent}` : 'not reached',
          !!after && after.waited >= 1,
        );
        j.check(
          'a visitor who waits as long as nginx',
          `504 after nginx's proxy_read_timeout (${f.nginxReadTimeout})`,
          `${f.patientStatus || 'no answer'} after ${f.patientMs} ms`,
          f.patientStatus === 504 && f.patientMs >= 55_000,
        );
      },
      bookworm: () => {
        j.equal('systemd after the reload', 'active/running', f.initAfterReload);
        j.equal("unicorn's master holds the socket after the reload (-l names it)", true, f.masterHeldAfterReload);
        j.check(`${AFTER}: answered 200`, 'at least 99%', okPercent(f, AFTER), okRatio(f, AFTER) >= 0.99);
        j.check(
          'a visitor who waits as long as nginx',
          '200 at once',
          `${f.patientStatus || 'no answer'} after ${f.patientMs} ms`,
          f.patientStatus === 200 && f.patientMs < CLIENT_TIMEOUT_MS,
        );
      },
    })();
    j.check(
      "the wrapper's setup answers",
      'within 20 s of the switch',
      f.wrapperUpMs === null ? 'never' : `after ${f.wrapperUpMs} ms`,
      f.wrapperUpMs !== null,
    );
    judgeNoneFailed(j, f, WRAPPED);
    j.check(
      'reloads that exited 0',
      `${RELOADS}`,
      f.reloadExits.join(','),
      f.reloadExits.length === RELOADS && f.reloadExits.every((c) => c === 0),
    );
    j.check(
      "unicorn's master holds the socket after each reload",
      `${RELOADS} of ${RELOADS}`,
      `${f.heldAfterEachReload.filter(Boolean).length} of ${f.heldAfterEachReload.length}`,
      f.heldAfterEachReload.length === RELOADS && f.heldAfterEachReload.every(Boolean),
    );
    j.equal('HUPs the wrapper forwarded to the master', RELOADS, f.hupsForwarded);
    for (const name of f.phaseNames) j.note(stretchLine(f, name));
    j.note(
      `nginx proxy_read_timeout ${f.nginxReadTimeout}; the load gives up after ` +
        `${CLIENT_TIMEOUT_MS} ms; the patient visitor: ${f.patientStatus || 'no answer'} after ` +
        `${f.patientMs} ms`,
    );
    return j.verdict();
  },
};
