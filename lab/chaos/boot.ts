import type { BootSpec } from '../engine/boot-spec';
import type { Exec } from '../flavours/types';
import type { Flavour } from '../engine/flavour-images';
import type { ServerDriver } from '../servers/types';
import { systemd, systemdBoot, upstart, upstartBoot } from '../scenarios/configs';

/**
 * The worker timeout of a lab `lab chaos` boots itself: short, so that a stopped worker is
 * killed by its master within a slot of a minute-long run (as shipped it is 30 s).
 */
export const CHAOS_WORKER_TIMEOUT_S = 3;

/** The shipped config with one visible change: the worker timeout. */
export function chaosBoot(flavour: Flavour, server: ServerDriver, timeoutS = CHAOS_WORKER_TIMEOUT_S): BootSpec {
  const label = `worker timeout ${timeoutS} s (lab chaos)`;
  if (server.name === 'phoenix') {
    return flavour === 'precise'
      ? upstartBoot(upstart.timeout(upstart.strategy('bridge-inplace'), timeoutS), `bridge-inplace.conf, ${label}`)
      : systemdBoot(systemd.timeout(systemd.service(), timeoutS), `phoenix.service, ${label}`);
  }
  // unicorn.rb reads UNICORN_TIMEOUT; the server's own activation puts the job/unit in place first.
  return flavour === 'precise'
    ? { label, shell: [`sed -i '/^env UNICORN_PID=/i env UNICORN_TIMEOUT=${timeoutS}' /etc/init/unicorn.conf`] }
    : {
        label,
        files: {
          '/etc/systemd/system/unicorn.service.d/chaos.conf': `[Service]\nEnvironment=UNICORN_TIMEOUT=${timeoutS}\n`,
        },
      };
}

/** The worker timeout of a running lab: phoenix's --timeout, unicorn's UNICORN_TIMEOUT, or 30 (as shipped). */
export async function workerTimeoutOf(exec: Exec, server: ServerDriver): Promise<number> {
  const pid = `$(cat ${server.pidFile} 2>/dev/null)`;
  const script =
    server.name === 'phoenix'
      ? `tr '\\000' ' ' < /proc/${pid}/cmdline 2>/dev/null`
      : `tr '\\000' '\\n' < /proc/${pid}/environ 2>/dev/null | grep '^UNICORN_TIMEOUT='`;
  const out = (await exec(['/bin/sh', '-c', script])).stdout;
  const m = /--timeout[ =](\d+)/.exec(out) ?? /UNICORN_TIMEOUT=(\d+)/.exec(out);
  return m ? Number(m[1]) : 30;
}
