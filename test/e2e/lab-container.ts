/**
 * What the e2e suite needs to boot a flavour image with testcontainers and ask
 * its init about phoenix: which flavours and images to test (LAB_FLAVOUR,
 * LAB_IMAGE), getting the image (or the reason it cannot be had), starting the
 * container the way that init needs (nginx published on 127.0.0.1 only), and
 * init's view of the phoenix job.
 */
import type Docker from 'dockerode';
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import { imageExists } from '../../lab/engine/build';
import { assertDockerReachable, DockerUnavailableError } from '../../lab/engine/docker';
import { buildFlavourImage, FLAVOUR_LABEL, FLAVOURS, isFlavour, type Flavour } from '../../lab/engine/flavour-images';
import { PreciseBaseUnavailableError } from '../../lab/engine/images';
import { instanceLabels, INSTANCE_LABEL } from '../../lab/engine/labels';
import { get } from '../support/http';

export interface Selection {
  flavours: Flavour[];
  /** LAB_IMAGE: the image to test instead of building one (one flavour only). */
  image?: string;
}

/**
 * LAB_FLAVOUR: `bookworm` (default), `precise`, a comma-separated list, or `all`.
 * LAB_IMAGE: an image tag to test as it is; it needs exactly one flavour.
 */
export function selection(env: NodeJS.ProcessEnv = process.env): Selection {
  const raw = (env.LAB_FLAVOUR ?? '').trim() || 'bookworm';
  const names =
    raw === 'all'
      ? [...FLAVOURS]
      : raw
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
  const flavours: Flavour[] = [];
  for (const name of names) {
    if (!isFlavour(name))
      throw new Error(
        `LAB_FLAVOUR=${raw}: "${name}" is not a flavour (use ${FLAVOURS.join(', ')}, a comma-separated list, or all)`,
      );
    if (!flavours.includes(name)) flavours.push(name);
  }
  const image = (env.LAB_IMAGE ?? '').trim() || undefined;
  if (image !== undefined && flavours.length !== 1) {
    throw new Error(
      `LAB_IMAGE=${image} names one image: give exactly one flavour with it (LAB_FLAVOUR=precise or bookworm)`,
    );
  }
  return { flavours, image };
}

export type ImageOutcome =
  | { kind: 'ready'; docker: Docker; image: string; built: boolean; buildSeconds: number }
  | { kind: 'unavailable'; reason: string };

/**
 * The image to test. Missing prerequisites (no Docker, no precise base, a
 * LAB_IMAGE that is not here) give `unavailable` with the reason, which the
 * suite reports as skipped; a build that fails or a wrapper that was never
 * compiled throws, which fails the suite.
 */
export async function flavourImage(
  flavour: Flavour,
  explicit: string | undefined,
  log: (line: string) => void,
): Promise<ImageOutcome> {
  let docker: Docker;
  try {
    docker = await assertDockerReachable();
  } catch (err) {
    if (err instanceof DockerUnavailableError) return { kind: 'unavailable', reason: err.message };
    throw err;
  }
  if (explicit !== undefined) {
    if (!(await imageExists(docker, explicit))) {
      return { kind: 'unavailable', reason: `LAB_IMAGE=${explicit} is not an image on this machine` };
    }
    const labelled = (await docker.getImage(explicit).inspect()).Config.Labels?.[FLAVOUR_LABEL];
    if (labelled !== undefined && labelled !== flavour) {
      throw new Error(
        `LAB_IMAGE=${explicit} is a ${labelled} image (label ${FLAVOUR_LABEL}), not ${flavour}: set LAB_FLAVOUR=${labelled}`,
      );
    }
    return { kind: 'ready', docker, image: explicit, built: false, buildSeconds: 0 };
  }
  try {
    const built = await buildFlavourImage(flavour, { docker, log });
    return { kind: 'ready', docker, image: built.ref, built: built.built, buildSeconds: built.seconds };
  } catch (err) {
    // WrapperNotBuiltError ("run npm run build") and ImageBuildError fail the suite.
    if (err instanceof PreciseBaseUnavailableError) return { kind: 'unavailable', reason: err.message };
    throw err;
  }
}

