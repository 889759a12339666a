import { JOB, type FlavourDriver } from './types';

/**
 * Ubuntu 12.04, upstart 1.5 as PID 1. Plain `docker run` boots it (UPSTART-NOTES.md: no
 * --privileged, no extra mounts). /run is left as the image has it, not a tmpfs, because
 * that is what makes `docker restart` leave stale sockets, one of the failures shown.
 */
export const precise: FlavourDriver = {
  name: 'precise',
  init: 'upstart 1.5',
  hostConfig: {},
  statusCmd: ['/sbin/initctl', 'status', JOB],
  listCmd: ['/sbin/initctl', 'list'],
  trackedPid(out) {
    const m = /start\/\w+, process (\d+)/.exec(out);
    return m ? Number(m[1]) : undefined;
  },
  initctl(args) {
    if (args.length === 0)
      return { refuse: 'initctl needs a command: start, stop, restart, reload, status, list, emit, ...' };
    return { cmd: ['/sbin/initctl', ...args] };
  },
  logsCmd(what, lines) {
    const file = what === 'nginx' ? '/var/log/nginx/phoenix-error.log' : `/var/log/upstart/${JOB}.log`;
    const filter = what === 'wrapper' ? ` | grep '^phoenix ' ` : ' ';
    return [
      '/bin/sh',
      '-c',
      `tail -n ${what === 'wrapper' ? lines * 4 : lines} ${file} 2>&1${filter}| tail -n ${lines}`,
    ];
  },
  jobDir: '/etc/init',
};
