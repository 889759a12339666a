// lab audit's rules, each on the smallest configuration that trips it and on one that does
// not: pure functions of the model, so no file, no ruby, no container. The model is built by
// the same code the command uses (buildModel) from texts, and unicorn's config facts from what
// the Configurator script reports (factsFrom), as a synthetic report.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { factsFrom, type Raw } from '../../lab/audit/configurator';
import { classify } from '../../lab/audit/files';
import { buildModel } from '../../lab/audit/model';
import * as R from '../../lab/audit/rules';
import type { AuditModel, TeamFile } from '../../lab/audit/types';
import { CATALOGUE } from '../../lab/scenarios/catalogue';

const GOOD_RAW: Raw = {
  loaded: true,
  lines: { pid: [2], preload_app: [3], before_fork: [4] },
  pid: '/var/run/unicorn/unicorn.pid',
  listeners: [],
  preload_app: true,
  before_fork_custom: true,
  before_fork_line: 4,
  probe: 'ran',
  quits_oldbin: true,
};
const CONFIG_TEXT =
  'worker_processes 2\npid "/var/run/unicorn/unicorn.pid"\npreload_app true\nbefore_fork do |s, w|\nend\n';

function model(files: Array<[string, string]>, raw?: Partial<Raw>): AuditModel {
  const team: TeamFile[] = files.map(([path, text]) => ({ path, text, kind: classify(path, text)! }));
  const built = buildModel(team);
  const m: AuditModel = { ...built.model };
  if (raw !== undefined) {
    m.configText = CONFIG_TEXT;
    m.config = factsFrom('unicorn.rb', CONFIG_TEXT, { ...GOOD_RAW, ...raw });
  }
  return m;
}

const WRAPPER =
  '/opt/phoenix/runtime/bin/node /opt/phoenix/app/dist/src/unicorn-wrapper/cli.js ' +
  '--pid /var/run/unicorn/unicorn.pid -- /usr/bin/unicorn -c /app/unicorn.rb /app/config.ru';
const BRIDGE = 'start on socket PROTO=unix PATH=/var/run/unicorn/unicorn.sock\n';
const job = (body: string): [string, string] => ['unicorn.conf', `description "app"\n${body}`];
const unit = (name: string, body: string): [string, string] => [name, body];

function trips(rule: R.Rule, m: AuditModel): string[] {
  const out = rule.check(m);
  assert.ok(Array.isArray(out), `not judged: ${JSON.stringify(out)}`);
  for (const f of out) {
    assert.equal(f.scenario, rule.scenario);
    assert.ok(f.evidence.length > 0, 'a finding without evidence');
  }
  return out.map((f) => f.scenario);
}

