import type { FailureClass } from '../load/record';

/**
 * Colours shared by the timeline, the report's tables and the summary, so a swatch in a
 * table means the same thing as a bar in the chart. Successes get cool colours and failures
 * warm ones: a presenter can say "anything red or orange is a user seeing an error".
 */

export type FailureKey = 'refused' | 'reset' | 'timeout' | 'http-502' | 'http-504' | 'other';

/** Stacking order, bottom to top, above the successes. */
export const FAILURE_ORDER: readonly FailureKey[] = ['refused', 'reset', 'timeout', 'http-502', 'http-504', 'other'];

export const FAILURE_COLOURS: Readonly<Record<FailureKey, string>> = {
  refused: '#dc2626', // red: nothing listened
  reset: '#f97316', // orange: accepted, then dropped
  timeout: '#eab308', // amber: nobody answered in time
  'http-502': '#be185d', // deep pink: nginx could not reach the app
  'http-504': '#92400e', // brown: nginx gave up waiting
  other: '#fb7185', // rose: everything else (503, 500, odd client errors)
};

export const FAILURE_LABELS: Readonly<Record<FailureKey, string>> = {
  refused: 'refused',
  reset: 'reset',
  timeout: 'timeout',
  'http-502': 'HTTP 502',
  'http-504': 'HTTP 504',
  other: 'other error',
};

export function failureKey(error: FailureClass): FailureKey {
  return (FAILURE_ORDER as readonly string[]).includes(error) ? (error as FailureKey) : 'other';
}

/**
 * Neighbouring generations must differ at a glance (an upgrade is a colour change), so the
 * order alternates hue rather than walking a gradient.
 */
export const GENERATION_COLOURS: readonly string[] = [
  '#2563eb',
  '#14b8a6',
  '#16a34a',
  '#0ea5e9',
  '#65a30d',
  '#0f766e',
  '#1e40af',
  '#4ade80',
];

/** Successes whose response carried no generation header (not served by phoenix, say). */
export const UNKNOWN_GENERATION_COLOUR = '#94a3b8';

export function generationColour(rank: number): string {
  return GENERATION_COLOURS[
    ((rank % GENERATION_COLOURS.length) + GENERATION_COLOURS.length) % GENERATION_COLOURS.length
  ];
}

/** Ranks by generation number, so the same run always gets the same colours. */
export function generationRanks(generations: Iterable<number>): Map<number, number> {
  const sorted = [...new Set(generations)].sort((a, b) => a - b);
  return new Map(sorted.map((g, i) => [g, i]));
}

export const VERDICT_COLOURS: Readonly<Record<'EXPECTED' | 'UNEXPECTED' | 'NOT RUN', string>> = {
  EXPECTED: '#15803d',
  UNEXPECTED: '#b91c1c',
  'NOT RUN': '#6b7280',
};
