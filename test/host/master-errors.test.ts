import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { type Continuity, formatContinuity, summarize } from '../../lab/check/continuity';
import type { RequestRecord } from '../../lab/load/record';
import { readPid } from '../../src/pidfile';
import {
  type Harness,
  type LogLine,
  type Proc,
  isRunning,
  processesTagged,
  sleep,
  waitUntil,
  withNginx,
} from '../support/harness';
import { underLoad as loadWhile } from '../support/under-load';

/**
 * Each fault made real on the host, under continuous load through a real nginx: the master
 * logs a master-error, keeps serving, and no request is lost. Tests run as root, where file
 * modes stop nothing: a path is made unusable by removing it, by putting a file where a
 * directory was, or by a read-only mount (always unmounted in cleanup).
 */

const SOCK = 'faults.sock';

interface LoadRun {
  continuity: Continuity;
  records: RequestRecord[];
}

/** Load through nginx while `act` runs; what it recorded, and its continuity. */
async function underLoad(
  port: number,
  act: (served: (generation: number) => Promise<void>) => Promise<void>,
): Promise<LoadRun> {
  const { records } = await loadWhile(port, act, { concurrency: 6, slowPath: '/slow?ms=200' });
  return { continuity: summarize(records), records };
}

/**
 * Polls the events instead of Proc.waitFor, which gives up when the process it started exits:
 * after a reexec the new master writes to the same pipe long after the first one is gone.
 */
async function waitEvent(p: Proc, pred: (e: LogLine) => boolean, from = 0, ms = 10_000): Promise<LogLine> {
  let hit: LogLine | undefined;
  await waitUntil(() => (hit = p.events().slice(from).find(pred)) !== undefined, ms, 'an event').catch(() => {
    throw new Error(`no awaited event within ${ms} ms; stderr:\n${p.stderr().slice(-3000)}`);
  });
  return hit!;
}

function assertNoLoss(run: LoadRun, t: { diagnostic(msg: string): void }, what: string): void {
  t.diagnostic(`${what}: ${formatContinuity(run.continuity).replace(/\n/g, '; ')}`);
  assert.ok(run.continuity.sent > 100, `too little load to judge: ${run.continuity.sent} requests`);
  assert.equal(run.continuity.failed, 0, `failed requests during ${what}:\n${formatContinuity(run.continuity)}`);
}

async function startMaster(h: Harness, extra: string[], env: NodeJS.ProcessEnv = {}): Promise<Proc> {
  const p = h.startPhoenix(['--listen', `unix:${h.file(SOCK)}`, ...extra], { env });
  await waitEvent(p, (e) => e.role === 'master' && e.event === 'ready');
  return p;
}

/** QUITs `pid` and waits until it is gone, so the next test can bind the socket again. */
async function quit(pid: number): Promise<void> {
  process.kill(pid, 'SIGQUIT');
  await waitUntil(() => !isRunning(pid), 15_000, `master ${pid} to stop`);
}

function mount(args: string[]): void {
  execFileSync('mount', args, { stdio: 'pipe' });
}

/** `dir` read-only until the returned function is called (a bind mount of itself). */
function readOnly(dir: string): () => void {
  mount(['--bind', dir, dir]);
  try {
    mount(['-o', 'remount,ro,bind', dir]);
  } catch (err) {
    execFileSync('umount', [dir]);
    throw err;
  }
  let mounted = true;
  return () => {
    if (mounted) execFileSync('umount', [dir]);
    mounted = false;
  };
}

const masterErrors = (p: Proc, step: string, from = 0) =>
  p
    .events()
    .slice(from)
    .filter((e) => e.role === 'master' && e.event === 'master-error' && e.step === step);

