// The scenario runner's pure pieces: reading phoenix's log lines, the configs derived from the
// shipped files, the boot command, phase windows.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RequestRecord } from '../../lab/load/record';
import { DROP_LINE, edit, systemd, upstart } from '../../lab/session/configs';
import { firstSuccessAfter, windowOf } from '../../lab/session/load';
import {
  countEvents,
  startFailed,
  initState,
  mastersStarted,
  parseLifecycle,
  socketEventBursts,
} from '../../lab/session/observe';
import { okShare, phaseLines } from '../../lab/session/phases';
import { bootCommand } from '../../lab/engine/boot-spec';
import { bookworm } from '../../lab/flavours/bookworm';
import { precise } from '../../lab/flavours/precise';
import { instanceName } from '../../lab/session/session';

const LOG = `phoenix ts=2026-11-26T22:14:28.961Z pid=41 role=master event=start gen=0 \
listeners=unix:/var/run/phoenix/phoenix.sock(upstart:fd11) workers=2 upgrade=reexec
phoenix ts=2026-11-26T22:14:29.061Z pid=41 role=master event=reexec gen=1 child=73 unicornFd=3
phoenix ts=2026-11-26T22:14:29.089Z pid=73 role=master event=start gen=0 listeners=unix:/var/run/phoenix/phoenix.sock(unicorn:fd3) workers=2 upgrade=reexec
phoenix ts=2026-11-26T22:21:36.710Z pid=333 role=master event=start-failed code=65 reason=not-a-socket \
error="UPSTART_FDS: fd 11 is not a socket (it is pipe:[1678846])"
unicorn-wrapper ts=2026-11-26T22:21:37.000Z pid=340 role=wrapper event=master-followed master=352 previous=347
phoenix: UPSTART_FDS: fd 11 is not a socket (it is pipe:[1678846]); phoenix needs an open listening stream socket there
phoenix: another master is running (pid 73, from /var/run/phoenix/phoenix.pid); send it USR2 to upgrade or QUIT to stop it
Nov 26 22:16:09 host systemd[1]: phoenix.service: Deactivated successfully.`;

test('lifecycle lines are parsed, quoted values included; other lines are skipped', () => {
  const ev = parseLifecycle(LOG);
  assert.equal(ev.length, 5);
  assert.equal(ev[4].program, 'unicorn-wrapper');
  assert.deepEqual(mastersStarted(ev), [41, 73]);
  assert.equal(countEvents(ev, 'start'), 2);
  assert.equal(ev[3].fields.error, 'UPSTART_FDS: fd 11 is not a socket (it is pipe:[1678846])');
  // Verdicts count events with their codes, never the human message beside them.
  assert.equal(ev.filter((e) => startFailed(e, 65)).length, 1);
  assert.equal(ev.filter((e) => startFailed(e, 75)).length, 0);
});

test("init's state reads upstart's and systemd's words", () => {
  const s = (status: string) => ({ init: { name: 'x', status }, masters: [], herders: [], workers: [], nginx: [] });
  assert.equal(precise.state('phoenix start/running, process 45'), 'start/running');
  assert.equal(bookworm.state('MainPID=0\nActiveState=inactive\nSubState=dead\nActiveState=active'), 'inactive/dead');
  assert.equal(initState({ ...s('x'), init: { name: 'x', status: 'x', state: 'start/running' } }), 'start/running');
  assert.equal(initState(undefined), 'unknown');
});

