import type { MatrixSummary, RunEntry, SummaryCell } from '../matrix/merge';
import { escapeXml as esc } from './escape';
import type { Outcome } from '../results/types';
import { outcomeColour } from './html';
import { BASE_CSS } from './style';

/** One scenario run on one flavour, as `lab scenario run --all` saw it. */
export interface SummaryRow {
  scenario: string;
  flavour: string;
  outcome: Outcome;
  reasons?: string[];
  /** link to the run's report.html, relative to the summary page */
  href?: string;
}

const SUMMARY_CSS = `
table.matrix tr.group th { text-align: left; padding-top: 14px; font-size: 1.05em; border-bottom: 2px solid #888; }
table.matrix td, table.matrix th { padding: 6px 10px; vertical-align: middle; }
table.matrix td.cell { text-align: center; }
.outcome { display: inline-block; min-width: 120px; padding: 4px 10px; border-radius: 6px; color: #fff; font-weight: 700; text-decoration: none; }
a.outcome:hover { filter: brightness(1.15); }
.totals span { margin-right: 14px; }
`;

/** Only relative links: the summary sits next to the run directories it points into. */
function safeHref(href: string | undefined): string | undefined {
  return href && !/^[a-z][a-z0-9+.-]*:/i.test(href) && !href.startsWith('//') ? href : undefined;
}

/** A table of scenarios (rows) by flavour (columns), each cell the outcome linking to its report. */
export function renderSummary(rows: readonly SummaryRow[], opts: { title?: string; startedAt?: string } = {}): string {
  const scenarios = [...new Set(rows.map((r) => r.scenario))];
  const flavours = [...new Set(rows.map((r) => r.flavour))];
  // A scenario re-run on a flavour replaces the earlier cell: the last word counts.
  const cell = new Map(rows.map((r) => [`${r.scenario}\u0000${r.flavour}`, r]));
  const totals = (['EXPECTED', 'UNEXPECTED', 'NOT RUN'] as const).map(
    (o) => [o, [...cell.values()].filter((r) => r.outcome === o).length] as const,
  );
  const title = opts.title ?? 'Scenario summary';

  const body = scenarios.map((s) => {
    const tds = flavours.map((f) => {
      const r = cell.get(`${s}\u0000${f}`);
      if (!r) return '<td class="cell muted">—</td>';
      const colour = outcomeColour(r.outcome);
      const tip = r.reasons?.length ? ` title="${esc(r.reasons.join('\n'))}"` : '';
      const href = safeHref(r.href);
      const inner = `${esc(r.outcome)}`;
      const tag = href
        ? `<a class="outcome" href="${esc(href)}"${tip} style="background:${colour}">${inner}</a>`
        : `<span class="outcome"${tip} style="background:${colour}">${inner}</span>`;
      return `<td class="cell" data-outcome="${esc(r.outcome)}">${tag}</td>`;
    });
    return `<tr><th>${esc(s)}</th>${tds.join('')}</tr>`;
  });

  const totalsLine = totals.map(([o, n]) => `<span>${swatchFor(o)}<b>${n}</b> ${esc(o.toLowerCase())}</span>`).join('');
  const started = opts.startedAt ? `<span>started <b>${esc(opts.startedAt)}</b></span>` : '';
  const heads = flavours.map((f) => `<th style="text-align:center">${esc(f)}</th>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${BASE_CSS}${SUMMARY_CSS}</style></head>
<body><main>
<h1>${esc(title)}</h1>
<p class="meta totals">${totalsLine}${started}</p>
<section class="card"><table class="matrix"><tr><th>scenario</th>${heads}</tr>${body.join('')}</table></section>
<footer>upstart-unicorn-lab · each cell links to that run's report</footer>
</main></body></html>
`;
}

function swatchFor(o: Outcome | 'MISSING'): string {
  return `<span class="swatch" style="background:${o === 'MISSING' ? MISSING_COLOUR : outcomeColour(o)}"></span>`;
}

/** A cell nobody ran: black, so it never reads as any verdict. */
const MISSING_COLOUR = '#111827';

const MATRIX_CSS = `
table.matrix td.cell { text-align: left; min-width: 210px; }
.run { margin: 2px 0 8px; }
.run .facts { font-size: 11.5px; color: #475569; line-height: 1.35; margin-top: 3px; }
.run .facts b { color: #0f172a; font-weight: 600; }
.flag { display: inline-block; font-size: 11px; font-weight: 700; padding: 1px 6px; border-radius: 4px; background: #fde68a; color: #78350f; margin-left: 4px; }
.flag.bad { background: #fecaca; color: #7f1d1d; }
.warn { border-left: 4px solid #b45309; }
`;

const when = (iso: string) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : 'unknown time');

