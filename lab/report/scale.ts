/** Axis arithmetic for the timeline: round steps people can read. */

/** The smallest 1, 2 or 5 × 10^k that is >= raw. */
export function niceStep(raw: number): number {
  if (!Number.isFinite(raw) || raw <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  const m = raw / power;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * power;
}

export const BASE_BUCKET_MS = 100;

/**
 * Requests are counted per 100 ms, unless that would draw more bars than the chart has room
 * for (a 10-minute run is 6000 buckets): then per the smallest round width that fits, so bars
 * never get thinner than a pixel budget and the SVG stays small.
 */
export function bucketWidthMs(spanMs: number, maxBars: number): number {
  const needed = spanMs / Math.max(1, maxBars);
  return needed <= BASE_BUCKET_MS ? BASE_BUCKET_MS : Math.max(BASE_BUCKET_MS, niceStep(needed));
}

/** Tick values from 0 to at least max, about `count` of them; whole steps for whole things (requests). */
export function ticks(max: number, count: number, integer = false): { step: number; top: number; values: number[] } {
  const raw = niceStep(max / Math.max(1, count));
  const step = integer ? Math.max(1, raw) : raw;
  const top = Math.max(step, Math.ceil(max / step - 1e-9) * step);
  const values: number[] = [];
  for (let v = 0; v <= top + step / 2; v += step) values.push(round(v, step));
  return { step, top, values };
}

/** Tick values from `from` to `to` (both may be any sign), at a round step. */
export function rangeTicks(from: number, to: number, count: number): { step: number; values: number[] } {
  const step = niceStep((to - from) / Math.max(1, count));
  const values: number[] = [];
  for (let v = Math.ceil(from / step - 1e-9) * step; v <= to + 1e-9; v += step) values.push(round(v, step));
  return { step, values };
}

/** How many decimals a multiple of `step` needs (0.25 → 2, 5 → 0). */
export function decimalsFor(step: number): number {
  let d = 0;
  while (d < 6 && Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) > 1e-9) d++;
  return d;
}

function round(v: number, step: number): number {
  const d = decimalsFor(step);
  return Number(v.toFixed(d));
}
