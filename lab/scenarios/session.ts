import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { execIn, removeContainer, startContainer } from '../engine/containers';
import { assertDockerReachable } from '../engine/docker';
import type { Flavour } from '../engine/flavour-images';
import { driverFor } from '../flavours';
import { ScenarioContext, sleep } from './context';
import type { BootSpec } from './types';

/**
 * One fresh lab container per scenario run: a unique instance name, a free port on
 * 127.0.0.1, the scenario's files put in place BEFORE init starts (so init and the socket
 * bridge see them as they would at boot), and removal at the end, on Ctrl-C too.
 */
export interface Session {
  ctx: ScenarioContext;
  instance: string;
  port: number;
  image: string;
  close(): Promise<void>;
}

const live = new Map<string, Docker>();
let interruptInstalled = false;

/**
 * Ctrl-C (or a TERM/HUP from a CI runner or a closed terminal) during a run removes every
 * container this process started, then exits 128 + the signal's number.
 */
function installInterrupt(): void {
  if (interruptInstalled) return;
  interruptInstalled = true;
  const codes: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
  for (const [sig, code] of Object.entries(codes)) {
    process.once(sig, () => {
      process.stderr.write(`\nlab: ${sig}; removing ${live.size} scenario container(s)\n`);
      void Promise.all([...live].map(([id, d]) => removeContainer(d, id).catch(() => undefined))).finally(() =>
        process.exit(code),
      );
    });
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export function instanceName(label: string): string {
  return `scn-${label.replace(/[^A-Za-z0-9_.-]/g, '-')}-${process.pid.toString(36)}${randomBytes(3).toString('hex')}`;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The container's command: put the scenario's files in place, then become init (PID 1 stays). */
export function bootCommand(boot: BootSpec): string[] {
  const lines = ['set -e'];
  for (const p of boot.remove ?? []) lines.push(`rm -f ${quote(p)}`);
  for (const [p, text] of Object.entries(boot.files ?? {})) {
    const dir = p.slice(0, p.lastIndexOf('/')) || '/';
    lines.push(
      `mkdir -p ${quote(dir)}`,
      `printf %s ${quote(Buffer.from(text).toString('base64'))} | base64 -d > ${quote(p)}`,
      `chmod 0644 ${quote(p)}`,
    );
  }
  lines.push(...(boot.shell ?? []), 'exec /sbin/init');
  return ['/bin/sh', '-c', lines.join('\n')];
}

/** Init is up when the pieces the lab relies on run: the bridge and nginx, or systemd's boot. */
async function initReady(container: Docker.Container, flavour: Flavour): Promise<boolean> {
  if (flavour === 'precise') {
    const r = await execIn(container, ['/sbin/initctl', 'list']);
    const has = (job: string, state: string) => new RegExp(`^${job} ${state}`, 'm').test(r.stdout);
    return (
      has('upstart-socket-bridge', 'start/running') &&
      has('nginx', 'start/running') &&
      !has('socket-permissions', 'start/') &&
      !has('container-boot', 'start/')
    );
  }
  const r = await execIn(container, ['systemctl', 'is-system-running']);
  return /^(running|degraded)/.test(r.stdout.trim());
}

export async function openSession(o: {
  flavour: Flavour;
  image: string;
  boot: BootSpec;
  label: string;
  say: (line: string) => void;
  bootTimeoutMs?: number;
}): Promise<Session> {
  const docker = await assertDockerReachable();
  const driver = driverFor(o.flavour);
  const instance = instanceName(o.label);
  installInterrupt();
  let container: Docker.Container | undefined;
  let port = 0;
  // A port found free can be taken before Docker binds it: try a few.
  for (let attempt = 0; attempt < 5 && !container; attempt++) {
    port = await freePort();
    try {
      container = await startContainer(docker, {
        image: o.image,
        instance,
        flavour: o.flavour,
        port,
        hostConfig: driver.hostConfig,
        cmd: bootCommand(o.boot),
      });
    } catch (err) {
      if (!/port is already allocated|address already in use/i.test((err as Error).message) || attempt === 4) throw err;
    }
  }
  if (!container) throw new Error('could not start the lab container');
  const c = container;
  live.set(c.id, docker);
  const close = async () => {
    live.delete(c.id);
    await removeContainer(docker, c.id);
  };
  try {
    const until = Date.now() + (o.bootTimeoutMs ?? 60_000);
    while (!(await initReady(c, o.flavour).catch(() => false))) {
      if (!(await c.inspect()).State.Running) throw new Error('the container stopped while booting');
      if (Date.now() > until)
        throw new Error(`${driver.init} did not finish booting within ${(o.bootTimeoutMs ?? 60_000) / 1000} s`);
      await sleep(100);
    }
  } catch (err) {
    const out = await c.logs({ stdout: true, stderr: true, tail: 20 }).catch(() => Buffer.from(''));
    await close();
    throw new Error(
      `${(err as Error).message}\nlast container output:\n${out.toString('utf8').replace(/[^\x09\x0a\x20-\x7e]/g, '')}`,
    );
  }
  const ctx = new ScenarioContext(o.flavour, driver, docker, c, `http://127.0.0.1:${port}`, o.say);
  ctx.mark('apply', `boot: ${o.boot.label}`);
  return { ctx, instance, port, image: o.image, close };
}
