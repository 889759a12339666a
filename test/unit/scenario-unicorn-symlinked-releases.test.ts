// unicorn-symlinked-releases judged on synthetic facts shaped like its real runs (bookworm and
// precise gave the same numbers' shape): EXPECTED on those, UNEXPECTED as soon as what the
// scenario is about is wrong. And the job, unit and deploy script it writes pass the checks
// the shipped ones pass.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { summarize } from '../../lab/check/continuity';
import type { Flavour } from '../../lab/engine/flavour-images';
import { checkJobFile } from '../../lab/jobcheck';
import { CATALOGUE } from '../../lab/scenarios/catalogue';
import type { StretchFacts } from '../../lab/session/unicorn-common';
import {
  STEPS,
  deployScript,
  symlinkedJob,
  symlinkedUnit,
  unicornSymlinkedReleases as scenario,
} from '../../lab/scenarios/unicorn-symlinked-releases';
import { ROOT } from '../support/root';

type F = Parameters<typeof scenario.verdict>[0]['facts'];

const PHASES = [
  'release A serving',
  'deploy B (current -> releases/B) + USR2',
  'prune releases/A + USR2',
  'deploy C with the fix + HUP + USR2',
  'deploy D + prune releases/C + USR2',
];

function stretches(failedIn?: string): StretchFacts {
  const sent = [36, 245, 175, 534, 393];
  const failed = PHASES.map((p) => (p === failedIn ? 3 : 0));
  return {
    phaseNames: [...PHASES],
    phaseSent: sent,
    phaseOk: sent.map((n, i) => n - failed[i]),
    phaseFailed: failed,
    phaseFailure: failed.map((n) => (n ? 'http-502' : '')),
    phaseGapMs: [485, 270, 296, 502, 376],
    phaseWaited: [0, 0, 0, 0, 0],
    phaseFailures: failed.map((n) => (n ? `http-502=${n}` : '')),
  };
}

/** The bookworm run of 2026-11-30, fact for fact. */
function seen(over: Partial<F> = {}): F {
  const A = '/srv/app/releases/A';
  return {
    ...stretches(),
    wrapperPid: 164,
    firstMaster: 170,
    masterPwd: '',
    stepVersions: ['A', 'A', 'A', 'C', 'D'],
    stepCwd: [A, A, `${A} (deleted)`, '/srv/app/releases/C', '/srv/app/releases/D'],
    stepGemfile: [
      `${A}/Gemfile`,
      `${A}/Gemfile`,
      `${A}/Gemfile`,
      '/srv/app/current/Gemfile',
      '/srv/app/current/Gemfile',
    ],
    stepGeneration: [1, 2, 2, 3, 4],
    stepTracked: [164, 164, 164, 164, 164],
    masterBeforePrune: 416,
    masterAfterPrune: 416,
    oldbinAfterPrune: null,
    upgradeFailed: 1,
    followed: 3,
    failedAfterMs: 1971,
    failedWindowMs: 618,
    reexecError:
      "http_server.rb:445:in `chdir': No such file or directory @ dir_s_chdir - /srv/app/releases/A (Errno::ENOENT)",
    cwdAfterHup: '/srv/app/releases/C',
    versionAfterHup: 'C',
    ...over,
  };
}

function outcome(facts: F, flavour: Flavour = 'bookworm'): string {
  const v = scenario.verdict({ flavour, continuity: summarize([]), facts });
  return `${v.outcome}\n${v.reasons.join('\n')}`;
}

/** One step's value replaced, the others as seen. */
function at<T>(list: readonly T[], step: (typeof STEPS)[number], value: T): T[] {
  const out = [...list];
  out[STEPS.indexOf(step)] = value;
  return out;
}

