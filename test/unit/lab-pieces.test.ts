import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classify } from '../../lab/apply';
import { parseDuration, parseFlags } from '../../lab/args';
import { targetPid } from '../../lab/commands/signal';
import { LabError } from '../../lab/errors';
import { bookworm } from '../../lab/flavours/bookworm';
import { precise } from '../../lab/flavours/precise';
import { formatStatus, parseProbe } from '../../lab/inspect';
import { phoenix } from '../../lab/servers/phoenix';
import { unicorn } from '../../lab/servers/unicorn';

const PROBE = [
  'P\t40\t1\troot\t\tnginx: master process /usr/sbin/nginx',
  'P\t41\t40\twww-data\t\tnginx: worker process',
  'P\t50\t1\troot\t\t/opt/phoenix/runtime/bin/node /opt/phoenix/app/dist/src/cli.js --workers 2',
  'P\t51\t50\troot\t{"generation":3,"slot":0,"fds":[4],"timeout":30}\t/opt/phoenix/runtime/bin/node /opt/phoenix/app/dist/src/cli.js',
  'P\t52\t50\troot\t{"generation":3,"slot":1,"fds":[4],"timeout":30}\t/opt/phoenix/runtime/bin/node /opt/phoenix/app/dist/src/cli.js',
  'P\t60\t1\troot\t\t/opt/phoenix/runtime/bin/node /opt/phoenix/app/dist/src/cli.js --workers 2',
  'P\t61\t60\troot\t{"generation":1,"slot":0,"fds":[4],"timeout":30}\t/opt/phoenix/runtime/bin/node /opt/phoenix/app/dist/src/cli.js',
  'P\t70\t1\troot\t\t/bin/sh /usr/local/bin/phoenix-herder /opt/phoenix/runtime/bin/node /opt/phoenix/app/dist/src/cli.js',
  'S\troot root 755',
  'F\t60\t',
].join('\n');

test('the container probe is read into masters, workers by generation, nginx and the socket', () => {
  const s = parseProbe(PROBE, 50, phoenix);
  assert.deepEqual(
    s.masters.map((m) => [m.pid, m.trackedByInit]),
    [
      [50, true],
      [60, false],
    ],
  );
  assert.deepEqual(
    s.workers.map((w) => [w.pid, w.master, w.generation, w.slot]),
    [
      [51, 50, 3, 0],
      [52, 50, 3, 1],
      [61, 60, 1, 0],
    ],
  );
  assert.deepEqual(s.herders, [{ pid: 70, trackedByInit: false }], 'the herder is not a master');
  assert.deepEqual(
    s.nginx.map((n) => [n.pid, n.user, n.role]),
    [
      [40, 'root', 'master'],
      [41, 'www-data', 'worker'],
    ],
  );
  assert.deepEqual(s.socket, { path: '/var/run/phoenix/phoenix.sock', owner: 'root', group: 'root', mode: '0755' });
  assert.equal(s.pidFile, 60);
  const text = formatStatus({
    init: { name: 'upstart 1.5', trackedPid: 50, status: 'phoenix start/running, process 50' },
    ...s,
  });
  assert.match(text, /master 60 \(NOT tracked by init, pid file\)/);
  assert.match(text, /WARNING: 2 masters serve the same socket/);
});

test('signal targets come from the pid file first, then init', () => {
  const s = { init: { name: 'x', trackedPid: 50, status: '' }, ...parseProbe(PROBE, 50, phoenix) };
  assert.equal(targetPid(s, 'master', 0), 60);
  assert.equal(targetPid(s, 'worker', 0), 61);
  assert.equal(targetPid(s, 'nginx', 0), 40);
  assert.equal(targetPid(s, 'oldbin', 0), undefined);
  assert.throws(() => targetPid(s, 'everyone', 0), LabError);
});

test("init's words: upstart's status line and systemd's MainPID", () => {
  assert.equal(precise.trackedPid('phoenix start/running, process 812'), 812);
  assert.equal(precise.trackedPid('phoenix stop/waiting'), undefined);
  assert.equal(bookworm.trackedPid('MainPID=77\nActiveState=active'), 77);
  assert.equal(bookworm.trackedPid('MainPID=0\nActiveState=inactive'), undefined);
});

test('initctl on bookworm: known verbs become systemctl, the rest is refused', () => {
  assert.deepEqual(bookworm.initctl(['restart', 'phoenix'], phoenix), {
    cmd: ['systemctl', 'restart', 'phoenix.service'],
    label: 'systemctl restart phoenix.service',
    note: 'systemd equivalent: systemctl restart phoenix.service',
  });
  // Without a job name, the lab's own app: unicorn's unit when the lab runs unicorn.
  assert.deepEqual(bookworm.initctl(['stop'], unicorn), {
    cmd: ['systemctl', 'stop', 'unicorn.service'],
    label: 'systemctl stop unicorn.service',
    note: 'systemd equivalent: systemctl stop unicorn.service',
  });
  assert.ok('refuse' in bookworm.initctl(['emit', 'socket'], phoenix));
  assert.deepEqual(precise.initctl(['emit', 'foo'], phoenix), {
    cmd: ['/sbin/initctl', 'emit', 'foo'],
    label: 'initctl emit foo',
  });
  assert.ok('refuse' in precise.initctl([], phoenix));
});

