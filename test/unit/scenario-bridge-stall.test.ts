// bridge-stall judged on synthetic facts shaped like its real runs (precise: the upstart 1.5
// stand-in; bookworm), EXPECTED on what they showed and UNEXPECTED as soon as the fact a check
// is about is wrong, so the checker can fail; and the pieces it is built from: the shipped jobs'
// post-stop, taken out for the failure, and upstart's own events read back.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarize } from '../../lab/check/continuity';
import type { Flavour } from '../../lab/engine/flavour-images';
import { checkJobFile } from '../../lab/jobcheck';
import {
  BEFORE,
  CLIENT_TIMEOUT_MS,
  RESTARTS,
  SHIPPED,
  WITHOUT,
  bridgeStall,
  upstartView,
  withoutPostStop,
} from '../../lab/scenarios/bridge-stall';
import { CATALOGUE } from '../../lab/scenarios/catalogue';
import { JOB_EVENTS_TASK_TEXT } from '../../lab/session/job-events';
import { upstart } from '../../lab/session/configs';
import { expectationFor, serversOf } from '../../lab/session/types';
import { parseJobEvents, shippedConf, stretchFacts } from '../../lab/session/unicorn-common';

const s = bridgeStall;
type Facts = Parameters<typeof s.verdict>[0]['facts'];

/** precise with unicorn as it went on the stand-in (numbers from a run, rounded). */
function precise(over: Partial<Facts> = {}): Facts {
  return {
    ...stretchFacts([
      { name: BEFORE, sent: 4, ok: 4, failures: {}, gapMs: 709 },
      { name: WITHOUT, sent: 22, ok: 18, failures: { timeout: 4 }, gapMs: 11147 },
      { name: SHIPPED, sent: 18, ok: 18, failures: {}, gapMs: 1061 },
    ]),
    clientTimeoutMs: CLIENT_TIMEOUT_MS,
    budgetGapMs: 7000,
    restartNames: [WITHOUT, SHIPPED],
    restartExit: [0, 0],
    backMs: [11147, 1061],
    noSocketRuns: [1, 1],
    failedStatus: ['64', '64'],
    downMs: [9575, 81],
    eventsDuring: [4, 3],
    firstEventMs: [9580, 45],
    stopExit: 0,
    trackedAfterStop: null,
    mastersAfterStop: 0,
    startExit: 0,
    startServingMs: 656,
    ...over,
  };
}

/** bookworm with unicorn: one restart, the units as shipped. */
function bookworm(over: Partial<Facts> = {}): Facts {
  return {
    ...stretchFacts([
      { name: BEFORE, sent: 4, ok: 4, failures: {}, gapMs: 707 },
      { name: SHIPPED, sent: 20, ok: 20, failures: {}, gapMs: 508 },
    ]),
    clientTimeoutMs: CLIENT_TIMEOUT_MS,
    budgetGapMs: 7000,
    restartNames: [SHIPPED],
    restartExit: [0],
    backMs: [560],
    noSocketRuns: [0],
    failedStatus: [''],
    downMs: [null],
    eventsDuring: [null],
    firstEventMs: [null],
    stopExit: 0,
    trackedAfterStop: null,
    mastersAfterStop: 0,
    startExit: 0,
    startServingMs: 567,
    ...over,
  };
}

/** The same facts with one restart's value replaced. */
function at<K extends keyof Facts>(facts: Facts, key: K, i: number, value: unknown): Facts {
  const list = [...(facts[key] as unknown[])];
  list[i] = value;
  return { ...facts, [key]: list } as Facts;
}

/** The same facts with one stretch's counts replaced. */
function stretchOf(
  facts: Facts,
  name: string,
  c: { sent: number; ok: number; failures: Record<string, number>; gapMs: number },
): Facts {
  const list = facts.phaseNames.map((n, i) =>
    n === name
      ? { name, ...c }
      : {
          name: n,
          sent: facts.phaseSent[i],
          ok: facts.phaseOk[i],
          failures: Object.fromEntries(
            facts.phaseFailures[i]
              .split(' ')
              .filter(Boolean)
              .map((kv) => [kv.split('=')[0], Number(kv.split('=')[1])]),
          ),
          gapMs: facts.phaseGapMs[i],
        },
  );
  return { ...facts, ...stretchFacts(list) };
}

