/**
 * Ctrl-C (or TERM/HUP) during a matrix run: no further cell starts, and every container this
 * process owns is removed, including one a job was creating at that moment. engine/owner.ts
 * removes the containers it has been told about; with N jobs a cell may be between "create"
 * and "own" when the signal comes, or a job whose container was just removed may start the
 * next cell. So this also sweeps by the owner labels every container carries, twice, then exits
 * with 128 + the signal's number (whichever of the two handlers finishes first exits).
 */
import type Docker from 'dockerode';
import * as os from 'node:os';
import { OWNER_HOST_LABEL, OWNER_PID_LABEL } from '../engine/owner';

const CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/** Every container on `docker` that this process started; removed. Never throws. */
export async function sweepOwned(docker: Docker): Promise<number> {
  try {
    const mine = await docker.listContainers({
      all: true,
      filters: { label: [`${OWNER_PID_LABEL}=${process.pid}`, `${OWNER_HOST_LABEL}=${os.hostname()}`] },
    });
    await Promise.all(
      mine.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true, v: true })
          .catch(() => undefined),
      ),
    );
    return mine.length;
  } catch {
    return 0;
  }
}

/** Installs the handlers; `stopped()` says whether a signal came; `dispose()` removes them. */
export function onInterrupt(docker: Docker): { stopped: () => boolean; dispose: () => void } {
  let stopped = false;
  const handlers = Object.entries(CODES).map(([sig, code]) => {
    const h = () => {
      stopped = true;
      void (async () => {
        await sweepOwned(docker);
        // a create that was in flight lands a moment later
        await new Promise((r) => setTimeout(r, 700));
        await sweepOwned(docker);
      })().finally(() => process.exit(code));
    };
    process.once(sig, h);
    return [sig, h] as const;
  });
  return {
    stopped: () => stopped,
    dispose: () => {
      for (const [sig, h] of handlers) process.removeListener(sig, h);
    },
  };
}
