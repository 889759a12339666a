import type Docker from 'dockerode';
import { assertDockerReachable, remoteEngineProblem } from '../engine/docker';
import { type LabContainerInfo, listLabContainers } from '../engine/containers';
import { LabError, LabExit } from '../errors';
import { reapOrphans } from '../engine/owner';
import { driverFor } from '../flavours';
import type { InitDriver } from '../flavours/types';
import { serverFor } from '../servers';
import type { ServerDriver } from '../servers/types';

export interface RunningLab {
  docker: Docker;
  info: LabContainerInfo;
  container: Docker.Container;
  driver: InitDriver;
  server: ServerDriver;
  origin: string;
}

/**
 * The engine, for every lab command that needs one. It first removes scenario and test
 * containers whose owner was killed (never a `lab up` lab, never anything unlabelled).
 */
export async function docker(): Promise<Docker> {
  let d: Docker;
  try {
    d = await assertDockerReachable();
  } catch (err) {
    throw new LabError((err as Error).message, LabExit.ENVIRONMENT);
  }
  const reaped = await reapOrphans(d);
  if (reaped.length)
    process.stderr.write(`lab: removed ${reaped.length} container(s) left by a killed run: ${reaped.join(', ')}\n`);
  return d;
}

/**
 * Containers of killed runs removed, if an engine on this machine answers; nothing said or thrown
 * when none does. A remote engine is left to the commands that use it (they reap through docker()):
 * a command that needs no engine must not reach out to another machine.
 */
export async function reapLeftovers(): Promise<void> {
  if (remoteEngineProblem() !== undefined) return;
  await docker().catch(() => undefined);
}

/** The running lab named `instance`, or an error that says how to start one. */
export async function runningLab(instance: string): Promise<RunningLab> {
  const d = await docker();
  const [info] = await listLabContainers(d, instance);
  if (!info)
    throw new LabError(
      `no lab named '${instance}' is up: start it with 'lab up'${instance === 'default' ? '' : ` --name ${instance}`}`,
      LabExit.USAGE,
    );
  if (info.state !== 'running') {
    throw new LabError(
      `the lab '${instance}' container (${info.name}) is ${info.state}: 'lab logs' may say why; 'lab down' then 'lab up' starts it again`,
      LabExit.FAILED,
    );
  }
  return {
    docker: d,
    info,
    container: d.getContainer(info.id),
    driver: driverFor(info.flavour),
    server: serverFor(info.server),
    origin: `http://127.0.0.1:${info.port}`,
  };
}

/** Where load goes: an explicit 127.0.0.1 port, or the running lab's published nginx. */
export async function resolveOrigin(
  instance: string,
  port: number | undefined,
): Promise<{ origin: string; instance?: string; flavour?: string }> {
  if (port !== undefined) return { origin: `http://127.0.0.1:${port}` };
  const lab = await runningLab(instance);
  return { origin: lab.origin, instance, flavour: lab.info.flavour };
}
