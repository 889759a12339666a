import { flagHelp, parseFlags } from '../args';
import { execIn, listAllLabeled, listLabContainers, removeContainer } from '../engine/containers';
import { LabError, LabExit } from '../errors';
import { driverFor } from '../flavours';
import { serverFor } from '../servers';
import type { Command } from './command';
import { docker } from './target';

const FLAGS = {
  name: { kind: 'string', help: 'lab instance', default: 'default' },
  all: {
    kind: 'boolean',
    help: 'remove every container carrying the lab label (leftovers of crashed runs and tests too)',
  },
} as const;

export const down: Command = {
  name: 'down',
  summary: 'stop the lab gracefully and remove its container',
  usage:
    `lab down [--name NAME] [--all]\n\nThe app is stopped through init first (its workers ` +
    `finish their requests), then the\ncontainer is removed. Nothing is left: no container, no ` +
    `network, no volume.\nExit 2 when no lab of that name is up.\n\n${flagHelp(FLAGS)}`,
  async run(argv) {
    const { flags } = parseFlags('down', argv, FLAGS);
    const d = await docker();
    if (flags.all) {
      const all = await listAllLabeled(d);
      for (const c of all) await removeContainer(d, c.id);
      process.stdout.write(
        all.length ? `removed ${all.length}: ${all.map((c) => c.name).join(', ')}\n` : 'no lab containers found\n',
      );
      return LabExit.OK;
    }
    const [lab] = await listLabContainers(d, flags.name);
    // A name that names nothing is most likely a typo: exit 2, as every other lab command
    // does for it, with the names that would have worked.
    if (!lab) {
      const up = [...new Set((await listLabContainers(d)).map((c) => c.instance))];
      throw new LabError(
        `lab down: no lab named '${flags.name}' is up` +
          (up.length
            ? ` (up: ${up.join(', ')}): give one of those with --name`
            : `, nor any other: nothing to remove (--all removes what crashed runs left)`),
        LabExit.USAGE,
      );
    }
    if (lab.state === 'running') {
      // Graceful first: upstart 1.5 re-execs itself on SIGTERM and never exits, so the lab
      // asks init to stop the app, then removes the container.
      const server = serverFor(lab.server);
      const stop = driverFor(lab.flavour).initctl(['stop', server.job], server);
      if ('cmd' in stop) await execIn(d.getContainer(lab.id), stop.cmd).catch(() => undefined);
    }
    await removeContainer(d, lab.id);
    process.stdout.write(`lab '${flags.name}' (${lab.name}) removed\n`);
    return LabExit.OK;
  },
};
