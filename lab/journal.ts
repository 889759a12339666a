import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Action, ActionKind } from './results/types';
import { labHome } from './runs';

/**
 * What `lab signal`, `lab initctl` and `lab apply` did, with wall-clock times, so that a
 * `lab load` running in another terminal can put a marker on its timeline for each.
 */
interface Entry {
  epochMs: number;
  instance: string;
  kind: ActionKind;
  label: string;
}

const file = (home: string) => path.join(home, 'actions.jsonl');

export function recordAction(instance: string, kind: ActionKind, label: string, home = labHome()): void {
  try {
    fs.mkdirSync(home, { recursive: true });
    fs.appendFileSync(
      file(home),
      `${JSON.stringify({ epochMs: Date.now(), instance, kind, label } satisfies Entry)}\n`,
    );
  } catch {
    // The journal only decorates reports; a read-only home must not fail the command.
  }
}

/** Actions on `instance` from 1 s before `startMs` to 1 s after `endMs`, as offsets from `startMs`. */
export function actionsBetween(
  instance: string | undefined,
  startMs: number,
  endMs: number,
  home = labHome(),
): Action[] {
  let text = '';
  try {
    text = fs.readFileSync(file(home), 'utf8');
  } catch {
    return [];
  }
  const out: Action[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const e = JSON.parse(line) as Entry;
      if (
        e.epochMs >= startMs - 1000 &&
        e.epochMs <= endMs + 1000 &&
        (instance === undefined || e.instance === instance)
      )
        out.push({ at: e.epochMs - startMs, kind: e.kind, label: e.label });
    } catch {
      /* a torn line from a concurrent writer */
    }
  }
  return out;
}
