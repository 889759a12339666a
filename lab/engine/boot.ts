import type Docker from 'dockerode';
import type { EngineFacts, InitDriver } from '../flavours/types';
import type { ServerDriver } from '../servers/types';
import { type BootSpec, bootCommand, mergeBoot } from './boot-spec';
import { containerName, execIn, FLAVOUR_ON_CONTAINER, PORT_ON_CONTAINER, SERVER_ON_CONTAINER } from './containers';
import { assertDockerReachable } from './docker';
import { instanceLabels } from './labels';
import { disown, own, ownerLabels, type Purpose, reapOrphans } from './owner';
import { freePort } from '../host/nginx';
import { appAnswer, waitUntil } from './wait';

/**
 * The one way a lab container is booted, for `lab up`, scenario sessions and the e2e suite
 * alike: the init driver says what the container needs, the server driver which files make
 * init run that server, the scenario may add its own files; all are put in place before
 * init starts. It waits with a reason and a deadline (init booted; then, when asked, the
 * first 200 through nginx), and removes the container on any failure and on Ctrl-C.
 */
export interface BootRequest {
  image: string;
  init: InitDriver;
  server: ServerDriver;
  /** a scenario's own files, put in place after the server's */
  boot?: BootSpec;
  instance: string;
  /** a fixed port on 127.0.0.1 (`lab up --port`); default: a free one */
  port?: number;
  purpose: Purpose;
  /** also wait for the first 200 through nginx (a bridge-started app starts on it) */
  waitForApp?: boolean;
  timeoutMs?: number;
  say?: (line: string) => void;
  /** how the container is created and started: dockerode by default; the e2e suite passes testcontainers */
  start?: ContainerStarter;
}

/** Everything a container needs, as Docker's create options; a starter turns it into a running container. */
export interface ContainerSpec {
  name: string;
  image: string;
  cmd: string[];
  labels: Record<string, string>;
  hostConfig: Docker.HostConfig;
  /** 0: any free port */
  port: number;
}

export type ContainerStarter = (
  docker: Docker,
  spec: ContainerSpec,
) => Promise<{ container: Docker.Container; port: number }>;

export interface BootedLab {
  docker: Docker;
  container: Docker.Container;
  instance: string;
  port: number;
  origin: string;
  init: InitDriver;
  server: ServerDriver;
  label: string;
  /** ms until init was ready; until the first 200 when waited for */
  readyMs: number;
  firstOkMs?: number;
  firstPid?: number;
  /** what the init driver said about the privileges it needed */
  note?: string;
  close(): Promise<void>;
  /** the container now belongs to a person (lab up): not removed when this process ends */
  keep(): void;
}

export async function engineFacts(docker: Docker): Promise<EngineFacts> {
  const info = (await docker.info()) as { CgroupVersion?: string };
  return { cgroupVersion: info.CgroupVersion ?? '1' };
}

/** dockerode: create, publish nginx on 127.0.0.1 only, start; a failed start leaves nothing. */
export const dockerodeStarter: ContainerStarter = async (docker, spec) => {
  // A port found free can be taken before Docker binds it: try a few when none was asked for.
  for (let attempt = 0; ; attempt++) {
    const port = spec.port || (await freePort());
    const container = await docker.createContainer({
      name: spec.name,
      Image: spec.image,
      Cmd: spec.cmd,
      Labels: spec.labels,
      ExposedPorts: { '80/tcp': {} },
      HostConfig: {
        ...spec.hostConfig,
        // Published on loopback only: the lab is for this machine, never for the network.
        PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] },
      },
    });
    try {
      await container.start();
      return { container, port };
    } catch (err) {
      await container.remove({ force: true }).catch(() => undefined);
      const taken = /port is already allocated|address already in use/i.test((err as Error).message);
      if (!taken || spec.port || attempt >= 4) throw err;
    }
  }
};

function printable(b: Buffer): string {
  return b.toString('utf8').replace(/[^\x09\x0a\x20-\x7e]/g, '');
}

export async function bootLab(req: BootRequest): Promise<BootedLab> {
  const docker = await assertDockerReachable();
  await reapOrphans(docker);
  const say = req.say ?? (() => undefined);
  const settings = req.init.containerSettings(await engineFacts(docker));
  const activation = req.server.activate(req.init);
  const boot = !req.boot ? activation : req.boot.activatesServer ? req.boot : mergeBoot(activation, req.boot);
  const spec: ContainerSpec = {
    name: containerName(req.instance),
    image: req.image,
    cmd: bootCommand(boot),
    labels: {
      ...instanceLabels(req.instance),
      ...ownerLabels(req.purpose),
      [FLAVOUR_ON_CONTAINER]: req.init.name,
      [SERVER_ON_CONTAINER]: req.server.name,
      [PORT_ON_CONTAINER]: String(req.port ?? 0),
    },
    hostConfig: settings.hostConfig,
    port: req.port ?? 0,
  };
  const t0 = Date.now();
  const { container, port } = await (req.start ?? dockerodeStarter)(docker, spec);
  own(docker, container.id);
  const close = async () => {
    disown(container.id);
    await container.remove({ force: true, v: true }).catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 404) throw err;
    });
  };
  const origin = `http://127.0.0.1:${port}`;
  const stopped = async () => ((await container.inspect()).State.Running ? undefined : 'the container stopped');
  const exec = (cmd: string[]) => execIn(container, cmd);
  try {
    const timeoutMs = req.timeoutMs ?? 90_000;
    await waitUntil(async () => ((await req.init.ready(exec, req.server)) ? { ok: true } : 'booting'), {
      what: `${req.init.init} to boot`,
      timeoutMs,
      abort: stopped,
    });
    const readyMs = Date.now() - t0;
    say(`${req.init.init} booted in ${(readyMs / 1000).toFixed(1)} s`);
    let first: { pid: number } | undefined;
    if (req.waitForApp) {
      first = await waitUntil(() => appAnswer(origin), {
        what: 'the first 200 through nginx',
        timeoutMs: Math.max(1000, timeoutMs - readyMs),
        intervalMs: 250,
        abort: stopped,
      });
    }
    return {
      docker,
      container,
      instance: req.instance,
      port,
      origin,
      init: req.init,
      server: req.server,
      label: boot.label,
      readyMs,
      firstOkMs: first ? Date.now() - t0 : undefined,
      firstPid: first?.pid,
      note: settings.note,
      close,
      keep: () => disown(container.id),
    };
  } catch (err) {
    const out = await container.logs({ stdout: true, stderr: true, tail: 30 }).catch(() => Buffer.from(''));
    await close();
    throw new Error(`${(err as Error).message}\nlast container output:\n${printable(out)}\nthe container was removed.`);
  }
}
