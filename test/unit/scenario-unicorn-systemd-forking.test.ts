// unicorn-systemd-forking: the verdict on synthetic facts shaped like a real bookworm run
// (EXPECTED), and UNEXPECTED as soon as one fact it is about is wrong; the journal counting on
// systemd 252's own lines; the units and drop-ins it installs pass `systemd-analyze verify`.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { summarize } from '../../lab/check/continuity';
import { CATALOGUE } from '../../lab/scenarios/catalogue';
import { expectationFor } from '../../lab/session/types';
import { forkingBoot, journalCounts, unicornSystemdForking } from '../../lab/scenarios/unicorn-systemd-forking';
import { phases } from '../support/stretch-facts';
import { ROOT } from '../support/root';

type Facts = Parameters<typeof unicornSystemdForking.verdict>[0]['facts'];

const CONF = join(ROOT, 'images/conf/unicorn/systemd-forking');
const SYSTEMD_ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
const skipVerify =
  SYSTEMD_ANALYZE === undefined
    ? 'systemd-analyze is not installed (apt-get install systemd)'
    : existsSync('/usr/bin/unicorn')
      ? false
      : 'unicorn is not installed: verify checks that ExecStart= exists (apt-get install unicorn)';

const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** What a bookworm run showed (systemd 252, a busy 2-core machine). */
const real = (): Facts => ({
  ...phases(
    ['as written: before the reloads', 38, 38, {}, 270],
    ['as written: 3 reloads', 1063, 1063, {}, 773],
    ['KillMode=process: 1 reload', 640, 640, {}, 439],
    ['User=www-data: 1 reload', 700, 700, {}, 1531],
    ['no PIDFile=: 1 reload', 966, 201, { 'http-502': 765 }, 8632],
    ['no PIDFile= + KillMode=process: 1 reload', 1287, 181, { 'http-502': 1106 }, 12040],
    ['unicorn@1 + unicorn@2: before the restarts', 46, 46, {}, 234],
    ['restart unicorn@1', 1182, 1182, {}, 566],
    ['restart unicorn@2', 591, 591, {}, 241],
  ),
  logLevel: 'debug',
  killMode: 'process',
  variants: ['as written', 'KillMode=process', 'User=www-data', 'no PIDFile=', 'no PIDFile= + KillMode=process'],
  reloadExits: ['0,0,0', '0', '0', '0', '0'],
  reloadsDone: [3, 1, 1, 1, 1],
  followed: [3, 1, 1, 0, 0],
  followMs: [9938, 12909, 15533, -1, -1],
  mainPids: ['110>344>481>613', '613>1034', '1509>1602', '2076>0', '2402>0'],
  stateAfter: ['active/running', 'active/running', 'active/running', 'inactive/dead', 'inactive/dead'],
  mainServesAfter: [true, true, true, false, false],
  cantOpen: [2, 1, 1, 0, 0],
  happy: [3, 1, 1, 0, 0],
  refused: [0, 0, 0, 0, 0],
  deactivated: [0, 0, 0, 1, 1],
  remains: [0, 0, 0, 0, 3],
  pidFileLines: [
    'as written: unicorn.service: New main PID 344 belongs to service, we are happy.',
    "as written: unicorn.service: Can't open PID file /run/unicorn/unicorn.pid (yet?) after reload: No such file or directory",
  ],
  leftAfterStop: [-1, 0, 0, 0, 3],
  guessMisses: [0, 0, 0, 0, 1],
  runDirOwner: 'www-data',
  pidFileOwner: 'www-data',
  masterUser: 'www-data',
  orphanMasters: 1,
  orphanSocketPresent: false,
  orphanHttpStatus: 502,
  leftoverLines: 3,
  mainPidAfterStart: 0,
  servingMastersAfterStart: 2,
  leftAfterSecondStop: 6,
  pairBefore: [3368, 3369],
  pairAfter: [3648, 3823],
  pairRestartMs: [15960, 6274],
  pairServingAfter: 2,
});

function outcome(facts: Facts): string {
  const v = unicornSystemdForking.verdict({ flavour: 'bookworm', continuity: summarize([]), facts });
  return `${v.outcome}\n${v.reasons.join('\n')}`;
}

const unexpected = (change: (f: Facts) => void, why: string) => {
  const f = real();
  change(f);
  assert.match(outcome(f), /^UNEXPECTED/, why);
};

