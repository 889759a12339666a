import { flagHelp, parseFlags } from '../args';
import { execIn } from '../engine/containers';
import { LabError, LabExit } from '../errors';
import { type LabStatus, formatStatus, inspectLab } from '../inspect';
import { recordAction } from '../journal';
import type { Command } from './command';
import { runningLab } from './target';

const FLAGS = {
  to: { kind: 'string', help: 'master | oldbin | worker | wrapper | nginx', default: 'master' },
  worker: { kind: 'number', help: 'with --to worker: the worker number (slot)', default: 0 },
  name: { kind: 'string', help: 'lab instance', default: 'default' },
  settle: { kind: 'number', help: 'seconds to wait before reporting what changed', default: 2 },
} as const;

const SIGNALS = ['HUP', 'INT', 'QUIT', 'TERM', 'KILL', 'USR1', 'USR2', 'WINCH', 'TTIN', 'TTOU'];

/** The pid a target names, from the pid files and the process table; undefined if absent. */
export function targetPid(s: LabStatus, to: string, worker: number): number | undefined {
  const master = s.pidFile ?? s.init.trackedPid ?? s.masters[0]?.pid;
  switch (to) {
    case 'master':
      return master;
    case 'oldbin':
      return s.oldbin;
    case 'worker': {
      const mine = s.workers
        .filter((w) => w.master === master && w.slot === worker)
        .sort((a, b) => b.generation - a.generation);
      return mine[0]?.pid;
    }
    case 'wrapper':
      return s.herders[0]?.pid;
    case 'nginx':
      return s.nginx.find((n) => n.role === 'master')?.pid;
    default:
      throw new LabError(`--to ${to}: use master, oldbin, worker, wrapper or nginx`, LabExit.USAGE);
  }
}

function changes(a: LabStatus, b: LabStatus): string[] {
  const out: string[] = [];
  const pids = (s: LabStatus) => s.masters.map((m) => m.pid);
  const gone = pids(a).filter((p) => !pids(b).includes(p));
  const born = pids(b).filter((p) => !pids(a).includes(p));
  if (gone.length) out.push(`master gone: ${gone.join(', ')}`);
  if (born.length) out.push(`new master: ${born.join(', ')}`);
  if (a.init.trackedPid !== b.init.trackedPid)
    out.push(
      `init now tracks: ${b.init.trackedPid ?? 'nothing (job not running)'} (was ${a.init.trackedPid ?? 'nothing'})`,
    );
  const gens = (s: LabStatus) =>
    [...new Set(s.workers.map((w) => w.generation))].sort((x, y) => x - y).join('+') || 'none';
  if (gens(a) !== gens(b)) out.push(`worker generations: ${gens(a)} -> ${gens(b)}`);
  const wp = (s: LabStatus) => s.workers.map((w) => w.pid);
  const replaced = wp(a).filter((p) => !wp(b).includes(p)).length;
  if (replaced) out.push(`workers gone: ${replaced}, workers now: ${b.workers.length}`);
  if (a.pidFile !== b.pidFile) out.push(`pid file: ${a.pidFile ?? '-'} -> ${b.pidFile ?? '-'}`);
  if (a.oldbin !== b.oldbin) out.push(`.oldbin: ${a.oldbin ?? '-'} -> ${b.oldbin ?? '-'}`);
  return out.length ? out : ['nothing visible changed'];
}

export const signal: Command = {
  name: 'signal',
  summary: 'send a signal to the master, the .oldbin master, a worker or nginx, and report what changed',
  usage:
    `lab signal SIG [--to master|oldbin|worker|wrapper|nginx] [--worker N]\n\nSIG: ` +
    `${SIGNALS.join(' ')}. The target is found from the pid files and init's status.\n\n${flagHelp(FLAGS)}`,
  async run(argv) {
    const { flags, positional } = parseFlags('signal', argv, FLAGS, { names: ['SIG'], required: 1 });
    const sig = (positional[0] ?? '').toUpperCase().replace(/^SIG/, '');
    if (!SIGNALS.includes(sig))
      throw new LabError(`lab signal: '${positional[0] ?? ''}' is not one of ${SIGNALS.join(', ')}`, LabExit.USAGE);
    const lab = await runningLab(flags.name ?? 'default');
    const before = await inspectLab(lab.container, lab.driver, lab.server);
    const pid = targetPid(before, flags.to ?? 'master', flags.worker ?? 0);
    if (!pid) throw new LabError(`no ${flags.to} to signal right now:\n${formatStatus(before)}`, LabExit.FAILED);
    const r = await execIn(lab.container, ['/bin/kill', `-${sig}`, String(pid)]);
    if (r.code !== 0) throw new LabError(`kill -${sig} ${pid} failed: ${r.stderr.trim()}`, LabExit.FAILED);
    recordAction(lab.info.instance, 'signal', `${sig} -> ${flags.to} ${pid}`);
    process.stdout.write(`sent ${sig} to ${flags.to} ${pid}\n`);
    await new Promise((res) => setTimeout(res, (flags.settle ?? 2) * 1000));
    const after = await inspectLab(lab.container, lab.driver, lab.server);
    process.stdout.write(
      `${changes(before, after)
        .map((l) => `  ${l}`)
        .join('\n')}\n${formatStatus(after)}\n`,
    );
    return LabExit.OK;
  },
};
