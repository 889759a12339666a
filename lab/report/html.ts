import type { Continuity } from '../check/continuity';
import type { FailureClass } from '../load/record';
import { escapeXml as esc } from './escape';
import { FAILURE_COLOURS, VERDICT_COLOURS, failureKey, generationColour, generationRanks } from './palette';
import { BASE_CSS } from './style';
import type { Action, Outcome, RunData } from '../results/types';
import { ACTION_STYLE, renderTimeline, sortActions } from './timeline';

/** The verdict's colour; infrastructure is amber-brown, neither a pass nor a finding. */
export function outcomeColour(o: Outcome): string {
  return o === 'INFRASTRUCTURE' ? '#a16207' : (VERDICT_COLOURS[o] ?? VERDICT_COLOURS['NOT RUN']);
}

/** What a run's page shows: the run's result and its requests (lab/results). */
export type ReportInput = RunData;

const REPORT_CSS = `
.head { display: flex; gap: 16px; align-items: stretch; flex-wrap: wrap; margin-top: 14px; }
.stats { display: flex; gap: 10px; flex-wrap: wrap; align-items: stretch; }
.stat { background: #fff; border: 1px solid #e2e8f0; border-radius: 10px; padding: 10px 16px; min-width: 120px; }
.stat { display: flex; flex-direction: column; justify-content: center; }
.stat .v { font-size: 26px; font-weight: 700; font-variant-numeric: tabular-nums; }
.stat .k { color: #64748b; font-size: 12px; }
.stat.bad .v { color: #b91c1c; }
.verdict { flex: 1 1 420px; border-radius: 10px; padding: 10px 18px; color: #fff; }
.verdict .outcome { font-size: 34px; font-weight: 800; letter-spacing: .03em; line-height: 1.1; }
.verdict ul { margin: 6px 0 0; padding-left: 18px; }
.numbers tr.sub th { padding-left: 18px; font-weight: 400; }
.timeline { width: 100%; height: auto; display: block; }
.init { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.init h3 { margin: 0 0 6px; font-size: 13px; color: #475569; }
`;

const ms = (n: number) => `${n.toLocaleString('en-US')} ms`;
const sec = (n: number) => `${(n / 1000).toFixed(2)} s`;
const pct = (n: number, of: number) =>
  of ? ` <span class="muted">(${((100 * n) / of).toFixed(n === of || n === 0 ? 0 : 1)}%)</span>` : '';
const swatch = (colour: string) => `<span class="swatch" style="background:${colour}"></span>`;

function numbersTable(c: Continuity): string {
  // Failure classes are indented rows under "failed", so the table reads as a breakdown.
  const rows: Array<{ k: string; v: string; sub?: boolean }> = [
    { k: 'requests sent', v: `${c.sent}` },
    { k: 'succeeded', v: `${c.succeeded}${pct(c.succeeded, c.sent)}` },
    { k: 'failed', v: `${c.failed}${pct(c.failed, c.sent)}` },
  ];
  const classes = (Object.entries(c.failures) as Array<[FailureClass, number]>).sort(([, a], [, b]) => b - a);
  for (const [cls, n] of classes)
    rows.push({ k: `${swatch(FAILURE_COLOURS[failureKey(cls)])}${esc(cls)}`, v: `${n}`, sub: true });
  rows.push(
    { k: 'longest gap without a success', v: ms(c.longestGapMs) },
    { k: 'latency p50 / p99 / max', v: `${c.latencyMs.p50} / ${c.latencyMs.p99} / ${c.latencyMs.max} ms` },
    { k: 'run length', v: sec(c.durationMs) },
    { k: 'generations that served', v: `${c.generations.length}` },
  );
  return `<table class="numbers">${rows.map((r) => `<tr${r.sub ? ' class="sub"' : ''}><th>${r.k}</th><td class="num">${r.v}</td></tr>`).join('')}</table>`;
}

function generationsTable(c: Continuity): string {
  if (c.generations.length === 0) return '<p class="muted">No successful response carried a generation header.</p>';
  const ranks = generationRanks(c.generations.map((g) => g.generation));
  const rows = c.generations.map((g) => {
    const pids = g.pids.length > 8 ? `${g.pids.slice(0, 8).join(', ')} … (+${g.pids.length - 8})` : g.pids.join(', ');
    return (
      `<tr><td>${swatch(generationColour(ranks.get(g.generation) ?? 0))}gen ` +
      `${g.generation}</td><td>${esc(pids || '—')}</td><td class="num">${sec(g.first)}</td><td ` +
      `class="num">${sec(g.last)}</td><td class="num">${g.requests}</td></tr>`
    );
  });
  return (
    `<table class="generations"><tr><th>generation</th><th>worker pids</th><th ` +
    `class="num">first</th><th class="num">last</th><th class="num">requests</th></tr>${rows.join('')}</table>`
  );
}