describe('unicorn-systemd-forking: the verdict', () => {
  it('is EXPECTED on what a bookworm run showed', () => {
    const text = outcome(real());
    assert.match(text, /^EXPECTED/, text);
    assert.match(text, /as written: reloads that exited 0 .*seen 3 of 3/);
    assert.match(text, /journal: as written: .*\(yet\?\) after reload/);
  });

  it('fails when systemd does not follow a reload of the unit as written', () =>
    unexpected((f) => {
      f.followed[0] = 1;
      f.mainPids[0] = '110>344>0';
    }, 'MainPID lost after the second reload'));

  it('fails when systemd logs no reason for a new main pid (debug not on, or another path taken)', () =>
    unexpected((f) => (f.happy[0] = 0), 'no "belongs to service" line'));

  it('fails when the www-data pid file is refused', () =>
    unexpected((f) => (f.refused[2] = 1), '"not owned by root. Refusing." seen'));

  it('fails when a request fails during the reloads of a PIDFile= variant', () => {
    unexpected((f) => {
      const i = f.phaseNames.indexOf('as written: 3 reloads');
      f.phaseOk[i] -= 2;
      f.phaseFailed[i] = 2;
      f.phaseFailures[i] = 'http-502=2';
    }, '2 failed during the reloads');
  });

  it('fails when KillMode=process leaves processes after a settled stop, or did not apply', () => {
    unexpected((f) => (f.leftAfterStop[1] = 3), 'orphans after stop');
    unexpected((f) => (f.killMode = 'control-group'), 'the drop-in did not take');
  });

  it('fails when the unit without PIDFile= survives its reload', () =>
    unexpected((f) => {
      f.stateAfter[3] = 'active/running';
      f.deactivated[3] = 0;
    }, 'no deactivation'));

  it('fails when KillMode=process without PIDFile= leaves nothing behind, or systemd knows a main pid beside it', () => {
    unexpected((f) => (f.leftAfterStop[4] = 0), 'no orphans');
    unexpected((f) => (f.mainPidAfterStart = 3001), 'a main pid chosen');
  });

  it('fails when the two instances lose a request while they restart in turn', () =>
    unexpected((f) => {
      const i = f.phaseNames.indexOf('restart unicorn@1');
      f.phaseOk[i] -= 12;
      f.phaseFailed[i] = 12;
      f.phaseFailures[i] = 'timeout=12';
    }, '12 timeouts'));
});

describe('unicorn-systemd-forking: reading the journal', () => {
  it('counts what systemd 252 says about the pid file, one example of each kind', () => {
    const lines = [
      'unicorn.service: Changed running -> reload',
      "unicorn.service: Can't open PID file /run/unicorn/unicorn.pid (yet?) after reload: No such file or directory",
      'unicorn.service: New main PID 84 belongs to service, we are happy.',
      'unicorn.service: Main PID changing: 65 -> 84',
      "unicorn.service: Can't open PID file /run/unicorn/unicorn.pid (yet?) after reload: No such file or directory",
      'unicorn.service: New main PID 111 belongs to service, we are happy.',
      'unicorn.service: Main PID changing: 84 -> 111',
      'unicorn.service: New main PID 7 does not belong to service, and PID file is not owned by root. Refusing.',
      'unicorn.service: Deactivated successfully.',
      'unicorn.service: Unit process 218 (unicorn) remains running after unit stopped.',
      'unicorn.service: Found left-over process 218 (unicorn) in control group while starting unit. Ignoring.',
    ];
    const c = journalCounts(lines);
    assert.deepEqual([c.cantOpen, c.happy, c.refused, c.deactivated, c.remains, c.leftover], [2, 2, 1, 1, 1, 1]);
    assert.equal(c.pidFileLines.length, 4);
    assert.match(c.pidFileLines[0], /\(yet\?\)/);
  });
});

