/**
 * End to end, on a booted flavour image: init as PID 1, nginx on a 127.0.0.1
 * port, phoenix started by init's socket mechanism (systemd socket activation
 * on bookworm, upstart-socket-bridge on precise), 10 USR2 upgrades under load
 * that lose nothing while init keeps following the same main PID, and a
 * `docker stop` that takes seconds.
 *
 *   npm run build
 *   TESTCONTAINERS_RYUK_DISABLED=true node --require ts-node/register --test \
 *     --test-concurrency=1 test/e2e/*.test.ts
 *
 * LAB_FLAVOUR=bookworm (default) | precise | bookworm,precise | all
 * LAB_IMAGE=image:tag  test this image instead of building the flavour's
 * PRECISE_BASE / PRECISE_MIRROR  how the precise base is had (lab/engine/images.ts)
 *
 * A flavour whose image cannot be had (no Docker, no precise base, a LAB_IMAGE
 * that is not here) reports every test as skipped, with the reason. A build
 * that fails fails the suite.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import type Docker from 'dockerode';
import { formatContinuity, summarize } from '../../lab/check/continuity';
import { runLoad } from '../../lab/load/run';
import { get } from '../support/http';
import { flavourImage, initView, removeRun, selection, sh, sleep, startLab, type Lab } from './lab-container';
import { execIn } from '../../lab/engine/containers';
import { phoenix } from '../../lab/servers/phoenix';

const SOCKET = phoenix.socketPath;

const UPGRADES = 10;
const SLOW = '/slow?ms=300';
const STOP_WITHIN_MS = 5000;

const chosen = selection();
const instance = `e2e-${process.pid}-${Date.now().toString(36)}`;

async function generationServing(port: number): Promise<{ generation: number; master: number }> {
  const reply = await get(port, '/');
  assert.equal(reply.status, 200, `GET / through nginx: ${reply.status} ${reply.body}`);
  const body = JSON.parse(reply.body) as { generation: number; master: number };
  return body;
}

async function waitForGeneration(port: number, atLeast: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await generationServing(port)).generation >= atLeast) return;
    if (Date.now() > deadline) throw new Error(`generation ${atLeast} did not serve within ${timeoutMs} ms`);
    await sleep(50);
  }
}

for (const flavour of chosen.flavours) {
  describe(`e2e ${flavour}`, { concurrency: 1 }, () => {
    let docker: Docker | undefined;
    let lab: Lab | undefined;
    let skip: string | undefined;
    let image = chosen.image ?? `(${flavour} image)`;

    /** Every test starts here: a flavour that could not run is skipped with its reason, never passed. */
    function ready(t: TestContext): Lab | undefined {
      if (skip !== undefined) {
        t.skip(skip);
        return undefined;
      }
      assert.ok(lab, 'the lab container did not start (see the before hook)');
      return lab;
    }

    before(
      async () => {
        const log = (line: string): void => void process.stderr.write(`[e2e ${flavour}] ${line}\n`);
        const outcome = await flavourImage(flavour, chosen.image, log);
        if (outcome.kind === 'unavailable') {
          skip = `${flavour} image not available: ${outcome.reason.replace(/\s*\n\s*/g, ' ')}`;
          log(`SKIPPING: ${skip}`);
          return;
        }
        docker = outcome.docker;
        image = outcome.image;
        log(`image ${image} (${outcome.built ? `built in ${outcome.buildSeconds.toFixed(1)} s` : 'already built'})`);
        lab = await startLab(flavour, image, instance);
        log(
          `container ${lab.id.slice(0, 12)}: nginx on 127.0.0.1:${lab.port}; init ready in ${lab.startMs} ms, first 200 after ${lab.firstOkMs} ms`,
        );
      },
      { timeout: 30 * 60_000 },
    );

    after(async () => {
      const removed = await removeRun(docker, instance);
      if (removed.length > 0) process.stderr.write(`[e2e ${flavour}] removed ${removed.join(' ')}\n`);
    });

    const pid1 = flavour === 'bookworm' ? 'systemd' : "upstart 1.5's init";
    it(`PID 1 is ${pid1}`, async (t) => {
      const l = ready(t);
      if (l === undefined) return;
      const comm = (await sh(l, 'cat /proc/1/comm')).trim();
      const exe = (await sh(l, 'readlink /proc/1/exe')).trim();
      if (flavour === 'bookworm') {
        assert.equal(comm, 'systemd', `/proc/1/comm: ${comm}`);
        assert.match(exe, /\/systemd$/);
        // `running` once every unit that should start has (degraded would list failed units).
        let state = '';
        for (let i = 0; i < 100; i++) {
          state = (await execIn(l.booted.container, ['systemctl', 'is-system-running'])).stdout.trim();
          if (state !== 'starting' && state !== 'initializing') break;
          await sleep(100);
        }
        const failed = (
          await execIn(l.booted.container, ['systemctl', '--failed', '--no-legend', '--plain'])
        ).stdout.trim();
        assert.equal(state, 'running', `systemctl is-system-running: ${state}; failed units: ${failed || 'none'}`);
      } else {
        assert.equal(comm, 'init', `/proc/1/comm: ${comm}`);
        assert.match(exe, /\/sbin\/init$/);
        const version = (await sh(l, 'initctl version')).trim();
        assert.match(version, /upstart 1\.5\b/, `initctl version: ${version}`);
        const runlevel = (await sh(l, 'runlevel')).trim();
        assert.match(runlevel, / 2$/, `runlevel: ${runlevel}`);
        const jobs = await sh(l, 'initctl list');
        assert.match(jobs, /^upstart-socket-bridge start\/running, process \d+$/m, jobs);
        assert.match(jobs, /^nginx start\/running, process \d+$/m, jobs);
        t.diagnostic(`initctl list: ${jobs.trim().replace(/\n/g, '; ')}`);
      }
      t.diagnostic(`PID 1: ${exe} (${comm}); image ${image}`);
    });

    it('nginx on 127.0.0.1 answers 200 through the socket-activated wrapper', async (t) => {
      const l = ready(t);
      if (l === undefined) return;
      t.diagnostic(`boot to first 200 through nginx: ${l.firstOkMs} ms (init ready ${l.startMs} ms)`);
      const reply = await get(l.port, '/');
      assert.equal(reply.status, 200, reply.body);
      assert.match(String(reply.headers.server), /^nginx/);
      const served = JSON.parse(reply.body) as { master: number; generation: number };
      assert.equal(reply.headers['x-phoenix-generation'], String(served.generation));

      const view = await initView(l);
      assert.ok(view.mainPid !== undefined, `init follows no phoenix process: ${view.text}`);
      assert.equal(
        served.master,
        view.mainPid,
        `the master serving (${served.master}) is the process init follows (${view.text})`,
      );

      // Started by init's socket mechanism, with the socket init made.
      const environ = (await sh(l, `tr '\\0' '\\n' < /proc/${view.mainPid}/environ`)).split('\n');
      if (flavour === 'bookworm') {
        assert.ok(
          environ.includes('LISTEN_FDS=1'),
          `LISTEN_FDS in the master's environment: ${environ.filter((e) => e.startsWith('LISTEN')).join(' ')}`,
        );
        assert.ok(environ.includes(`LISTEN_PID=${view.mainPid}`), 'LISTEN_PID is the master itself');
        const triggered = (await sh(l, 'systemctl show -p TriggeredBy phoenix.service')).trim();
        assert.match(triggered, /phoenix\.socket/);
      } else {
        assert.ok(
          environ.includes('UPSTART_EVENTS=socket'),
          `started by a socket event: ${environ.filter((e) => e.startsWith('UPSTART')).join(' ')}`,
        );
        assert.ok(
          environ.some((e) => /^UPSTART_FDS=\d+$/.test(e)),
          "UPSTART_FDS names the bridge's socket",
        );
        assert.ok(
          environ.includes(`PATH=${SOCKET}`),
          "the event's PATH= replaced the job's PATH (what the job files allow for)",
        );
      }
      // nginx's workers (www-data) can connect: not the 0755 root socket of the troubleshooting section.
      const mode = (await sh(l, `stat -c '%U:%G %a' ${SOCKET}`)).trim();
      assert.equal(mode, 'root:www-data 660');
      t.diagnostic(`init: ${view.text}; socket ${SOCKET} ${mode}`);
    });

    it(
      `${UPGRADES} USR2 upgrades (in-place) under load lose no request and init keeps the same main PID`,
      { timeout: 180_000 },
      async (t) => {
        const l = ready(t);
        if (l === undefined) return;
        const initBefore = await initView(l);
        assert.ok(initBefore.mainPid !== undefined, initBefore.text);
        const first = await generationServing(l.port);
        assert.equal(first.master, initBefore.mainPid);

        const stop = new AbortController();
        const load = runLoad({
          origin: `http://127.0.0.1:${l.port}`,
          concurrency: 8,
          durationMs: 150_000,
          pathFor: (n) => (n % 10 === 0 ? SLOW : '/'),
          signal: stop.signal,
        });
        const started = Date.now();
        const upgradeMs: number[] = [];
        try {
          await sleep(500);
          for (let i = 1; i <= UPGRADES; i++) {
            const t0 = Date.now();
            await sh(l, `kill -USR2 ${initBefore.mainPid}`);
            await waitForGeneration(l.port, first.generation + i);
            upgradeMs.push(Date.now() - t0);
            const view = await initView(l);
            assert.equal(view.mainPid, initBefore.mainPid, `after upgrade ${i}, init follows ${view.text}`);
            await sleep(300);
          }
          await sleep(500);
        } finally {
          stop.abort();
        }
        const records = await load;
        const summary = summarize(records);
        t.diagnostic(formatContinuity(summary).replace(/\n/g, '; '));
        t.diagnostic(
          `USR2 to new generation serving: ${upgradeMs.join(', ')} ms; run ${((Date.now() - started) / 1000).toFixed(1)} s`,
        );

        const initAfter = await initView(l);
        t.diagnostic(`init before: ${initBefore.text}; after: ${initAfter.text}`);
        if (flavour === 'precise') {
          const events = (
            await execIn(l.booted.container, ['/bin/sh', '-c', 'wc -l < /var/log/phoenix-socket-events.log'])
          ).stdout.trim();
          t.diagnostic(
            `socket events counted by socket-event-counter: ${events || 0} (for ${records.length} requests)`,
          );
        }

        assert.ok(summary.sent > 200, `only ${summary.sent} requests were sent`);
        assert.equal(summary.failed, 0, `failed requests: ${JSON.stringify(summary.failures)}`);
        assert.equal(
          initAfter.mainPid,
          initBefore.mainPid,
          `init's main PID changed: ${initBefore.text} -> ${initAfter.text}`,
        );
        const last = await generationServing(l.port);
        assert.equal(last.master, initBefore.mainPid, 'the same master serves');
        assert.ok(
          last.generation >= first.generation + UPGRADES,
          `generation ${last.generation} after ${UPGRADES} upgrades from ${first.generation}`,
        );
        assert.ok(
          summary.generations.length >= UPGRADES,
          `generations seen under load: ${summary.generations.map((g) => g.generation).join(',')}`,
        );
        const workerPids = new Set(records.filter((r) => !r.error).map((r) => r.pid));
        assert.ok(workerPids.size > UPGRADES, `worker pids seen: ${workerPids.size}; each generation has new workers`);
      },
    );

    it(`docker stop ends the container within ${STOP_WITHIN_MS / 1000} s`, { timeout: 60_000 }, async (t) => {
      const l = ready(t);
      if (l === undefined) return;
      assert.ok(docker);
      const c = docker.getContainer(l.id);
      const signal = ((await c.inspect()).Config as { StopSignal?: string }).StopSignal ?? 'SIGTERM';
      const t0 = Date.now();
      // Docker's own default timeout: a stop signal init ignores would show as ~10 s here.
      await c.stop({ t: 10 });
      const ms = Date.now() - t0;
      const state = (await c.inspect()).State;
      t.diagnostic(`docker stop (${signal}) took ${ms} ms; exit code ${state.ExitCode}`);
      assert.equal(state.Running, false);
      assert.ok(ms < STOP_WITHIN_MS, `docker stop took ${ms} ms`);
    });
  });
}
