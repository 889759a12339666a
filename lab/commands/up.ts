import * as net from 'node:net';
import { flagHelp, parseFlags } from '../args';
import { bootLab } from '../engine/boot';
import { containerName, listLabContainers } from '../engine/containers';
import { ensureFlavourImage } from '../engine/flavour-images';
import { PreciseBaseUnavailableError } from '../engine/images';
import { LabError, LabExit } from '../errors';
import { driverFor } from '../flavours';
import { serverFor } from '../servers';
import type { Command } from './command';
import { docker } from './target';

const FLAGS = {
  flavour: {
    kind: 'string',
    help: 'precise (Ubuntu 12.04 + upstart 1.5) or bookworm (Debian 12 + systemd); default precise, or bookworm when precise cannot be had',
  },
  server: { kind: 'string', help: 'phoenix (Node) or unicorn (Ruby, behind unicorn-wrapper)', default: 'phoenix' },
  port: { kind: 'number', help: 'port on 127.0.0.1 for nginx', default: 8080 },
  name: { kind: 'string', help: 'lab instance name: run two labs side by side with two names', default: 'default' },
  timeout: { kind: 'number', help: 'seconds to wait for the first answer through nginx', default: 90 },
} as const;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Long lines (a registry error quoted whole) are wrapped, so the box fits a terminal. */
function wrap(line: string, width: number): string[] {
  const out: string[] = [];
  let rest = line;
  while (rest.length > width) {
    const cut = rest.lastIndexOf(' ', width) > width / 2 ? rest.lastIndexOf(' ', width) : width;
    out.push(rest.slice(0, cut));
    rest = `    ${rest.slice(cut).trimStart()}`;
  }
  out.push(rest);
  return out;
}

function banner(text: string[]): string {
  const lines = text.flatMap((l) => wrap(l, 96));
  const w = Math.max(...lines.map((l) => l.length));
  const bar = '#'.repeat(w + 4);
  return [bar, ...lines.map((l) => `# ${l.padEnd(w)} #`), bar].join('\n');
}

export const up: Command = {
  name: 'up',
  summary: 'build what is missing, start the lab, wait until a request through nginx reaches the app',
  usage: `lab up [--flavour precise|bookworm] [--server phoenix|unicorn] [--port N] [--name NAME]\n\n${flagHelp(FLAGS)}`,
  async run(argv) {
    const { flags } = parseFlags('up', argv, FLAGS);
    const name = flags.name ?? 'default';
    const port = flags.port ?? 8080;
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new LabError(`--port ${port} is not a port number`, LabExit.USAGE);
    let flavour = flags.flavour ?? 'precise';
    driverFor(flavour);
    const server = serverFor(flags.server ?? 'phoenix');
    const d = await docker();
    const [existing] = await listLabContainers(d, name);
    if (existing) {
      throw new LabError(
        `a lab named '${name}' is already ${existing.state} (${existing.flavour}, ` +
          `http://127.0.0.1:${existing.port}): 'lab ` +
          `down${name === 'default' ? '' : ` --name ${name}`}' first, or start another with --name`,
        LabExit.USAGE,
      );
    }
    if (!(await portFree(port)))
      throw new LabError(`port ${port} on 127.0.0.1 is already taken: pick another with --port`, LabExit.USAGE);

    const log = (line: string) => process.stderr.write(`  ${line}\n`);
    let image: string;
    process.stderr.write(`lab: preparing the ${flavour} image (built only when its inputs changed)\n`);
    try {
      image = await ensureFlavourImage(flavour as 'precise' | 'bookworm', { docker: d, log });
    } catch (err) {
      if (!(err instanceof PreciseBaseUnavailableError))
        throw new LabError(`building the ${flavour} image failed:\n${(err as Error).message}`, LabExit.ENVIRONMENT);
      if (flags.flavour) throw new LabError(err.message, LabExit.ENVIRONMENT);
      // Nobody asked for precise by name: say loudly what is missing and run the offline twin.
      process.stderr.write(
        `\n${banner([
          'THE PRECISE FLAVOUR (Ubuntu 12.04 + upstart 1.5) CANNOT BE BUILT HERE',
          ...err.message.split('\n'),
          'Starting the bookworm twin (Debian 12 + systemd) instead.',
        ])}\n\n`,
      );
      flavour = 'bookworm';
      image = await ensureFlavourImage('bookworm', { docker: d, log });
    }
    const driver = driverFor(flavour);
    process.stderr.write(`lab: starting ${containerName(name)} from ${image} (${server.title})\n`);
    let lab;
    try {
      lab = await bootLab({
        image,
        init: driver,
        server,
        instance: name,
        port,
        purpose: 'up',
        waitForApp: true,
        timeoutMs: (flags.timeout ?? 90) * 1000,
        say: log,
      });
    } catch (err) {
      throw new LabError(`the lab did not come up: ${(err as Error).message}`, LabExit.FAILED);
    }
    // From here on the container is the person's, until `lab down`.
    lab.keep();
    if (lab.note) process.stderr.write(`lab: note: ${lab.note}\n`);
    const n = name === 'default' ? '' : ` --name ${name}`;
    process.stdout.write(
      [
        `lab '${name}' is up: ${flavour} (${driver.init} as PID 1), ${server.title}, nginx on ${lab.origin}/`,
        `first answer through nginx after ${((lab.firstOkMs ?? 0) / 1000).toFixed(1)} s, served by worker pid ${lab.firstPid}`,
        '',
        "try next ('lab' is npx lab, or node dist/lab/cli.js):",
        `  curl -s ${lab.origin}/   which pid, worker, generation answered`,
        `  lab status${n}                  init's view, masters, workers, socket`,
        `  lab load --duration 30s${n} &   traffic through nginx, every request recorded`,
        `  lab signal USR2${n}             an upgrade under that load`,
        `  lab check${' '.repeat(n.length)}                    did any request fail?`,
        `  lab down${n}                    remove the lab`,
        '',
      ].join('\n'),
    );
    return LabExit.OK;
  },
};
