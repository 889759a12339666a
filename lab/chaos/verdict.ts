import type { RequestRecord } from '../load/record';
import type { Budget } from './budgets';
import type { FaultKind } from './faults';
import type { OutsiderRecord } from './outsider';

/** A fault as it was carried out: when it really started, what was done, or why it was skipped. */
export interface DoneFault {
  n: number;
  kind: FaultKind;
  /** scheduled start (ms on the run's clock) */
  at: number;
  /** real start; undefined when skipped */
  startedAt?: number;
  holdMs?: number;
  /** what was sent to whom ("KILL -> master 812") */
  detail: string;
  skipped?: string;
  /**
   * why it could not be carried out as its recipe says (no pid to act on, a command that
   * failed, the OOM killer choosing another process, the socket's owner not listening again)
   */
  error?: string;
}

export interface FaultCost {
  n: number;
  kind: FaultKind;
  startedAt?: number;
  /** the window the cost is counted in: [from, to) */
  windowMs: [number, number];
  detail: string;
  skipped?: string;
  /** failed requests of the lab's load (keep-alive resets apart when the budget counts them apart) */
  failed: number;
  resets: number;
  failures: Record<string, number>;
  gapMs: number;
  /** ms from the fault's start until a request that started after it succeeded */
  servedAgainMs: number | null;
  outsiderSent: number;
  outsiderFailed: number;
  budget: Budget;
  /** why the cost is over budget; empty when within */
  exceeded: string[];
}

export interface ChaosVerdict {
  ok: boolean;
  costs: FaultCost[];
  /** failures before the first fault (budget 0) */
  baseline: { failed: number; outsiderFailed: number };
  lab: { sent: number; failed: number };
  outsider: { sent: number; failed: number };
  /** faults whose window the outsider saw fail while the lab's checker saw nothing */
  missed: number[];
  lines: string[];
}

function gapIn(successEnds: number[], from: number, to: number): number {
  let last = from;
  let gap = 0;
  for (const e of successEnds) {
    if (e < from) continue;
    if (e >= to) break;
    gap = Math.max(gap, e - last);
    last = e;
  }
  return Math.round(Math.max(gap, to - last));
}

const inWindow = (end: number, w: [number, number]) => end >= w[0] && end < w[1];

/**
 * Judges a chaos run: each carried-out fault owns the window from its start to the next
 * fault's start (the last one's to the end of the load); failures are counted by when they
 * ended. A cost over its budget, a failure before the first fault, or a window where the
 * outsider saw failures the lab's checker did not see, fails the run.
 */
