import { formatContinuity } from '../check/continuity';
import type { ScenarioResult } from './types';

/** What `lab scenario run` prints for one run: the outcome, each check with its numbers, where the report is. */
export function formatResult(r: ScenarioResult): string {
  const head = `${r.scenario} on ${r.flavour}: ${r.verdict.outcome}${r.seconds ? ` (${r.seconds.toFixed(1)} s)` : ''}`;
  const expect = r.expectation.applicable
    ? `  expected: ${r.expectation.expect}`
    : `  not applicable: ${r.expectation.reason}`;
  const lines = [head, expect, ...r.verdict.reasons.map((l) => `  ${l}`)];
  if (r.continuity.sent > 0)
    lines.push(
      ...formatContinuity(r.continuity)
        .split('\n')
        .map((l) => `  ${l}`),
    );
  if (r.report) lines.push(`  report: ${r.report}`);
  return lines.join('\n');
}

/** One line per run, for the end of `run --all`. */
export function formatRow(r: ScenarioResult): string {
  const c = r.continuity;
  const numbers = c.sent ? `${c.sent} requests, ${c.failed} failed, gap ${c.longestGapMs} ms` : '';
  return `${r.verdict.outcome.padEnd(10)} ${r.scenario.padEnd(24)} ${r.flavour.padEnd(9)} ${r.seconds.toFixed(1).padStart(5)} s  ${numbers}`;
}