describe('unicorn-symlinked-releases: the scenario', () => {
  it('is in the catalogue after the other unicorn scenarios, for unicorn, in their group', () => {
    const names = CATALOGUE.map((s) => s.name);
    assert.equal(names.indexOf(scenario.name), names.indexOf('unicorn-bridge-traps') + 1);
    assert.equal(scenario.server, 'unicorn');
    assert.equal(scenario.group, 'unicorn in production');
  });

  it('tells its story in two sentences and expects something on both inits', () => {
    const sentences = scenario.story.split(/(?<=[.!?])\s+(?=[A-Z`])/);
    assert.equal(sentences.length, 2, sentences.join(' | '));
    for (const f of ['precise', 'bookworm'] as const) assert.equal(scenario.expect[f].applicable, true, f);
  });
});

describe('unicorn-symlinked-releases: the verdict', () => {
  for (const flavour of ['bookworm', 'precise'] as const)
    it(`is EXPECTED on what the ${flavour} run showed`, () => {
      assert.match(outcome(seen(), flavour), /^EXPECTED/);
    });

  const fails: Array<[string, Partial<F>]> = [
    // The layout bug did not happen: an init that gave PWD=/srv/app/current would do this.
    ['B answered right after its USR2', { stepVersions: at(seen().stepVersions, 'after deploy B', 'B') }],
    ['init set PWD', { masterPwd: '/srv/app/current' }],
    ['the failed deploy went unreported', { upgradeFailed: 0 }],
    ['a second upgrade-failed (the fix did not hold)', { upgradeFailed: 2 }],
    ['an .oldbin left after the failed USR2', { oldbinAfterPrune: 416 }],
    ['another master after the failed USR2', { masterAfterPrune: 0 }],
    ['requests failed while the old master served', stretches('prune releases/A + USR2')],
    ['the fix still serves A', { stepVersions: at(seen().stepVersions, 'after the fix (C)', 'A') }],
    [
      'BUNDLE_GEMFILE still a release after the fix',
      { stepGemfile: at(seen().stepGemfile, 'after deploy D', '/srv/app/releases/C/Gemfile') },
    ],
    ['two releases answered after D', { stepVersions: at(seen().stepVersions, 'after deploy D', 'C,D') }],
    ['init lost the wrapper', { stepTracked: at(seen().stepTracked, 'after deploy D', 2153) }],
    ['the wrapper followed a master too few', { followed: 2 }],
  ];
  for (const [why, over] of fails)
    it(`is UNEXPECTED when ${why}`, () => {
      assert.match(outcome(seen(over)), /^UNEXPECTED/);
    });
});

const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'symlinked-releases-'));
  temps.push(dir);
  return dir;
}

describe('unicorn-symlinked-releases: what it writes into the container', () => {
  it("the job is the shipped wrapper job started in current, and passes upstart 1.5's checker", () => {
    const job = symlinkedJob();
    assert.deepEqual(
      checkJobFile(job, 'unicorn.conf').filter((p) => p.severity === 'error'),
      [],
    );
    assert.match(job, /^chdir \/srv\/app\/current$/m);
    assert.match(job, /^env BUNDLE_GEMFILE=\/srv\/app\/releases\/A\/Gemfile$/m);
    assert.match(job, /^ {4}-- \/usr\/bin\/unicorn -E production -c \/srv\/app\/current\/config\/unicorn\.rb$/m);
    assert.match(job, /^start on socket PROTO=unix PATH=\/var\/run\/unicorn\/unicorn\.sock$/m);
    assert.doesNotMatch(job.replace(/^#.*$/gm, ''), /\/opt\/unicorn\/app/);
  });

  it('the unit is unicorn-wrapper.service started in current', () => {
    const unit = symlinkedUnit();
    assert.match(unit, /^WorkingDirectory=\/srv\/app\/current$/m);
    assert.match(unit, /^Environment=BUNDLE_GEMFILE=\/srv\/app\/releases\/A\/Gemfile$/m);
    assert.match(
      unit,
      /^ExecStart=.* -- \/usr\/bin\/unicorn -E production -c \/srv\/app\/current\/config\/unicorn\.rb$/m,
    );
    assert.doesNotMatch(unit.replace(/^#.*$/gm, ''), /\/opt\/unicorn\/app/);
  });

  const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
  const skipVerify =
    analyze === undefined
      ? 'systemd-analyze is not installed (apt-get install systemd)'
      : existsSync('/usr/bin/unicorn')
        ? false
        : 'unicorn is not installed: verify checks that ExecStart= exists (apt-get install unicorn)';
  it('the unit passes systemd-analyze verify with no complaint', { skip: skipVerify }, () => {
    const dir = tempDir();
    // As ruby-conf.test.ts does: the image's portable node is this node here.
    writeFileSync(
      join(dir, 'unicorn.service'),
      symlinkedUnit().replaceAll('/opt/phoenix/runtime/bin/node', process.execPath),
    );
    writeFileSync(join(dir, 'unicorn.socket'), readFileSync(join(ROOT, 'images/conf/systemd/unicorn.socket'), 'utf8'));
    const r = spawnSync(
      analyze ?? 'systemd-analyze',
      ['verify', join(dir, 'unicorn.socket'), join(dir, 'unicorn.service')],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.equal(`${r.stdout}${r.stderr}`.trim(), '');
  });

  it('the deploy script parses (sh -n) and switches the link with one rename', () => {
    const script = deployScript('B');
    const file = join(tempDir(), 'deploy.sh');
    writeFileSync(file, script);
    const r = spawnSync('sh', ['-n', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      script,
      /^ln -s \/srv\/app\/releases\/B \/srv\/app\/current\.tmp\nmv -T \/srv\/app\/current\.tmp \/srv\/app\/current$/m,
    );
  });
});
