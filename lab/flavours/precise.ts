import { ensurePreciseBase } from '../engine/images';
import type { ServerDriver } from '../servers/types';
import { upstartBridgeRestart } from './socket-owner';
import type { Exec, InitDriver } from './types';

/** The bridge's socket events, one line each, written by the socket-event-counter job. */
const SOCKET_EVENTS_LOG = '/var/log/phoenix-socket-events.log';
const jobLog = (s: ServerDriver) => `/var/log/upstart/${s.job}.log`;

async function out(exec: Exec, script: string): Promise<string> {
  return (await exec(['/bin/sh', '-c', script])).stdout;
}

/**
 * Ubuntu 12.04, upstart 1.5 as PID 1. Plain `docker run` boots it (UPSTART-NOTES.md: no
 * --privileged, no extra mounts). /run is left as the image has it, not a tmpfs, because
 * that is what makes `docker restart` leave stale sockets, one of the failures shown.
 */
export const precise: InitDriver = {
  name: 'precise',
  init: 'upstart 1.5',
  family: 'upstart',
  image: {
    dir: 'precise',
    // PRECISE_BASE, ubuntu:12.04, PRECISE_MIRROR, in that order (images.ts says how).
    ensureBase: (o) => ensurePreciseBase(o),
    // images/conf/upstart/strategies: the one built in becomes /etc/init/phoenix.conf.
    strategies: ['bridge-inplace', 'bridge-reexec', 'exec-respawn', 'herder'],
    // ubuntu:12.04 cannot be had everywhere; the systemd twin builds offline.
    fallback: 'bookworm',
  },
  controlTool: 'initctl',
  containerSettings: () => ({ hostConfig: {} }),
  async ready(exec) {
    const list = await out(exec, '/sbin/initctl list');
    const has = (job: string, state: string) => new RegExp(`^${job} ${state}`, 'm').test(list);
    // The boot glue jobs must have finished: until then sockets and permissions are not final.
    return (
      has('upstart-socket-bridge', 'start/running') &&
      has('nginx', 'start/running') &&
      !has('socket-permissions', 'start/') &&
      !has('container-boot', 'start/')
    );
  },
  statusCmd: (s) => ['/sbin/initctl', 'status', s.job],
  trackedPid(text) {
    const m = /start\/\w+, process (\d+)/.exec(text);
    return m ? Number(m[1]) : undefined;
  },
  state(text) {
    const m = /\b(start|stop)\/(\w+)/.exec(text);
    return m ? `${m[1]}/${m[2]}` : (text.split('\n')[0] ?? 'unknown');
  },
  listCmd: ['/sbin/initctl', 'list'],
  runningCount: (text) => text.split('\n').filter((l) => /start\/running/.test(l)).length,
  initctl(args) {
    if (args.length === 0)
      return { refuse: 'initctl needs a command: start, stop, restart, reload, status, list, emit, ...' };
    return { cmd: ['/sbin/initctl', ...args], label: `initctl ${args.join(' ')}` };
  },
  logsCmd(what, lines, s) {
    const file = what === 'nginx' ? s.nginxErrorLog : jobLog(s);
    const filter = what === 'wrapper' ? ` | grep -E '^(${s.eventPrograms.join('|')}) ' ` : ' ';
    return [
      '/bin/sh',
      '-c',
      `tail -n ${what === 'wrapper' ? lines * 4 : lines} ${file} 2>&1${filter}| tail -n ${lines}`,
    ];
  },
  appLogScript: (s) => `cat ${jobLog(s)} 2>/dev/null`,
  reportLogs: (s) => [
    { title: 'initctl list', script: '/sbin/initctl list', lines: 20 },
    { title: `${s.job} job log (${jobLog(s)})`, script: `cat ${jobLog(s)}`, lines: 60 },
    { title: 'socket events seen by socket-event-counter', script: `cat ${SOCKET_EVENTS_LOG}`, lines: 10 },
    {
      title: 'upstart-socket-bridge log',
      script: 'cat /var/log/upstart/upstart-socket-bridge.log',
      lines: 10,
    },
  ],
  async socketEventTimes(exec, s) {
    const text = await out(exec, `grep -F ' path=${s.socketPath} ' ${SOCKET_EVENTS_LOG} 2>/dev/null | cut -d' ' -f1`);
    return text
      .split('\n')
      .map((l) => Math.round(Number(l) * 1000))
      .filter((n) => Number.isFinite(n) && n > 0);
  },
  restarts: async () => 0,
  invocation: async () => '',
  deactivations: async () => 0,
  restartSocketOwner: upstartBridgeRestart,
  jobKind: 'upstart-job',
  jobDir: '/etc/init',
};
