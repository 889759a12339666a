import type Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import { INSTANCE_LABEL, LAB_LABEL, LAB_LABEL_VALUE, labFilter } from './labels';
import { SERVER_BEFORE_CHOICE } from '../servers';

/**
 * The lab's containers, created and removed in one place. Each carries the lab label and its
 * instance label; the flavour and published port ride along as labels too, so `lab status`
 * and `lab down` need no state file that could go stale.
 */
export const FLAVOUR_ON_CONTAINER = 'upstart-unicorn-lab.container-flavour';
export const PORT_ON_CONTAINER = 'upstart-unicorn-lab.port';
export const SERVER_ON_CONTAINER = 'upstart-unicorn-lab.container-server';

export interface LabContainerInfo {
  id: string;
  name: string;
  instance: string;
  flavour: string;
  server: string;
  port: number;
  state: string;
}

export const containerName = (instance: string) => `upstart-unicorn-lab-${instance}`;

export async function listLabContainers(docker: Docker, instance?: string): Promise<LabContainerInfo[]> {
  const list = await docker.listContainers({ all: true, filters: labFilter(instance) });
  return list
    .filter((c) => c.Labels[LAB_LABEL] === LAB_LABEL_VALUE && c.Labels[INSTANCE_LABEL] !== undefined)
    .map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      instance: c.Labels[INSTANCE_LABEL],
      flavour: c.Labels[FLAVOUR_ON_CONTAINER] ?? 'unknown',
      // Labs started before servers were a choice ran phoenix.
      server: c.Labels[SERVER_ON_CONTAINER] ?? SERVER_BEFORE_CHOICE,
      port: c.Ports.find((p) => p.PrivatePort === 80)?.PublicPort ?? Number(c.Labels[PORT_ON_CONTAINER] ?? 0),
      state: c.State,
    }));
}

/** Every container carrying the lab label, including ones made by tests (for `lab down --all`). */
export async function listAllLabeled(docker: Docker): Promise<{ id: string; name: string }[]> {
  const list = await docker.listContainers({ all: true, filters: labFilter() });
  return list.map((c) => ({ id: c.Id, name: (c.Names[0] ?? '').replace(/^\//, '') }));
}

export async function removeContainer(docker: Docker, id: string): Promise<void> {
  await docker
    .getContainer(id)
    .remove({ force: true })
    .catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 404) throw err;
    });
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command in the container and collects its output; never goes through a shell on the host. */
export async function execIn(
  container: Docker.Container,
  cmd: string[],
  opts: { user?: string; env?: string[] } = {},
): Promise<ExecResult> {
  const exec = await container.exec({
    Cmd: cmd,
    AttachStdout: true,
    AttachStderr: true,
    User: opts.user,
    Env: opts.env,
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  container.modem.demuxStream(stream, out, err);
  await new Promise<void>((resolve, reject) => {
    stream.once('end', () => resolve());
    stream.once('close', () => resolve());
    stream.once('error', reject);
  });
  const info = await exec.inspect();
  return { code: info.ExitCode ?? -1, stdout, stderr };
}

/** Writes a file in the container: small configs, through base64 so any content survives. */
export async function writeFileIn(
  container: Docker.Container,
  file: string,
  content: string,
  mode = '0644',
): Promise<void> {
  const b64 = Buffer.from(content).toString('base64');
  const tmp = `${file}.lab-tmp`;
  // Written beside the target and renamed, so init's inotify never sees half a job file.
  const r = await execIn(container, [
    '/bin/sh',
    '-c',
    `printf %s "$1" | base64 -d > "$2" && chmod ${mode} "$2" && mv -f "$2" "$3"`,
    'sh',
    b64,
    tmp,
    file,
  ]);
  if (r.code !== 0) throw new Error(`could not write ${file} in the container: ${r.stderr.trim()}`);
}
