import type { RequestRecord } from '../load/record';
import type { Action, ActionKind, SampledSeries } from '../results/types';
import { escapeXml, truncate } from './escape';
import {
  FAILURE_COLOURS,
  FAILURE_LABELS,
  FAILURE_ORDER,
  type FailureKey,
  UNKNOWN_GENERATION_COLOUR,
  failureKey,
  generationColour,
  generationRanks,
} from './palette';
import { BASE_BUCKET_MS, bucketWidthMs, decimalsFor, rangeTicks, ticks } from './scale';

export interface TimelineOptions {
  /** SVG width in px (it scales with the page; this sets the pixel budget) */
  width?: number;
  plotHeight?: number;
  /** bars never get thinner than this; more buckets than fit are merged into wider ones */
  minBarPx?: number;
  /** numbers sampled during the run, drawn in one strip under the requests on the same clock */
  series?: readonly SampledSeries[];
}

/** Markers differ by dash as well as colour, so they stay apart on a greyscale projector. */
export const ACTION_STYLE: Readonly<Record<ActionKind, { colour: string; dash: string; name: string }>> = {
  signal: { colour: '#7c3aed', dash: '', name: 'signal' },
  initctl: { colour: '#111827', dash: '6 3', name: 'initctl' },
  apply: { colour: '#475569', dash: '2 3', name: 'config applied' },
  docker: { colour: '#0c4a6e', dash: '8 3 2 3', name: 'docker' },
  note: { colour: '#6b7280', dash: '1 3', name: 'note' },
};

/** Time order with the input order kept for ties; the report's action table numbers them the same way. */
export function sortActions(actions: readonly Action[]): Action[] {
  return actions
    .map((a, i) => ({ a, i }))
    .filter(({ a }) => Number.isFinite(a.at))
    .sort((x, y) => x.a.at - y.a.at || x.i - y.i)
    .map(({ a }) => a);
}

interface Series {
  id: string;
  label: string;
  colour: string;
  /** stacking position: generations by number, then unknown, then failure classes */
  order: number;
  counts: Uint32Array;
  pids: Set<number>;
}

interface Buckets {
  start: number;
  widthMs: number;
  count: number;
  series: Series[];
  totals: Uint32Array;
}

const FONT = 'system-ui, -apple-system, &quot;Segoe UI&quot;, Roboto, &quot;DejaVu Sans&quot;, sans-serif';
const CHAR_W = 0.62; // of the font size: a safe over-estimate for labels, which have no layout engine here
const MARGIN = { left: 72, right: 24, top: 8 };
const LABEL_ROW = 20;
const MAX_LABEL_ROWS = 4;
const LANE = 15;
const MAX_LANES = 16;
const STRIP_H = 90;
const SERIES_COLOURS = ['#0f766e', '#b91c1c', '#1d4ed8', '#a16207', '#7e22ce'];

const px = (n: number) => (Math.round(n * 10) / 10).toString();
const textWidth = (s: string, size: number) => [...s].length * size * CHAR_W;

/** Counts successes by generation and failures by class, per bucket of completion time. */
function bucketize(records: readonly RequestRecord[], start: number, widthMs: number, count: number): Buckets {
  const ranks = generationRanks(
    records.filter((r) => !r.error && r.generation !== undefined).map((r) => r.generation as number),
  );
  const byId = new Map<string, Series>();
  const totals = new Uint32Array(count);
  const seriesFor = (r: RequestRecord): Series => {
    let id: string, label: string, colour: string, order: number;
    if (r.error) {
      const key: FailureKey = failureKey(r.error);
      [id, label, colour, order] = [
        `fail-${key}`,
        FAILURE_LABELS[key],
        FAILURE_COLOURS[key],
        2e6 + FAILURE_ORDER.indexOf(key),
      ];
    } else if (r.generation === undefined) {
      [id, label, colour, order] = ['gen-unknown', 'no generation', UNKNOWN_GENERATION_COLOUR, 1e6];
    } else {
      const rank = ranks.get(r.generation) ?? 0;
      [id, label, colour, order] = [`gen-${r.generation}`, `gen ${r.generation}`, generationColour(rank), rank];
    }
    let s = byId.get(id);
    if (!s) byId.set(id, (s = { id, label, colour, order, counts: new Uint32Array(count), pids: new Set() }));
    return s;
  };
  for (const r of records) {
    if (!Number.isFinite(r.end)) continue;
    const i = Math.min(count - 1, Math.max(0, Math.floor((r.end - start) / widthMs)));
    const s = seriesFor(r);
    s.counts[i]++;
    totals[i]++;
    if (!r.error && r.pid !== undefined) s.pids.add(r.pid);
  }
  return { start, widthMs, count, series: [...byId.values()].sort((a, b) => a.order - b.order), totals };
}

