import type { BootSpec } from '../engine/boot-spec';
import type { Exec, InitDriver, InitFamily } from '../flavours/types';
import type { ServerDriver, ServerName } from '../servers/types';
import { systemd, systemdBoot, upstart, upstartBoot } from '../session/configs';

/**
 * The worker timeout of a lab `lab chaos` boots itself: short, so that a stopped worker is
 * killed by its master within a slot of a minute-long run (as shipped it is 30 s).
 */
export const CHAOS_WORKER_TIMEOUT_S = 3;

/**
 * How each server's shipped job or unit gets a shorter worker timeout, by init family. Tables
 * over ServerName and InitFamily rather than name comparisons: a new server or init does not
 * compile until it has its row (the driver seams, test/unit/drivers-seam.test.ts).
 */
const TIMEOUT_BOOT: Record<ServerName, Record<InitFamily, (timeoutS: number, label: string) => BootSpec>> = {
  phoenix: {
    upstart: (s, label) =>
      upstartBoot(upstart.timeout(upstart.strategy('bridge-inplace'), s), `bridge-inplace.conf, ${label}`),
    systemd: (s, label) => systemdBoot(systemd.timeout(systemd.service(), s), `phoenix.service, ${label}`),
  },
  // unicorn.rb reads UNICORN_TIMEOUT; the server's own activation puts the job/unit in place first.
  unicorn: {
    upstart: (s, label) => ({
      label,
      shell: [`sed -i '/^env UNICORN_PID=/i env UNICORN_TIMEOUT=${s}' /etc/init/unicorn.conf`],
    }),
    systemd: (s, label) => ({
      label,
      files: { '/etc/systemd/system/unicorn.service.d/chaos.conf': `[Service]\nEnvironment=UNICORN_TIMEOUT=${s}\n` },
    }),
  },
};

/** The shipped config with one visible change: the worker timeout. */
export function chaosBoot(init: InitDriver, server: ServerDriver, timeoutS = CHAOS_WORKER_TIMEOUT_S): BootSpec {
  return TIMEOUT_BOOT[server.name][init.family](timeoutS, `worker timeout ${timeoutS} s (lab chaos)`);
}

/** Where a running master shows its worker timeout: phoenix's --timeout, unicorn's UNICORN_TIMEOUT. */
const TIMEOUT_SHOWN: Record<ServerName, (pid: string) => string> = {
  phoenix: (pid) => `tr '\\000' ' ' < /proc/${pid}/cmdline 2>/dev/null`,
  unicorn: (pid) => `tr '\\000' '\\n' < /proc/${pid}/environ 2>/dev/null | grep '^UNICORN_TIMEOUT='`,
};

/** The worker timeout of a running lab, or 30 (as shipped) when the master does not show one. */
export async function workerTimeoutOf(exec: Exec, server: ServerDriver): Promise<number> {
  const out = (await exec(['/bin/sh', '-c', TIMEOUT_SHOWN[server.name](`$(cat ${server.pidFile} 2>/dev/null)`)]))
    .stdout;
  const m = /--timeout[ =](\d+)/.exec(out) ?? /UNICORN_TIMEOUT=(\d+)/.exec(out);
  return m ? Number(m[1]) : 30;
}
