import { DRIVERS } from '../flavours';
import { type DynamicResult, SHOWN_BY, type StepResult } from './dynamic';
import type { AuditReport, Evidence, Fix } from './types';

/** What `lab audit` prints: the same plain, indented lines `lab scenario run` prints. */

const where = (e: Evidence): string => (e.line > 0 ? `${e.file}:${e.line}: ${e.text.trim()}` : `${e.file}: ${e.text}`);

export function formatReport(r: AuditReport, o: { diffs?: boolean; dynamic?: boolean } = {}): string {
  const lines: string[] = [];
  lines.push(
    `lab audit${o.dynamic ? ', static part,' : ' --static'} on ${r.flavour} (${DRIVERS[r.flavour].init}): ${r.flavourFrom}`,
  );
  lines.push(`  files: ${r.files.map((f) => `${f.path} (${f.kind})`).join(', ')}`);
  if (r.ignored.length) lines.push(`  not read (none of the kinds audit reads): ${r.ignored.join(', ')}`);
  lines.push('checks:');
  for (const c of r.checks) {
    lines.push(`  ${c.status.toUpperCase().padEnd(7)} ${c.tool}: ${c.file}`);
    for (const m of c.messages) lines.push(`          ${m}`);
  }
  // Each distinct diff printed once, referred to by number.
  const diffs: Fix[] = [];
  const ref = (f: Fix): number => {
    const i = diffs.findIndex((d) => d.diff === f.diff && d.file === f.file);
    if (i >= 0) return i + 1;
    diffs.push(f);
    return diffs.length;
  };
  lines.push(r.findings.length ? `findings (${r.findings.length}):` : 'findings: none');
  r.findings.forEach((f, i) => {
    lines.push(`  ${i + 1}. ${f.scenario} [${f.rule}]`);
    lines.push(`     ${f.what}`);
    for (const e of f.evidence) lines.push(`     evidence: ${where(e)}`);
    if (f.fixes.length === 0) lines.push('     fix: the recipe has nothing to change here');
    for (const x of f.fixes) lines.push(`     fix: diff ${ref(x)} (${x.file}, from ${x.recipe})`);
    lines.push(`     see it: lab scenario run ${f.scenario} --flavour ${r.flavour}`);
  });
  for (const n of r.notJudged) lines.push(`  not judged: ${n}`);
  if (diffs.length && o.diffs !== false) {
    lines.push('fixes:');
    diffs.forEach((d, i) => {
      lines.push(`  diff ${i + 1}: ${d.file} (from ${d.recipe})`);
      lines.push(
        ...d.diff
          .trimEnd()
          .split('\n')
          .map((l) => `    ${l}`),
      );
    });
  }
  const failed = r.checks.filter((c) => c.status === 'error');
  const names = [...new Set(r.findings.map((f) => f.scenario))];
  lines.push(
    names.length === 0 && failed.length === 0
      ? r.notJudged.length === 0
        ? `verdict: CLEAN: no catalogue failure found and every check passed (${r.seconds.toFixed(1)} s)`
        : `verdict: no catalogue failure found, every check passed, but ${r.notJudged.length} part(s) could not be judged (above) (${r.seconds.toFixed(1)} s)`
      : `verdict: EXPOSED: ${names.length ? names.join(', ') : 'no catalogue failure'}` +
          `${failed.length ? `; ${failed.length} check(s) failed` : ''} (${r.seconds.toFixed(1)} s)`,
  );
  return `${lines.join('\n')}\n`;
}

const stepLine = (s: StepResult): string =>
  `  ${s.ok ? 'ok  ' : 'FAIL'} ${s.name}: ${s.failed} of ${s.sent} failed, longest gap ${s.longestGapMs} ms, ` +
  `init ${s.tracked ? 'follows the app' : 'does NOT follow the app'}` +
  `${s.unsupervised ? `, ${s.unsupervised} master(s) nobody supervises` : ''}; ${s.note}` +
  `${s.init ? `; init: ${s.init}` : ''}${s.pids ? `; masters: ${s.pids}` : ''}`;

const firstLine = (ms: number | null, miss?: string): string =>
  `  first answer through nginx: ${ms === null ? `none within 60 s${miss ? ` (${miss})` : ''}` : `${ms} ms`}`;

/** The steps that would have shown a rule, with their numbers: why it is not confirmed. */
const judgedOn = (steps: readonly StepResult[], rule: string): string =>
  steps
    .filter((s) => SHOWN_BY[rule]?.test(s.name))
    .map((s) => `${s.name}: ${s.failed} of ${s.sent} failed, longest gap ${s.longestGapMs} ms`)
    .join('; ');

/** The dynamic part: each step's numbers, each static finding confirmed or not, the report. */
export function formatDynamic(d: DynamicResult): string {
  const head = `lab audit, dynamic, on ${d.flavour} (${DRIVERS[d.flavour].init})`;
  if (d.outcome === 'NOT RUN' || d.outcome === 'INFRASTRUCTURE') return `${head}: not run: ${d.error ?? d.outcome}\n`;
  const lines = [`${head}: ${d.outcome === 'EXPECTED' ? 'no step failed' : d.outcome}`];
  for (const r of d.rewrites) lines.push(`  rewrite: ${r}`);
  lines.push(firstLine(d.firstAnswerMs, d.firstMiss));
  for (const s of d.steps) lines.push(stepLine(s));
  if (d.error) lines.push(`  the run: ${d.error}`);
  if (d.report) lines.push(`  report: ${d.report}`);
  const p = d.seenPast;
  if (p) {
    lines.push(`second run, to see past ${p.finding}: ${p.outcome === 'EXPECTED' ? 'no step failed' : p.outcome}`);
    lines.push(`  rewrite the lab made: ${p.rewrite}`);
    lines.push(firstLine(p.firstAnswerMs, p.firstMiss));
    for (const s of p.steps) lines.push(stepLine(s));
    if (p.error) lines.push(`  the run: ${p.error}`);
    if (p.report) lines.push(`  report: ${p.report}`);
  }
  lines.push(d.confirmed.length ? 'findings:' : 'findings: none');
  for (const c of d.confirmed) {
    const run = c.run === 2 ? p : d;
    const ran = (run?.steps.length ?? 0) > 0;
    const word =
      c.confirmed === null
        ? ran
          ? 'the battery has no step that shows it'
          : 'not judged: the battery did not run (no first answer)'
        : c.confirmed
          ? `CONFIRMED by ${c.by.join(', ')}`
          : `not confirmed by the battery (${judgedOn(run?.steps ?? [], c.rule)})`;
    lines.push(`  ${c.scenario} [${c.rule}]: ${word}${c.run === 2 ? ' (second run)' : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
