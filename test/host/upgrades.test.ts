import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { summarize, formatContinuity } from '../../lab/check/continuity';
import type { RequestRecord } from '../../lab/load/record';
import { underLoad as loadWhile } from '../support/under-load';
import { readPid } from '../../src/pidfile';
import { type LogLine, type Proc, isRunning, waitUntil, withNginx } from '../support/harness';
import * as fs from 'node:fs';

const UPGRADES = 20;
const SLOW = '/slow?ms=300';

/** Load through nginx until `act` is done (each upgrade waits for its generation to serve). */
const underLoad = (port: number, act: (served: (generation: number) => Promise<void>) => Promise<void>) =>
  loadWhile(port, act, { concurrency: 8, slowPath: SLOW });

/** /slow requests that started before a handover and were finished by the retiring generation. */
function slowAcrossHandover(records: RequestRecord[], t0: number, lives: LogLine[]): number {
  return records.filter((r) => {
    if (r.path !== SLOW || r.error) return false;
    return lives.some((e) => {
      const at = Date.parse(e.ts) - t0;
      return r.start < at && r.end > at && r.generation === Number(e.previous ?? e.wgen) - (e.previous ? 0 : 1);
    });
  }).length;
}

describe('USR2 upgrades under continuous load through a real nginx', () => {
  const fx = withNginx('app.sock');

  test(`${UPGRADES} in-place upgrades on a socket from upstart-socket-bridge (UPSTART_FDS): no failed request, same master pid`, async () => {
    const { h, nginx, port } = fx;
    const p: Proc = h.startPhoenix(['--workers', '2', '--pid', h.file('inplace.pid')], {
      via: { kind: 'upstart', socket: h.file('app.sock') },
    });
    await p.waitFor((e) => e.role === 'master' && e.event === 'ready');
    await nginx.start();
    const master = p.pid;
    const { records, t0 } = await underLoad(port, async (served) => {
      for (let i = 1; i <= UPGRADES; i++) {
        const from = p.events().length;
        process.kill(master, 'SIGUSR2');
        const live = await p.waitFor((e) => e.event === 'generation-live', 10_000, from);
        await served(Number(live.wgen));
      }
    });
    const c = summarize(records);
    const lives = p.events().filter((e) => e.event === 'generation-live');
    assert.equal(c.failed, 0, `failed requests during in-place upgrades:\n${formatContinuity(c)}`);
    assert.equal(lives.length, UPGRADES);
    assert.equal(c.generations.length, UPGRADES + 1, 'every generation served requests');
    assert.ok(slowAcrossHandover(records, t0, lives) > 0, 'no /slow request was in flight across a handover');
    assert.ok(isRunning(master), 'the master upstart tracks must keep running');
    assert.equal(readPid(h.file('inplace.pid')), master);
    process.kill(master, 'SIGQUIT');
    assert.deepEqual(await p.exited, { code: 0, signal: null });
  });

  const reexecCases = [
    { count: UPGRADES, quit: 'ready', title: 'new master QUITs the old one once ready' },
    { count: UPGRADES / 2, quit: 'spawned', title: "unicorn's before_fork timing, --quit-oldbin=spawned" },
  ];
  for (const { count, quit, title } of reexecCases) {
    test(`${count} reexec upgrades (${title}): no failed request, pid file follows`, async () => {
      const { h, port } = fx;
      const pidFile = h.file(`reexec-${quit}.pid`);
      const sock = h.file('app.sock');
      fs.rmSync(sock, { force: true });
      const p = h.startPhoenix([
        '--listen',
        `unix:${sock}`,
        '--workers',
        '2',
        '--pid',
        pidFile,
        '--upgrade',
        'reexec',
        `--quit-oldbin=${quit}`,
      ]);
      await p.waitFor((e) => e.role === 'master' && e.event === 'ready');
      const { records } = await underLoad(port, async (served) => {
        for (let i = 1; i <= count; i++) {
          const old = readPid(pidFile)!;
          const from = p.events().length;
          process.kill(old, 'SIGUSR2');
          await waitUntil(
            () => !isRunning(old) && readPid(pidFile) !== old && !fs.existsSync(`${pidFile}.oldbin`),
            10_000,
            `old master ${old} to hand over`,
          );
          h.track(readPid(pidFile)!);
          const ready = await p.waitFor(
            (e) => e.event === 'ready' && e.role === 'master' && e.pid !== String(old),
            10_000,
            from,
          );
          await served(Number(ready.gen));
        }
      });
      const c = summarize(records);
      assert.equal(c.failed, 0, `failed requests during reexec upgrades:\n${formatContinuity(c)}`);
      assert.equal(p.events().filter((e) => e.event === 'reexec').length, count);
      assert.equal(c.generations.length, count + 1, 'every master generation served requests');
      const exits = p.events().filter((e) => e.event === 'exit' && e.role === 'master');
      assert.ok(
        exits.length >= count && exits.every((e) => e.handedOver === 'true'),
        'every old master must leave saying it handed over',
      );
      const last = readPid(pidFile)!;
      process.kill(last, 'SIGQUIT');
      await waitUntil(() => !isRunning(last), 10_000, 'the last master to stop');
      assert.equal(fs.existsSync(sock), false, 'the last master removes the socket file it answers for');
      assert.equal(fs.existsSync(pidFile), false);
    });
  }
});
