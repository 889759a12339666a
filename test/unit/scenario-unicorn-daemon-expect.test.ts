// unicorn-daemon-expect judged on synthetic facts shaped like its real run on upstart 1.5:
// EXPECTED on what the run showed, UNEXPECTED as soon as the fact it is about is wrong.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { summarize } from '../../lab/check/continuity';
import type { Flavour } from '../../lab/engine/flavour-images';
import { checkJobFiles } from '../../lab/jobcheck/index';
import { CATALOGUE } from '../../lab/scenarios/catalogue';
import { STRETCH, unicornDaemonExpect, whoIs } from '../../lab/scenarios/unicorn-daemon-expect';
import { expectationFor } from '../../lab/session/types';
import { phases } from '../support/stretch-facts';
import { ROOT } from '../support/root';

type F = Parameters<typeof unicornDaemonExpect.verdict>[0]['facts'];

const { A_SERVING, A_STOPPED, B_BEFORE, B_USR2, B_STOPPED, C_SERVING } = STRETCH;

/** What the run on upstart 1.5 showed (pids as there: the intermediate is the master's session id). */
function good(): F {
  return {
    ...phases(
      [A_SERVING, 170, 170, {}, 310],
      [A_STOPPED, 140, 140, {}, 305],
      [B_BEFORE, 130, 130, {}, 302],
      [B_USR2, 260, 260, {}, 420],
      [B_STOPPED, 140, 140, {}, 300],
      [C_SERVING, 130, 130, {}, 301],
    ),
    aStartExit: 0,
    aStartOutput: 'unicorn start/running, process 231',
    aHung: false,
    aTrackedAtStart: 231,
    aTrackedRightAfter: 'Z ppid 230 (/usr/bin/ruby /usr/bin/unicorn -D -E production)',
    aMaster: 232,
    aMasterPpid: 1,
    aMasterSid: 231,
    aTrackedIs: 'intermediate',
    aStateServing: 'stop/waiting',
    aTrackedServing: null,
    aEndedAfterStartMs: 1850,
    aStopExit: 1,
    aStopOutput: 'initctl: Unknown instance:',
    aServerAliveAfterStop: true,
    aAnsweredAfterStop: true,
    aProcsAfterStop: 3,
    bStartExit: 0,
    bStartOutput: 'unicorn start/running, process 402',
    bHung: false,
    bTrackedAtStart: 402,
    bTrackedRightAfter: 'S ppid 401 (/usr/bin/ruby /usr/bin/unicorn -D -E production)',
    bMaster: 402,
    bMasterPpid: 1,
    bMasterSid: 401,
    bTrackedIs: 'master',
    bStateServing: 'start/running',
    bTrackedServing: 402,
    bNewMaster: 530,
    bNewMasterPpid: 1,
    bOldMasterGone: true,
    bStateAfterUsr2: 'stop/waiting',
    bTrackedAfterUsr2: null,
    bEndedAfterUsr2Ms: 900,
    bStopExit: 1,
    bStopOutput: 'initctl: Unknown instance:',
    bServerAliveAfterStop: true,
    bAnsweredAfterStop: true,
    bProcsAfterStop: 3,
    cStartExit: 0,
    cStartOutput: 'unicorn start/running, process 612',
    cHung: false,
    cTrackedAtStart: 612,
    cTrackedRightAfter: 'S ppid 611 (/usr/bin/ruby /usr/bin/unicorn -D -E production)',
    cMaster: 612,
    cMasterPpid: 1,
    cMasterSid: 611,
    cTrackedIs: 'master',
    cStateServing: 'start/running',
    cTrackedServing: 612,
    cStopExit: 0,
    cStopOutput: 'unicorn stop/waiting',
    cServerAliveAfterStop: false,
    cAnsweredAfterStop: false,
    cProcsAfterStop: 0,
    cStopMs: 420,
    cleanups: ['QUIT 232 (a) the master upstart does not know', 'QUIT 530 (b) the new master upstart does not know'],
  };
}

function judged(facts: F, flavour: Flavour = 'precise'): string {
  const v = unicornDaemonExpect.verdict({ flavour, continuity: summarize([]), facts });
  return `${v.outcome}\n${v.reasons.join('\n')}`;
}

const unexpected = (facts: F, why: string): void => assert.match(judged(facts), /^UNEXPECTED/, why);

