import type Docker from 'dockerode';
import { JOB, type FlavourDriver } from './types';

const UNIT = `${JOB}.service`;

/** What each upstart verb means on systemd, for people who know only one of them. */
const VERBS: Record<string, (job: string) => string[]> = {
  start: (j) => ['start', `${j}.socket`, `${j}.service`],
  stop: (j) => ['stop', `${j}.service`],
  restart: (j) => ['restart', `${j}.service`],
  reload: (j) => ['reload', `${j}.service`],
  status: (j) => ['status', '--no-pager', `${j}.socket`, `${j}.service`],
};

// CgroupnsMode is an engine field (API 1.41) that @types/dockerode does not list yet.
const SYSTEMD_HOST: Docker.HostConfig & { CgroupnsMode: 'host' } = {
  Tmpfs: { '/run': 'rw,nosuid,nodev', '/run/lock': 'rw,nosuid,nodev' },
  Binds: ['/sys/fs/cgroup:/sys/fs/cgroup:rw'],
  CgroupnsMode: 'host',
};

/**
 * Debian 12, systemd as PID 1: it needs its own /run and the cgroup tree, which plain
 * tmpfs mounts and a read-write cgroup bind give it without --privileged.
 */
export const bookworm: FlavourDriver = {
  name: 'bookworm',
  init: 'systemd',
  hostConfig: SYSTEMD_HOST,
  statusCmd: [
    '/bin/sh',
    '-c',
    `systemctl show -p MainPID -p ActiveState -p SubState ${UNIT}; systemctl show -p ActiveState ${JOB}.socket`,
  ],
  listCmd: ['systemctl', 'list-units', '--no-pager', '--type=service,socket'],
  trackedPid(out) {
    const m = /MainPID=(\d+)/.exec(out);
    return m && m[1] !== '0' ? Number(m[1]) : undefined;
  },
  initctl(args) {
    const [verb, job = JOB] = args;
    if (verb === 'list')
      return {
        cmd: ['systemctl', 'list-units', '--no-pager', '--type=service,socket'],
        note: 'systemd equivalent: systemctl list-units',
      };
    const map = verb ? VERBS[verb] : undefined;
    if (!map) {
      return {
        refuse: `'initctl ${args.join(' ')}' has no systemd equivalent the lab knows; this lab runs systemd (bookworm): use start, stop, restart, reload, status or list, or the precise flavour for upstart`,
      };
    }
    const cmd = ['systemctl', ...map(job)];
    return { cmd, note: `systemd equivalent: ${cmd.join(' ')}` };
  },
  logsCmd(what, lines) {
    if (what === 'nginx') return ['/bin/sh', '-c', `tail -n ${lines} /var/log/nginx/phoenix-error.log 2>&1`];
    const unit = what === 'job' ? `-u ${JOB}.socket -u ${UNIT}` : `-u ${UNIT} --grep '^phoenix '`;
    // --grep with -n walks backwards and prints newest first: cut with tail instead.
    return ['/bin/sh', '-c', `journalctl --no-pager -o cat ${unit} | tail -n ${lines}`];
  },
  jobDir: '/etc/systemd/system',
};