/** A GenericContainer that publishes its ports on 127.0.0.1 only and can share the host's cgroup namespace. */
class LabContainer extends GenericContainer {
  constructor(
    image: string,
    private readonly hostCgroupns: boolean,
  ) {
    super(image);
  }

  protected override async beforeContainerCreated(): Promise<void> {
    for (const bindings of Object.values(this.hostConfig.PortBindings ?? {}) as Array<Array<{ HostIp?: string }>>) {
      for (const binding of bindings) binding.HostIp = '127.0.0.1';
    }
    // systemd as PID 1 needs the cgroup tree it sees to be the host's (cgroup v1 here).
    if (this.hostCgroupns) (this.hostConfig as { CgroupnsMode?: string }).CgroupnsMode = 'host';
  }
}

export interface Lab {
  flavour: Flavour;
  container: StartedTestContainer;
  id: string;
  /** nginx on 127.0.0.1:port */
  port: number;
  /** ms from asking for the container to its start returning */
  startMs: number;
  /** ms from asking for the container to the first 200 through nginx */
  firstOkMs: number;
}

/** The socket nginx proxies to, as each init creates it. */
export const SOCKET = '/var/run/phoenix/phoenix.sock';

/** Start the image, publish nginx on a random 127.0.0.1 port and wait for the first 200 through it. */
export async function startLab(flavour: Flavour, image: string, instance: string, timeoutMs = 60_000): Promise<Lab> {
  const t0 = Date.now();
  let container = new LabContainer(image, flavour === 'bookworm')
    .withLabels(instanceLabels(instance))
    .withExposedPorts(80)
    // The socket is there once init (systemd, or upstart's bridge) has bound it.
    .withWaitStrategy(Wait.forSuccessfulCommand(`test -S ${SOCKET}`))
    .withStartupTimeout(timeoutMs);
  if (flavour === 'bookworm') {
    container = container
      .withTmpFs({ '/run': 'rw', '/run/lock': 'rw' })
      .withBindMounts([{ source: '/sys/fs/cgroup', target: '/sys/fs/cgroup', mode: 'rw' }]);
  }
  const started = await container.start();
  const startMs = Date.now() - t0;
  const port = started.getMappedPort(80);
  const deadline = t0 + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    try {
      const reply = await get(port, '/', 2000);
      if (reply.status === 200) break;
      last = `HTTP ${reply.status}: ${reply.body.slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(`no 200 through nginx on 127.0.0.1:${port} within ${timeoutMs} ms (last: ${last})`);
    await sleep(50);
  }
  return { flavour, container: started, id: started.getId(), port, startMs, firstOkMs: Date.now() - t0 };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Run a shell command in the container; throws with its output when it fails. */
export async function sh(lab: Lab, command: string): Promise<string> {
  const result = await lab.container.exec(['/bin/sh', '-c', command]);
  if (result.exitCode !== 0) {
    throw new Error(
      `in the ${lab.flavour} container, \`${command}\` exited ${result.exitCode}: ${result.output.trim()}`,
    );
  }
  return result.stdout;
}

export interface InitView {
  /** the main PID init follows for phoenix; undefined when it has none */
  mainPid: number | undefined;
  /** init's own words */
  text: string;
}

/** systemd: `systemctl show -p MainPID`; upstart: `initctl status phoenix`. */
export async function initView(lab: Lab): Promise<InitView> {
  if (lab.flavour === 'bookworm') {
    const text = (await sh(lab, 'systemctl show -p MainPID -p ActiveState -p SubState phoenix.service')).trim();
    const pid = Number(/^MainPID=(\d+)$/m.exec(text)?.[1] ?? 0);
    return { mainPid: pid > 0 ? pid : undefined, text: text.replace(/\n/g, ' ') };
  }
  const text = (await sh(lab, 'initctl status phoenix')).trim();
  const m = /start\/running, process (\d+)/.exec(text);
  return { mainPid: m === null ? undefined : Number(m[1]), text };
}

/** Remove every container of this run, found by its instance label (also those a failed start left behind). */
export async function removeRun(docker: Docker | undefined, instance: string): Promise<string[]> {
  if (docker === undefined) return [];
  const found = await docker.listContainers({ all: true, filters: { label: [`${INSTANCE_LABEL}=${instance}`] } });
  for (const c of found)
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
  return found.map((c) => c.Id.slice(0, 12));
}
