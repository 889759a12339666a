// The lab's one PRNG; chaos draws its schedules from it.
export { mulberry32 } from '../prng';

export const MAX_SEED = 0xffffffff;

/** A seed as typed: a whole number from 0 to 2^32-1, or undefined with nothing else accepted. */
export function parseSeed(v: string): number | undefined {
  if (!/^\d{1,10}$/.test(v.trim())) return undefined;
  const n = Number(v.trim());
  return n <= MAX_SEED ? n : undefined;
}