describe('lab audit rules', () => {
  it('every rule names a scenario of the catalogue, and rule names are unique', () => {
    const names = new Set(CATALOGUE.map((s) => s.name));
    for (const r of R.RULES) assert.ok(names.has(r.scenario), `${r.name}: '${r.scenario}' is not in the catalogue`);
    assert.equal(new Set(R.RULES.map((r) => r.name)).size, R.RULES.length);
  });

  it('exec unicorn + respawn -> unicorn-exec-respawn; the same through the wrapper or without respawn does not', () => {
    const exec =
      'start on runlevel [2345]\nrespawn\nexec /usr/bin/unicorn -c /app/unicorn.rb -l /run/u.sock /app/config.ru\n';
    assert.deepEqual(trips(R.execRespawn, model([job(exec)])), ['unicorn-exec-respawn']);
    const f = R.execRespawn.check(model([job(exec)])) as ReturnType<typeof R.execRespawn.check> & unknown[];
    assert.deepEqual(
      (f as Array<{ evidence: Array<{ line: number }> }>)[0].evidence.map((e) => e.line),
      [4, 3],
      'the exec line and the respawn line',
    );
    assert.deepEqual(trips(R.execRespawn, model([job(exec.replace('respawn\n', ''))])), []);
    assert.deepEqual(trips(R.execRespawn, model([job(`start on runlevel [2345]\nrespawn\nexec ${WRAPPER}\n`)])), []);
  });

  it('unicorn -D under expect fork -> unicorn-daemon-expect; unicorn in the foreground does not', () => {
    const d = 'start on runlevel [2345]\nexpect fork\nexec /usr/bin/unicorn -D -c /app/unicorn.rb /app/config.ru\n';
    assert.deepEqual(trips(R.daemonExpect, model([job(d)])), ['unicorn-daemon-expect']);
    assert.deepEqual(trips(R.daemonExpect, model([job(d.replace('fork', 'daemon'))])), ['unicorn-daemon-expect']);
    assert.deepEqual(trips(R.daemonExpect, model([job(d.replace(' -D', ''))])), []);
  });

  it('the bridge starting unicorn itself -> seed-poc; the bridge starting the wrapper does not', () => {
    const poc = `${BRIDGE}script\n  exec /usr/bin/env UNICORN_FD="$UPSTART_FDS" /usr/bin/unicorn -c /app/unicorn.rb /app/config.ru\nend script\n`;
    assert.deepEqual(trips(R.seedPoc, model([job(poc)])), ['seed-poc']);
    assert.deepEqual(trips(R.seedPoc, model([job(`${BRIDGE}exec ${WRAPPER}\n`)])), []);
  });

  it('Type=forking without PIDFile= -> unicorn-systemd-forking; with PIDFile= it does not', () => {
    const svc =
      '[Service]\nType=forking\nExecStart=/usr/bin/unicorn -D -c /app/unicorn.rb -l /run/u.sock\nExecReload=/bin/kill -USR2 $MAINPID\n';
    assert.deepEqual(trips(R.systemdForking, model([unit('unicorn.service', svc)])), ['unicorn-systemd-forking']);
    const withPid = `${svc}PIDFile=/run/unicorn/unicorn.pid\n`;
    assert.deepEqual(trips(R.systemdForking, model([unit('unicorn.service', withPid)])), []);
    // A drop-in that empties PIDFile= resets it, as systemd does.
    const dropIn = unit('no-pidfile.conf', '[Service]\nPIDFile=\n');
    assert.deepEqual(trips(R.systemdForking, model([unit('unicorn.service', withPid), dropIn])), [
      'unicorn-systemd-forking',
    ]);
    // KillMode=process on top: a second finding of the same scenario.
    assert.equal(trips(R.systemdForking, model([unit('unicorn.service', `${svc}KillMode=process\n`)])).length, 2);
  });

  it("no pid in unicorn's config -> wrapper-fix; a pid, or -P on the command line, does not", () => {
    const wrapperJob = job(`${BRIDGE}exec ${WRAPPER}\n`);
    assert.deepEqual(trips(R.noPid, model([wrapperJob], { pid: null })), ['wrapper-fix']);
    assert.deepEqual(trips(R.noPid, model([wrapperJob], {})), []);
    const withP = job('start on runlevel [2345]\nexec /usr/bin/unicorn -P /run/u.pid -c /app/unicorn.rb\n');
    assert.deepEqual(trips(R.noPid, model([withP], { pid: null })), []);
    // The wrapper told one file while unicorn writes another: it never sees a master.
    assert.deepEqual(trips(R.noPid, model([wrapperJob], { pid: '/tmp/other.pid' })), ['wrapper-fix']);
    // /var/run and /run are the same place.
    assert.deepEqual(trips(R.noPid, model([wrapperJob], { pid: '/run/unicorn/unicorn.pid' })), []);
  });

  it('a config that did not load is said, never passed', () => {
    const r = R.noPid.check(model([job(`${BRIDGE}exec ${WRAPPER}\n`)], { loaded: false, error: 'SyntaxError' }));
    assert.ok(!Array.isArray(r) && /did not load/.test(r.notJudged));
  });

  it('before_fork that sends no QUIT to .oldbin -> unicorn-herder-sleeps (two generations); one that does, does not', () => {
    const j = job(`${BRIDGE}exec ${WRAPPER}\n`);
    assert.deepEqual(trips(R.noQuitOldbin, model([j], { quits_oldbin: false })), ['unicorn-herder-sleeps']);
    assert.deepEqual(trips(R.noQuitOldbin, model([j], { before_fork_custom: false, quits_oldbin: false })), [
      'unicorn-herder-sleeps',
    ]);
    assert.deepEqual(trips(R.noQuitOldbin, model([j], {})), []);
    const raised = R.noQuitOldbin.check(model([j], { probe: 'raised NameError: x' }));
    assert.ok(!Array.isArray(raised), 'a hook that could not run is not judged');
  });

  it('preload_app false with a backlog of 64 -> unicorn-cold-workers; preload_app true, or the default backlog, does not', () => {
    const j = job(`${BRIDGE}exec ${WRAPPER}\n`);
    const small = {
      preload_app: false,
      listeners: [{ address: '/var/run/unicorn/unicorn.sock', backlog: 64 }],
      lines: { listen: [5] },
    };
    assert.deepEqual(trips(R.coldWorkers, model([j], small)), ['unicorn-cold-workers']);
    assert.deepEqual(trips(R.coldWorkers, model([j], { ...small, preload_app: true })), []);
    assert.deepEqual(
      trips(R.coldWorkers, model([j], { ...small, listeners: [{ address: '/x.sock', backlog: null }] })),
      [],
    );
  });

  it('chdir to a Capistrano current link without working_directory -> unicorn-symlinked-releases; with it, not', () => {
    const j = job(
      `${BRIDGE}chdir /srv/app/current\nexec ${WRAPPER.replace('/usr/bin/unicorn', '/usr/bin/bundle exec unicorn')}\n`,
    );
    const found = trips(R.symlinkedReleases, model([j], {}));
    assert.deepEqual(
      found,
      ['unicorn-symlinked-releases', 'unicorn-symlinked-releases'],
      'working_directory and BUNDLE_GEMFILE',
    );
    const fixed = {
      working_directory: '/srv/app/current',
      before_exec_custom: true,
      before_exec_sets_bundle_gemfile: true,
    };
    assert.deepEqual(trips(R.symlinkedReleases, model([j], fixed)), []);
    assert.deepEqual(
      trips(R.symlinkedReleases, model([j], { ...fixed, working_directory: '/srv/app/releases/20240101' })).length,
      1,
    );
    assert.deepEqual(trips(R.symlinkedReleases, model([job(`${BRIDGE}chdir /opt/app\nexec ${WRAPPER}\n`)], {})), []);
  });

  it('a bridge socket nobody hands to www-data -> socket-permissions; a job that chmods it, or a socket unit open to www-data, does not', () => {
    const j = job(`${BRIDGE}exec ${WRAPPER}\n`);
    assert.deepEqual(trips(R.socketPermissions, model([j])), ['socket-permissions']);
    const helper: [string, string] = [
      'perms.conf',
      'start on started upstart-socket-bridge\ntask\nscript\n  chmod 0660 /var/run/unicorn/unicorn.sock\nend script\n',
    ];
    assert.deepEqual(trips(R.socketPermissions, model([j, helper])), []);
    const svc = unit('unicorn.service', `[Service]\nExecStart=${WRAPPER}\n`);
    const sock = (extra: string) =>
      unit('unicorn.socket', `[Socket]\nListenStream=/run/unicorn/unicorn.sock\n${extra}`);
    assert.deepEqual(trips(R.socketPermissions, model([svc, sock('SocketMode=0600\n')])), ['socket-permissions']);
    assert.deepEqual(trips(R.socketPermissions, model([svc, sock('SocketMode=0660\nSocketGroup=www-data\n')])), []);
    assert.deepEqual(trips(R.socketPermissions, model([svc, sock('')])), [], "systemd's default 0666");
  });

  it('an adopted socket neither -l nor listen names -> unicorn-initctl-reload; -l, a listen or the wrapper keep it', () => {
    const poc = (extra: string) =>
      job(
        `${BRIDGE}script\n  exec /usr/bin/env UNICORN_FD="$UPSTART_FDS" /usr/bin/unicorn ${extra}-c /app/unicorn.rb\nend script\n`,
      );
    assert.deepEqual(trips(R.adoptedSocketHup, model([poc('')], {})), ['unicorn-initctl-reload']);
    assert.deepEqual(trips(R.adoptedSocketHup, model([poc('-l /var/run/unicorn/unicorn.sock ')], {})), []);
    const named = { listeners: [{ address: '/run/unicorn/unicorn.sock' }], lines: { listen: [6] } };
    assert.deepEqual(trips(R.adoptedSocketHup, model([poc('')], named)), []);
    assert.deepEqual(trips(R.adoptedSocketHup, model([job(`${BRIDGE}exec ${WRAPPER}\n`)], {})), []);
    const never = WRAPPER.replace('--pid', '--listen-arg never --pid');
    assert.deepEqual(trips(R.adoptedSocketHup, model([job(`${BRIDGE}exec ${never}\n`)], {})), [
      'unicorn-initctl-reload',
    ]);
    // systemd: unicorn itself socket-activated.
    const svc = unit('unicorn.service', '[Service]\nExecStart=/usr/bin/unicorn -c /app/unicorn.rb\n');
    const sock = unit('unicorn.socket', '[Socket]\nListenStream=/run/unicorn/unicorn.sock\n');
    assert.deepEqual(trips(R.adoptedSocketHup, model([svc, sock], {})), ['unicorn-initctl-reload']);
  });

  it('a command found by name in a bridge job -> unicorn-bridge-traps; absolute paths do not', () => {
    assert.deepEqual(trips(R.bridgePath, model([job(`${BRIDGE}exec unicorn -c /app/unicorn.rb\n`)])), [
      'unicorn-bridge-traps',
    ]);
    assert.deepEqual(trips(R.bridgePath, model([job(`${BRIDGE}exec /usr/bin/unicorn -c /app/unicorn.rb\n`)])), []);
  });

  it('a bridge job with nothing to remove its socket when the bridge restarts -> unicorn-bridge-traps; with a refresh job, not', () => {
    const j = job(`${BRIDGE}exec ${WRAPPER}\n`);
    assert.deepEqual(trips(R.bridgeRestart, model([j])), ['unicorn-bridge-traps']);
    const refresh: [string, string] = [
      'bridge-socket-refresh.conf',
      'start on starting upstart-socket-bridge\ntask\nscript\n  rm -f /var/run/unicorn/unicorn.sock\nend script\n',
    ];
    assert.deepEqual(trips(R.bridgeRestart, model([j, refresh])), []);
    assert.deepEqual(trips(R.bridgeRestart, model([job(`start on runlevel [2345]\nexec ${WRAPPER}\n`)])), []);
  });

  it('bundle exec without --keep-file-descriptors on an inherited socket -> unicorn-bridge-traps, unless bundler >= 2.2.26', () => {
    const bundled = job(`${BRIDGE}exec ${WRAPPER.replace('/usr/bin/unicorn', '/usr/local/bin/bundle exec unicorn')}\n`);
    assert.deepEqual(trips(R.bundleFds, model([bundled])), ['unicorn-bridge-traps']);
    const lock = (v: string): [string, string] => ['Gemfile.lock', `GEM\n  specs:\n\nBUNDLED WITH\n   ${v}\n`];
    assert.deepEqual(trips(R.bundleFds, model([bundled, lock('1.17.3')])), ['unicorn-bridge-traps']);
    assert.deepEqual(trips(R.bundleFds, model([bundled, lock('2.3.5')])), []);
    const kept = job(
      `${BRIDGE}exec ${WRAPPER.replace('/usr/bin/unicorn', '/usr/local/bin/bundle exec --keep-file-descriptors unicorn')}\n`,
    );
    assert.deepEqual(trips(R.bundleFds, model([kept])), []);
    assert.equal(R.keepsFdsByDefault('2.2.26'), true);
    assert.equal(R.keepsFdsByDefault('2.2.25'), false);
  });

  it('a herder in front of unicorn -> unicorn-herder-sleeps, with its fixed waits as evidence; unicorn itself does not', () => {
    const h = job(
      'start on runlevel [2345]\nexec /usr/local/bin/unicornherder -p /run/u.pid -- unicorn -c /app/unicorn.rb\n',
    );
    const script: [string, string] = ['unicornherder', '#!/bin/sh\nBOOT_WAIT=30\nsleep 5\nsleep 0.1\n'];
    const f = R.herder.check(model([h, script]));
    assert.ok(Array.isArray(f) && f.length === 1 && f[0].scenario === 'unicorn-herder-sleeps');
    assert.deepEqual(
      f[0].evidence.map((e) => e.line),
      [3, 2, 3],
      'the exec line, BOOT_WAIT=30 and sleep 5 (not a 0.1 s poll)',
    );
    assert.deepEqual(trips(R.herder, model([job('exec /usr/bin/unicorn -c /app/unicorn.rb\n')])), []);
  });

  it('respawn in a bridge job -> master-killed-respawn; respawn without the bridge does not', () => {
    assert.deepEqual(trips(R.respawnBridge, model([job(`${BRIDGE}respawn\nexec ${WRAPPER}\n`)])), [
      'master-killed-respawn',
    ]);
    assert.deepEqual(trips(R.respawnBridge, model([job(`start on runlevel [2345]\nrespawn\nexec ${WRAPPER}\n`)])), []);
  });

  it("the wrapper's job left at upstart's 5 s kill timeout -> wrapper-fix; kill timeout 35 does not", () => {
    assert.deepEqual(trips(R.killTimeout, model([job(`${BRIDGE}exec ${WRAPPER}\n`)])), ['wrapper-fix']);
    assert.deepEqual(trips(R.killTimeout, model([job(`${BRIDGE}kill timeout 35\nexec ${WRAPPER}\n`)])), []);
    const short = WRAPPER.replace('--pid', '--stop-timeout 2 --pid');
    assert.deepEqual(trips(R.killTimeout, model([job(`${BRIDGE}exec ${short}\n`)])), []);
  });
});
