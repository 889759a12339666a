/**
 * End to end: `lab audit` without --static on two examples, booted on the selected flavours
 * (LAB_FLAVOUR, as the other e2e files; bookworm by default). The recommended recipe passes
 * the whole battery, the restart of the socket's owner included; the folder modelled on a
 * public report has its static finding confirmed by the step that shows it; each page carries
 * the static findings. On upstart, the seed's PoC has its findings judged past the socket its
 * site never answers on, the reload and the bridge-restart trap among them. On systemd, a
 * socket unit closed to www-data is lifted by the drop-in the lab applies, and a team's app
 * with vendored gems is installed offline. Each run leaves its report and no container behind.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { staticAudit } from '../../lab/audit';
import { type BatteryRun, OWNER_STEP, auditDynamic } from '../../lab/audit/dynamic';
import { DRIVERS } from '../../lab/flavours';
import { ROOT } from '../support/root';
import { vendoredApp } from '../support/vendored-app';
import { flavourImage, selection } from './lab-container';

const chosen = selection();
const EX = join(ROOT, 'lab/audit/examples');
const home = mkdtempSync(join(tmpdir(), 'e2e-audit-'));
after(() => rmSync(home, { recursive: true, force: true }));

/** The two examples of each init family: the recipe, and a report's failure with its scenario. */
/** The battery ran clean; else every step that did not, with its numbers. */
function assertEveryStepPassed(run: BatteryRun): void {
  assert.equal(
    run.outcome,
    'EXPECTED',
    run.steps
      .filter((s) => !s.ok)
      .map(
        (s) =>
          `${s.name}: ${s.failed} of ${s.sent} failed, gap ${s.longestGapMs} ms, tracked ${s.tracked}, ` +
          `unsupervised ${s.unsupervised}; ${s.note}; init ${s.init}; masters ${s.pids}`,
      )
      .join('\n'),
  );
}

const PAIRS = {
  systemd: { clean: 'recommended-systemd', exposed: 'systemd-forking-no-pidfile', scenario: 'unicorn-systemd-forking' },
  upstart: { clean: 'recommended-upstart', exposed: 'exec-respawn', scenario: 'unicorn-exec-respawn' },
} as const;

