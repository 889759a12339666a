import type { BootSpec } from '../engine/boot-spec';
import type { Exec, InitDriver } from '../flavours/types';
import type { ServerDriver } from '../servers/types';

/**
 * The worker timeout of a lab `lab chaos` boots itself: short, so that a stopped worker is
 * killed by its master within a slot of a minute-long run (as shipped it is 30 s).
 */
export const CHAOS_WORKER_TIMEOUT_S = 3;

/** The shipped config with one visible change: the worker timeout. */
export function chaosBoot(init: InitDriver, server: ServerDriver, timeoutS = CHAOS_WORKER_TIMEOUT_S): BootSpec {
  return server.workerTimeoutBoot[init.family](timeoutS, `worker timeout ${timeoutS} s (lab chaos)`);
}

/** The worker timeout of a running lab, or 30 (as shipped) when the master does not show one. */
export async function workerTimeoutOf(exec: Exec, server: ServerDriver): Promise<number> {
  const out = (await exec(['/bin/sh', '-c', server.workerTimeoutShown(`$(cat ${server.pidFile} 2>/dev/null)`)])).stdout;
  const m = /--timeout[ =](\d+)/.exec(out) ?? /UNICORN_TIMEOUT=(\d+)/.exec(out);
  return m ? Number(m[1]) : 30;
}