function outcome(flavour: Flavour, facts: Facts): string {
  const v = s.verdict({ flavour, continuity: summarize([]), facts });
  return `${v.outcome}\n${v.reasons.join('\n')}`;
}

const expected = (flavour: Flavour, facts: Facts) => assert.match(outcome(flavour, facts), /^EXPECTED/, flavour);
const unexpected = (flavour: Flavour, facts: Facts, why: string) =>
  assert.match(outcome(flavour, facts), /^UNEXPECTED/, `${flavour}: ${why}`);

const W = 0;
const S = 1;

describe('bridge-stall', () => {
  it('is in the catalogue, written for unicorn, in its group, and has meaning for phoenix too', () => {
    assert.ok(CATALOGUE.includes(s as never));
    assert.equal(s.server, 'unicorn');
    assert.equal(s.group, 'unicorn in production');
    assert.deepEqual(serversOf(s).sort(), ['phoenix', 'unicorn']);
    for (const f of ['precise', 'bookworm'] as const)
      for (const server of ['unicorn', 'phoenix'] as const)
        assert.equal(expectationFor(s, f, server).applicable, true, `${f} ${server}`);
  });

  it('restarts twice on upstart (without the post-stop, then as shipped), once on systemd', () => {
    assert.deepEqual(RESTARTS.precise, [WITHOUT, SHIPPED]);
    assert.deepEqual(RESTARTS.bookworm, [SHIPPED]);
  });

  it("the shipped jobs' post-stop: 1.5 syntax, only after a run without UPSTART_FDS, a connection closed at once", () => {
    for (const [name, text] of [
      ['unicorn-wrapper.conf', shippedConf('unicorn', 'upstart', 'unicorn-wrapper.conf')],
      ['bridge-inplace.conf', upstart.strategy('bridge-inplace')],
    ]) {
      assert.deepEqual(
        checkJobFile(text, name).filter((p) => p.severity === 'error'),
        [],
        `${name} passes the upstart 1.5 job checker`,
      );
      const block = /^post-stop script\n([\s\S]*?)^end script$/m.exec(text)?.[1] ?? '';
      assert.match(block, /^\s*\[ -z "\$UPSTART_FDS" \] \|\| exit 0$/m, `${name}: a bridge-started run is left alone`);
      assert.match(block, /s\.destroy\(\)/, `${name}: the connection is closed, never waits for an answer`);
      assert.match(block, /setTimeout\(2000/, `${name}: the post-stop ends even if the connect hangs`);
    }
  });

  it('takes the post-stop and its comment out, leaves the rest, and refuses a job without one', () => {
    const shipped = shippedConf('unicorn', 'upstart', 'unicorn-wrapper.conf');
    const before = withoutPostStop(shipped);
    assert.doesNotMatch(before, /^post-stop|^# Why this post-stop/m);
    assert.match(before, /^exec \/opt\/phoenix\/runtime\/bin\/node .*unicorn-wrapper\/cli\.js \\$/m);
    assert.match(before, /^start on socket PROTO=unix PATH=\/var\/run\/unicorn\/unicorn\.sock$/m);
    assert.ok(before.endsWith('config.ru\n'), 'the exec line ends the job, one newline after it');
    assert.deepEqual(
      checkJobFile(before, 'unicorn.conf').filter((p) => p.severity === 'error'),
      [],
    );
    assert.doesNotMatch(withoutPostStop(upstart.strategy('bridge-inplace')), /^post-stop|^# Why this post-stop/m);
    assert.throws(() => withoutPostStop(before), /no `post-stop script` block/);
  });

  it("boots precise with the job that is there minus its post-stop, and a task logging upstart's job events", () => {
    const b = s.boot('precise', 'unicorn');
    assert.equal(b.files?.['/etc/init/lab-job-events.conf'], JOB_EVENTS_TASK_TEXT);
    assert.deepEqual(
      checkJobFile(JOB_EVENTS_TASK_TEXT, 'lab-job-events.conf').filter((p) => p.severity === 'error'),
      [],
    );
    const shell = b.shell ?? [];
    assert.equal(shell.length, 2);
    for (const [line, target] of [
      [shell[0], '/etc/init/unicorn.conf'],
      [shell[1], '/etc/init/phoenix.conf'],
    ]) {
      assert.ok(line.startsWith(`if [ -f ${target} ]; then`), line);
      const b64 = /printf %s '([^']+)'/.exec(line)?.[1] ?? '';
      const text = Buffer.from(b64, 'base64').toString('utf8');
      assert.match(text, /^start on socket /m);
      assert.doesNotMatch(text, /^post-stop/m);
    }
    assert.deepEqual(s.boot('bookworm', 'unicorn').files, undefined);
    assert.deepEqual(s.boot('bookworm', 'unicorn').shell, undefined);
  });

  it("reads upstart's view of a restart: the failed run, the next start, the socket events around it", () => {
    const t = 1_800_000_000_000;
    const events = parseJobEvents(
      [
        `${(t + 100) / 1000} stopping result=ok process= status= signal=`,
        `${(t + 300) / 1000} starting result= process= status= signal=`,
        `${(t + 400) / 1000} stopping result=failed process=main status=64 signal=`,
        `${(t + 9900) / 1000} starting result= process= status= signal=`,
      ].join('\n'),
    );
    const v = upstartView(events, [t + 50, t + 150, t + 350, t + 9890], t);
    assert.deepEqual(v, { failedStatus: '64', downMs: 9500, eventsDuring: 3, firstEventMs: 9490 });
    assert.deepEqual(upstartView(events, [], t + 500), {
      failedStatus: '',
      downMs: null,
      eventsDuring: null,
      firstEventMs: null,
    });
  });

  it('EXPECTED on what the runs showed, on both inits', () => {
    expected('precise', precise());
    expected('bookworm', bookworm());
    // phoenix on precise: its own budget (4 s), a quicker comeback.
    expected('precise', precise({ budgetGapMs: 4000, backMs: [10346, 676], downMs: [10144, 119] }));
  });

  it('UNEXPECTED on precise when the failure does not show', () => {
    unexpected('precise', at(precise(), 'noSocketRuns', W, 0), 'no run without a socket');
    unexpected('precise', at(precise(), 'failedStatus', W, '65'), 'a run that failed otherwise');
    unexpected('precise', at(precise(), 'downMs', W, 120), 'upstart started it again at once');
    unexpected('precise', at(precise(), 'downMs', W, null), 'upstart never started it again');
    unexpected(
      'precise',
      stretchOf(precise(), WITHOUT, { sent: 30, ok: 30, failures: {}, gapMs: 400 }),
      'no gap, nothing waited',
    );
  });

  it('UNEXPECTED on precise when the fix does not hold', () => {
    unexpected('precise', at(precise(), 'downMs', S, 9500), 'the shipped job stalled too');
    unexpected(
      'precise',
      stretchOf(precise(), SHIPPED, { sent: 18, ok: 17, failures: { timeout: 1 }, gapMs: 1100 }),
      'a request failed',
    );
    unexpected(
      'precise',
      stretchOf(precise(), SHIPPED, { sent: 18, ok: 18, failures: {}, gapMs: 7100 }),
      'over budget',
    );
    unexpected('precise', at(precise(), 'backMs', S, null), 'never answered again');
    unexpected('precise', at(precise(), 'restartExit', S, 1), 'initctl restart failed');
  });

  it('UNEXPECTED when a stop does not stay a stop, or a start alone brings nothing up', () => {
    for (const [f, facts] of [
      ['precise', precise()],
      ['bookworm', bookworm()],
    ] as const) {
      unexpected(f, { ...facts, trackedAfterStop: 812 }, 'started again after the stop');
      unexpected(f, { ...facts, mastersAfterStop: 1 }, 'a master left');
      unexpected(f, { ...facts, startServingMs: null }, 'start brought nothing up');
    }
  });

  it('UNEXPECTED on bookworm when systemd starts without a socket, loses requests or stalls', () => {
    unexpected('bookworm', at(bookworm(), 'noSocketRuns', 0, 1), 'a run without a socket');
    unexpected(
      'bookworm',
      stretchOf(bookworm(), SHIPPED, { sent: 20, ok: 16, failures: { timeout: 4 }, gapMs: 10200 }),
      'a stall',
    );
  });
});
