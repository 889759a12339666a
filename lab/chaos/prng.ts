/**
 * mulberry32: a tiny seeded PRNG (32-bit state, period 2^32), enough to draw a fault schedule.
 * The same seed gives the same sequence on every machine and Node version; Math.random is
 * never used by `lab chaos`, so a schedule can be replayed from its seed alone.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const MAX_SEED = 0xffffffff;

/** A seed as typed: a whole number from 0 to 2^32-1, or undefined with nothing else accepted. */
export function parseSeed(v: string): number | undefined {
  if (!/^\d{1,10}$/.test(v.trim())) return undefined;
  const n = Number(v.trim());
  return n <= MAX_SEED ? n : undefined;
}
