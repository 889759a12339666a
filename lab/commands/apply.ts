import * as fs from 'node:fs';
import { applyFile, classify } from '../apply';
import { flagHelp, parseFlags } from '../args';
import { LabError, LabExit } from '../errors';
import { recordAction } from '../journal';
import type { Command } from './command';
import { runningLab } from './target';

const FLAGS = {
  name: { kind: 'string', help: 'lab instance', default: 'default' },
} as const;

export const apply: Command = {
  name: 'apply',
  summary: 'install a job file, systemd unit, nginx site or wrapper config into the running lab',
  usage:
    `lab apply FILE... [--name NAME]\n\nEach file is validated first (upstart 1.5 job checker; ` +
    `systemd-analyze verify; nginx -t;\nphoenix --check) and installed only if it passes; when ` +
    `the running system rejects it, the\nprevious file is put back. Then init or nginx is made ` +
    `to take it. Files are applied in\norder and the first rejection stops the rest.\n\n${flagHelp(FLAGS)}`,
  async run(argv) {
    const { flags, positional } = parseFlags('apply', argv, FLAGS, { names: ['FILE...'], required: 1, rest: true });
    if (positional.length === 0) throw new LabError('lab apply: name at least one file', LabExit.USAGE);
    const texts = positional.map((f) => {
      try {
        return fs.readFileSync(f, 'utf8');
      } catch (err) {
        throw new LabError(`lab apply: cannot read ${f}: ${(err as Error).message}`, LabExit.USAGE);
      }
    });
    positional.forEach((f, i) => classify(f, texts[i]));
    const lab = await runningLab(flags.name ?? 'default');
    for (let i = 0; i < positional.length; i++) {
      const a = await applyFile(lab.container, lab.driver, positional[i], texts[i]);
      recordAction(lab.info.instance, 'apply', `${a.kind}: ${a.target}`);
      process.stdout.write(
        `applied ${a.file} (${a.kind}) -> ${a.target}\n${a.notes.map((n) => `  ${n}`).join('\n')}\n`,
      );
    }
    return LabExit.OK;
  },
};