interface Placed {
  action: Action;
  number: number;
  x: number;
  row: number;
  /** what fits: the label, a "#n" badge when labels crowd, or nothing (the line alone) */
  text: string | undefined;
  left: number;
  width: number;
}

/**
 * Labels sit in rows above the plot like flags on their marker line; each goes to the first row
 * where it does not overlap, and when all rows are taken it shrinks to its number (the report
 * lists every action by number), so a crowded run stays readable instead of a smear of text.
 */
function placeLabels(
  actions: readonly Action[],
  x: (t: number) => number,
  plotLeft: number,
  plotRight: number,
): { placed: Placed[]; rows: number } {
  const rows: Array<Array<[number, number]>> = [];
  const fits = (row: number, l: number, r: number) => (rows[row] ?? []).every(([a, b]) => r + 4 <= a || l >= b + 4);
  const placed: Placed[] = [];
  actions.forEach((action, i) => {
    const ax = x(action.at);
    const tries = [truncate(action.label.replace(/\s+/g, ' ').trim() || action.kind, 34), `#${i + 1}`];
    for (const text of tries) {
      const width = textWidth(text, 11) * 1.1 + 10; // bold
      const left = ax + width <= plotRight + MARGIN.right - 2 ? ax : Math.max(plotLeft - MARGIN.left + 2, ax - width);
      for (let row = 0; row < MAX_LABEL_ROWS; row++) {
        if (!fits(row, left, left + width)) continue;
        (rows[row] ??= []).push([left, left + width]);
        placed.push({ action, number: i + 1, x: ax, row, text, left, width });
        return;
      }
    }
    placed.push({ action, number: i + 1, x: ax, row: 0, text: undefined, left: ax, width: 0 });
  });
  return { placed, rows: Math.max(1, rows.length) };
}

function fmtSeconds(ms: number, decimals: number): string {
  return (ms / 1000).toFixed(decimals);
}

/**
 * The run as a picture: requests per 100 ms by completion time, stacked by who served them
 * (generation) and how they failed, one flag per action, the sampled series (if any) in a strip
 * under the requests, and a lane per generation showing when it served (two lanes lit at once
 * is two masters serving at once).
 */
