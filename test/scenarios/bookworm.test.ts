/**
 * Every scenario of the catalogue, run for real on a flavour (bookworm by default: the CI
 * flavour), each in its own fresh container, each asserted to meet that flavour's expectation.
 * A scenario with no meaning on the flavour is reported as skipped with its reason, never as
 * passed; an UNEXPECTED outcome fails the test with the verdict's numbers.
 *
 *   npm run build
 *   node --test dist/test/scenarios/*.test.js
 *
 * LAB_FLAVOUR=bookworm (default) | precise | bookworm,precise | all
 * LAB_SERVER=all (default) | phoenix | unicorn   each scenario runs on the servers it has meaning for
 * LAB_JOBS=2 (default)  scenarios run at once, each in its own container
 * LAB_IMAGE=image:tag   boot this image (one flavour only) instead of building the flavour's
 * LAB_HOME=DIR          where the run folders and reports go (default ./.lab)
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { assertDockerReachable } from '../../lab/engine/docker';
import { CATALOGUE } from '../../lab/scenarios/catalogue';
import { formatResult } from '../../lab/session/format';
import { imageFor, runScenario } from '../../lab/session/runner';
import { expectationFor, serversOf } from '../../lab/session/types';
import { serverFor } from '../../lab/servers';
import { selection } from '../e2e/lab-container';

const serverChoice = (process.env.LAB_SERVER ?? '').trim() || 'all';
// Two labs at a time, as `lab scenario run --all --jobs 2` runs them: the matrix benchmark saw
// the same verdicts in every cell with 1 and 2 at a time on 2 cores, and 1.43x less wall time.
const JOBS = Number(process.env.LAB_JOBS ?? 2);
if (!Number.isInteger(JOBS) || JOBS < 1) throw new Error(`LAB_JOBS=${process.env.LAB_JOBS}: a whole number, 1 or more`);
if (serverChoice !== 'all') serverFor(serverChoice);

// LAB_FLAVOUR and LAB_IMAGE are read as the e2e suite reads them: one reading, one set of messages.
const { flavours: chosen, image: explicitImage } = selection();

for (const flavour of chosen) {
  describe(`scenarios on ${flavour}`, { concurrency: JOBS }, () => {
    let image: string | undefined;
    let skip: string | undefined;
    const log = (line: string) => void process.stderr.write(`[scenarios ${flavour}] ${line}\n`);

    before(
      async () => {
        try {
          await assertDockerReachable();
          image = explicitImage ?? (await imageFor(flavour, log));
          log(`image ${image}`);
        } catch (err) {
          // No Docker, or no base for precise: every scenario is reported skipped with the reason.
          skip = `${flavour} cannot run here: ${(err as Error).message.split('\n')[0]}`;
          log(`SKIPPING: ${skip}`);
        }
      },
      { timeout: 30 * 60_000 },
    );

    for (const s of CATALOGUE) {
      for (const server of serversOf(s).filter((v) => serverChoice === 'all' || v === serverChoice)) {
        it(`${s.name} (${server}): ${s.title}`, { timeout: 420_000 }, async (t) => {
          const e = expectationFor(s, flavour, server);
          if (!e.applicable) return void t.skip(`not applicable on ${flavour} with ${server}: ${e.reason}`);
          if (skip !== undefined) return void t.skip(skip);
          const r = await runScenario(s, flavour, { image, say: log, server });
          for (const line of formatResult(r).split('\n')) t.diagnostic(line);
          assert.equal(
            r.verdict.outcome,
            'EXPECTED',
            `${s.name} on ${flavour} with ${server} was ${r.verdict.outcome}:\n${r.verdict.reasons.join('\n')}\nreport: ${r.report}`,
          );
        });
      }
    }
  });
}