export function judgeChaos(o: {
  faults: readonly DoneFault[];
  records: readonly RequestRecord[];
  outsider: readonly OutsiderRecord[];
  budgetOf: (kind: FaultKind) => Budget;
  endMs: number;
  /** keep-alive connections of the lab's load: a reset budget is per connection */
  connections?: number;
}): ChaosVerdict {
  const perConn = o.connections ?? 1;
  const started = o.faults.filter((f) => f.startedAt !== undefined).sort((a, b) => a.startedAt! - b.startedAt!);
  const successEnds = o.records
    .filter((r) => !r.error)
    .map((r) => r.end)
    .sort((a, b) => a - b);
  const first = started[0]?.startedAt ?? o.endMs;
  const baseline = {
    failed: o.records.filter((r) => r.error && r.end < first).length,
    outsiderFailed: o.outsider.filter((r) => !r.ok && r.end < first).length,
  };
  const costs: FaultCost[] = [];
  for (const f of [...o.faults].sort((a, b) => a.n - b.n)) {
    const budget = o.budgetOf(f.kind);
    const i = started.indexOf(f);
    if (i < 0) {
      costs.push({
        n: f.n,
        kind: f.kind,
        windowMs: [f.at, f.at],
        detail: f.detail,
        skipped: f.skipped ?? 'not carried out',
        failed: 0,
        resets: 0,
        failures: {},
        gapMs: 0,
        servedAgainMs: null,
        outsiderSent: 0,
        outsiderFailed: 0,
        budget,
        exceeded: [],
      });
      continue;
    }
    const from = f.startedAt!;
    const to = started[i + 1]?.startedAt ?? o.endMs;
    const w: [number, number] = [from, to];
    const failures: Record<string, number> = {};
    for (const r of o.records) if (r.error && inWindow(r.end, w)) failures[r.error] = (failures[r.error] ?? 0) + 1;
    const all = Object.values(failures).reduce((a, b) => a + b, 0);
    const resets = budget.resets !== undefined ? (failures.reset ?? 0) : 0;
    const failed = all - resets;
    let gapMs = gapIn(successEnds, from, to);
    const afterHold = from + (f.holdMs ?? 0);
    const again = o.records
      .filter((r) => !r.error && r.start >= afterHold)
      .reduce<number | undefined>((m, r) => (m === undefined || r.end < m ? r.end : m), undefined);
    const outs = o.outsider.filter((r) => inWindow(r.end, w));
    const exceeded: string[] = [];
    // A fault that could not be done, or whose recipe broke its promise (the OOM killer chose
    // another process, the socket's owner did not listen again), is no pass whatever it cost.
    if (f.error) exceeded.push(`fault failed: ${f.error}`);
    if (failed > budget.failed) exceeded.push(`${failed} failed > budget ${budget.failed}`);
    const resetBudget = (budget.resets ?? 0) * perConn;
    if (resets > resetBudget)
      exceeded.push(`${resets} keep-alive resets > budget ${resetBudget} (${budget.resets ?? 0} per connection)`);
    const gapBudget = budget.gapMs + (f.kind === 'pause' ? (f.holdMs ?? 0) : 0);
    if (gapMs > gapBudget) exceeded.push(`gap ${gapMs} ms > budget ${gapBudget} ms`);
    gapMs = Math.round(gapMs);
    costs.push({
      n: f.n,
      kind: f.kind,
      startedAt: Math.round(from),
      windowMs: [Math.round(from), Math.round(to)],
      detail: f.detail,
      failed,
      resets,
      failures,
      gapMs,
      servedAgainMs: again === undefined ? null : Math.round(again - from),
      outsiderSent: outs.length,
      outsiderFailed: outs.filter((r) => !r.ok).length,
      budget,
      exceeded,
    });
  }
  // The outsider checks the verdict: a window where it saw more failures than the fault may cost
  // while the lab's checker saw none is a pass the checker should not have given. Failures within
  // what the fault may cost could not have changed the verdict: a restart of nginx that refuses
  // for 20 ms is hit by one client's new connection and missed by the other's kept-alive ones
  // (precise, seed 102: the outsider 1 reset, the lab none, budget 5).
  const missed = costs
    .filter((c) => !c.skipped && c.outsiderFailed > c.budget.failed && c.failed + c.resets === 0)
    .map((c) => c.n);
  const lab = { sent: o.records.length, failed: o.records.filter((r) => r.error).length };
  const outsider = { sent: o.outsider.length, failed: o.outsider.filter((r) => !r.ok).length };
  const over = costs.filter((c) => c.exceeded.length);
  const lines: string[] = [];
  for (const c of costs) lines.push(formatCost(c));
  lines.push(
    `before the first fault: ${baseline.failed} failed (budget 0); outsider ${baseline.outsiderFailed}`,
    `lab's own load: ${lab.failed} failed of ${lab.sent}; independent client: ${outsider.failed} failed of ${outsider.sent}`,
  );
  if (missed.length)
    lines.push(
      `FAIL the outsider saw failures the lab's checker did not, in the window of fault ${missed.map((n) => `#${n}`).join(', ')}`,
    );
  else lines.push("the lab's checker saw failures in every window where the outsider saw more than the fault may cost");
  if (over.length) lines.push(`FAIL over budget: ${over.map((c) => `#${c.n} ${c.kind}`).join(', ')}`);
  if (baseline.failed > 0) lines.push(`FAIL ${baseline.failed} requests failed before any fault`);
  const ok = over.length === 0 && missed.length === 0 && baseline.failed === 0;
  lines.push(ok ? 'PASS every fault within its budget' : 'FAIL');
  return { ok, costs, baseline, lab, outsider, missed, lines };
}

export function formatCost(c: FaultCost): string {
  const head = `#${String(c.n).padStart(2)} ${c.kind.padEnd(14)}`;
  if (c.skipped) return `${head} SKIPPED: ${c.skipped}`;
  const cls = Object.entries(c.failures)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const b = c.budget;
  return (
    `${head} at ${((c.startedAt ?? 0) / 1000).toFixed(1).padStart(5)} s  failed ` +
    `${c.failed}${c.resets ? ` (+${c.resets} resets)` : ''}${cls ? ` [${cls}]` : ''}, gap ` +
    `${c.gapMs} ms, served again after ${c.servedAgainMs ?? 'never'} ms; outsider ` +
    `${c.outsiderFailed}/${c.outsiderSent}  budget ` +
    `${b.failed}${b.resets ? `+${b.resets} reset/conn` : ''}/${b.gapMs} ms  ` +
    `${c.exceeded.length ? `OVER BUDGET: ${c.exceeded.join('; ')}` : 'ok'}  (${c.detail})`
  );
}