describe('the master survives its own errors, under load through a real nginx', () => {
  const fx = withNginx(SOCK);
  before(async () => fx.nginx.start());

  test(
    'USR1 after the --log-file directory is removed, then replaced by a file: master-error ' +
      'each time, the old fd kept, a HUP still starts workers; USR1 once it is back reopens',
    async (t) => {
      const { h, port } = fx;
      const dir = h.file('logs');
      fs.mkdirSync(dir);
      const log = path.join(dir, 'phoenix.log');
      const p = h.startPhoenix(['--listen', `unix:${h.file(SOCK)}`, '--log-file', log]);
      await waitUntil(() => fs.existsSync(log) && /event=ready/.test(fs.readFileSync(log, 'utf8')), 10_000, 'ready');
      const master = p.pid;
      const run = await underLoad(port, async (served) => {
        // Log rotation gone wrong: the directory is gone.
        fs.rmSync(dir, { recursive: true });
        process.kill(master, 'SIGUSR1');
        const enoent = await waitEvent(p, (e) => e.event === 'master-error' && e.step === 'reopen-log');
        assert.match(enoent.error, /ENOENT/);
        assert.equal(enoent.signal, 'SIGUSR1');
        // New workers get the master's open log fd, not the path: they start without the directory.
        process.kill(master, 'SIGHUP');
        await served(2);
        fs.writeFileSync(dir, 'a file where the log directory was\n');
        process.kill(master, 'SIGUSR1');
        const enotdir = await waitEvent(p, (e) => e.event === 'master-error' && /ENOTDIR/.test(e.error ?? ''));
        assert.equal(enotdir.step, 'reopen-log');
        // Fixed: the next USR1 tries again and succeeds.
        fs.rmSync(dir);
        fs.mkdirSync(dir);
        process.kill(master, 'SIGUSR1');
        await waitUntil(
          () => fs.existsSync(log) && /role=master event=log-reopened/.test(fs.readFileSync(log, 'utf8')),
          5000,
          'the log reopened in the new directory',
        );
        await served(2);
      });
      assertNoLoss(run, t, 'USR1 with the log directory removed, replaced by a file, restored');
      assert.ok(isRunning(master), 'the master serves on');
      assert.equal(masterErrors(p, 'reopen-log').length, 2);
      assert.ok(
        run.records.some((r) => r.generation === 2 && r.pid !== undefined),
        'the generation started while the log directory was gone served requests',
      );
      await quit(master);
    },
  );

  test(
    'USR2 (reexec) with the pid directory read-only: refused with a master-error, nothing ' +
      'half-done, serving on; the next USR2 once writable upgrades',
    async (t) => {
      const { h, port } = fx;
      const runDir = h.file('run');
      fs.mkdirSync(runDir);
      const pidFile = path.join(runDir, 'phoenix.pid');
      const p = await startMaster(h, ['--pid', pidFile, '--upgrade', 'reexec', '--quit-oldbin']);
      const master = p.pid;
      let successor = 0;
      const unmount = readOnly(runDir);
      try {
        const loaded = await underLoad(port, async (served) => {
          for (let attempt = 1; attempt <= 2; attempt++) {
            const from = p.events().length;
            process.kill(master, 'SIGUSR2');
            const err = await waitEvent(p, (e) => e.event === 'master-error' && e.step === 'reexec', from);
            assert.match(err.error, /EROFS/);
            assert.equal(err.signal, 'SIGUSR2');
          }
          await sleep(300);
          assert.equal(readPid(pidFile), master, 'the pid file is untouched');
          assert.equal(fs.existsSync(`${pidFile}.oldbin`), false, 'no .oldbin left half-done');
          assert.equal(p.events().filter((e) => e.event === 'reexec').length, 0, 'no new master was started');
          await served(1);
          unmount();
          const from = p.events().length;
          process.kill(master, 'SIGUSR2');
          const ready = await waitEvent(
            p,
            (e) => e.role === 'master' && e.event === 'ready' && e.pid !== String(master),
            from,
          );
          successor = Number(ready.pid);
          h.track(successor);
          await waitUntil(() => !isRunning(master), 10_000, 'the old master to hand over');
          await served(Number(ready.gen));
        });
        assertNoLoss(loaded, t, 'USR2 refused twice on a read-only pid directory, then an upgrade');
      } finally {
        unmount();
      }
      assert.equal(masterErrors(p, 'reexec').length, 2);
      assert.equal(readPid(pidFile), successor);
      await quit(successor);
    },
  );

  test('the old master exits between the liveness check and the QUIT: a master-error, and the new master serves on', async (t) => {
    const { h, port } = fx;
    const pidFile = h.file('race.pid');
    // The seam widens the window between the check and the kill so the old master can exit in it.
    const p = await startMaster(h, ['--pid', pidFile, '--upgrade', 'reexec', '--quit-oldbin'], {
      PHOENIX_TEST_QUIT_OLDBIN_DELAY_MS: '3000',
    });
    const old = p.pid;
    let successor = 0;
    const run = await underLoad(port, async (served) => {
      process.kill(old, 'SIGUSR2');
      const asked = await waitEvent(p, (e) => e.event === 'quit-oldbin' && e.pid !== String(old));
      successor = Number(asked.pid);
      h.track(successor);
      // The operator QUITs the old master by hand at the same moment; it exits and is reaped.
      process.kill(old, 'SIGQUIT');
      assert.deepEqual(await p.exited, { code: 0, signal: null });
      const err = await waitEvent(p, (e) => e.event === 'master-error' && e.step === 'quit-oldbin', 0, 5000);
      assert.equal(err.pid, String(successor));
      assert.match(err.error, /ESRCH/);
      await served(Number(asked.gen));
      await sleep(500);
    });
    assertNoLoss(run, t, 'the old master gone before its QUIT');
    assert.ok(isRunning(successor), 'the new master serves on');
    assert.equal(readPid(pidFile), successor);
    assert.equal(p.events().filter((e) => e.event === 'start-failed').length, 0);
    await quit(successor);
  });

  test('a second master whose log file cannot be opened: exit 74, one message, nothing left, the serving master untouched', async (t) => {
    const { h, port } = fx;
    const pidFile = h.file('serving.pid');
    const p = await startMaster(h, ['--pid', pidFile]);
    const roDir = h.file('ro-logs');
    fs.mkdirSync(roDir);
    const unmount = readOnly(roDir);
    try {
      const run = await underLoad(port, async () => {
        for (const log of [h.file('missing-dir/phoenix.log'), path.join(roDir, 'phoenix.log')]) {
          const tag = randomUUID();
          const second = h.startPhoenix(['--listen', `unix:${h.file(SOCK)}`, '--pid', pidFile, '--log-file', log], {
            env: { PHOENIX_TEST_TAG: tag },
          });
          assert.deepEqual(await second.exited, { code: 74, signal: null }, second.stderr());
          const messages = second
            .stderr()
            .split('\n')
            .filter((l) => l.startsWith('phoenix: '));
          assert.equal(messages.length, 1, second.stderr());
          assert.match(messages[0], new RegExp(`cannot open log file ${log}: (ENOENT|EROFS)`));
          const failed = second.events().filter((e) => e.event === 'start-failed');
          assert.equal(failed.length, 1);
          assert.equal(failed[0].code, '74');
          assert.equal(failed[0].reason, 'log-file');
          assert.deepEqual(processesTagged(tag), [], 'no process left');
          assert.equal(fs.existsSync(log), false, 'no log file created');
          assert.equal(readPid(pidFile), p.pid, 'the serving master keeps its pid file');
        }
      });
      assertNoLoss(run, t, 'two refused starts beside a serving master');
    } finally {
      unmount();
    }
    assert.ok(fs.existsSync(h.file(SOCK)), 'the socket file is still the serving master’s');
    await quit(p.pid);
  });

  test('a worker sent USR2, HUP, WINCH, TTIN and TTOU ignores them and keeps serving', async (t) => {
    const { h, port } = fx;
    const p = await startMaster(h, ['--workers', '2']);
    const workers = p
      .events()
      .filter((e) => e.event === 'worker-ready')
      .map((e) => Number(e.wpid));
    const signals = ['SIGUSR2', 'SIGHUP', 'SIGWINCH', 'SIGTTIN', 'SIGTTOU'] as const;
    const run = await underLoad(port, async () => {
      for (const sig of signals) {
        for (const w of workers) process.kill(w, sig);
        await sleep(200);
      }
      await waitUntil(
        () =>
          p.events().filter((e) => e.role === 'worker' && e.event === 'signal' && e.ignored === 'true').length >= 10,
        5000,
        'every worker to say it ignored every signal',
      );
    });
    assertNoLoss(run, t, 'master-only signals sent to workers');
    for (const w of workers) assert.ok(isRunning(w), `worker ${w} is alive`);
    assert.equal(p.events().filter((e) => e.event === 'worker-exit').length, 0, 'no worker exited');
    const others = run.records.filter((r) => r.pid !== undefined && !workers.includes(r.pid));
    assert.equal(others.length, 0, 'every request was served by one of the two original workers');
    await quit(p.pid);
  });
});
