// The dynamic part's pure pieces: where the team's files go in the lab (each rewrite said),
// how a step is judged from its facts, and which finding a failed step confirms.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { staticAudit } from '../../lab/audit';
import {
  SHOWN_BY,
  budgetOf,
  confirmationsOf,
  initWord,
  installFor,
  stepsOf,
  tracksApp,
  unsupervised,
} from '../../lab/audit/dynamic';
import { readRecipe } from '../../lab/audit/fix';
import { seePast } from '../../lab/audit/unblock';
import { RULES } from '../../lab/audit/rules';
import type { LabStatus } from '../../lab/inspect';
import { ROOT } from '../support/root';

const EX = join(ROOT, 'lab/audit/examples');
const read = (dir: string) => staticAudit({ dir: join(EX, dir), units: [] });

describe('lab audit, dynamic: installing the team files', () => {
  it('an upstart job goes to /etc/init/unicorn.conf; the lab socket-permissions job is removed unless the team has one', () => {
    const { model, files } = read('seed-poc');
    const i = installFor(model, files);
    assert.equal(i.boot.files?.['/etc/init/unicorn.conf'], model.job?.text);
    assert.ok(i.boot.remove?.includes('/etc/init/socket-permissions.conf'));
    assert.ok(i.rewrites.some((r) => /socket-permissions\.conf removed/.test(r)));
    assert.equal(
      i.boot.files?.['/opt/unicorn/app/unicorn.rb'],
      files.find((f) => f.kind === 'unicorn-config')?.text,
      'where -c reads it',
    );
    const rec = read('recommended-upstart');
    const j = installFor(rec.model, rec.files);
    assert.ok(!j.boot.remove?.includes('/etc/init/socket-permissions.conf'));
    assert.ok(i.boot.remove?.includes('/etc/init/bridge-socket-refresh.conf'), "the seed's folder has no refresh job");
    assert.ok(!j.boot.remove?.includes('/etc/init/bridge-socket-refresh.conf'), 'the recipe has one');
    assert.ok(j.boot.files?.['/etc/init/socket-permissions.conf']);
    assert.equal(j.boot.activatesServer, true);
  });

  it('units go to /etc/systemd/system as unicorn.service (+ unicorn.socket, enabled), each rename said', () => {
    const { model, files } = read('recommended-systemd');
    const i = installFor(model, files);
    assert.ok(i.boot.files?.['/etc/systemd/system/unicorn.service']?.includes('unicorn-wrapper'));
    assert.ok(i.boot.files?.['/etc/systemd/system/unicorn.socket']);
    assert.ok(i.boot.shell?.some((l) => l.includes('sockets.target.wants/unicorn.socket')));
    assert.ok(
      i.rewrites.some((r) => /unicorn-wrapper\.service installed as \/etc\/systemd\/system\/unicorn\.service/.test(r)),
    );
    const forking = read('systemd-forking-no-pidfile');
    assert.ok(
      installFor(forking.model, forking.files).boot.shell?.some((l) =>
        l.includes('multi-user.target.wants/unicorn.service'),
      ),
    );
  });

  it("a herder script goes where the job runs it, executable; the site listens on the lab's port 80", () => {
    const { model, files } = read('herder-sleeps');
    const i = installFor(model, files);
    assert.ok(i.boot.files?.['/usr/local/bin/sleepy-herder']);
    assert.ok(i.boot.shell?.includes("chmod 0755 '/usr/local/bin/sleepy-herder'"));
    const site = i.boot.files?.['/etc/nginx/sites-available/unicorn'] ?? '';
    assert.match(site, /^\s*listen 80;/m);
    const changed = {
      ...model,
      site: { ...model.site!, lines: model.site!.lines.map((l) => l.replace('listen 80;', 'listen 8080;')) },
    };
    const r = installFor(changed, files);
    assert.match(r.boot.files?.['/etc/nginx/sites-available/unicorn'] ?? '', /^\s*listen 80;/m);
    assert.ok(r.rewrites.some((x) => /listen rewritten to 80/.test(x)));
  });
});

