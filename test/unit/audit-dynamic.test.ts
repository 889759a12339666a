// The dynamic part's pure pieces: where the team's files go in the lab (each rewrite said),
// how a step is judged from its facts, and which finding a failed step confirms.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { staticAudit } from '../../lab/audit';
import { SHOWN_BY, budgetOf, installFor, stepsOf, tracksApp, unsupervised } from '../../lab/audit/dynamic';
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
