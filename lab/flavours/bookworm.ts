import type Docker from 'dockerode';
import { ensureBaseBookworm } from '../engine/images';
import type { ServerDriver } from '../servers/types';
import { systemdSocketRestart } from './socket-owner';
import type { ContainerSettings, EngineFacts, Exec, InitDriver } from './types';

const unit = (s: ServerDriver) => `${s.job}.service`;

/** What each upstart verb means on systemd, for people who know only one of them. */
const VERBS: Record<string, (job: string) => string[]> = {
  start: (j) => ['start', `${j}.socket`, `${j}.service`],
  stop: (j) => ['stop', `${j}.service`],
  restart: (j) => ['restart', `${j}.service`],
  reload: (j) => ['reload', `${j}.service`],
  status: (j) => ['status', '--no-pager', `${j}.socket`, `${j}.service`],
};

// CgroupnsMode is an engine field (API 1.41) that @types/dockerode does not list yet.
type HostConfig = Docker.HostConfig & { CgroupnsMode?: 'host' | 'private' };
const RUN_TMPFS = { '/run': 'rw,nosuid,nodev', '/run/lock': 'rw,nosuid,nodev' };

/**
 * systemd as PID 1 needs its own /run (tmpfs) and a cgroup tree it may write. On cgroup v1
 * (this project's machines) that is the host's hierarchy, bound read-write with the host's
 * cgroup namespace: systemd then finds its own cgroup where /proc/self/cgroup says.
 * On cgroup v2, Docker mounts the container's own namespaced cgroup2 read-only unless the
 * container is privileged, and systemd cannot start (moby#42275, #46763); no least-privilege
 * setting is known to work there, so the lab uses the widely used recipe (host namespace,
 * the tree bound read-write) and says so at `lab up`. Not verified here (v1 only).
 */
export function systemdContainer(engine: EngineFacts): ContainerSettings {
  const hostConfig: HostConfig = {
    Tmpfs: RUN_TMPFS,
    Binds: ['/sys/fs/cgroup:/sys/fs/cgroup:rw'],
    CgroupnsMode: 'host',
  };
  if (engine.cgroupVersion !== '2') return { hostConfig };
  return {
    hostConfig,
    note:
      "this engine runs cgroup v2: systemd in the container gets the host's cgroup tree read-write " +
      '(no --privileged, no extra capabilities); Docker offers nothing narrower that systemd accepts',
  };
}

async function props(exec: Exec, u: string, names: string[]): Promise<Record<string, string>> {
  const r = await exec(['systemctl', 'show', ...names.map((p) => `-p${p}`), u]);
  const o: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) o[line.slice(0, i)] = line.slice(i + 1);
  }
  return o;
}

/** Debian 12, systemd as PID 1. */
export const bookworm: InitDriver = {
  name: 'bookworm',
  init: 'systemd',
  family: 'systemd',
  image: {
    dir: 'bookworm',
    // debootstrap's minbase, built offline (images/base/bookworm/build.sh).
    ensureBase: (o) => ensureBaseBookworm(o),
    strategies: [],
  },
  controlTool: 'systemctl',
  containerSettings: systemdContainer,
  async ready(exec) {
    const r = await exec(['systemctl', 'is-system-running']);
    return /^(running|degraded)/.test(r.stdout.trim());
  },
  statusCmd: (s) => [
    '/bin/sh',
    '-c',
    `systemctl show -p MainPID -p ActiveState -p SubState ${unit(s)}; systemctl show -p ActiveState ${s.job}.socket`,
  ],
  trackedPid(text) {
    const m = /MainPID=(\d+)/.exec(text);
    return m && m[1] !== '0' ? Number(m[1]) : undefined;
  },
  state(text) {
    // The unit's lines come first and always carry SubState; the socket's line has none. No
    // SubState means the unit's `show` failed (systemd busy re-executing): the socket's
    // ActiveState must not pass for the service's.
    const active = /ActiveState=(\w+)/.exec(text);
    const sub = /SubState=(\w+)/.exec(text);
    if (active && sub) return `${active[1]}/${sub[1]}`;
    return `unknown (systemctl answered: ${text.split('\n')[0] || 'nothing'})`;
  },
  listCmd: ['systemctl', 'list-units', '--no-pager', '--no-legend', '--state=running', '--type=service'],
  runningCount: (text) => text.split('\n').filter((l) => l.trim()).length,
  initctl(args, s) {
    const [verb, job = s.job] = args;
    if (verb === 'list') {
      const cmd = ['systemctl', 'list-units', '--no-pager', '--type=service,socket'];
      return { cmd, label: cmd.join(' '), note: 'systemd equivalent: systemctl list-units' };
    }
    const map = verb ? VERBS[verb] : undefined;
    if (!map) {
      return {
        refuse:
          `'initctl ${args.join(' ')}' has no systemd equivalent the lab knows; this lab runs ` +
          `systemd (bookworm): use start, stop, restart, reload, status or list, or the precise ` +
          `flavour for upstart`,
      };
    }
    const cmd = ['systemctl', ...map(job)];
    return { cmd, label: cmd.join(' '), note: `systemd equivalent: ${cmd.join(' ')}` };
  },
  logsCmd(what, lines, s) {
    if (what === 'nginx') return ['/bin/sh', '-c', `tail -n ${lines} ${s.nginxErrorLog} 2>&1`];
    const grep = s.eventPrograms.map((p) => `^${p} `).join('|');
    const units = what === 'job' ? `-u ${s.job}.socket -u ${unit(s)}` : `-u ${unit(s)} --grep '${grep}'`;
    // --grep with -n walks backwards and prints newest first: cut with tail instead.
    return ['/bin/sh', '-c', `journalctl --no-pager -o cat ${units} | tail -n ${lines}`];
  },
  appLogScript: (s) => `journalctl --no-pager -o cat -u ${unit(s)} 2>/dev/null`,
  reportLogs: (s) => [
    {
      title: `systemd about ${s.job}.socket/.service`,
      script: `journalctl --no-pager -o short-precise -u ${s.job}.socket -u ${unit(s)} | grep -v -E ' (${s.eventPrograms.join('|')}) ts='`,
      lines: 30,
    },
    {
      title: `${s.title} lifecycle (journal)`,
      script: `journalctl --no-pager -o cat -u ${unit(s)} | grep -E '^(${s.eventPrograms.join('|')}) '`,
      lines: 60,
    },
  ],
  socketEventTimes: async () => [],
  restarts: async (exec, s) => Number((await props(exec, unit(s), ['NRestarts'])).NRestarts ?? 0) || 0,
  invocation: async (exec, s) => (await props(exec, unit(s), ['InvocationID'])).InvocationID ?? '',
  async deactivations(exec, s) {
    const r = await exec([
      '/bin/sh',
      '-c',
      `journalctl --no-pager -o cat -u ${unit(s)} | grep -c 'Deactivated successfully'`,
    ]);
    return Number(r.stdout.trim()) || 0;
  },
  restartSocketOwner: systemdSocketRestart,
  jobKind: 'systemd-unit',
  jobDir: '/etc/systemd/system',
};
