import { execIn } from '../engine/containers';
import { LabError, LabExit } from '../errors';
import { recordAction } from '../journal';
import type { Command } from './command';
import { runningLab } from './target';

export const initctl: Command = {
  name: 'initctl',
  summary: 'run initctl in the lab (on bookworm: its systemd equivalent, or a clear refusal)',
  usage:
    'lab initctl [--name NAME] ARGS...\n\nExamples: lab initctl status phoenix; lab initctl ' +
    'restart phoenix; lab initctl list.\nOn bookworm, start/stop/restart/reload/status/list ' +
    'are run as their systemctl\nequivalents and the equivalent is printed; anything else is refused.',
  async run(argv) {
    let name = 'default';
    const args = [...argv];
    const i = args.findIndex((a) => a === '--name' || a.startsWith('--name='));
    if (i >= 0) name = args[i].includes('=') ? args.splice(i, 1)[0].split('=')[1] : args.splice(i, 2)[1];
    const lab = await runningLab(name);
    const plan = lab.driver.initctl(args, lab.server);
    if ('refuse' in plan) throw new LabError(plan.refuse, LabExit.USAGE);
    if (plan.note) process.stderr.write(`${plan.note}\n`);
    if (!['status', 'list'].includes(args[0]))
      recordAction(lab.info.instance, 'initctl', plan.cmd.join(' ').replace(/^\/sbin\//, ''));
    const r = await execIn(lab.container, plan.cmd);
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    return r.code === 0 ? LabExit.OK : LabExit.FAILED;
  },
};
