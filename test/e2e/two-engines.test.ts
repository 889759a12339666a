/**
 * The matrix on two Docker engines, a second dockerd on this machine standing in for a second
 * host (test/support/second-dockerd.sh: its own socket, data root, containerd and bridge).
 *
 *   test/support/second-dockerd.sh start        # once; loads the lab's images into it
 *   npm run build
 *   LAB_TWO_ENGINES=1 node --require ts-node/register --test test/e2e/two-engines.test.ts
 *   test/support/second-dockerd.sh clean        # afterwards
 *
 * 1. Two shards at once, one per engine, merged with `lab report --merge`: the same verdict in
 *    every cell as one sequential `lab scenario run --all` on one engine (LAB_TWO_ENGINES_REFERENCE=
 *    a folder holding that run's summary.json reuses one instead of running it, ~12 minutes).
 * 2. The second engine stopped mid-run: its runs from then on are INFRASTRUCTURE (exit 4), never
 *    UNEXPECTED; the first engine's shard completes; the merged page shows both. The second
 *    engine is started again afterwards.
 *
 * Not a CI step: a person starts it (it runs the matrix several times). Without LAB_TWO_ENGINES=1
 * this file runs nothing and says so on stderr, registering no skipped test (suites that fail on
 * any skip, like the precise workflow's, are not failed by it); with LAB_TWO_ENGINES=1 and no
 * second engine, the test is reported skipped with the reason.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  SECOND_ENGINE,
  differences,
  engineAnswers,
  latestSummaryJson,
  snapshot,
  startLab,
  verdicts,
} from '../../lab/bench/matrix';
import { projectRoot } from '../../lab/engine/images';
import type { MatrixSummary } from '../../lab/matrix/merge';

const FLAVOUR = process.env.LAB_FLAVOUR_TWO_ENGINES ?? 'bookworm';
const root = projectRoot();
const script = path.join(root, 'test', 'support', 'second-dockerd.sh');
const cli = path.join(root, 'dist', 'lab', 'cli.js');
const asked = process.env.LAB_TWO_ENGINES === '1';
const log = (line: string) => void process.stderr.write(`${line}\n`);

/** Why this cannot run here, or undefined. Checked synchronously, before any test is registered. */
function absent(): string | undefined {
  if (!fs.existsSync(cli)) return `${cli} is missing: run npm run build`;
  const first = spawnSync('docker', ['info'], { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: '' } });
  if (first.status !== 0) return 'the first Docker engine does not answer (docker info)';
  const second = spawnSync('docker', ['-H', SECOND_ENGINE, 'info'], { encoding: 'utf8' });
  if (second.status !== 0)
    return `no second Docker engine at ${SECOND_ENGINE}: start one with test/support/second-dockerd.sh start`;
  return undefined;
}