function actionsTable(actions: readonly Action[]): string {
  if (actions.length === 0) return '<p class="muted">No actions were taken during this run.</p>';
  const rows = sortActions(actions).map((a, i) => {
    const st = ACTION_STYLE[a.kind] ?? ACTION_STYLE.note;
    return `<tr><td class="num">#${i + 1}</td><td class="num">${sec(a.at)}</td><td>${swatch(st.colour)}${esc(st.name)}</td><td>${esc(a.label)}</td></tr>`;
  });
  return `<table class="actions"><tr><th class="num">#</th><th class="num">at</th><th>kind</th><th>what</th></tr>${rows.join('')}</table>`;
}

/** Log lines that usually carry the story are tinted, so they stand out in a long excerpt. */
const HOT = /\b(error|fail\w*|refused|denied|respawn\w*|killed|terminated|stop\/waiting|exited|EADDRINUSE|EACCES)\b/i;

function pre(text: string | undefined, empty: string): string {
  if (!text || !text.trim()) return `<p class="muted">${esc(empty)}</p>`;
  return `<pre>${text
    .split('\n')
    .map((l) => (HOT.test(l) ? `<span class="hot">${esc(l)}</span>` : esc(l)))
    .join('\n')}</pre>`;
}

/** The four numbers a presenter points at, big, next to the verdict. */
function stats(c: Continuity): string {
  const tiles: Array<[string, string, boolean]> = [
    ['requests', `${c.sent}`, false],
    ['failed', `${c.failed}`, c.failed > 0],
    ['longest gap', c.longestGapMs >= 1000 ? sec(c.longestGapMs) : ms(c.longestGapMs), false],
    ['generations', `${c.generations.length}`, false],
  ];
  const tile = ([k, v, bad]: [string, string, boolean]) =>
    `<div class="stat${bad ? ' bad' : ''}"><div class="v">${esc(v)}</div><div class="k">${esc(k)}</div></div>`;
  return `<div class="stats">${tiles.map(tile).join('')}</div>`;
}

/** One run as a page that needs nothing else: no scripts, no fonts, no images to fetch. */
export function renderReport(input: ReportInput): string {
  const v = input.verdict;
  const colour = outcomeColour(v.outcome);
  const meta = [
    input.scenario && `scenario <b>${esc(input.scenario)}</b>`,
    input.flavour && `flavour <b>${esc(input.flavour)}</b>`,
    `started <b>${esc(input.startedAt)}</b>`,
  ].filter(Boolean);
  const reasons = v.reasons.length ? `<ul>${v.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(`${v.outcome} · ${input.title}`)}</title>
<style>${BASE_CSS}${REPORT_CSS}</style></head>
<body><main>
<h1>${esc(input.title)}</h1><p class="meta">${meta.join(' · ')}</p>
<section class="head">
  <div class="verdict" id="verdict" data-outcome="${esc(v.outcome)}" style="background:${colour}"><div class="outcome">${esc(v.outcome)}</div>${reasons}</div>
  ${stats(input.continuity)}
</section>
<section class="card" id="timeline"><h2>Timeline</h2>
${renderTimeline(input.records, input.actions, { series: input.series })}
</section>
<div class="grid" style="margin-top:16px">
  <section class="card" id="numbers"><h2>Numbers</h2>${numbersTable(input.continuity)}</section>
  <section class="card" id="generations"><h2>Who served</h2>${generationsTable(input.continuity)}</section>
</div>
<section class="card" id="actions"><h2>Actions</h2>${actionsTable(input.actions)}</section>
<section class="card" id="init"><h2>Init's status</h2><div class="init">
  <div><h3>before</h3>${pre(input.initBefore, 'not recorded')}</div>
  <div><h3>after</h3>${pre(input.initAfter, 'not recorded')}</div>
</div></section>
<section class="card" id="logs"><h2>Log lines</h2>${pre(input.logs?.join('\n'), 'no log lines recorded')}</section>
<footer>upstart-unicorn-lab report · raw requests in records.json next to this file</footer>
</main></body></html>
`;
}

/** Where a section added after the run goes: under the verdict, before the timeline. */
const SECTION_MARK = '<section class="card" id="timeline">';

/**
 * A rendered report with one more card under the verdict. For a command that knows more than
 * the run did (lab audit's static findings, read before the lab booted), so the page stays one
 * page. Throws when the page is not a report this module rendered.
 */
export function withSection(html: string, section: { id: string; title: string; body: string }): string {
  const at = html.indexOf(SECTION_MARK);
  if (at < 0) throw new Error('not a run report: no timeline section to put the section before');
  const card = `<section class="card" id="${esc(section.id)}"><h2>${esc(section.title)}</h2>\n${section.body}\n</section>\n`;
  return html.slice(0, at) + card + html.slice(at);
}
