import { DRIVERS } from '../flavours';
import { escapeXml } from '../report/escape';
import { type Confirmation, type DynamicResult, SHOWN_BY, type StepResult } from './dynamic';
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
  for (const c of d.confirmed) lines.push(`  ${c.scenario} [${c.rule}]: ${confirmationWord(d, c)}`);
  return `${lines.join('\n')}\n`;
}

/** What the battery said of one static finding, in one line. */
export function confirmationWord(d: DynamicResult, c: Confirmation): string {
  const run = c.run === 2 ? d.seenPast : d;
  const ran = (run?.steps.length ?? 0) > 0;
  const word =
    c.confirmed === null
      ? ran
        ? 'the battery has no step that shows it here'
        : run?.firstAnswerMs === null
          ? 'not judged: the battery did not run (no first answer)'
          : 'not judged: the battery did not run'
      : c.confirmed
        ? `CONFIRMED by ${c.by.join(', ')}`
        : `not confirmed by the battery (${judgedOn(run?.steps ?? [], c.rule)})`;
  return `${word}${c.run === 2 ? ' (second run)' : ''}`;
}

/**
 * The static part as a card of the HTML report: the tools' checks, then each finding with its
 * evidence, what the battery said of it, the scenario that shows it and its fix as the diffs
 * the terminal prints. `run` is the battery run whose page this is (a second run's page says
 * so).
 */
export function staticSection(
  r: AuditReport,
  d: DynamicResult,
  run: 1 | 2,
): { id: string; title: string; body: string } {
  const e = escapeXml;
  const out: string[] = [];
  if (run === 2 && d.seenPast)
    out.push(
      `<p>This is the second run, to see past ${e(d.seenPast.finding)}: ${e(d.seenPast.rewrite)}. ` +
        'The first run, whose first answer never came, has its own page.</p>',
    );
  out.push(
    `<p class="meta">static part on <b>${e(r.flavour)}</b> (${e(DRIVERS[r.flavour].init)}): ${e(r.flavourFrom)}; ` +
      `files: ${r.files.map((f) => `${e(f.path)} (${e(f.kind)})`).join(', ')}</p>`,
  );
  out.push(
    '<h3>checks</h3><table class="checks"><tr><th>status</th><th>tool</th><th>file</th><th>what it said</th></tr>',
  );
  for (const c of r.checks)
    out.push(
      `<tr><td>${e(c.status.toUpperCase())}</td><td>${e(c.tool)}</td><td>${e(c.file)}</td>` +
        `<td>${c.messages.map(e).join('<br>')}</td></tr>`,
    );
  out.push('</table>');
  out.push(r.findings.length ? `<h3>findings (${r.findings.length})</h3>` : '<h3>findings: none</h3>');
  r.findings.forEach((f, i) => {
    const c = d.confirmed.find((x) => x.rule === f.rule && x.scenario === f.scenario);
    out.push(`<div class="finding" data-rule="${e(f.rule)}" data-scenario="${e(f.scenario)}">`);
    out.push(`<h3>${i + 1}. ${e(f.scenario)} [${e(f.rule)}]</h3><p>${e(f.what)}</p>`);
    out.push(`<p><b>the battery:</b> ${c ? e(confirmationWord(d, c)) : 'not judged'}</p>`);
    out.push(`<p><b>evidence:</b></p><pre>${f.evidence.map((x) => e(where(x))).join('\n')}</pre>`);
    out.push(`<p><b>see it:</b> <code>lab scenario run ${e(f.scenario)} --flavour ${e(r.flavour)}</code></p>`);
    if (f.fixes.length === 0) out.push('<p><b>fix:</b> the recipe has nothing to change here</p>');
    for (const x of f.fixes)
      out.push(`<p><b>fix:</b> ${e(x.file)} (from ${e(x.recipe)})</p><pre class="diff">${e(x.diff.trimEnd())}</pre>`);
    out.push('</div>');
  });
  for (const n of r.notJudged) out.push(`<p class="muted">not judged: ${e(n)}</p>`);
  return { id: 'audit-static', title: 'Your files: checks, findings and fixes', body: out.join('\n') };
}
