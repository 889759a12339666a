import { escapeXml as esc } from './escape';
import type { Outcome } from './html';
import { VERDICT_COLOURS } from './palette';
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
      const colour = VERDICT_COLOURS[r.outcome] ?? VERDICT_COLOURS['NOT RUN'];
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

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${BASE_CSS}${SUMMARY_CSS}</style></head>
<body><main>
<h1>${esc(title)}</h1>
<p class="meta totals">${totals.map(([o, n]) => `<span>${swatchFor(o)}<b>${n}</b> ${esc(o.toLowerCase())}</span>`).join('')}${opts.startedAt ? `<span>started <b>${esc(opts.startedAt)}</b></span>` : ''}</p>
<section class="card"><table class="matrix"><tr><th>scenario</th>${flavours.map((f) => `<th style="text-align:center">${esc(f)}</th>`).join('')}</tr>${body.join('')}</table></section>
<footer>upstart-unicorn-lab · each cell links to that run's report</footer>
</main></body></html>
`;
}

function swatchFor(o: Outcome): string {
  return `<span class="swatch" style="background:${VERDICT_COLOURS[o]}"></span>`;
}
