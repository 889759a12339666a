import type { Flavour } from '../engine/flavour-images';
import type { ServerName } from '../servers/types';
import type { FaultKind } from './faults';

/**
 * What each fault may cost, per init and app server: failed requests seen by the lab's own
 * load in the fault's window, and the longest time in that window without a successful
 * response. Keep-alive resets are counted apart where a scenario measured them as the only,
 * bounded, cost (nginx reload). A pause's gap budget is on top of the pause itself.
 *
 * Every number says which scenario measured it (README "Scenarios";
 * test/unit/scenario-verdict.test.ts holds the measured facts). Where no scenario measures a
 * fault on a server, the comment says so and the number is what `lab chaos` runs measured here.
 */
export interface Budget {
  /** failed requests (keep-alive resets excluded when `resets` is given) */
  failed: number;
  /** keep-alive resets allowed on top (nginx reload), per keep-alive connection of the lab's load */
  resets?: number;
  /** longest gap without a success in the window, in ms (pause: on top of the pause) */
  gapMs: number;
}

export type BudgetTable = Record<Flavour, Record<ServerName, Record<FaultKind, Budget>>>;

const PHOENIX: Record<FaultKind, Budget> = {
  // bridge-inplace: 10 in-place USR2 under load, 0 failed (both inits).
  usr2: { failed: 0, gapMs: 1500 },
  // HUP is the same generation handover as an in-place USR2 (bridge-inplace): 0 failed.
  hup: { failed: 0, gapMs: 1500 },
  // TTIN/TTOU: a worker added, then one retired gracefully (QUIT): nothing in flight is lost; 0.
  'ttin-ttou': { failed: 0, gapMs: 1000 },
  // worker-killed: at most 8 failed after the kill (the requests in flight on that worker).
  'kill-worker': { failed: 8, gapMs: 2000 },
  // master-killed: at most 5 failed after the kill; a new master serves in about 1.5 s when the
  // machine is quiet (the scenario allows 5 s under load); lab chaos gaps here stayed under 3 s.
  'kill-master': { failed: 5, gapMs: 3000 },
  // worker-timeout: the stuck request ends in a 502, at most 2 others fail (3 in all).
  'stop-worker': { failed: 3, gapMs: 2000 },
  // nginx-reload: 0 failed other than keep-alive resets (an idle connection closed by an old
  // worker as the client sent on it), at most 1 per reload there; lab chaos (4 connections,
  // bookworm) saw 4 in one reload: at most one per keep-alive connection of the lab's load.
  'nginx-reload': { failed: 0, resets: 1, gapMs: 1000 },
  // initctl-restart: 0 failed (connections queue in the socket init keeps); the pause is latency.
  restart: { failed: 0, gapMs: 4000 },
  // No scenario pauses the container: the kernel keeps queueing connections while every process
  // is frozen, so nothing fails; gap = the pause + 1.5 s (chaos runs here).
  pause: { failed: 0, gapMs: 1500 },
};

const UNICORN: Record<FaultKind, Budget> = {
  // wrapper-fix: 20 USR2 under load forwarded by unicorn-wrapper, 0 failed (both inits).
  usr2: { failed: 0, gapMs: 2000 },
  // HUP forwarded to unicorn: new workers, the old ones finish their requests; no scenario on
  // unicorn measures it alone: 0, as wrapper-fix's upgrades (chaos runs here: 0).
  hup: { failed: 0, gapMs: 2000 },
  // TTIN/TTOU forwarded to unicorn's master: 0 (chaos runs here).
  'ttin-ttou': { failed: 0, gapMs: 1000 },
  // worker-killed measured phoenix (at most 8); unicorn's master replaces a worker the same way.
  'kill-worker': { failed: 8, gapMs: 2500 },
  // master-killed measured phoenix (at most 5). Behind the wrapper the wrapper exits 71, init
  // starts it again (systemd: RestartSec=1; upstart: the bridge, on the next connection) and
  // unicorn loads Ruby: a longer gap than phoenix (chaos runs here).
  'kill-master': { failed: 5, gapMs: 6000 },
  // worker-timeout measured phoenix (3 in all); unicorn's own timeout kills the stopped worker.
  'stop-worker': { failed: 3, gapMs: 2500 },
  // nginx-reload: nginx's side, the same for any upstream: 0 failed, a keep-alive reset per connection.
  'nginx-reload': { failed: 0, resets: 1, gapMs: 1000 },
  // initctl-restart measured phoenix: 0 failed. unicorn behind the wrapper stops gracefully
  // (QUIT forwarded) and the socket stays with init: 0 failed, a longer pause (Ruby boots).
  restart: { failed: 0, gapMs: 7000 },
  // As for phoenix: no scenario; the pause + 1.5 s.
  pause: { failed: 0, gapMs: 1500 },
};

/** The same numbers on both inits: every scenario cited holds them on upstart 1.5 and on systemd. */
export const BUDGETS: BudgetTable = {
  precise: { phoenix: PHOENIX, unicorn: UNICORN },
  bookworm: { phoenix: PHOENIX, unicorn: UNICORN },
};

export function budgetFor(flavour: Flavour, server: ServerName, kind: FaultKind): Budget {
  return BUDGETS[flavour][server][kind];
}

/**
 * `--budget kill-master=0` or `--budget usr2=0/500,hup=1`: overrides, FAILED[/GAPMS]. A bare
 * number sets both to it (so `=0` is a zero budget: no failure and no gap at all).
 */
export function parseBudgetOverrides(
  v: string,
  isFault: (n: string) => n is FaultKind,
): { overrides: Partial<Record<FaultKind, Budget>> } | { error: string } {
  const overrides: Partial<Record<FaultKind, Budget>> = {};
  for (const part of v.split(',').filter((p) => p.trim() !== '')) {
    const m = /^\s*([a-z0-9-]+)=(\d+)(?:\/(\d+))?\s*$/.exec(part);
    if (!m) return { error: `'${part}' is not FAULT=FAILED[/GAPMS] (example: kill-master=0)` };
    if (!isFault(m[1])) return { error: `'${m[1]}' is not a fault class` };
    const failed = Number(m[2]);
    overrides[m[1]] = { failed, resets: 0, gapMs: m[3] === undefined ? failed : Number(m[3]) };
  }
  return { overrides };
}
