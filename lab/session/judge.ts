import type { Continuity } from '../check/continuity';
import type { Check, Verdict } from './types';

/**
 * Builds a verdict one comparison at a time, so every reason carries the number it was
 * judged on ("failed requests: expected 0, seen 3"), never a bare "failed".
 */
export class Judge {
  private readonly checks: Check[] = [];
  private readonly notes: string[] = [];

  check(what: string, expected: string, seen: string | number | boolean | undefined | null, ok: boolean): this {
    this.checks.push({ what, expected, seen: seen === undefined || seen === null ? 'nothing' : String(seen), ok });
    return this;
  }

  equal(what: string, expected: number | string | boolean, seen: number | string | boolean | undefined | null): this {
    return this.check(what, String(expected), seen, seen === expected);
  }

  atMost(what: string, max: number, seen: number | undefined | null, unit = ''): this {
    return this.check(
      what,
      `at most ${max}${unit}`,
      seen === undefined || seen === null ? seen : `${seen}${unit}`,
      typeof seen === 'number' && seen <= max,
    );
  }

  atLeast(what: string, min: number, seen: number | undefined | null, unit = ''): this {
    return this.check(
      what,
      `at least ${min}${unit}`,
      seen === undefined || seen === null ? seen : `${seen}${unit}`,
      typeof seen === 'number' && seen >= min,
    );
  }

  /** A measured fact that is worth reading but is not judged. */
  note(text: string): this {
    this.notes.push(text);
    return this;
  }

  verdict(): Verdict {
    const ok = this.checks.length > 0 && this.checks.every((c) => c.ok);
    return {
      outcome: ok ? 'EXPECTED' : 'UNEXPECTED',
      checks: [...this.checks],
      reasons: [...this.checks.map(formatCheck), ...this.notes],
    };
  }
}

export function formatCheck(c: Check): string {
  return `${c.ok ? 'ok  ' : 'FAIL'} ${c.what}: expected ${c.expected}, seen ${c.seen}`;
}

/** "3 (http-502=2 reset=1)" */
export function failuresText(c: Continuity): string {
  const parts = Object.entries(c.failures).map(([k, v]) => `${k}=${v}`);
  return parts.length ? `${c.failed} (${parts.join(' ')})` : `${c.failed}`;
}

/** A verdict for a scenario that has no meaning on a flavour: reported as not run, never as passed. */
export function notRun(reason: string): Verdict {
  return { outcome: 'NOT RUN', checks: [], reasons: [reason] };
}
