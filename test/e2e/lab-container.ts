/**
 * What the e2e suite needs to boot a flavour image with testcontainers and ask
 * its init about phoenix: which flavours and images to test (LAB_FLAVOUR,
 * LAB_IMAGE), getting the image (or the reason it cannot be had), starting the
 * container the way that init needs (nginx published on 127.0.0.1 only), and
 * init's view of the phoenix job.
 */
import type Docker from 'dockerode';
import { GenericContainer, Wait } from 'testcontainers';
import { type BootedLab, bootLab, type ContainerSpec, type ContainerStarter } from '../../lab/engine/boot';
import { execIn } from '../../lab/engine/containers';
import { DRIVERS } from '../../lab/flavours';
import { SERVER_DRIVERS, serverFor } from '../../lab/servers';
import type { ServerDriver } from '../../lab/servers/types';
import { imageExists } from '../../lab/engine/build';
import { assertDockerReachable, DockerUnavailableError } from '../../lab/engine/docker';
import { buildFlavourImage, FLAVOUR_LABEL, FLAVOURS, isFlavour, type Flavour } from '../../lab/engine/flavour-images';
import { PreciseBaseUnavailableError } from '../../lab/engine/images';
import { INSTANCE_LABEL } from '../../lab/engine/labels';

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

/**
 * A GenericContainer made from the lab's own ContainerSpec: the very settings the init driver
 * gives (tmpfs, cgroup mounts and namespace), published on 127.0.0.1 only. The suite boots
 * through the lab's one boot path (bootLab); only the creating is testcontainers'.
 */
class SpecContainer extends GenericContainer {
  constructor(private readonly spec: ContainerSpec) {
    super(spec.image);
    this.withName(spec.name)
      .withCommand(spec.cmd)
      .withLabels(spec.labels)
      .withExposedPorts(80)
      // bootLab waits for init and for nginx with the drivers' own checks.
      .withWaitStrategy(Wait.forSuccessfulCommand('true'));
  }

  protected override async beforeContainerCreated(): Promise<void> {
    Object.assign(this.hostConfig, this.spec.hostConfig);
    for (const bindings of Object.values(this.hostConfig.PortBindings ?? {}) as Array<Array<{ HostIp?: string }>>) {
      for (const binding of bindings) binding.HostIp = '127.0.0.1';
    }
  }
}

export const testcontainersStarter: ContainerStarter = async (docker, spec) => {
  const started = await new SpecContainer(spec).start();
  return { container: docker.getContainer(started.getId()), port: started.getMappedPort(80) };
};

export interface Lab {
  flavour: Flavour;
  server: ServerDriver;
  booted: BootedLab;
  id: string;
  /** nginx on 127.0.0.1:port */
  port: number;
  /** ms from asking for the container to init being ready */
  startMs: number;
  /** ms from asking for the container to the first 200 through nginx */
  firstOkMs: number;
}

/** LAB_SERVER: phoenix (default), unicorn, or all. */
export function servers(env: NodeJS.ProcessEnv = process.env): ServerDriver[] {
  const raw = (env.LAB_SERVER ?? '').trim() || 'phoenix';
  return raw === 'all' ? Object.values(SERVER_DRIVERS) : raw.split(',').map((n) => serverFor(n.trim()));
}

/** Boots the image through the lab's one boot path (testcontainers creating it) and waits for the first 200. */
export async function startLab(
  flavour: Flavour,
  image: string,
  instance: string,
  server: ServerDriver = SERVER_DRIVERS.phoenix,
  timeoutMs = 90_000,
): Promise<Lab> {
  const booted = await bootLab({
    image,
    init: DRIVERS[flavour],
    server,
    instance,
    purpose: 'test',
    waitForApp: true,
    timeoutMs,
    start: testcontainersStarter,
  });
  return {
    flavour,
    server,
    booted,
    id: booted.container.id,
    port: booted.port,
    startMs: booted.readyMs,
    firstOkMs: booted.firstOkMs ?? 0,
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Run a shell command in the container; throws with its output when it fails. */
export async function sh(lab: Lab, command: string): Promise<string> {
  const result = await execIn(lab.booted.container, ['/bin/sh', '-c', command]);
  if (result.code !== 0) {
    throw new Error(
      `in the ${lab.flavour} container, \`${command}\` exited ${result.code}: ${(result.stdout + result.stderr).trim()}`,
    );
  }
  return result.stdout;
}

export interface InitView {
  /** the main PID init follows for the app; undefined when it has none */
  mainPid: number | undefined;
  /** init's own words */
  text: string;
}

/** What init says of the app, read by the init driver (the same reading `lab status` does). */
export async function initView(lab: Lab): Promise<InitView> {
  const init = DRIVERS[lab.flavour];
  const r = await execIn(lab.booted.container, init.statusCmd(lab.server));
  return { mainPid: init.trackedPid(r.stdout), text: r.stdout.trim().replace(/\n/g, ' ') };
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
