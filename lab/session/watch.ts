import type { LabStatus } from '../inspect';
import type { ScenarioContext } from './context';
import { sleep } from './context';
import { statusLine } from './observe';

export interface Watched {
  samples: string[];
  /** ms (from the watch's start) of the first sample `when` accepted; null: none did */
  metAfterMs: number | null;
  probes: number;
  probesOk: number;
  last?: LabStatus;
}

/**
 * Looks at init's view every few hundred ms for `ms`, and sends one request per look as a new
 * visitor would: the load's own connections can all be waiting in a queue nobody accepts,
 * while on a real site new connections keep arriving (each one a `socket` event for the bridge).
 */
export async function watch(
  ctx: ScenarioContext,
  ms: number,
  when?: (s: LabStatus) => boolean,
  label?: (s: LabStatus) => string,
): Promise<Watched> {
  const t = Date.now();
  const w: Watched = { samples: [], metAfterMs: null, probes: 0, probesOk: 0 };
  const pending: Promise<void>[] = [];
  while (Date.now() - t < ms) {
    w.probes++;
    pending.push(ctx.get('/health').then((r) => void (r.status === 200 && w.probesOk++)));
    const s = await ctx.inspect();
    w.last = s;
    if (w.metAfterMs === null && when?.(s)) {
      w.metAfterMs = Date.now() - t;
      if (label) ctx.mark('note', label(s));
    }
    w.samples.push(`${((Date.now() - t) / 1000).toFixed(1)} s: ${statusLine(s)}`);
    await sleep(250);
  }
  await Promise.all(pending);
  return w;
}
