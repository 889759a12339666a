/**
 * A run whose Docker engine is gone is INFRASTRUCTURE, never UNEXPECTED, and is written like
 * any run (result.json, report.html) so the matrix goes on and the merge shows it. The engine
 * here is a socket path with nothing behind it: no Docker is touched.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { engineGone } from '../../lab/engine/docker';
import { outcomeColour, renderReport } from '../../lab/report/html';
import { findScenario } from '../../lab/scenarios/catalogue';
import { infrastructureVerdict, runScenario } from '../../lab/session/runner';
import { summarize } from '../../lab/check/continuity';

const home = mkdtempSync(join(tmpdir(), 'lab-infra-'));
const saved = process.env.DOCKER_HOST;

describe('an engine that went away', () => {
  before(() => {
    process.env.DOCKER_HOST = `unix://${join(home, 'gone.sock')}`;
  });
  after(() => {
    if (saved === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = saved;
    rmSync(home, { recursive: true, force: true });
  });

  it('is told apart: engineGone says why', async () => {
    assert.match((await engineGone(500)) ?? '', /gone\.sock/);
  });

  for (const image of [undefined, 'upstart-unicorn-lab/bookworm:any']) {
    it(`a run ${image ? 'that cannot boot its lab' : 'that cannot check its image'} is INFRASTRUCTURE, saved as a run`, async () => {
      const s = findScenario('worker-killed')!;
      const lines: string[] = [];
      const r = await runScenario(s, 'bookworm', { home, image, say: (l) => lines.push(l) });
      assert.equal(r.verdict.outcome, 'INFRASTRUCTURE', r.verdict.reasons.join('\n'));
      assert.match(r.verdict.reasons[0], /Docker engine went away/);
      assert.ok(r.dir && existsSync(join(r.dir, 'result.json')) && r.report && existsSync(r.report));
      const saved = JSON.parse(readFileSync(join(r.dir, 'result.json'), 'utf8')) as { verdict: { outcome: string } };
      assert.equal(saved.verdict.outcome, 'INFRASTRUCTURE');
      assert.ok(lines.some((l) => l.includes('INFRASTRUCTURE')));
    });
  }

  it('a cell with no meaning stays NOT RUN: nothing was asked of the engine', async () => {
    const s = findScenario('master-killed-respawn')!;
    const r = await runScenario(s, 'bookworm', { home, say: () => undefined });
    assert.equal(r.verdict.outcome, 'NOT RUN');
  });

  it('the report shows it in its own colour, neither pass nor failure', () => {
    const html = renderReport({
      title: 't',
      verdict: { outcome: 'INFRASTRUCTURE', reasons: infrastructureVerdict('gone', 'exec failed').reasons },
      continuity: summarize([]),
      records: [],
      actions: [],
      startedAt: '2026-01-01T00:00:00Z',
    });
    assert.match(html, /data-outcome="INFRASTRUCTURE"/);
    assert.ok(html.includes(outcomeColour('INFRASTRUCTURE')));
    assert.notEqual(outcomeColour('INFRASTRUCTURE'), outcomeColour('UNEXPECTED'));
    assert.notEqual(outcomeColour('INFRASTRUCTURE'), outcomeColour('EXPECTED'));
  });
});