describe('lab audit, dynamic: judging the battery', () => {
  const status = (o: Partial<LabStatus>): LabStatus => ({
    init: { name: 'x', status: '' },
    masters: [],
    herders: [],
    workers: [],
    nginx: [],
    ...o,
  });

  it('init follows the app when it tracks a master or the wrapper in front of them', () => {
    assert.equal(tracksApp(status({ masters: [{ pid: 5, ppid: 1, trackedByInit: true }] })), true);
    assert.equal(
      tracksApp(
        status({ herders: [{ pid: 4, trackedByInit: true }], masters: [{ pid: 5, ppid: 4, trackedByInit: false }] }),
      ),
      true,
    );
    assert.equal(tracksApp(status({ masters: [{ pid: 5, ppid: 1, trackedByInit: false }] })), false);
    assert.equal(unsupervised(status({ masters: [{ pid: 5, ppid: 1, trackedByInit: false }] })), 1);
    assert.equal(unsupervised(status({ masters: [{ pid: 5, ppid: 1, trackedByInit: true }] })), 0);
    // Behind a tracked wrapper or herder: one master is followed, an old one nobody QUIT is not.
    const herder = { herders: [{ pid: 4, trackedByInit: true }] };
    assert.equal(unsupervised(status({ ...herder, masters: [{ pid: 5, ppid: 1, trackedByInit: false }] })), 0);
    const two = [5, 6].map((pid) => ({ pid, ppid: 1, trackedByInit: false }));
    assert.equal(unsupervised(status({ ...herder, masters: two })), 1);
  });

  it('each rule the battery can show is a rule of the audit', () => {
    const names = new Set(RULES.map((r) => r.name));
    for (const k of Object.keys(SHOWN_BY)) assert.ok(names.has(k), `${k} is not a rule`);
  });

  it('a deploy may lose nothing; a crash loses at most what lab chaos allows', () => {
    assert.equal(budgetOf('USR2 deploy 1'), 0);
    assert.equal(budgetOf('initctl reload (HUP)'), 0);
    assert.equal(budgetOf('kill -9 of the master'), 5);
    assert.equal(budgetOf('kill -9 of a worker'), 8);
    const steps = stepsOf({
      stepNames: ['USR2 deploy 1', 'kill -9 of a worker', 'stop + start'],
      stepFailed: [1, 1, 0],
      stepSent: [200, 200, 200],
      stepGapMs: [300, 200, 100],
      stepTracked: [true, true, true],
      stepUnsupervised: [0, 0, 0],
      stepNotes: [
        'a new generation serves',
        'worker killed',
        '1 master(s) of before the stop still alive 3 s after it; answering',
      ],
    });
    assert.deepEqual(
      steps.map((s) => s.ok),
      [false, true, false],
    );
  });
});

