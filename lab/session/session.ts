import { randomBytes } from 'node:crypto';
import { bootLab } from '../engine/boot';
import type { BootSpec } from '../engine/boot-spec';
import type { Flavour } from '../engine/flavour-images';
import { driverFor } from '../flavours';
import type { ServerDriver } from '../servers/types';
import { ScenarioContext } from './context';

/**
 * One fresh lab container per scenario run, booted by the lab's one boot path (engine/boot):
 * a unique instance name, a free port on 127.0.0.1, the scenario's files in place before init
 * starts, and removal at the end, on Ctrl-C too, or by the reaper if this process is killed.
 */
export interface Session {
  ctx: ScenarioContext;
  instance: string;
  port: number;
  image: string;
  close(): Promise<void>;
}

export function instanceName(label: string): string {
  return `scn-${label.replace(/[^A-Za-z0-9_.-]/g, '-')}-${process.pid.toString(36)}${randomBytes(3).toString('hex')}`;
}

export async function openSession(o: {
  flavour: Flavour;
  server: ServerDriver;
  image: string;
  boot: BootSpec;
  label: string;
  say: (line: string) => void;
  bootTimeoutMs?: number;
}): Promise<Session> {
  const driver = driverFor(o.flavour);
  const lab = await bootLab({
    image: o.image,
    init: driver,
    server: o.server,
    boot: o.boot,
    instance: instanceName(o.label),
    purpose: 'scenario',
    // A bridge-started app starts on the first request: the scenario makes it, under its clock.
    waitForApp: false,
    timeoutMs: o.bootTimeoutMs ?? 60_000,
  });
  const ctx = new ScenarioContext(o.flavour, driver, o.server, lab.docker, lab.container, lab.origin, o.say);
  ctx.mark('apply', `boot: ${lab.label}`);
  return { ctx, instance: lab.instance, port: lab.port, image: o.image, close: lab.close };
}
