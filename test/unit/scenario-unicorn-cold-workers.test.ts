// unicorn-cold-workers judged on synthetic facts shaped like its real runs: EXPECTED on what
// the runs showed, UNEXPECTED as soon as the fact it is about is wrong (no 502 with the small
// backlog, a spike with preload_app, a backlog unicorn did not set), so the checker can fail.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarize } from '../../lab/check/continuity';
import type { Flavour } from '../../lab/engine/flavour-images';
import { CATALOGUE } from '../../lab/scenarios/catalogue';
import { expectationFor } from '../../lab/session/types';
import {
  BOOT_SECONDS,
  type ColdWorkersFacts,
  STRETCHES,
  parseSamples,
  unicornColdWorkers,
} from '../../lab/scenarios/unicorn-cold-workers';

const s = unicornColdWorkers;

/** One run as it went on bookworm (numbers from a real run, rounded), one array slot per stretch. */
function run(over: Partial<ColdWorkersFacts> = {}): ColdWorkersFacts {
  return {
    socketPath: '/run/unicorn/unicorn.sock',
    ownerBacklog: 64,
    firstMasterBacklog: 1024,
    wrapperPid: 206,
    names: [...STRETCHES],
    sent: [75, 1109, 995, 1380],
    failed: [0, 136, 0, 0],
    failures: ['', 'http-502=136', '', ''],
    p99Ms: [182, 3946, 4494, 120],
    maxMs: [182, 4145, 4677, 190],
    gapMs: [53, 4109, 4472, 200],
    queuePeak: [0, 65, 160, 4],
    backlogAtPeak: [1024, 64, 1024, 64],
    backlogAfter: [1024, 64, 1024, 64],
    eagain: [0, 136, 0, 0],
    newGenerationMs: [0, 4200, 4100, 3900],
    samples: 170,
    sampleEveryMs: 110,
    ...over,
  };
}

/** The same facts with one stretch's value replaced. */
function at<K extends keyof ColdWorkersFacts>(key: K, i: number, value: number | string): Partial<ColdWorkersFacts> {
  const list = [...(run()[key] as Array<number | string>)];
  list[i] = value;
  return { [key]: list } as Partial<ColdWorkersFacts>;
}

function outcome(flavour: Flavour, facts: ColdWorkersFacts): string {
  const v = s.verdict({ flavour, continuity: summarize([]), facts });
  return `${v.outcome}\n${v.reasons.join('\n')}`;
}

const expected = (flavour: Flavour, facts: ColdWorkersFacts) =>
  assert.match(outcome(flavour, facts), /^EXPECTED/, flavour);
const unexpected = (flavour: Flavour, facts: ColdWorkersFacts, why: string) =>
  assert.match(outcome(flavour, facts), /^UNEXPECTED/, `${flavour}: ${why}`);

const A = 1;
const B = 2;
const C = 3;