// A person starts this one (it runs the whole matrix twice): never by finding an engine running.
const why = asked ? absent() : undefined;
if (!asked) {
  log('two-engines: not run (LAB_TWO_ENGINES=1 runs it: it needs test/support/second-dockerd.sh start)');
} else {
  describe(`the ${FLAVOUR} matrix on two engines`, { concurrency: 1, skip: why }, () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'two-engines-'));
    // every lab process runs the same frozen code, whatever is rebuilt in the tree meanwhile
    const code = why ? root : snapshot(work);
    const lab = (args: string[], o: Parameters<typeof startLab>[1]) => startLab(args, { ...o, root: code });
    const base = ['scenario', 'run', '--all', '--flavour', FLAVOUR];
    let reference: MatrixSummary;

    before(async () => {
      assert.equal(await engineAnswers(SECOND_ENGINE), undefined, 'the second engine answers');
      // The same content-hash image on both engines (nothing is built on the second one).
      const built = await lab(['build', '--flavour', FLAVOUR], {
        home: path.join(work, 'build'),
        tag: '[build]',
      }).done;
      assert.equal(built.code, 0, built.tail.join('\n'));
      assert.equal(spawnSync(script, ['load'], { stdio: 'inherit' }).status, 0, 'images loaded into the second engine');
      const given = process.env.LAB_TWO_ENGINES_REFERENCE;
      if (given) {
        reference = latestSummaryJson(given);
        log(`[two-engines] reference: ${given}`);
        return;
      }
      log('[two-engines] the reference: one sequential run of the whole matrix on the first engine');
      const r = await lab(base, { home: path.join(work, 'sequential'), tag: '[sequential]', log }).done;
      assert.ok(
        r.code === 0 || r.code === 1,
        `the sequential run ended with ${r.code}:\n${r.tail.slice(-30).join('\n')}`,
      );
      reference = latestSummaryJson(path.join(work, 'sequential'));
    });

    after(() => {
      // Leave the second engine as it was found: running.
      spawnSync(script, ['start'], { stdio: 'inherit' });
    });

    it(
      'two shards on two engines at once, merged, give the verdicts of one sequential run',
      { timeout: 60 * 60_000 },
      async () => {
        const t = Date.now();
        const [a, b] = await Promise.all([
          lab([...base, '--shard', '1/2'], { home: path.join(work, 'a'), tag: '[e1 1/2]', log }).done,
          lab([...base, '--shard', '2/2'], {
            home: path.join(work, 'b'),
            dockerHost: SECOND_ENGINE,
            tag: '[e2 2/2]',
            log,
          }).done,
        ]);
        log(`[two-engines] both shards done in ${((Date.now() - t) / 1000).toFixed(0)} s (exits ${a.code}, ${b.code})`);
        for (const r of [a, b]) assert.ok(r.code === 0 || r.code === 1, `a shard ended with ${r.code}`);
        const out = path.join(work, 'merged');
        const m = await lab(['report', '--merge', path.join(work, 'a'), path.join(work, 'b'), '--out', out], {
          home: path.join(work, 'm'),
          tag: '[merge]',
          log,
        }).done;
        const merged = latestSummaryJson(out);
        assert.equal(merged.totals.missing, 0, 'no cell missing');
        assert.deepEqual(merged.missingShards, []);
        assert.equal(m.code, merged.exitCode);
        // each cell ran where its shard said: shard 1 on the first engine, shard 2 on the second
        for (const c of merged.cells)
          for (const r of c.results)
            assert.equal(
              r.where?.engine,
              r.where?.shard === '2/2' ? SECOND_ENGINE : 'unix:///var/run/docker.sock',
              `${c.key} ran on the engine of its shard`,
            );
        const diffs = differences({ sequential: verdicts(reference), twoEngines: verdicts(merged) });
        assert.deepEqual(diffs, [], `verdicts differ:\n${diffs.map((d) => JSON.stringify(d)).join('\n')}`);
      },
    );

    it(
      'an engine that goes away mid-run: its runs are INFRASTRUCTURE, the others complete, the merge shows both',
      { timeout: 60 * 60_000 },
      async () => {
        const homeB = path.join(work, 'stop-b');
        const lines: string[] = [];
        const first = lab([...base, '--shard', '1/4'], { home: path.join(work, 'stop-a'), tag: '[e1 1/4]', log });
        const second = lab([...base, '--shard', '2/4'], {
          home: homeB,
          dockerHost: SECOND_ENGINE,
          tag: '[e2 2/4]',
          log: (l) => {
            lines.push(l);
            log(l);
          },
        });
        // Once the second engine has finished one run and booted the next, it goes away.
        const results = () =>
          fs.existsSync(path.join(homeB, 'runs'))
            ? fs
                .readdirSync(path.join(homeB, 'runs'))
                .filter((d) => fs.existsSync(path.join(homeB, 'runs', d, 'result.json')))
            : [];
        let stopAt = 0;
        for (let i = 0; i < 3600 && !stopAt; i++) {
          await new Promise((r) => setTimeout(r, 500));
          const done = results().length;
          const ups = lines.filter((l) => /lab up on http/.test(l)).length;
          // a run has finished, and a later one has its lab up: stop the engine under it
          if (done >= 1 && ups > done) {
            await new Promise((r) => setTimeout(r, 2000));
            stopAt = Date.now();
            log('[two-engines] stopping the second engine now');
            assert.equal(spawnSync(script, ['stop'], { stdio: 'inherit' }).status, 0);
          }
        }
        assert.ok(stopAt, 'the second engine was stopped mid-run');
        const [a, b] = await Promise.all([first.done, second.done]);
        assert.equal(b.code, 4, `the shard whose engine went away exits 4:\n${b.tail.slice(-20).join('\n')}`);
        assert.ok(a.code === 0 || a.code === 1, `the other shard completes (exit ${a.code})`);

        const sb = latestSummaryJson(homeB);
        const hit = sb.cells
          .flatMap((c) => c.results)
          .filter((r) => Date.parse(r.startedAt) + r.seconds * 1000 > stopAt);
        assert.ok(hit.length >= 1, 'runs were cut short');
        for (const r of hit) assert.equal(r.outcome, 'INFRASTRUCTURE', `${r.scenario}: ${r.reasons.join(' / ')}`);
        const sa = latestSummaryJson(path.join(work, 'stop-a'));
        assert.equal(sa.totals.infrastructure, 0);
        assert.equal(sa.totals.missing, 0, 'the first engine ran its whole shard');

        const out = path.join(work, 'stop-merged');
        const m = await lab(['report', '--merge', path.join(work, 'stop-a'), homeB, '--out', out], {
          home: path.join(work, 'm2'),
          tag: '[merge]',
          log,
        }).done;
        const merged = latestSummaryJson(out);
        assert.ok(m.code === 4 || m.code === 1, `an incomplete merge exits 4 (1 if a cell failed), got ${m.code}`);
        assert.ok(merged.totals.infrastructure >= 1);
        assert.ok(merged.totals.expected >= 1);
        const html = fs.readFileSync(path.join(out, 'summary.html'), 'utf8');
        assert.match(html, /data-outcome="INFRASTRUCTURE"/);
        assert.match(html, /data-outcome="EXPECTED"/);
        // shards 3/4 and 4/4 never ran: named, and their cells missing
        assert.equal(merged.missingShards.length, 2, merged.missingShards.join('\n'));
        log(`[two-engines] merged page: ${path.join(out, 'summary.html')}`);
      },
    );
  });
}
