import * as net from 'node:net';
import { flagHelp, parseFlags } from '../args';
import { bootLab } from '../engine/boot';
import { containerName, listLabContainers } from '../engine/containers';
import { LabError, LabExit } from '../errors';
import { chooseLab, resolveLab } from '../resolve';
import { DEFAULT_SERVER } from '../servers';
import type { Command } from './command';
import { docker } from './target';

const FLAGS = {
  flavour: {
    kind: 'flavour',
    help: 'precise (Ubuntu 12.04 + upstart 1.5) or bookworm (Debian 12 + systemd); default precise, or bookworm when precise cannot be had',
  },
  server: { kind: 'server', help: 'phoenix (Node) or unicorn (Ruby, behind unicorn-wrapper)', default: DEFAULT_SERVER },
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
    const { server } = chooseLab(flags);
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
    process.stderr.write(
      `lab: preparing the ${chooseLab(flags).init.name} image (built only when its inputs changed)\n`,
    );
    const { init: driver, image } = await resolveLab(flags, { docker: d, log });
    const flavour = driver.name;
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
