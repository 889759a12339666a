import assert from 'node:assert/strict';
import { test } from 'node:test';
import { summarize } from '../../lab/check/continuity';
import type { RequestRecord } from '../../lab/load/record';
import { classifyError, classifyStatus } from '../../lab/load/record';

const ok = (start: number, end: number, generation: number, pid = 100 + generation): RequestRecord => ({
  start,
  end,
  path: '/',
  status: 200,
  generation,
  pid,
});
const failed = (start: number, end: number, error: RequestRecord['error']): RequestRecord => ({
  start,
  end,
  path: '/',
  error,
});

test('a clean run: no failures, generations in the order they took over', () => {
  const c = summarize([ok(0, 10, 1), ok(10, 20, 1), ok(20, 30, 2), ok(30, 40, 2), ok(35, 45, 3)]);
  assert.equal(c.sent, 5);
  assert.equal(c.failed, 0);
  assert.deepEqual(c.failures, {});
  assert.deepEqual(
    c.generations.map((g) => g.generation),
    [1, 2, 3],
  );
  assert.equal(c.generations[0].requests, 2);
  assert.equal(c.longestGapMs, 10);
});

test('failures are counted by class and the longest gap spans them', () => {
  const c = summarize([
    ok(0, 10, 1),
    failed(10, 11, 'http-502'),
    failed(11, 12, 'refused'),
    failed(12, 500, 'timeout'),
    failed(13, 14, 'http-502'),
    ok(20, 900, 2),
  ]);
  assert.equal(c.failed, 4);
  assert.deepEqual(c.failures, { 'http-502': 2, refused: 1, timeout: 1 });
  assert.equal(c.longestGapMs, 890);
});

test('a run with no success at all has a gap as long as the run', () => {
  const c = summarize([failed(0, 5, 'refused'), failed(5, 300, 'refused')]);
  assert.equal(c.succeeded, 0);
  assert.equal(c.longestGapMs, 300);
});

test('latency percentiles come from successful requests only', () => {
  const recs = Array.from({ length: 100 }, (_, i) => ok(0, i + 1, 1));
  recs.push(failed(0, 10_000, 'timeout'));
  const c = summarize(recs);
  assert.equal(c.latencyMs.p50, 50);
  assert.equal(c.latencyMs.p99, 99);
  assert.equal(c.latencyMs.max, 100);
});

test('classification of statuses and socket errors', () => {
  assert.equal(classifyStatus(200), undefined);
  assert.equal(classifyStatus(502), 'http-502');
  assert.equal(classifyError({ code: 'ECONNREFUSED' }), 'refused');
  assert.equal(classifyError({ cause: { code: 'ECONNRESET' } }), 'reset');
  assert.equal(classifyError({ code: 'UND_ERR_HEADERS_TIMEOUT' }), 'timeout');
  assert.equal(classifyError({ code: 'EWHATEVER' }), 'error-EWHATEVER');
});
