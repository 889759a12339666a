import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { after, describe, test } from 'node:test';
import { formatContinuity, summarize } from '../../lab/check/continuity';
import { formatStatus, parseProbe, probeScript } from '../../lab/inspect';
import { unicorn } from '../../lab/servers/unicorn';
import { readPid } from '../../src/pidfile';
import { type LogLine, isRunning, sleep, waitUntil, withNginx } from '../support/harness';
import { get, getJson } from '../support/http';
import {
  CONFIG_RU,
  type Started,
  UnicornLab,
  WRAPPER,
  describeProcesses,
  processesMentioning,
  underLoad,
  unicornCommand,
  unicornEnv,
  waitNothingLeft,
  workersOf,
} from '../support/unicorn';

/**
 * Issue 17: unicorn-wrapper supervises what it started (a master that dies unasked is started
 * again on the socket the wrapper holds, within a restart budget) and puts deadlines on
 * readiness and on stops. Debian's unicorn 6 behind a real nginx, the socket handed over as
 * upstart 1.5's bridge does; the wrapper runs in its own session (setsid), as init runs a job,
 * so "its process group is empty" means what it means under upstart.
 */

const lab = new UnicornLab();
after(() => lab.cleanup());

const isEvent = (name: string) => (e: LogLine) => e.event === name;
type Who = { pid: number; master: number; worker: number; generation: number };

/** The wrapper as init starts a job: in a session of its own, on the bridge's socket. */
function startJob(
  socket: string,
  pidFile: string,
  args: string[],
  o: { ru?: string; env?: NodeJS.ProcessEnv } = {},
): Started {
  return lab.start(['/usr/bin/setsid', process.execPath, WRAPPER, ...args, '--', ...unicornCommand({ ru: o.ru })], {
    via: { kind: 'upstart', socket },
    env: unicornEnv(pidFile, o.env),
  });
}

/** Live processes whose process group is `pgid` (the wrapper's, when it leads its session). */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && f[0] !== 'Z') out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

function messages(w: Started): string[] {
  return w
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('unicorn-wrapper: '));
}

async function exitedWith(w: Started, code: number): Promise<void> {
  const exit = await w.exited;
  assert.deepEqual(exit, { code, signal: null }, `wrapper exit; stderr:\n${w.stderr().slice(-4000)}`);
  const last = w.events().at(-1)!;
  assert.equal(last.event, 'exit');
  assert.equal(last.code, String(code));
}

/** Nothing of the job is left: no tagged process, an empty process group, no pid files. */
async function nothingLeft(w: Started, wrapperPid: number, pidFile: string): Promise<void> {
  assert.deepEqual(groupMembers(wrapperPid), [], `the wrapper's process group is empty`);
  await waitNothingLeft(w.tag, 3000);
  assert.equal(fs.existsSync(pidFile), false, 'no pid file left');
  assert.equal(fs.existsSync(`${pidFile}.oldbin`), false, 'no .oldbin left');
}

