import type Docker from 'dockerode';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { LAB_LABEL, LAB_LABEL_VALUE } from './labels';

/**
 * Who owns a container, so that nothing leaks even when the lab is killed with SIGKILL:
 * every container a scenario or a test starts records its owner (host, pid, and the pid's
 * start time, which tells a recycled pid apart). The reaper removes such containers whose
 * owner is gone. Containers `lab up` starts belong to a person and are never reaped.
 */
export const PURPOSE_LABEL = 'upstart-unicorn-lab.purpose';
export const OWNER_HOST_LABEL = 'upstart-unicorn-lab.owner-host';
export const OWNER_PID_LABEL = 'upstart-unicorn-lab.owner-pid';
export const OWNER_START_LABEL = 'upstart-unicorn-lab.owner-start';

export type Purpose = 'up' | 'scenario' | 'test';

/** Field 22 of /proc/PID/stat: the process's start time in clock ticks since boot. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function ownerLabels(purpose: Purpose): Record<string, string> {
  return {
    [PURPOSE_LABEL]: purpose,
    [OWNER_HOST_LABEL]: os.hostname(),
    [OWNER_PID_LABEL]: String(process.pid),
    [OWNER_START_LABEL]: processStartTime(process.pid) ?? '',
  };
}

/** A container's owner is gone when it ran here and that pid no longer runs with that start time. */
export function ownerGone(labels: Record<string, string>, host = os.hostname()): boolean {
  const purpose = labels[PURPOSE_LABEL];
  if (purpose !== 'scenario' && purpose !== 'test') return false;
  if (labels[OWNER_HOST_LABEL] !== host) return false;
  const pid = Number(labels[OWNER_PID_LABEL]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  return processStartTime(pid) !== labels[OWNER_START_LABEL];
}

/** Removes scenario and test containers whose owner is gone; returns their names. */
export async function reapOrphans(docker: Docker): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${LAB_LABEL}=${LAB_LABEL_VALUE}`] } });
  const gone = list.filter((c) => c.Labels[LAB_LABEL] === LAB_LABEL_VALUE && ownerGone(c.Labels));
  for (const c of gone) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
  }
  return gone.map((c) => (c.Names[0] ?? c.Id).replace(/^\//, ''));
}

/** Containers this process started and must remove, on a normal end and on Ctrl-C alike. */
const live = new Map<string, Docker>();
let interruptInstalled = false;

/**
 * Ctrl-C (or a TERM/HUP from a CI runner or a closed terminal) removes every container this
 * process owns, then exits 128 + the signal's number. SIGKILL cannot be caught: the reaper
 * of the next lab command or test run removes those.
 */
export function own(docker: Docker, id: string): void {
  live.set(id, docker);
  if (interruptInstalled) return;
  interruptInstalled = true;
  const codes: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
  for (const [sig, code] of Object.entries(codes)) {
    process.once(sig, () => {
      process.stderr.write(`\nlab: ${sig}; removing ${live.size} container(s) this run started\n`);
      void Promise.all(
        [...live].map(([cid, d]) =>
          d
            .getContainer(cid)
            .remove({ force: true })
            .catch(() => undefined),
        ),
      ).finally(() => process.exit(code));
    });
  }
}

/** The container is removed (or handed to a person, as `lab up` does): no longer this process's to clean. */
export function disown(id: string): void {
  live.delete(id);
}