test('apply tells job files, units, nginx sites and wrapper configs apart', () => {
  assert.equal(
    classify('phoenix.conf', 'start on socket PROTO=unix PATH=/var/run/a.sock\nexec /bin/true\n'),
    'upstart-job',
  );
  assert.equal(classify('site.conf', 'server {\n  listen 80;\n}\n'), 'nginx-site');
  assert.equal(classify('phoenix.socket', '[Socket]\n'), 'systemd-unit');
  assert.equal(classify('phoenix.json', '{}'), 'wrapper-config');
  assert.throws(() => classify('notes.txt', 'hello'), /cannot tell what notes.txt is/);
});

test('flags and durations', () => {
  const spec = {
    port: { kind: 'number', help: '' },
    json: { kind: 'boolean', help: '' },
    name: { kind: 'string', help: '', default: 'default' },
  } as const;
  const { flags, positional } = parseFlags('x', ['--port', '9', 'a', '--json', '--name=b'], spec, { names: ['A'] });
  assert.deepEqual({ ...flags }, { port: 9, json: true, name: 'b' });
  assert.deepEqual(positional, ['a']);
  assert.throws(() => parseFlags('x', ['--nope'], {}), /Unknown option '--nope'/);
  // A command that gets an argument it does not take refuses it instead of ignoring it.
  assert.throws(() => parseFlags('x', ['stray'], spec), /unexpected argument 'stray' \(takes no arguments\)/);
  assert.throws(() => parseFlags('x', ['USR2', '99'], spec, { names: ['SIG'] }), /unexpected argument '99'/);
  assert.throws(() => parseFlags('x', [], spec, { names: ['SIG'], required: 1 }), /SIG missing/);
  assert.throws(() => parseFlags('x', ['--port', 'abc'], spec), /--port 'abc' is not a number/);
  assert.throws(() => parseFlags('x', ['--json=yes'], spec), /--json/);
  assert.equal(parseDuration('2m', 'd'), 120_000);
  assert.equal(parseDuration('500ms', 'd'), 500);
  assert.equal(parseDuration('3', 'd'), 3000);
  assert.throws(() => parseDuration('soon', '--duration'), /not a duration/);
});

test('the socket a bridge-started job listens on is found, also across a continued start on', async () => {
  const { bridgeSocketPath } = await import('../../lab/apply');
  assert.equal(
    bridgeSocketPath('start on socket PROTO=unix PATH=/var/run/a.sock\nexec /bin/true\n'),
    '/var/run/a.sock',
  );
  assert.equal(bridgeSocketPath('start on (socket PROTO=unix \\\n  PATH=/run/b.sock)\n'), '/run/b.sock');
  assert.equal(bridgeSocketPath('start on runlevel [2345]\nenv PATH=/usr/bin\n'), undefined);
});

test('unicorn processes are told apart by the names unicorn gives them; generation from the master', () => {
  const probe = [
    'P\t10\t1\troot\t\t/opt/phoenix/runtime/bin/node /opt/phoenix/app/dist/src/unicorn-wrapper/cli.js -- /usr/bin/unicorn',
    'P\t20\t10\troot\t\tunicorn master (old) -c /opt/unicorn/app/unicorn.rb /opt/unicorn/app/config.ru',
    'P\t21\t20\troot\t\tunicorn worker[0] -c /opt/unicorn/app/unicorn.rb /opt/unicorn/app/config.ru',
    'P\t30\t20\troot\tUNICORN_GENERATION=2\x1f\tunicorn master -c /opt/unicorn/app/unicorn.rb /opt/unicorn/app/config.ru',
    'P\t31\t30\troot\tUNICORN_GENERATION=2\x1f\tunicorn worker[1] -c /opt/unicorn/app/unicorn.rb /opt/unicorn/app/config.ru',
    'S\troot www-data 660',
    'F\t30\t20',
  ].join('\n');
  const s = parseProbe(probe, 10, unicorn);
  assert.deepEqual(s.herders, [{ pid: 10, trackedByInit: true }]);
  assert.deepEqual(
    s.masters.map((m) => m.pid),
    [20, 30],
  );
  assert.deepEqual(
    s.workers.map((w) => [w.pid, w.master, w.generation, w.slot]),
    [
      [21, 20, 1, 0],
      [31, 30, 2, 1],
    ],
  );
  assert.equal(s.socket?.path, '/var/run/unicorn/unicorn.sock');
  assert.equal(s.oldbin, 20);
});

test('the reaper takes only scenario/test containers whose owner process is gone, on this host', async () => {
  const { ownerGone, ownerLabels, PURPOSE_LABEL, OWNER_PID_LABEL } = await import('../../lab/engine/owner');
  const mine = ownerLabels('scenario');
  assert.equal(ownerGone(mine), false, 'this process is alive');
  // A child that has exited is a pid that no longer runs with that start time.
  const { spawnSync } = await import('node:child_process');
  const dead = spawnSync('/bin/sh', ['-c', 'echo $$']).stdout.toString().trim();
  assert.equal(ownerGone({ ...mine, [OWNER_PID_LABEL]: dead }), true);
  assert.equal(ownerGone({ ...mine, [OWNER_PID_LABEL]: dead, [PURPOSE_LABEL]: 'up' }), false, 'a lab up is a person’s');
  assert.equal(ownerGone({ ...mine, [OWNER_PID_LABEL]: dead }, 'another-host'), false, 'never another host’s');
  assert.equal(ownerGone({}), false, 'a container without owner labels is left alone');
  // A recycled pid: same pid, another start time.
  assert.equal(ownerGone({ ...mine, 'upstart-unicorn-lab.owner-start': '1' }), true);
});