for (const flavour of chosen.flavours) {
  const pair = PAIRS[DRIVERS[flavour].family];
  // Two audits at once, as test:scenarios runs two labs: each boots its own lab (its own name
  // and port), and the four bookworm audits took 5 min 26 s one after another.
  describe(`e2e lab audit on ${flavour}`, { concurrency: 2 }, () => {
    const log = (line: string): void => void process.stderr.write(`[e2e audit ${flavour}] ${line}\n`);
    let skip: string | undefined;
    // One image look-up for every test, however many ask at once.
    let pending: Promise<string | undefined> | undefined;
    const ready = (): Promise<string | undefined> =>
      (pending ??= flavourImage(flavour, chosen.image, log).then((outcome) => {
        if (outcome.kind === 'ready') return outcome.image;
        skip = `${flavour} image not available: ${outcome.reason}`;
        return undefined;
      }));

    for (const [dir, exposed] of [
      [pair.clean, false],
      [pair.exposed, true],
    ] as const) {
      it(
        `${dir}: ${exposed ? `${pair.scenario} confirmed` : 'every step passes'}`,
        { timeout: 15 * 60_000 },
        async (t) => {
          const img = await ready();
          if (img === undefined) return void t.skip(skip);
          const { report, model, files } = staticAudit({ dir: join(EX, dir), units: [], flavour });
          const d = await auditDynamic(report, model, files, { say: log, home, image: img });
          assert.ok(d.report && existsSync(d.report), 'an HTML report');
          const page = readFileSync(d.report, 'utf8');
          assert.ok(page.includes('id="audit-static"'), 'the static part on the page');
          for (const f of report.findings) assert.ok(page.includes(`data-rule="${f.rule}"`), `${f.rule} on the page`);
          if (!exposed) {
            assertEveryStepPassed(d);
            assert.equal(d.steps.length, 11, 'the whole battery ran');
            assert.ok(
              d.steps.some((s) => s.name.startsWith(OWNER_STEP)),
              "the restart of the socket's owner ran: init owns the recipe's socket",
            );
            assert.ok(
              d.steps.every((s) => s.tracked),
              'init follows the app after every step',
            );
          } else {
            assert.equal(d.outcome, 'UNEXPECTED');
            // A step that left the site silent is followed by the lab bringing the app back: each
            // later step acts on a serving app, none is skipped for want of a master.
            assert.deepEqual(
              d.steps.filter((s) => /could not be done/.test(s.note)).map((s) => `${s.name}: ${s.note}`),
              [],
            );
            const c = d.confirmed.find((x) => x.scenario === pair.scenario);
            assert.ok(c?.confirmed, `${pair.scenario} not confirmed: ${JSON.stringify(d.steps)}`);
          }
        },
      );
    }

    // The seed's PoC: its 0755 socket blocks the first answer; the lab lifts that one finding
    // with the recipe's socket-permissions job and judges the others on a second run.
    if (DRIVERS[flavour].family === 'upstart')
      it('seed-poc: socket-permissions blocks, the others judged past it', { timeout: 20 * 60_000 }, async (t) => {
        const img = await ready();
        if (img === undefined) return void t.skip(skip);
        const { report, model, files } = staticAudit({ dir: join(EX, 'seed-poc'), units: [], flavour });
        const d = await auditDynamic(report, model, files, { say: log, home, image: img });
        assert.equal(d.firstAnswerMs, null, 'the 0755 socket: no 200');
        assert.ok(d.seenPast, 'a second run past socket-permissions');
        assert.match(d.seenPast.rewrite, /to see past finding socket-permissions/);
        assert.notEqual(d.seenPast.firstAnswerMs, null, 'the site answers once the socket is handed to www-data');
        const by = (s: string) => d.confirmed.find((x) => x.scenario === s);
        assert.equal(by('socket-permissions')?.confirmed, true);
        assert.equal(by('seed-poc')?.confirmed, true, JSON.stringify(d.seenPast.steps));
        assert.equal(by('seed-poc')?.run, 2);
        // The reload runs before any deploy has left a master holding the socket: the HUP closes
        // the socket unicorn adopted, and nothing answers.
        assert.deepEqual(by('unicorn-initctl-reload')?.by, ['initctl reload (HUP)'], JSON.stringify(d.seenPast.steps));
        // After the bridge's restart over its own file, the app's next stop + start leaves nothing listening.
        const stale = d.confirmed.find((x) => x.rule === 'bridge-restart-stale-socket');
        assert.equal(stale?.confirmed, true, JSON.stringify(d.seenPast.steps));
      });

    // A team's own app with its gems vendored (--app): copied into the lab, its gems installed
    // from vendor/cache with no network, and the recipe's battery passes on it.
    if (DRIVERS[flavour].family === 'systemd')
      it('--app with vendored gems: installed offline, every step passes', { timeout: 15 * 60_000 }, async (t) => {
        const img = await ready();
        if (img === undefined) return void t.skip(skip);
        if (spawnSync('gem', ['--version']).status !== 0)
          return void t.skip('no gem command here to build the fixture');
        const app = vendoredApp(home, 'team-app');
        const { report, model, files } = staticAudit({ dir: join(EX, 'recommended-systemd'), units: [], app, flavour });
        const configRu = files.find((f) => f.path === join(app, 'config.ru'))?.text;
        assert.ok(configRu?.includes('require "hello"'), "the app's config.ru is read");
        const d = await auditDynamic(report, model, files, {
          say: log,
          home,
          image: img,
          app: { configRu: configRu!, dir: app, gemfile: true },
        });
        assert.ok(d.rewrites.some((r) => /bundle3\.1 install --local/.test(r)));
        assert.notEqual(d.firstAnswerMs, null, `the app's config.ru (require "hello") answers: ${d.firstMiss ?? ''}`);
        assert.match(readFileSync(d.report!, 'utf8'), /gems installed: Bundle complete!/);
        assertEveryStepPassed(d);
      });

    // A socket unit closed to www-data (root, 0600): the first run gets no answer; the lab lifts
    // it with the recipe's SocketGroup=/SocketMode= as a drop-in, and the second run shows that
    // fix is enough: the whole battery passes.
    if (DRIVERS[flavour].family === 'systemd')
      it(
        'a socket unit closed to www-data: the drop-in the lab applies is enough',
        { timeout: 15 * 60_000 },
        async (t) => {
          const img = await ready();
          if (img === undefined) return void t.skip(skip);
          const dir = join(home, 'socket-0600');
          cpSync(join(EX, 'recommended-systemd'), dir, { recursive: true });
          const unit = join(dir, 'unicorn.socket');
          writeFileSync(
            unit,
            readFileSync(unit, 'utf8')
              .replace(/^SocketGroup=www-data$/m, 'SocketGroup=root')
              .replace(/^SocketMode=0660$/m, 'SocketMode=0600'),
          );
          const { report, model, files } = staticAudit({ dir, units: [], flavour });
          assert.deepEqual(
            report.findings.map((f) => f.rule),
            ['bridge-socket-0755'],
          );
          const d = await auditDynamic(report, model, files, { say: log, home, image: img });
          assert.equal(d.firstAnswerMs, null, 'nginx (www-data) cannot connect to a root 0600 socket');
          assert.match(d.firstMiss ?? '', /root:root 0600|0600/);
          assert.ok(d.seenPast, 'a second run past socket-permissions');
          assert.match(d.seenPast.rewrite, /unicorn\.socket\.d\/lab-audit-socket-mode\.conf added/);
          assertEveryStepPassed(d.seenPast);
          assert.equal(d.confirmed[0].confirmed, true);
        },
      );
  });
}