export function renderTimeline(
  records: readonly RequestRecord[],
  actionsIn: readonly Action[],
  options: TimelineOptions = {},
): string {
  const width = Math.max(480, options.width ?? 1200);
  const plotH = Math.max(80, options.plotHeight ?? 260);
  const minBar = Math.max(1, options.minBarPx ?? 2);
  const plotLeft = MARGIN.left;
  const plotRight = width - MARGIN.right;
  const plotW = plotRight - plotLeft;
  const actions = sortActions(actionsIn);
  const ends = records.map((r) => r.end).filter(Number.isFinite);
  const series = (options.series ?? [])
    .map((s) => ({ ...s, points: s.points.filter(([t, v]) => Number.isFinite(t) && Number.isFinite(v)) }))
    .filter((s) => s.points.length > 0);
  const sampledAt = series.flatMap((s) => [s.points[0][0], s.points[s.points.length - 1][0]]);

  // The domain covers the load, every action and every sample; at least a second so an empty run has an axis.
  const t0 = Math.min(0, ...actions.map((a) => a.at), ...sampledAt);
  const t1 = Math.max(
    t0 + 1000,
    ends.reduce((m, e) => Math.max(m, e), 0),
    ...actions.map((a) => a.at),
    ...sampledAt,
  );
  const widthMs = bucketWidthMs(t1 - t0, Math.floor(plotW / minBar));
  const start = Math.floor(t0 / widthMs) * widthMs;
  const count = Math.max(1, Math.ceil((t1 - start) / widthMs));
  const b = bucketize(records, start, widthMs, count);
  const end = start + count * widthMs;
  const x = (t: number) => plotLeft + ((t - start) / (end - start)) * plotW;

  const { placed, rows } = placeLabels(actions, x, plotLeft, plotRight);
  const plotTop = MARGIN.top + rows * LABEL_ROW + 6;
  const plotBottom = plotTop + plotH;
  const axisBottom = plotBottom + 40;
  const failures = b.series.filter((s) => s.id.startsWith('fail-'));
  const gens = b.series.filter((s) => !s.id.startsWith('fail-'));
  const laneSeries = gens.slice(0, MAX_LANES);
  const laneCount = laneSeries.length + (failures.length ? 1 : 0);
  const stripTop = axisBottom + 8;
  const stripBottom = series.length ? stripTop + STRIP_H : axisBottom;
  const lanesTop = stripBottom + 8;
  const lanesBottom = lanesTop + laneCount * LANE + (gens.length > MAX_LANES ? LANE : 0);

  const maxTotal = b.totals.reduce((m, v) => Math.max(m, v), 0);
  const y = ticks(Math.max(1, maxTotal), 4, true);
  const h = (n: number) => (n === 0 ? 0 : Math.max(1.5, (n / y.top) * plotH));
  const bucketLabel = widthMs === BASE_BUCKET_MS ? '100 ms' : widthMs >= 1000 ? `${widthMs / 1000} s` : `${widthMs} ms`;
  const out: string[] = [];

  // Grid and y axis.
  for (const v of y.values) {
    const yy = plotBottom - (v / y.top) * plotH;
    out.push(
      `<line class="grid" x1="${plotLeft}" x2="${plotRight}" y1="${px(yy)}" y2="${px(yy)}" stroke="${v === 0 ? '#64748b' : '#e5e7eb'}"/>`,
    );
    out.push(`<text x="${plotLeft - 8}" y="${px(yy + 4)}" text-anchor="end" fill="#475569">${v}</text>`);
  }
  out.push(
    `<text transform="translate(16 ${px((plotTop + plotBottom) / 2)}) rotate(-90)" ` +
      `text-anchor="middle" fill="#334155" font-size="12">requests per ${bucketLabel}</text>`,
  );

  // x axis: seconds since the load started.
  // Drawn after the markers with a white halo, so marker lines pass behind the numbers.
  const axisText: string[] = [];
  const xt = rangeTicks(start / 1000, end / 1000, Math.max(2, Math.floor(plotW / 90)));
  const dec = decimalsFor(xt.step);
  for (const s of xt.values) {
    const xx = x(s * 1000);
    out.push(`<line x1="${px(xx)}" x2="${px(xx)}" y1="${plotBottom}" y2="${plotBottom + 5}" stroke="#64748b"/>`);
    axisText.push(
      `<text x="${px(xx)}" y="${plotBottom + 18}" text-anchor="middle" fill="#475569">${s.toFixed(dec)}</text>`,
    );
  }
  axisText.push(
    `<text x="${px(plotLeft + plotW / 2)}" y="${plotBottom + 34}" text-anchor="middle" ` +
      `fill="#334155" font-size="12">seconds since the run started (by completion time)</text>`,
  );

  // Bars: one group per non-empty bucket, its title the bucket's breakdown for a hover.
  const barW = plotW / count;
  const gap = barW >= 4 ? 1 : 0;
  for (let i = 0; i < count; i++) {
    if (b.totals[i] === 0) continue;
    const bx = px(plotLeft + i * barW + gap / 2);
    const bw = px(Math.max(0.6, barW - gap));
    let top = plotBottom;
    const parts: string[] = [];
    const rects: string[] = [];
    for (const s of b.series) {
      const n = s.counts[i];
      if (!n) continue;
      const sh = h(n);
      top -= sh;
      rects.push(
        `<rect class="bar ${s.id}" fill="${s.colour}" x="${bx}" y="${px(top)}" width="${bw}" height="${px(sh)}"/>`,
      );
      parts.push(`${n} ${s.id.startsWith('fail-') ? s.label : `ok (${s.label})`}`);
    }
    const from = start + i * widthMs;
    out.push(
      `<g><title>${fmtSeconds(from, 1)}–${fmtSeconds(from + widthMs, 1)} s: ${escapeXml(parts.join(', '))}</title>${rects.join('')}</g>`,
    );
  }
  if (ends.length === 0) {
    out.push(
      `<text x="${px(plotLeft + plotW / 2)}" y="${px(plotTop + plotH / 2)}" text-anchor="middle" fill="#94a3b8" font-size="16">no requests recorded</text>`,
    );
  }

  out.push(...sampledStrip(series, x, { left: plotLeft, right: plotRight, top: stripTop, bottom: stripBottom }));

  // Lanes: when each generation served, and when anything failed, merged into runs of buckets.
  let laneY = lanesTop;
  const lane = (label: string, tip: string, colourAt: (i: number) => string | undefined) => {
    out.push(
      `<text x="${plotLeft - 8}" y="${px(laneY + 10)}" text-anchor="end" fill="#334155">${escapeXml(label)}</text>`,
    );
    out.push(`<rect x="${plotLeft}" y="${px(laneY + 2)}" width="${px(plotW)}" height="${LANE - 4}" fill="#f1f5f9"/>`);
    for (let i = 0; i < count;) {
      const c = colourAt(i);
      if (!c) {
        i++;
        continue;
      }
      let j = i + 1;
      while (j < count && colourAt(j) === c) j++;
      const span = `${fmtSeconds(start + i * widthMs, 1)}–${fmtSeconds(start + j * widthMs, 1)} s`;
      out.push(
        `<rect class="lane" x="${px(plotLeft + i * barW)}" y="${px(laneY + 2)}" ` +
          `width="${px(Math.max(1.5, (j - i) * barW))}" height="${LANE - 4}" fill="${c}" rx="1">` +
          `<title>${escapeXml(`${tip} ${span}`)}</title></rect>`,
      );
      i = j;
    }
    laneY += LANE;
  };
  if (failures.length) {
    // The dominant class per bucket: a single failed request is still visible here.
    lane('failed', 'failures', (i) => {
      let best: Series | undefined;
      for (const s of failures) if (s.counts[i] && (!best || s.counts[i] > best.counts[i])) best = s;
      return best?.colour;
    });
  }
  for (const s of laneSeries) {
    const pids = [...s.pids];
    const tip = `${s.label}${pids.length ? ` (pid ${truncate(pids.join(', '), 60)})` : ''} served`;
    lane(s.label, tip, (i) => (s.counts[i] ? s.colour : undefined));
  }
  if (gens.length > MAX_LANES) {
    out.push(
      `<text x="${plotLeft}" y="${px(laneY + 10)}" fill="#64748b">+ ${gens.length - MAX_LANES} more generations (see the table)</text>`,
    );
  }

  // Legend: only what this run contains.
  const items: string[] = [];
  const legendTop = lanesBottom + 14;
  let lx = plotLeft;
  let ly = legendTop;
  const item = (swatch: string, text: string) => {
    const w = 22 + textWidth(text, 12) + 18;
    if (lx + w > plotRight && lx > plotLeft) [lx, ly] = [plotLeft, ly + 20];
    items.push(
      `<g class="legend-item" transform="translate(${px(lx)} ${ly})">${swatch}<text x="20" y="11" fill="#1f2937" font-size="12">${escapeXml(text)}</text></g>`,
    );
    lx += w;
  };
  for (const s of b.series)
    item(
      `<rect width="14" height="14" rx="2" fill="${s.colour}"/>`,
      s.id.startsWith('fail-') ? s.label : `ok, ${s.label}`,
    );
  series.forEach((s, i) =>
    item(
      `<line x1="0" x2="14" y1="7" y2="7" stroke="${seriesColour(i)}" stroke-width="2"${s.limit ? ' stroke-dasharray="5 3"' : ''}/>`,
      s.name,
    ),
  );
  for (const kind of Object.keys(ACTION_STYLE) as ActionKind[]) {
    if (!actions.some((a) => a.kind === kind)) continue;
    const st = ACTION_STYLE[kind];
    item(
      `<line x1="7" x2="7" y1="0" y2="14" stroke="${st.colour}" stroke-width="2"${st.dash ? ` stroke-dasharray="${st.dash}"` : ''}/>`,
      st.name,
    );
  }
  out.push(...items);
  const height = Math.ceil((items.length ? ly + 24 : legendTop) + 4);

  // Action markers last, on top of the bars: a line through plot and lanes, flagged by its label.
  // Upper rows first: a lower flag then paints over the lines coming down from above it.
  for (const p of [...placed].sort((a, c) => a.row - c.row)) {
    const st = ACTION_STYLE[p.action.kind] ?? ACTION_STYLE.note;
    const flagTop = MARGIN.top + p.row * LABEL_ROW;
    const xx = px(p.x);
    const dash = st.dash ? ` stroke-dasharray="${st.dash}"` : '';
    const full = `#${p.number} at ${fmtSeconds(p.action.at, 2)} s · ${st.name}: ${p.action.label}`;
    const flag =
      p.text === undefined
        ? ''
        : `<rect x="${px(p.left)}" y="${flagTop}" width="${px(p.width)}" height="16" rx="3" fill="#ffffff" stroke="${st.colour}"/>` +
          `<text x="${px(p.left + 5)}" y="${flagTop + 12}" fill="${st.colour}" font-weight="600">${escapeXml(p.text)}</text>`;
    out.push(
      `<g class="action-marker" data-kind="${escapeXml(p.action.kind)}" data-at="${Math.round(p.action.at)}" data-label="${escapeXml(p.action.label)}">` +
        `<title>${escapeXml(full)}</title>` +
        (`<line x1="${xx}" x2="${xx}" y1="${p.text === undefined ? plotTop : flagTop + 16}" ` +
          `y2="${lanesBottom}" stroke="${st.colour}" stroke-width="1.5"${dash}/>`) +
        flag +
        `</g>`,
    );
  }

  out.push(`<g stroke="#ffffff" stroke-width="4" paint-order="stroke">${axisText.join('')}</g>`);

  const caption = `Requests per ${bucketLabel}: ${ends.length} requests, ${actions.length} actions`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" role="img" ` +
    `aria-label="${escapeXml(caption)}" width="${width}" height="${height}" viewBox="0 0 ` +
    `${width} ${height}" font-family="${FONT}" font-size="11">` +
    `<title>${escapeXml(caption)}</title>` +
    `<rect width="${width}" height="${height}" fill="#ffffff"/>` +
    out.join('') +
    `</svg>`
  );
}