describe('lab audit, dynamic: seeing past a blocking finding', () => {
  const step = (name: string, ok: boolean) => ({
    name,
    failed: ok ? 0 : 3,
    sent: 200,
    longestGapMs: 0,
    tracked: ok,
    unsupervised: 0,
    note: '',
    init: '',
    pids: '',
    ok,
  });

  it("with no first answer only the first answer's finding is confirmed; the others are not judged", () => {
    const { report } = read('seed-poc');
    const c = confirmationsOf(report.findings, { firstAnswerMs: null, steps: [] });
    assert.deepEqual(
      c.filter((x) => x.confirmed === true).map((x) => x.scenario),
      ['socket-permissions'],
    );
    assert.ok(c.filter((x) => x.scenario !== 'socket-permissions').every((x) => x.confirmed === null));
  });

  it("the seed's 0755 socket is lifted with the recipe's socket-permissions job, in the lab only, said why", () => {
    const { report, model, files } = read('seed-poc');
    const install = installFor(model, files);
    const before = JSON.stringify(install);
    const p = seePast(report.findings, model, install, readRecipe(ROOT), () => true);
    assert.ok(p, 'socket-permissions has a fix the lab can apply');
    assert.equal(p.finding.rule, 'bridge-socket-0755');
    const job = p.install.boot.files?.['/etc/init/socket-permissions.conf'] ?? '';
    assert.match(job, /chmod 0660/);
    assert.ok(job.includes(model.job!.bridgeSocket!.value), "the team's socket path");
    assert.ok(!p.install.boot.remove?.includes('/etc/init/socket-permissions.conf'), 'no longer removed');
    assert.match(p.rewrite, /to see past finding socket-permissions \[bridge-socket-0755\]/);
    assert.ok(p.install.rewrites.includes(p.rewrite));
    assert.equal(JSON.stringify(install), before, 'the first install is left as it was');
    assert.equal(p.install.boot.files?.['/etc/init/unicorn.conf'], model.job?.text, "the team's job unchanged");
  });

  it('nothing is lifted when the finding did not block, or no finding blocks', () => {
    const seed = read('seed-poc');
    const install = installFor(seed.model, seed.files);
    assert.equal(
      seePast(seed.report.findings, seed.model, install, readRecipe(ROOT), () => false),
      undefined,
    );
    const rec = read('recommended-upstart');
    assert.equal(
      seePast(rec.report.findings, rec.model, installFor(rec.model, rec.files), readRecipe(ROOT), () => true),
      undefined,
    );
  });

  it("a second run's findings are judged by its own steps, marked run 2", () => {
    const { report } = read('seed-poc');
    const rest = report.findings.filter((f) => f.rule !== 'bridge-socket-0755');
    const c = confirmationsOf(
      rest,
      { firstAnswerMs: 900, steps: [step('USR2 deploy 1', false), step('initctl reload (HUP)', true)] },
      2,
    );
    const by = Object.fromEntries(c.map((x) => [x.rule, x.confirmed]));
    assert.equal(by['bridge-unicorn-direct'], true);
    assert.equal(by['adopted-socket-not-named'], false, 'its step ran and passed');
    assert.ok(c.every((x) => x.run === 2));
  });

  it('a reload that failed only for a master an earlier deploy left does not confirm the reload finding', () => {
    const f = [{ scenario: 'unicorn-initctl-reload', rule: 'adopted-socket-not-named' }];
    const reload = { ...step('initctl reload (HUP)', false), failed: 0, tracked: true, unsupervised: 1 };
    assert.equal(confirmationsOf(f, { firstAnswerMs: 90, steps: [reload] })[0].confirmed, false);
    const hangs = { ...reload, failed: 12, longestGapMs: 4000 };
    assert.deepEqual(confirmationsOf(f, { firstAnswerMs: 90, steps: [hangs] })[0].by, ['initctl reload (HUP)']);
  });

  it("init's word is one line on either init", () => {
    const st = (init: LabStatus['init']): LabStatus => ({ init, masters: [], herders: [], workers: [], nginx: [] });
    const systemd = 'MainPID=70\nActiveState=active\nSubState=running';
    assert.equal(
      initWord(st({ name: 'systemd', status: systemd, state: 'active/running', trackedPid: 70 })),
      'active/running, process 70',
    );
    assert.equal(
      initWord(st({ name: 'upstart', status: 'unicorn stop/waiting', state: 'stop/waiting' })),
      'stop/waiting',
    );
  });

  it("each step keeps init's status and the masters' pids before and after it", () => {
    const [s] = stepsOf({
      stepNames: ['USR2 deploy 1'],
      stepFailed: [0],
      stepSent: [10],
      stepGapMs: [0],
      stepTracked: [false],
      stepUnsupervised: [1],
      stepNotes: ['a new master serves'],
      stepInit: ['start/running, process 40 -> stop/waiting'],
      stepPids: ['40 -> 52'],
    });
    assert.equal(s.init, 'start/running, process 40 -> stop/waiting');
    assert.equal(s.pids, '40 -> 52');
  });
});