describe('unicorn-cold-workers', () => {
  it('is in the catalogue, for unicorn, in its group, after unicorn-bridge-traps', () => {
    const names = CATALOGUE.map((x) => x.name);
    assert.ok(names.indexOf(s.name) > names.indexOf('unicorn-bridge-traps'));
    assert.ok(names.indexOf('unicorn-bridge-traps') >= 0);
    assert.equal(s.server, 'unicorn');
    assert.equal(s.group, 'unicorn in production');
  });

  it('tells its story in two sentences and expects something on both inits', () => {
    assert.equal(s.story.split(/(?<=[.!?])\s+(?=[A-Z`])/).length, 2);
    for (const f of ['precise', 'bookworm'] as const) assert.equal(expectationFor(s, f, 'unicorn').applicable, true);
  });

  it('boots the shipped wrapper with its own unicorn.rb and a config.ru that loads slowly', () => {
    for (const f of ['precise', 'bookworm'] as const) {
      const b = s.boot(f, 'unicorn');
      assert.equal(b.activatesServer, undefined, 'the server is activated as shipped');
      assert.equal(b.files?.['/opt/unicorn/cold-workers/boot-seconds'], `${BOOT_SECONDS}\n`);
      assert.match(b.files?.['/opt/unicorn/cold-workers/unicorn.rb'] ?? '', /instance_eval\(File\.read/);
      assert.match(
        b.shell?.join('\n') ?? '',
        /cat \/opt\/unicorn\/cold-workers\/boot-delay\.rb; cat \/opt\/unicorn\/app\/config\.ru/,
      );
    }
    assert.match(
      s.boot('bookworm', 'unicorn').files?.['/etc/systemd/system/unicorn.socket.d/backlog.conf'] ?? '',
      /^Backlog=64$/m,
    );
    assert.equal(s.boot('precise', 'unicorn').files?.['/etc/systemd/system/unicorn.socket.d/backlog.conf'], undefined);
  });

  it('reads the sampler lines, and nothing else', () => {
    assert.deepEqual(parseSamples('1796014080716 3 64\nNetid State\n1796014080862 65 64\n\n'), [
      { at: 1796014080716, waiting: 3, backlog: 64 },
      { at: 1796014080862, waiting: 65, backlog: 64 },
    ]);
  });

  it('EXPECTED on what the runs showed, on both inits', () => {
    expected('bookworm', run());
    // precise: the bridge's SOMAXCONN is only noted, whatever the C library made it.
    expected('precise', run({ socketPath: '/var/run/unicorn/unicorn.sock', ownerBacklog: 4096 }));
    expected('precise', run({ ownerBacklog: 128 }));
  });

  it('UNEXPECTED when the small backlog lets nothing fail, or the failures are not 502', () => {
    unexpected('bookworm', run({ ...at('failed', A, 0), ...at('failures', A, ''), ...at('eagain', A, 0) }), 'no 502');
    unexpected('bookworm', run({ ...at('failures', A, 'timeout=136') }), 'timeouts, not 502');
    unexpected('bookworm', run(at('eagain', A, 0)), "no EAGAIN in nginx's log");
    unexpected('bookworm', run(at('queuePeak', A, 20)), 'the queue never reached the backlog');
  });

  it('UNEXPECTED when the cold deploys show no spike, or the big backlog fails or never fills past 64', () => {
    unexpected('precise', run(at('maxMs', A, 300)), 'no spike with (a)');
    unexpected('precise', run(at('maxMs', B, 300)), 'no spike with (b)');
    unexpected('precise', run({ ...at('failed', B, 3), ...at('failures', B, 'http-502=3') }), '(b) failed');
    unexpected('precise', run(at('queuePeak', B, 40)), 'too little load to tell');
  });

  it('UNEXPECTED when preload_app true still fails or spikes', () => {
    unexpected(
      'bookworm',
      run({ ...at('failed', C, 21), ...at('failures', C, 'http-502=21'), ...at('eagain', C, 21) }),
      '502',
    );
    unexpected('bookworm', run(at('maxMs', C, BOOT_SECONDS * 1000 + 500)), 'a spike of the load time');
    unexpected('bookworm', run(at('queuePeak', C, 65)), 'the queue filled');
  });

  it('UNEXPECTED when the backlog is not what unicorn or systemd were told', () => {
    unexpected('bookworm', run({ ownerBacklog: 1024 }), "the drop-in's Backlog=64 did not apply");
    unexpected('precise', run({ ownerBacklog: 4096, firstMasterBacklog: 4096 }), 'unicorn did not re-listen');
    unexpected('precise', run(at('backlogAfter', A, 1024)), "unicorn.rb's backlog 64 not in effect");
    unexpected('bookworm', run({ names: STRETCHES.slice(0, 3) }), 'a deploy not reached');
    unexpected('bookworm', run(at('newGenerationMs', B, -1)), 'the new generation never answered');
  });
});
