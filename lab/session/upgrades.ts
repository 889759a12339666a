import type { ScenarioContext } from './context';
import { servingMasters } from './observe';
import { sleep } from './context';

/**
 * USR2 upgrades as an operator (or a deploy script) sends them: to the pid init tracks, or to
 * the pid file's master, one after another, each awaited until the new generation serves.
 */
export interface UpgradeTrace {
  /** ms from USR2 to the first answer of the new generation (undefined: never seen) */
  tookMs: (number | null)[];
  /** the pid init tracked after each upgrade (null: none) */
  trackedAfter: (number | null)[];
}

/** Highest generation that answered through nginx in the last few requests of the live load. */
export function latestGeneration(ctx: ScenarioContext): number {
  const recs = ctx.loadHandle?.records ?? [];
  let g = 0;
  for (let i = Math.max(0, recs.length - 40); i < recs.length; i++) g = Math.max(g, recs[i].generation ?? 0);
  return g;
}

/** Waits until a generation above `gen` answers (from the live load, else by asking). */
export async function waitForGenerationAbove(
  ctx: ScenarioContext,
  gen: number,
  timeoutMs: number,
): Promise<number | undefined> {
  return ctx.waitFor(
    async () => {
      const seen = ctx.loadHandle ? latestGeneration(ctx) : ((await ctx.get()).generation ?? 0);
      return seen > gen ? seen : undefined;
    },
    timeoutMs,
    50,
  );
}

/**
 * `count` USR2 upgrades to `pid` (the master, or a herder), `pauseMs` apart; `settle` runs after
 * each (a reexec upgrade must wait for the old master to leave: a USR2 before that is refused).
 */
export async function upgrades(
  ctx: ScenarioContext,
  pid: number,
  count: number,
  who: string,
  pauseMs = 250,
  settle?: () => Promise<void>,
): Promise<UpgradeTrace> {
  const trace: UpgradeTrace = { tookMs: [], trackedAfter: [] };
  for (let i = 1; i <= count; i++) {
    const gen = Math.max(latestGeneration(ctx), (await ctx.get()).generation ?? 0);
    const t = Date.now();
    await ctx.signal('USR2', pid, who, `upgrade ${i}/${count}`);
    const next = await waitForGenerationAbove(ctx, gen, 15_000);
    trace.tookMs.push(next === undefined ? null : Date.now() - t);
    if (settle) await settle();
    trace.trackedAfter.push((await ctx.inspect()).init.trackedPid ?? null);
    await sleep(pauseMs);
  }
  return trace;
}

/**
 * After a reexec USR2: waits until the old master has left (no .oldbin) and one master serves,
 * then notes how many served. The next USR2 must wait for it: phoenix, like unicorn, refuses
 * to re-exec while an .oldbin master lives.
 */
export function settleAfterHandover(ctx: ScenarioContext, seen: number[], timeoutMs: number): () => Promise<void> {
  return async () => {
    const s = await ctx.waitFor(async () => {
      const st = await ctx.inspect();
      return st.oldbin === undefined && servingMasters(st).length === 1 ? st : undefined;
    }, timeoutMs);
    seen.push(servingMasters(s ?? (await ctx.inspect())).length);
  };
}