describe('unicorn-wrapper supervision and deadlines (issue 17)', () => {
  const fx = withNginx('app.sock');
  const nginxOn = fx.nginxOn;

  test(
    'kill -9 of the master under load through nginx, twice (its own child, then a USR2 master): ' +
      'the same wrapper pid, a new master serving within 6 s, at most 5 failed',
    async () => {
      const { h, port } = fx;
      await nginxOn();
      const pidFile = h.file('killed.pid');
      const w = startJob(h.file('app.sock'), pidFile, []);
      const ready = await w.waitFor(isEvent('ready'), 20_000);
      const wrapper = w.pid;
      let wrapperDown = 0;
      const watch = setInterval(() => (wrapperDown += isRunning(wrapper) ? 0 : 1), 20);
      const measured: { servedMs: number; readyMs: number; reason: string }[] = [];
      const killAndWait = async (
        victim: number,
        served: (pred: (r: { pid?: number }) => boolean, what: string) => Promise<void>,
      ) => {
        await sleep(1000); // steady load before the kill
        const from = w.events().length;
        const t = Date.now();
        process.kill(victim, 'SIGKILL');
        const restarted = await w.waitFor(isEvent('master-restarted'), 10_000, from);
        const m = Number(restarted.master);
        // Served through nginx by one of the new master's workers.
        await served((r) => r.pid !== undefined && workersOf(m).includes(r.pid), `master ${m}'s workers to serve`);
        measured.push({ servedMs: Date.now() - t, readyMs: Number(restarted.ms), reason: restarted.reason });
        assert.equal(restarted.lost, String(victim));
        await sleep(1000); // and after
        return m;
      };
      const records = await underLoad(port, async (served) => {
        const m1 = await killAndWait(Number(ready.master), served);
        // A USR2 master is not the wrapper's child: its death is seen by polling, status unknown.
        const from = w.events().length;
        process.kill(wrapper, 'SIGUSR2');
        const followed = await w.waitFor(isEvent('master-followed'), 15_000, from);
        await w.waitFor(isEvent('oldbin-exited'), 15_000, from);
        assert.equal(followed.previous, String(m1));
        await killAndWait(Number(followed.master), served);
      });
      clearInterval(watch);
      const c = summarize(records);
      console.log(
        `# kill -9 under load: ${c.sent} requests, ${c.failed} failed, longest gap ${c.longestGapMs} ms; ` +
          measured.map((x) => `${x.reason}: ready ${x.readyMs} ms, served through nginx ${x.servedMs} ms`).join('; '),
      );
      assert.ok(c.failed <= 5, `at most 5 failed requests:\n${formatContinuity(c)}`);
      for (const x of measured) assert.ok(x.servedMs < 6000, `a new master served within 6 s: ${x.servedMs} ms`);
      assert.deepEqual(
        measured.map((x) => x.reason),
        ['killed', 'gone'],
      );
      assert.equal(wrapperDown, 0, 'the wrapper init tracks was alive at every look');
      assert.equal(isRunning(wrapper), true);
      const lost = w.events().filter(isEvent('master-lost'));
      assert.equal(lost[0].signal, 'SIGKILL', "the first master is the wrapper's child: its signal is known");
      assert.equal(w.events().filter(isEvent('master-restarting')).length, 2);
      for (const bad of ['restart-failed', 'wrapper-error', 'not-ready', 'stop-timeout'])
        assert.equal(w.events().filter(isEvent(bad)).length, 0, `no ${bad}`);
      assert.deepEqual(messages(w), [], 'nothing for a person to read: it was handled');
      process.kill(wrapper, 'SIGQUIT');
      await exitedWith(w, 0);
      await nothingLeft(w, wrapper, pidFile);
    },
  );

  test('after it served, a master that dies in a loop at boot (config.ru now raises): the budget ends it, exit 71, one message, no storm', async () => {
    const { h } = fx;
    const ru = h.file('loop.ru');
    fs.copyFileSync(CONFIG_RU, ru);
    const pidFile = h.file('loop.pid');
    const w = startJob(h.file('loop.sock'), pidFile, ['--restart-budget', '3/30s'], { ru });
    const ready = await w.waitFor(isEvent('ready'), 20_000);
    const wrapper = w.pid;
    fs.writeFileSync(ru, "raise 'the database is gone'\n");
    const t = Date.now();
    process.kill(Number(ready.master), 'SIGKILL');
    await exitedWith(w, 71);
    const took = Date.now() - t;
    const starts = w.events().filter(isEvent('master-restarting'));
    const failed = w.events().filter(isEvent('restart-failed'));
    console.log(`# boot loop: ${starts.length} restarts, exit 71 after ${took} ms`);
    assert.equal(starts.length, 3, 'exactly the budget');
    assert.deepEqual(
      starts.map((e) => e.delayMs),
      ['100', '200', '400'],
    );
    assert.equal(failed.length, 3);
    assert.ok(failed.every((e) => e.status === '1'));
    assert.equal(w.events().at(-1)!.reason, 'restart-budget-spent');
    const said = messages(w);
    assert.equal(said.length, 1, `exactly one message:\n${said.join('\n')}`);
    assert.match(
      said[0],
      new RegExp(
        'the restarted master \\(pid \\d+\\) exited with status 1 before it served, and the restart budget ' +
          'is spent \\(3 restarts within 30 s, --restart-budget 3/30s\\): exit 71',
      ),
    );
    assert.ok(took < 15_000, `ended in ${took} ms`);
    await nothingLeft(w, wrapper, pidFile);
  });

  test(
    'an app that never finishes loading: not-ready, and QUIT ends everything within --stop-timeout ' +
      'plus a few seconds (TERM, then KILL; exit 72)',
    async () => {
      const { h } = fx;
      const ru = h.file('forever.ru');
      fs.writeFileSync(ru, 'sleep\n');
      const pidFile = h.file('forever.pid');
      const w = startJob(h.file('forever.sock'), pidFile, ['--ready-timeout', '1', '--stop-timeout', '2'], { ru });
      const notReady = await w.waitFor(isEvent('not-ready'), 15_000);
      const wrapper = w.pid;
      assert.equal(notReady.phase, 'boot');
      assert.equal(notReady.pidFile, 'written', 'unicorn writes its pid file before it loads the app');
      const master = Number(notReady.master);
      assert.equal(readPid(pidFile), master);
      assert.deepEqual(workersOf(master), []);
      // What `lab status` makes of it, from the same probe it runs in a container (POSIX sh).
      const probe = execFileSync('/bin/sh', ['-c', probeScript(unicorn)], { encoding: 'utf8' });
      const seen = parseProbe(probe, wrapper, unicorn);
      const m = seen.masters.find((x) => x.pid === master);
      assert.ok(m?.bootingS !== undefined && m.bootingS >= 1, `booting: ${JSON.stringify(m)}`);
      const status = formatStatus({ init: { name: 'test', trackedPid: wrapper, status: '' }, ...seen });
      assert.match(status, new RegExp(`unicorn master ${master} \\([^)]*\\): booting for \\d+ s, no workers yet`));
      const t = Date.now();
      process.kill(wrapper, 'SIGQUIT');
      await exitedWith(w, 72);
      const took = Date.now() - t;
      console.log(`# never-loading app: QUIT to exit ${took} ms with --stop-timeout 2`);
      assert.ok(took >= 2000, `not before the stop timeout: ${took} ms`);
      assert.ok(took < 2000 + 4000, `within --stop-timeout + 4 s: ${took} ms`);
      const timeouts = w.events().filter(isEvent('stop-timeout'));
      assert.deepEqual(
        timeouts.map((e) => [e.signal, e.after]),
        [
          ['SIGTERM', 'SIGQUIT'],
          ['SIGKILL', 'SIGQUIT'],
        ],
      );
      assert.equal(timeouts[0].pids, String(master), 'TERM goes to the master');
      const said = messages(w);
      assert.equal(said.length, 1);
      assert.match(
        said[0],
        /did not stop within 2 s of SIGQUIT \(--stop-timeout\): sent TERM to \d+, then KILL to .*; nothing is left/,
      );
      await nothingLeft(w, wrapper, pidFile);
    },
  );

  test('a USR2 whose new master never loads: upgrade-stuck, the old master serves on, a second USR2 is refused; QUIT then ends both', async () => {
    const { h, port } = fx;
    await nginxOn();
    const ru = h.file('stuck.ru');
    fs.copyFileSync(CONFIG_RU, ru);
    const pidFile = h.file('stuck.pid');
    const w = startJob(h.file('app.sock'), pidFile, ['--ready-timeout', '1', '--stop-timeout', '2'], { ru });
    const ready = await w.waitFor(isEvent('ready'), 20_000);
    const old = Number(ready.master);
    const wrapper = w.pid;
    fs.writeFileSync(ru, 'sleep\n');
    process.kill(wrapper, 'SIGUSR2');
    const stuck = await w.waitFor(isEvent('upgrade-stuck'), 15_000);
    assert.equal(stuck.master, String(old));
    const newMaster = Number(stuck.newMaster);
    assert.ok(newMaster > 0 && newMaster !== old);
    assert.equal(readPid(`${pidFile}.oldbin`), old);
    // Said in the same pass as upgrade-stuck, but its line can arrive in a later chunk of output.
    const nr = await w.waitFor((e) => e.event === 'not-ready' && e.phase === 'upgrade', 5000);
    assert.equal(nr.master, String(newMaster));
    for (let i = 0; i < 5; i++) {
      const who = await getJson<Who>(port);
      assert.equal(who.master, old, 'the old master serves on');
    }
    const from = w.events().length;
    process.kill(wrapper, 'SIGUSR2');
    const refused = await w.waitFor(isEvent('signal-refused'), 5000, from);
    assert.match(
      refused.reason,
      new RegExp(
        `^the last upgrade is stuck: new master ${newMaster} has had no workers for \\d+ s .*kill -KILL ${newMaster}`,
      ),
    );
    assert.equal(w.events().filter(isEvent('upgrade-stuck')).length, 1);
    // QUIT: the old master leaves gracefully, the stuck one only to KILL.
    const slow = get(port, '/slow?ms=500');
    await sleep(100);
    const t = Date.now();
    process.kill(wrapper, 'SIGQUIT');
    assert.equal((await slow).status, 200, 'the request in flight at QUIT is answered');
    await exitedWith(w, 72);
    const took = Date.now() - t;
    console.log(`# stuck upgrade: QUIT to exit ${took} ms with --stop-timeout 2`);
    assert.ok(took < 6000, `${took} ms`);
    const term = w.events().find(isEvent('stop-timeout'))!;
    assert.equal(term.pids, String(newMaster), 'only the stuck master outlived the deadline');
    await nothingLeft(w, wrapper, pidFile);
    const left = processesMentioning(w.tag);
    assert.deepEqual(left, [], describeProcesses(left));
  });

  test('a stop within --stop-timeout is a plain exit 0, and the restarted master is the one stopped', async () => {
    const { h } = fx;
    const pidFile = h.file('plain.pid');
    const socket = h.file('plain.sock');
    const w = startJob(socket, pidFile, ['--stop-timeout', '5']);
    const ready = await w.waitFor(isEvent('ready'), 20_000);
    const wrapper = w.pid;
    process.kill(Number(ready.master), 'SIGKILL');
    const restarted = await w.waitFor(isEvent('master-restarted'), 10_000);
    await waitUntil(() => readPid(pidFile) === Number(restarted.master), 5000, 'the pid file to name the new master');
    assert.equal((await getJson<Who>(socket)).master, Number(restarted.master));
    process.kill(wrapper, 'SIGTERM');
    await exitedWith(w, 0);
    assert.equal(w.events().filter(isEvent('stop-timeout')).length, 0);
    await nothingLeft(w, wrapper, pidFile);
  });
});