function runFacts(r: RunEntry): string {
  const w = r.where;
  const numbers =
    r.numbers && r.numbers.sent > 0
      ? `<b>${r.numbers.sent}</b> requests · <b>${r.numbers.failed}</b> failed · gap <b>${r.numbers.longestGapMs}</b> ms · p99 ${r.numbers.p99Ms} ms`
      : r.applicable
        ? 'no requests'
        : 'not applicable';
  const where = w
    ? [
        `<b>${esc(w.host)}</b>`,
        // the engine as the run addressed it; its name and id (docker info) in the tooltip, since
        // two engines on one machine may share both
        `<span title="${esc([w.engineName, w.engineId].filter(Boolean).join(' '))}">engine ${esc(w.engine)}</span>`,
        w.shard ? `shard ${esc(w.shard)}` : '',
        w.job ? `job ${w.job}${w.jobs ? `/${w.jobs}` : ''}` : '',
        w.runner ? esc(w.runner) : '',
      ]
        .filter(Boolean)
        .join(' · ')
    : '<span class="muted">where: not recorded</span>';
  return `<div class="facts">${numbers}<br>${where}<br>${esc(when(r.startedAt))} · ${r.seconds.toFixed(1)} s</div>`;
}

function runBlock(r: RunEntry, href: string | undefined): string {
  const tip = r.reasons.length ? ` title="${esc(r.reasons.join('\n'))}"` : '';
  const style = `background:${outcomeColour(r.outcome)}`;
  const h = safeHref(href);
  const badge = h
    ? `<a class="outcome" href="${esc(h)}"${tip} style="${style}">${esc(r.outcome)}</a>`
    : `<span class="outcome"${tip} style="${style}">${esc(r.outcome)}</span>`;
  return `<div class="run" data-outcome="${esc(r.outcome)}">${badge}${runFacts(r)}</div>`;
}

function matrixCell(c: SummaryCell | undefined, hrefFor: (r: RunEntry) => string | undefined): string {
  if (!c) return '<td class="cell muted">—</td>';
  if (c.status === 'MISSING')
    return (
      `<td class="cell" data-status="MISSING"><span class="outcome" ` +
      `style="background:${MISSING_COLOUR}">MISSING</span><div class="run"><div class="facts">no result` +
      `${c.shard ? ` · shard ${esc(c.shard)} was to run it` : ''}</div></div></td>`
    );
  const flags = [
    c.duplicated
      ? `<span class="flag${c.disagree ? ' bad' : ''}">${c.results.length} results${c.disagree ? ', differing' : ''}</span>`
      : '',
    c.skipped ? '<span class="flag bad">skipped</span>' : '',
    c.planned ? '' : '<span class="flag">not in the plan</span>',
  ].join('');
  const runs = c.results.map((r) => runBlock(r, hrefFor(r))).join('');
  return `<td class="cell" data-status="${esc(c.status)}" data-results="${c.results.length}">${runs}${flags}</td>`;
}

