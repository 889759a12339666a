import { flagHelp, parseFlags } from '../args';
import { LabExit } from '../errors';
import { formatStatus, inspectLab } from '../inspect';
import type { Command } from './command';
import { runningLab } from './target';

const FLAGS = {
  name: { kind: 'string', help: 'lab instance', default: 'default' },
  json: { kind: 'boolean', help: 'machine-readable output' },
} as const;

export const status: Command = {
  name: 'status',
  summary: "init's view, the app's masters, generations and workers, nginx, the socket's owner and mode",
  usage: `lab status [--name NAME] [--json]\n\n${flagHelp(FLAGS)}`,
  async run(argv) {
    const { flags } = parseFlags('status', argv, FLAGS);
    const lab = await runningLab(flags.name ?? 'default');
    const s = await inspectLab(lab.container, lab.driver, lab.server);
    if (flags.json) {
      process.stdout.write(
        `${JSON.stringify(
          {
            instance: lab.info.instance,
            flavour: lab.info.flavour,
            server: lab.info.server,
            url: `${lab.origin}/`,
            container: lab.info.name,
            ...s,
          },
          null,
          2,
        )}\n`,
      );
    } else {
      process.stdout.write(
        `lab '${lab.info.instance}': flavour ${lab.info.flavour}, server ${lab.server.title}, ${lab.origin}/, container ${lab.info.name}\n${formatStatus(s)}\n`,
      );
    }
    return LabExit.OK;
  },
};
