import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LabError } from '../../lab/errors';
import { parseFlags } from '../../lab/args';
import { achievedRate, formatRate } from '../../lab/load/rate';
import type { RequestRecord } from '../../lab/load/record';

// Issue 17: `lab load --rate=-5` said "not a number"; `--rate 1e9` passed for the rate reached.

test('--rate: a negative rate is called negative, junk is not a number, both usage errors (2)', () => {
  // lab load's --rate, as the shared parser reads every number flag.
  const spec = {
    rate: { kind: 'number', help: 'requests per second over all connections (0 = as fast as possible)' },
  } as const;
  const rate = (v: string) => parseFlags('load', [`--rate=${v}`], spec).flags.rate;
  const refused = (v: string, message: RegExp) =>
    assert.throws(
      () => rate(v),
      (e: LabError) => e.exitCode === 2 && message.test(e.message),
      v,
    );
  refused('-5', /^lab load: --rate '-5' is negative: give requests per second .*, 0 or more$/);
  refused('abc', /^lab load: --rate 'abc' is not a number/);
  refused('', /is not a number/);
  refused('Infinity', /is not a number/);
  assert.equal(rate('0'), 0);
  assert.equal(rate('1e9'), 1e9);
  assert.equal(rate('2.5'), 2.5);
});

const records = (n: number): RequestRecord[] =>
  Array.from({ length: n }, (_, i) => ({ start: i, end: i + 1, path: '/', status: 200 }));

test('the rate reached is said beside the one asked, with what to do when it falls short', () => {
  const short = achievedRate(records(3000), 1000, 1e9);
  assert.deepEqual(short, { asked: 1e9, achieved: 3000, requests: 3000, seconds: 1, short: true });
  assert.equal(
    formatRate(short, 8),
    'rate: asked 1,000,000,000/s, achieved 3,000/s (3000 requests in 1 s); 8 connections, each waiting ' +
      'for its answer, could not send more: raise --concurrency or lower --rate',
  );
  const met = achievedRate(records(1990), 10_000, 200);
  assert.equal(met.short, false, '199/s of 200/s is the rate asked, give or take the last interval');
  assert.equal(formatRate(met, 8), 'rate: asked 200/s, achieved 199/s (1990 requests in 10 s)');
  assert.equal(
    formatRate(achievedRate(records(500), 2000), 4),
    'rate: as fast as possible, achieved 250/s (500 requests in 2 s)',
  );
});