/**
 * The matrix of a `run --all` or of `lab report --merge`: scenarios by init and server, each
 * cell every result it has (verdict linking to the report, its numbers, where and when it
 * ran), MISSING for a cell nobody ran, and the shards that left nothing.
 */
export function renderMatrixSummary(
  m: MatrixSummary,
  hrefFor: (r: RunEntry) => string | undefined = () => undefined,
  groupOf: (scenario: string) => string | undefined = () => undefined,
): string {
  const byKey = new Map(m.cells.map((c) => [`${c.scenario}\u0000${c.column}`, c]));
  const t = m.totals;
  const totals: Array<[Outcome | 'MISSING', number, string]> = [
    ['EXPECTED', t.expected, 'expected'],
    ['UNEXPECTED', t.unexpected, 'unexpected'],
    ['NOT RUN', t.notRun, 'not run'],
    ['INFRASTRUCTURE', t.infrastructure, 'infrastructure'],
    ['MISSING', t.missing, 'missing'],
  ];
  // Scenarios of one group ("unicorn in production") sit under one heading row; a heading
  // comes wherever the group changes, so the catalogue's order is kept.
  const groupRow = (label: string) => `<tr class="group"><th colspan="${m.columns.length + 1}">${esc(label)}</th></tr>`;
  const anyGroup = m.rows.some((s) => groupOf(s) !== undefined);
  const body = m.rows.flatMap((s, i) => {
    const g = groupOf(s);
    const heading = anyGroup && (i === 0 || groupOf(m.rows[i - 1]) !== g) ? [groupRow(g ?? 'init and app server')] : [];
    return [
      ...heading,
      `<tr><th>${esc(s)}</th>${m.columns.map((col) => matrixCell(byKey.get(`${s}\u0000${col}`), hrefFor)).join('')}</tr>`,
    ];
  });
  const warnings = [...m.missingShards, ...m.notes];
  const tds = (cells: readonly string[]) => cells.map((c) => `<td>${c}</td>`).join('');
  const planRows = m.plans.map(
    (p) =>
      `<tr>${tds([p.shard ?? 'whole', p.group, p.host, p.engine, when(p.startedAt)].map(esc))}` +
      `<td class="num">${p.cells}</td></tr>`,
  );
  const planHead =
    '<tr><th>shard</th><th>matrix</th><th>host</th><th>engine</th><th>started</th><th class="num">cells</th></tr>';
  const plans = m.plans.length
    ? `<section class="card"><h2>Plans (one per shard or run)</h2><table class="plans">${planHead}${planRows.join('')}</table></section>`
    : '';
  const totalsLine = [
    `<span><b>${esc(m.status)}</b></span>`,
    ...totals.map(([o, n, label]) => `<span>${swatchFor(o)}<b>${n}</b> ${label}</span>`),
    `<span><b>${t.skipped}</b> skipped</span><span><b>${t.duplicated}</b> with two results or more</span>`,
    `<span><b>${t.results}</b> results in <b>${t.cells}</b> cells</span><span>made <b>${esc(when(m.generatedAt))}</b></span>`,
  ].join('');
  const warned = warnings.length
    ? `<section class="card warn" id="warnings"><h2>Not complete</h2><ul>${warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul></section>`
    : '';
  const columnHeads = m.columns.map((c) => `<th>${esc(c)}</th>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(`${m.status.toUpperCase()} · ${m.title}`)}</title><style>${BASE_CSS}${SUMMARY_CSS}${MATRIX_CSS}</style></head>
<body><main>
<h1>${esc(m.title)}</h1>
<p class="meta totals" id="totals" data-status="${esc(m.status)}">${totalsLine}</p>
${warned}
<section class="card"><table class="matrix"><tr><th>scenario</th>${columnHeads}</tr>${body.join('')}</table></section>
${plans}
<footer>upstart-unicorn-lab · each verdict links to that run's report · summary.json beside this page · from ${esc(m.inputs.join(', '))}</footer>
</main></body></html>
`;
}
