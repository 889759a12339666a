// What the battery adds to the audit, checked without a lab: the steps that can leave a site
// silent for good (the reload, the restart of the socket's owner) and how they confirm a
// finding, where an --app's gems go, and the static part on the run's HTML page.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { staticAudit } from '../../lab/audit';
import {
  type DynamicResult,
  OWNER_STEP,
  type StepResult,
  OWNER_GAP_MS,
  confirmationsOf,
  costOk,
  installFor,
  stepsOf,
  withStaticPart,
} from '../../lab/audit/dynamic';
import { summarize } from '../../lab/check/continuity';
import { sampleRun } from '../../lab/report/sample';
import { writeReport } from '../../lab/report/write';
import { ROOT } from '../support/root';

const EX = join(ROOT, 'lab/audit/examples');
const read = (dir: string) => staticAudit({ dir: join(EX, dir), units: [] });

const step = (name: string, o: Partial<StepResult> = {}): StepResult => ({
  name,
  failed: 0,
  sent: 300,
  longestGapMs: 100,
  tracked: true,
  unsupervised: 0,
  note: '',
  init: '',
  pids: '',
  ok: true,
  ...o,
});
const BRIDGE = `${OWNER_STEP} (initctl restart upstart-socket-bridge)`;
const STALE = { scenario: 'unicorn-bridge-traps', rule: 'bridge-restart-stale-socket' };

describe("lab audit battery: the restart of the socket's owner", () => {
  it('runs where init owns the socket: the bridge job, the .socket unit; not where unicorn binds its own', () => {
    for (const [dir, sock] of [
      ['seed-poc', '/var/run/unicorn/unicorn.sock'],
      ['recommended-upstart', '/var/run/unicorn/unicorn.sock'],
      ['recommended-systemd', '/run/unicorn/unicorn.sock'],
      ['exec-respawn', undefined],
      ['systemd-forking-no-pidfile', undefined],
    ] as const) {
      const { model, files } = read(dir);
      assert.equal(installFor(model, files).initSocket, sock, dir);
    }
  });

  it('confirms the stale socket only when the site is gone after the next stop + start', () => {
    const gone = step(BRIDGE, {
      ok: false,
      failed: 2558,
      note: "answering 4 s after it; after the app's stop + start: no answer (start/running, process 792); the lab brought the app back",
    });
    const c = confirmationsOf([STALE], { firstAnswerMs: 80, steps: [step('initctl reload (HUP)'), gone] });
    assert.deepEqual(c[0].by, [BRIDGE]);
    assert.equal(c[0].confirmed, true);
    // Costing more than the restart may, but answering after the stop + start: not this trap.
    const costly = step(BRIDGE, {
      ok: false,
      failed: 9,
      note: "answering 4 s after it; after the app's stop + start: answering 80 ms later",
    });
    assert.equal(confirmationsOf([STALE], { firstAnswerMs: 80, steps: [costly] })[0].confirmed, false);
  });

  it('is not judged (null) when the battery ran without that step, rather than "not confirmed"', () => {
    const c = confirmationsOf([STALE], { firstAnswerMs: 80, steps: [step('USR2 deploy 1'), step('stop + start')] });
    assert.equal(c[0].confirmed, null);
  });

  it('is judged by the site after it and its gap, not by the requests the restart itself resets', () => {
    assert.equal(costOk(BRIDGE, 4, 307), true, 'the upstart recipe: 4 of 252, 307 ms');
    assert.equal(costOk(`${OWNER_STEP} (systemctl restart unicorn.socket)`, 9, 228), true, 'the systemd recipe');
    assert.equal(costOk(BRIDGE, 0, OWNER_GAP_MS), false, 'a site away for 5 s');
    assert.equal(costOk('initctl reload (HUP)', 1, 100), false, 'a reload may lose nothing');
    const [s] = stepsOf({
      stepNames: [BRIDGE],
      stepFailed: [4],
      stepSent: [252],
      stepGapMs: [307],
      stepTracked: [true],
      stepUnsupervised: [0],
      stepNotes: ["answering 4 s after it; after the app's stop + start: answering 496 ms later"],
    });
    assert.equal(s.ok, true);
  });

  it('a systemd reload that stops a Type=forking service without PIDFile= confirms that finding', () => {
    const f = [{ scenario: 'unicorn-systemd-forking', rule: 'forking-without-pidfile' }];
    const reload = step('initctl reload (HUP)', { ok: false, failed: 257, tracked: false, note: 'no answer' });
    assert.deepEqual(confirmationsOf(f, { firstAnswerMs: 80, steps: [reload] })[0].by, ['initctl reload (HUP)']);
  });
});

describe('lab audit battery: an --app with a Gemfile', () => {
  it('is copied where its config.ru is loaded, with its gems installed there; said as a rewrite', () => {
    const { model, files } = read('seed-poc');
    const i = installFor(model, files, {
      configRu: 'run ->(e) { [200, {}, ["x"]] }\n',
      dir: '/teams/app',
      gemfile: true,
    });
    assert.deepEqual(i.bundle, { dir: '/teams/app', root: '/opt/unicorn/app' });
    assert.ok(i.rewrites.some((r) => /\/teams\/app copied to \/opt\/unicorn\/app.*bundle3\.1 install --local/.test(r)));
    const plain = installFor(model, files, { configRu: 'x', dir: '/teams/app', gemfile: false });
    assert.equal(plain.bundle, undefined, 'no Gemfile: config.ru alone, as before');
  });
});

describe('lab audit report page: the static part', () => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-page-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('has every finding with its evidence, what the battery said, and its fix diffs', () => {
    const { report } = read('seed-poc');
    const { records, actions } = sampleRun({ seconds: 4, rate: 50 });
    const page = writeReport(dir, {
      title: 'audit',
      scenario: 'audit',
      flavour: 'precise',
      verdict: { outcome: 'UNEXPECTED', reasons: [] },
      continuity: summarize(records),
      records,
      actions,
      startedAt: '2026-12-06T08:00:00.000Z',
    });
    const d: DynamicResult = {
      flavour: 'precise',
      outcome: 'UNEXPECTED',
      report: page,
      firstAnswerMs: 80,
      steps: [step('initctl reload (HUP)', { ok: false, failed: 3, longestGapMs: 10_213, note: 'no answer' })],
      rewrites: [],
      confirmed: confirmationsOf(report.findings, {
        firstAnswerMs: 80,
        steps: [step('initctl reload (HUP)', { ok: false, failed: 3, longestGapMs: 10_213, note: 'no answer' })],
      }),
    };
    withStaticPart(d, report);
    const html = readFileSync(page, 'utf8');
    assert.ok(html.indexOf('id="audit-static"') < html.indexOf('id="timeline"'), 'above the timeline');
    for (const f of report.findings) {
      assert.ok(html.includes(`data-rule="${f.rule}"`), f.rule);
      for (const e of f.evidence) assert.ok(html.includes(`:${e.line}: `), `${f.rule}: evidence line ${e.line}`);
      for (const x of f.fixes) assert.ok(html.includes(x.recipe), `${f.rule}: the fix from ${x.recipe}`);
    }
    assert.match(html, /CONFIRMED by initctl reload \(HUP\)/);
    assert.match(html, /<pre class="diff">--- /, 'the diffs as printed, escaped');
    assert.match(html, /OK<\/td><td>upstart 1\.5 job checker/);
  });
});