describe('unicorn-daemon-expect', () => {
  it('is in the catalogue, for unicorn, in its group, with a two-sentence story', () => {
    assert.ok(CATALOGUE.includes(unicornDaemonExpect as never));
    assert.equal(unicornDaemonExpect.server, 'unicorn');
    assert.equal(unicornDaemonExpect.group, 'unicorn in production');
    const sentences = unicornDaemonExpect.story.split(/(?<=[.!?])\s+(?=[A-Z`])/);
    assert.equal(sentences.length, 2, sentences.join(' | '));
  });

  it('has no meaning on systemd and points to unicorn-systemd-forking', () => {
    const e = expectationFor(unicornDaemonExpect, 'bookworm', 'unicorn');
    assert.equal(e.applicable, false);
    assert.match(e.applicable ? '' : e.reason, /unicorn-systemd-forking/);
    assert.equal(expectationFor(unicornDaemonExpect, 'precise', 'unicorn').applicable, true);
  });

  it('tells the master, the intermediate and the rest apart by the master pid and session id', () => {
    assert.equal(whoIs(232, 232, 231), 'master');
    assert.equal(whoIs(231, 232, 231), 'intermediate');
    assert.equal(whoIs(230, 232, 231), 'other');
    assert.equal(whoIs(0, 232, 231), 'none');
  });

  it('is EXPECTED on what the upstart 1.5 run showed', () => {
    assert.match(judged(good()), /^EXPECTED/, judged(good()));
  });

  it('is UNEXPECTED when expect fork tracks the master (upstart would then know unicorn)', () => {
    unexpected({ ...good(), aTrackedAtStart: 232, aTrackedIs: 'master' }, 'expect fork tracked the master');
  });

  it('is UNEXPECTED when upstart still says start/running once unicorn answers under expect fork', () => {
    unexpected({ ...good(), aStateServing: 'start/running', aTrackedServing: 231 }, 'the zombie kept the job running');
  });

  it('is UNEXPECTED when initctl stop stopped the master in (a)', () => {
    unexpected(
      { ...good(), aStopExit: 0, aServerAliveAfterStop: false, aAnsweredAfterStop: false, aProcsAfterStop: 0 },
      'initctl stop stopped it',
    );
  });

  it('is UNEXPECTED when a stretch that must lose nothing lost requests (the USR2)', () => {
    const f = good();
    const usr2 = phases([B_USR2, 260, 250, { 'http-502': 10 }, 900]);
    const i = f.phaseNames.indexOf(B_USR2);
    f.phaseOk[i] = usr2.phaseOk[0];
    f.phaseFailed[i] = usr2.phaseFailed[0];
    f.phaseFailures[i] = usr2.phaseFailures[0];
    unexpected(f, 'the USR2 lost 10 requests');
  });

  it('is UNEXPECTED when upstart followed the USR2 (still start/running on the new master)', () => {
    unexpected(
      { ...good(), bStateAfterUsr2: 'start/running', bTrackedAfterUsr2: 530, bEndedAfterUsr2Ms: null },
      'upstart followed the re-exec',
    );
  });

  it('is UNEXPECTED when expect daemon hung in spawned and was cleaned up', () => {
    unexpected(
      { ...good(), bHung: true, bStartExit: 124, bTrackedIs: 'none', bStateServing: 'start/spawned' },
      'a hung start',
    );
  });

  it('is UNEXPECTED when the control stop leaves unicorn behind', () => {
    unexpected({ ...good(), cProcsAfterStop: 3 }, 'the control stop left processes');
  });

  it('never passes on bookworm (it must not run there)', () => {
    assert.match(judged(good(), 'bookworm'), /^UNEXPECTED/);
  });

  it('ships its two jobs, each passing the upstart 1.5 checker as /etc/init/unicorn.conf beside the container glue', () => {
    const dir = join(ROOT, 'images/conf/unicorn/daemon-expect/upstart');
    const glueDir = join(ROOT, 'images/conf/upstart/container');
    const glue = readdirSync(glueDir)
      .filter((n) => n.endsWith('.conf'))
      .map((n) => ({ fileName: relative(ROOT, join(glueDir, n)), text: readFileSync(join(glueDir, n), 'utf8') }));
    for (const [name, expect] of [
      ['unicorn-expect-fork.conf', 'fork'],
      ['unicorn-expect-daemon.conf', 'daemon'],
    ]) {
      const text = readFileSync(join(dir, name), 'utf8');
      const code = text.replace(/^\s*#.*$/gm, '');
      assert.match(code, new RegExp(`^expect ${expect}$`, 'm'), name);
      assert.match(
        code,
        /^exec \/usr\/bin\/unicorn -D -E production -c \/opt\/unicorn\/app\/unicorn\.rb \\\n\s+-l \/var\/run\/unicorn\/unicorn\.sock /m,
        name,
      );
      assert.doesNotMatch(code, /^\s*respawn\b/m, `${name}: no respawn`);
      assert.doesNotMatch(code, /^\s*start on\b/m, `${name}: started by the scenario`);
      const reports = checkJobFiles([...glue, { fileName: 'unicorn.conf', text }]);
      const errors = reports.flatMap((r) =>
        r.problems.filter((p) => p.severity === 'error').map((p) => `${r.fileName}:${p.line}: ${p.message}`),
      );
      assert.deepEqual(errors, [], name);
    }
  });
});
