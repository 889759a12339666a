/**
 * End to end with Ruby unicorn, the seed's own server, as `lab up --server unicorn` runs it:
 * init's socket (the bridge on precise, unicorn.socket on bookworm) handed to unicorn-wrapper,
 * which hands it to unicorn and stays the process init tracks. USR2 upgrades sent to the
 * wrapper under load lose nothing, init keeps tracking the same pid, and a stop through init
 * leaves no unicorn process. Same selection as lab.test.ts (LAB_FLAVOUR, LAB_IMAGE).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import type Docker from 'dockerode';
import { formatContinuity, summarize } from '../../lab/check/continuity';
import { execIn } from '../../lab/engine/containers';
import { DRIVERS } from '../../lab/flavours';
import { inspectLab } from '../../lab/inspect';
import { runLoad } from '../../lab/load/run';
import { unicorn } from '../../lab/servers/unicorn';
import { get } from '../support/http';
import { flavourImage, initView, removeRun, selection, sh, sleep, startLab, type Lab } from './lab-container';

const UPGRADES = 5;
const chosen = selection();
const instance = `e2e-unicorn-${process.pid}-${Date.now().toString(36)}`;

async function served(port: number): Promise<{ generation: number; master: number; pid: number }> {
  const reply = await get(port, '/');
  assert.equal(reply.status, 200, `GET / through nginx: ${reply.status} ${reply.body}`);
  return JSON.parse(reply.body) as { generation: number; master: number; pid: number };
}

for (const flavour of chosen.flavours) {
  describe(`e2e ${flavour} with unicorn`, { concurrency: 1 }, () => {
    let docker: Docker | undefined;
    let lab: Lab | undefined;
    let skip: string | undefined;

    function ready(t: TestContext): Lab | undefined {
      if (skip !== undefined) return void t.skip(skip);
      assert.ok(lab, 'the lab container did not start (see the before hook)');
      return lab;
    }

    before(
      async () => {
        const log = (line: string): void => void process.stderr.write(`[e2e ${flavour}/unicorn] ${line}\n`);
        const outcome = await flavourImage(flavour, chosen.image, log);
        if (outcome.kind === 'unavailable') {
          skip = `${flavour} image not available: ${outcome.reason.replace(/\s*\n\s*/g, ' ')}`;
          return;
        }
        docker = outcome.docker;
        lab = await startLab(flavour, outcome.image, instance, unicorn);
        log(`nginx on 127.0.0.1:${lab.port}; first 200 after ${lab.firstOkMs} ms`);
      },
      { timeout: 30 * 60_000 },
    );

    after(async () => {
      await removeRun(docker, instance);
    });

    it('real unicorn answers through nginx; init tracks unicorn-wrapper, its parent', async (t) => {
      const l = ready(t);
      if (l === undefined) return;
      const body = await served(l.port);
      const view = await initView(l);
      assert.ok(view.mainPid !== undefined, `init tracks nothing: ${view.text}`);
      const wrapperCmd = (await sh(l, `tr '\\0' ' ' < /proc/${view.mainPid}/cmdline`)).trim();
      assert.match(wrapperCmd, /unicorn-wrapper\/cli\.js/, `init tracks: ${wrapperCmd}`);
      const masterCmd = (await sh(l, `tr '\\0' ' ' < /proc/${body.master}/cmdline`)).trim();
      assert.match(masterCmd, /^unicorn master/, `the master that served: ${masterCmd}`);
      const s = await inspectLab(l.booted.container, DRIVERS[flavour], unicorn);
      assert.equal(s.masters.length, 1);
      assert.equal(s.herders[0]?.trackedByInit, true);
      t.diagnostic(`init: ${view.text}; wrapper ${view.mainPid}; master ${body.master}; worker ${body.pid}`);
    });

    it(
      `${UPGRADES} USR2 sent to the wrapper under load: nothing lost, init keeps the same pid`,
      { timeout: 180_000 },
      async (t) => {
        const l = ready(t);
        if (l === undefined) return;
        const before = await initView(l);
        const first = await served(l.port);
        const stop = new AbortController();
        const load = runLoad({
          origin: `http://127.0.0.1:${l.port}`,
          concurrency: 8,
          durationMs: 150_000,
          pathFor: (n) => (n % 10 === 0 ? '/slow?ms=300' : '/'),
          signal: stop.signal,
        });
        const masters = new Set<number>([first.master]);
        try {
          await sleep(500);
          for (let i = 1; i <= UPGRADES; i++) {
            await sh(l, `kill -USR2 ${before.mainPid}`);
            // Next only once the new master serves alone: unicorn refuses USR2 while .oldbin lives.
            const deadline = Date.now() + 20_000;
            for (;;) {
              const s = await inspectLab(l.booted.container, DRIVERS[flavour], unicorn);
              const body = await served(l.port);
              if (body.generation >= first.generation + i && s.oldbin === undefined && s.masters.length === 1) {
                masters.add(body.master);
                break;
              }
              assert.ok(Date.now() < deadline, `upgrade ${i} did not settle: ${JSON.stringify(s.masters)}`);
              await sleep(100);
            }
            assert.equal((await initView(l)).mainPid, before.mainPid, `after upgrade ${i}`);
          }
          await sleep(500);
        } finally {
          stop.abort();
        }
        const summary = summarize(await load);
        t.diagnostic(formatContinuity(summary).replace(/\n/g, '; '));
        assert.ok(summary.sent > 200, `only ${summary.sent} requests were sent`);
        assert.equal(summary.failed, 0, `failed requests: ${JSON.stringify(summary.failures)}`);
        assert.equal(masters.size, UPGRADES + 1, `masters that served: ${[...masters].join(',')}`);
      },
    );

    it('a stop through init leaves no unicorn process', { timeout: 60_000 }, async (t) => {
      const l = ready(t);
      if (l === undefined) return;
      const plan = DRIVERS[flavour].initctl(['stop', unicorn.job], unicorn);
      assert.ok('cmd' in plan);
      const r = await execIn(l.booted.container, plan.cmd);
      assert.equal(r.code, 0, r.stderr);
      const deadline = Date.now() + 40_000;
      for (;;) {
        const left = (
          await sh(l, "ps -eo args | grep -E '^unicorn|unicorn-wrapper/cli' | grep -v grep || true")
        ).trim();
        if (left === '') break;
        assert.ok(Date.now() < deadline, `still running after the stop:\n${left}`);
        await sleep(200);
      }
      t.diagnostic(`after ${plan.cmd.join(' ')}: ${(await initView(l)).text}`);
    });
  });
}