test('configs are the shipped files with one edit each, comments left alone', () => {
  const reexec = systemd.reexec(systemd.service());
  assert.match(reexec, /^ExecStart=.*--upgrade reexec --quit-oldbin/m);
  assert.match(reexec, /^# - --upgrade in-place/m, 'the comment that quotes the flag is untouched');
  const noPid = upstart.withoutPidFile(upstart.strategy('bridge-reexec'));
  assert.doesNotMatch(
    noPid
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('\n'),
    /--pid/,
  );
  assert.match(upstart.withRespawn(upstart.strategy('bridge-inplace')), /^respawn$/m);
  assert.match(systemd.socketMode(systemd.socket(), 'root', '0755'), /^SocketGroup=root$[\s\S]*^SocketMode=0755$/m);
  assert.throws(
    () => edit('# only --flag here\n', '--flag', 'x', 'test'),
    /no longer contains --flag outside comments/,
  );
  assert.equal(edit('a\nb\nc', 'b', DROP_LINE, 'drop'), 'a\nc');
});

test('the boot command writes files byte for byte, removes others, then becomes init', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scn-boot-'));
  try {
    const text = "a job with 'quotes', $VARS and \\ backslashes\n";
    const [sh, flag, script] = bootCommand({
      label: 't',
      files: { [`${dir}/sub/job.conf`]: text },
      remove: [`${dir}/gone`],
      shell: [`touch ${dir}/ran`],
    });
    assert.deepEqual([sh, flag], ['/bin/sh', '-c']);
    assert.match(script, /exec \/sbin\/init$/);
    const r = spawnSync('/bin/sh', ['-c', script.replace(/exec \/sbin\/init$/, 'true')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(`${dir}/sub/job.conf`, 'utf8'), text);
    assert.equal(readFileSync(`${dir}/ran`, 'utf8'), '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('instance names are unique and valid as Docker names and lab labels', () => {
  const a = instanceName('bridge-reexec-precise');
  assert.match(a, /^scn-bridge-reexec-precise-[a-z0-9]+$/);
  assert.notEqual(a, instanceName('bridge-reexec-precise'));
});

test('windows, first success and phase shares', () => {
  const recs: RequestRecord[] = [
    { start: 0, end: 5, path: '/', status: 200 },
    { start: 100, end: 110, path: '/', error: 'http-502' },
    { start: 200, end: 205, path: '/', status: 200 },
  ];
  assert.equal(windowOf(recs, 50, 150).failed, 1);
  assert.equal(windowOf(recs, 50).sent, 2);
  assert.equal(firstSuccessAfter(recs, 50), 205);
  const f = {
    phaseNames: ['broken', 'fixed', 'empty'],
    phaseSent: [10, 10, 0],
    phaseOk: [0, 9, 0],
    phaseFailed: [10, 1, 0],
    phaseFailure: ['http-502', 'reset', ''],
  };
  assert.equal(okShare(f, 'broken'), 0);
  assert.equal(okShare(f, 'fixed'), 0.9);
  assert.equal(okShare(f, 'empty'), -1);
  assert.equal(okShare(f, 'missing'), -1);
  assert.deepEqual(phaseLines(f).slice(0, 1), ['broken: 10 sent, 0 ok, 10 failed (mostly http-502)']);
});

test('socket events become a few bursts on the timeline', () => {
  assert.deepEqual(socketEventBursts([]), []);
  assert.deepEqual(socketEventBursts([5000, 1000, 1100, 1300]), [
    { at: 1000, count: 3, spanMs: 300 },
    { at: 5000, count: 1, spanMs: 0 },
  ]);
  const many = Array.from({ length: 20 }, (_, i) => i * 5000);
  const b = socketEventBursts(many, 1000, 8);
  assert.equal(b.length, 8);
  assert.equal(
    b.reduce((n, x) => n + x.count, 0),
    20,
  );
});

test('hold with blameNext gives a request failing after its end to the next stretch; span counts what it started', async () => {
  const { Stretches } = await import('../../lab/session/unicorn-common');
  let clock = 0;
  const ctx = { now: () => clock, mark: () => undefined } as unknown as ConstructorParameters<typeof Stretches>[0];
  const st = new Stretches(ctx, 0);
  const wait = st.hold('steady', 1, { blameNext: true });
  clock = 1000;
  await wait;
  const act = st.span('stop', async () => undefined, 1);
  clock = 2000;
  await act;
  const rec = (start: number, end: number, error?: RequestRecord['error']): RequestRecord => ({
    start,
    end,
    path: '/',
    ...(error ? { error, status: 502 } : { status: 200 }),
  });
  // Sent at 900 ms, still in flight when the stop began at 1000 ms: the stop's 502, not the steady stretch's.
  // Sent at 950 ms and answered 200 after it: served in the steady stretch all the same.
  const f = st.facts([
    rec(100, 120),
    rec(500, 530),
    rec(900, 1060, 'http-502'),
    rec(950, 1200),
    rec(1100, 1150, 'http-502'),
  ]);
  const at = (name: string) => f.phaseNames.indexOf(name);
  assert.equal(f.phaseSent[at('steady')], 3);
  assert.equal(f.phaseOk[at('steady')], 3);
  assert.equal(f.phaseSent[at('stop')], 2, 'the stop stretch counts what it started and the one in flight it met');
  assert.equal(f.phaseFailed[at('stop')], 2);
});