describe('unicorn-systemd-forking: in the catalogue', () => {
  it('is registered for unicorn, in its group, among the unicorn-in-production scenarios', () => {
    const names = CATALOGUE.map((s) => s.name);
    assert.ok(names.indexOf('unicorn-systemd-forking') > names.indexOf('unicorn-bridge-traps'), names.join(', '));
    assert.equal(unicornSystemdForking.server, 'unicorn');
    assert.equal(unicornSystemdForking.group, 'unicorn in production');
  });

  it('tells its story in two sentences', () => {
    const sentences = unicornSystemdForking.story.split(/(?<=[.!?])\s+(?=[A-Z`])/);
    assert.equal(sentences.length, 2, sentences.join(' | '));
  });

  it('runs on systemd only, and says where upstart has its counterparts', () => {
    const p = expectationFor(unicornSystemdForking, 'precise', 'unicorn');
    assert.equal(p.applicable, false);
    assert.ok(!p.applicable && /no systemd/.test(p.reason) && /unicorn-exec-respawn/.test(p.reason));
    assert.equal(expectationFor(unicornSystemdForking, 'bookworm', 'unicorn').applicable, true);
  });

  it('boots the forking unit as unicorn.service, enabled, with its other files beside it', () => {
    const b = forkingBoot();
    assert.equal(b.activatesServer, true);
    assert.match(b.files?.['/etc/systemd/system/unicorn.service'] ?? '', /^Type=forking$/m);
    for (const f of [
      'forking.rb',
      'killmode-process.conf',
      'user-www-data.conf',
      'no-pidfile.conf',
      'unicorn@.service',
    ])
      assert.ok(b.files?.[`/opt/unicorn/systemd-forking/${f}`], f);
    assert.ok(b.shell?.some((l) => /multi-user\.target\.wants\/unicorn\.service$/.test(l)));
  });
});

describe('unicorn-systemd-forking: its units (images/conf/unicorn/systemd-forking)', () => {
  const read = (name: string) => readFileSync(join(CONF, name), 'utf8');

  /** The forking unit as unicorn.service with `dropIns` in unicorn.service.d, or the socket pair; verify's output. */
  function verify(dropIns: string[], pair = false): string {
    const dir = mkdtempSync(join(tmpdir(), 'forking-units-'));
    temps.push(dir);
    if (pair) {
      writeFileSync(join(dir, 'unicorn.socket'), read('unicorn.socket'));
      writeFileSync(join(dir, 'unicorn@.service'), read('unicorn@.service'));
    } else {
      writeFileSync(join(dir, 'unicorn.service'), read('unicorn-forking.service'));
      mkdirSync(join(dir, 'unicorn.service.d'));
      for (const d of dropIns)
        writeFileSync(
          join(dir, 'unicorn.service.d', d),
          d.startsWith('bad') ? '[Service]\nKillMode=gently\n' : read(d),
        );
    }
    const names = pair ? ['unicorn.socket', 'unicorn@1.service'] : ['unicorn.service'];
    const r = spawnSync(SYSTEMD_ANALYZE ?? 'systemd-analyze', ['verify', ...names.map((n) => join(dir, n))], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    // Only what it says about these files: a socket unit also makes verify load the host's own
    // unicorn.service (Debian's, which complains about its Environment= line), not ours.
    return `${r.stdout}${r.stderr}`
      .split('\n')
      .filter((l) => l.includes(dir))
      .join('\n')
      .trim();
  }

  it('the forking unit, alone and with each drop-in set, passes verify with no complaint', { skip: skipVerify }, () => {
    for (const set of [
      [],
      ['killmode-process.conf'],
      ['user-www-data.conf'],
      ['no-pidfile.conf', 'killmode-process.conf'],
    ])
      assert.equal(verify(set), '', set.join(' + ') || 'no drop-in');
  });

  it('unicorn.socket with unicorn@1.service passes verify with no complaint', { skip: skipVerify }, () => {
    assert.equal(verify([], true), '');
  });

  it('a broken drop-in is caught by the same check', { skip: skipVerify }, () => {
    assert.match(verify(['bad.conf']), /kill mode/i);
  });

  it('the unit is the one the reports describe: unicorn -D, its own -l socket, PIDFile=, reload by USR2', () => {
    const unit = read('unicorn-forking.service');
    assert.match(unit, /^Type=forking$/m);
    assert.match(unit, /^ExecStart=\/usr\/bin\/unicorn -D .* -l \/var\/run\/unicorn\/unicorn\.sock /m);
    assert.match(unit, /^PIDFile=\/run\/unicorn\/unicorn\.pid$/m);
    assert.match(unit, /^ExecReload=\/bin\/kill -USR2 \$MAINPID$/m);
    assert.doesNotMatch(unit, /^KillMode=/m, 'the default KillMode is the point of the first variant');
    assert.match(read('no-pidfile.conf'), /^PIDFile=$/m);
    assert.match(read('forking.rb'), /instance_eval\(File\.read\(base\), base\)/);
    const instance = read('unicorn@.service');
    assert.match(instance, /^Sockets=unicorn\.socket$/m);
    assert.match(instance, /^NonBlocking=true$/m);
    assert.match(instance, /^Environment=UNICORN_PID=\/run\/unicorn-%i\/unicorn\.pid$/m);
    assert.match(read('unicorn.socket'), /^Service=unicorn@1\.service$/m);
  });
});