const seriesColour = (i: number): string => SERIES_COLOURS[i % SERIES_COLOURS.length];

/**
 * The sampled series in one strip with its own y axis: step lines, limits dashed. A limit above
 * the strip's top is drawn along it with its value written at each place it changes.
 */
function sampledStrip(
  series: readonly SampledSeries[],
  x: (t: number) => number,
  box: { left: number; right: number; top: number; bottom: number },
): string[] {
  if (series.length === 0) return [];
  const peak = (s: SampledSeries) => s.points.reduce((m, [, v]) => Math.max(m, v), 0);
  const measured = series.filter((s) => !s.limit);
  const base = Math.max(1, ...(measured.length ? measured : series).map(peak));
  const limits = series.filter((s) => s.limit).flatMap((s) => s.points.map(([, v]) => v));
  const y = ticks(Math.max(base, ...limits.filter((v) => v <= 2 * base)), 2, true);
  const h = box.bottom - box.top;
  const yOf = (v: number) => box.bottom - (Math.min(Math.max(v, 0), y.top) / y.top) * h;
  const out: string[] = [];
  for (const v of y.values) {
    const yy = yOf(v);
    out.push(
      `<line x1="${box.left}" x2="${box.right}" y1="${px(yy)}" y2="${px(yy)}" stroke="${v === 0 ? '#94a3b8' : '#eef2f7'}"/>`,
      `<text x="${box.left - 8}" y="${px(yy + 4)}" text-anchor="end" fill="#475569">${v}</text>`,
    );
  }
  // The axis names the first series, as much of it as the strip's height holds; the legend has them all.
  const label = truncate(series[0].name, Math.max(4, Math.floor(h / (11 * CHAR_W))));
  out.push(
    `<text transform="translate(16 ${px((box.top + box.bottom) / 2)}) rotate(-90)" ` +
      `text-anchor="middle" fill="#334155" font-size="11">${escapeXml(label)}</text>`,
  );
  series.forEach((s, i) => {
    const colour = seriesColour(i);
    let d = `M${px(x(s.points[0][0]))} ${px(yOf(s.points[0][1]))}`;
    for (let k = 1; k < s.points.length; k++) d += `H${px(x(s.points[k][0]))}V${px(yOf(s.points[k][1]))}`;
    const top = s.points.reduce((m, p) => (p[1] > m[1] ? p : m), s.points[0]);
    const tip = `${s.name}: peak ${top[1]} at ${fmtSeconds(top[0], 1)} s, ${s.points.length} samples`;
    const over: string[] = [];
    s.points.forEach(([t, v], k) => {
      if (v > y.top && (k === 0 || s.points[k - 1][1] !== v))
        over.push(
          `<text class="over" x="${px(x(t) + 3)}" y="${px(box.top + 11)}" fill="${colour}">${escapeXml(`${v} ↑`)}</text>`,
        );
    });
    out.push(
      `<g class="sampled" data-name="${escapeXml(s.name)}" data-peak="${top[1]}"><title>${escapeXml(tip)}</title>` +
        `<path d="${d}" fill="none" stroke="${colour}" stroke-width="${s.limit ? 1.5 : 2}"` +
        `${s.limit ? ' stroke-dasharray="5 3"' : ''}/>${over.join('')}</g>`,
    );
  });
  return out;
}
