import { flagHelp, parseFlags } from '../args';
import { execIn } from '../engine/containers';
import { LabError, LabExit } from '../errors';
import type { Command } from './command';
import { runningLab } from './target';

const FLAGS = {
  name: { kind: 'string', help: 'lab instance', default: 'default' },
  lines: { kind: 'number', help: 'how many lines', default: 50 },
} as const;

export const logs: Command = {
  name: 'logs',
  summary: "the app job's init log, nginx's error log, or the wrapper's lifecycle lines",
  usage:
    `lab logs [job|nginx|wrapper] [--lines N]\n\njob: /var/log/upstart/phoenix.log (precise) ` +
    `or the journal of phoenix.socket/.service (bookworm)\nnginx: nginx's error log for the ` +
    `site\nwrapper: only phoenix's own lifecycle lines\n\n${flagHelp(FLAGS)}`,
  async run(argv) {
    const { flags, positional } = parseFlags('logs', argv, FLAGS, { names: ['[job|nginx|wrapper]'] });
    const what = positional[0] ?? 'job';
    if (what !== 'job' && what !== 'nginx' && what !== 'wrapper')
      throw new LabError(`lab logs: '${what}' is not a log: use job, nginx or wrapper`, LabExit.USAGE);
    const lab = await runningLab(flags.name ?? 'default');
    const r = await execIn(lab.container, lab.driver.logsCmd(what, flags.lines ?? 50, lab.server));
    process.stdout.write(r.stdout || '(empty)\n');
    return LabExit.OK;
  },
};
