/**
 * Which master a signal sent to the wrapper goes to. The wrapper never signals anyone on its
 * own account; it only passes on what init or the operator sent it.
 */
export const FORWARDED = [
  'SIGHUP',
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
  'SIGTTIN',
  'SIGTTOU',
  'SIGQUIT',
  'SIGTERM',
  'SIGINT',
] as const;
export type ForwardedSignal = (typeof FORWARDED)[number];

/** A stop is meant for the whole job: every live master gets it, old and new. */
export const STOPS: readonly ForwardedSignal[] = ['SIGQUIT', 'SIGTERM', 'SIGINT'];

export interface MasterView {
  /** the master signals go to: the one followed, or the one starting */
  current?: number;
  /** other live masters: a .oldbin master, a new master that does not serve yet */
  others: number[];
  /** the current master serves (the first one has written its pid file and has workers) */
  ready: boolean;
  /** the current master has its signal handlers: unicorn sets them just before it writes its
   *  pid file, and until then HUP, USR1, WINCH, TTIN or TTOU would kill it (Ruby's default) */
  handlers: boolean;
  /** a USR2 is under way: .oldbin renamed, or a new master not yet serving, or .oldbin still alive */
  upgrading?: {
    oldbin?: number;
    newMaster?: number;
    /** the new master has had no workers for this long past --ready-timeout (upgrade-stuck) */
    stuckMs?: number;
  };
}

export type Route = { targets: number[] } | { refused: string };

export function route(signal: ForwardedSignal, v: MasterView): Route {
  if (STOPS.includes(signal)) {
    const targets = [...new Set([v.current, ...v.others].filter((p): p is number => p !== undefined))];
    return targets.length ? { targets } : { refused: 'no master is running' };
  }
  if (v.current === undefined) return { refused: 'no master is running' };
  if (!v.handlers)
    return {
      refused:
        'unicorn has not written its pid file yet, so it cannot take this signal; it reads its config as it starts anyway',
    };
  if (signal === 'SIGUSR2') {
    if (!v.ready) return { refused: 'unicorn is not serving yet; send USR2 once it is ready' };
    if (v.upgrading?.stuckMs !== undefined) {
      const n = v.upgrading.newMaster;
      return {
        refused:
          `the last upgrade is stuck: ${n ? `new master ${n}` : 'the new master (in no pid file yet)'} has had no ` +
          `workers for ${Math.round(v.upgrading.stuckMs / 1000)} s (upgrade-stuck) while the old master serves on, ` +
          `and a second USR2 would start a third master; stop the new one first (while it loads it takes only ` +
          `KILL${n ? `: kill -KILL ${n}` : ''}), then send USR2 again`,
      };
    }
    if (v.upgrading) {
      // unicorn itself refuses to re-exec while its .oldbin master lives: three masters on one
      // socket, and a pid file that no longer says which is which.
      const who = [
        v.upgrading.oldbin && `.oldbin master ${v.upgrading.oldbin} still runs`,
        v.upgrading.newMaster && `new master ${v.upgrading.newMaster} does not serve yet`,
      ]
        .filter(Boolean)
        .join(', ');
      return {
        refused: `an upgrade is in progress (${who || 'pid file renamed to .oldbin'}); QUIT the old master first`,
      };
    }
  }
  return { targets: [v.current] };
}
