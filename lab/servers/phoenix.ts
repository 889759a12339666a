import { parseEvents } from '../../src/events';
import { systemd, systemdBoot, upstart, upstartBoot } from '../session/configs';
import { type ProcessRole, SERVED_BY, type ServerDriver } from './types';

/** phoenix, this project's Node server: its workers carry their spec in PHOENIX_WORKER. */
export const phoenix: ServerDriver = {
  name: 'phoenix',
  title: 'phoenix (Node)',
  job: 'phoenix',
  socketPath: '/var/run/phoenix/phoenix.sock',
  pidFile: '/var/run/phoenix/phoenix.pid',
  nginxErrorLog: '/var/log/nginx/phoenix-error.log',
  eventPrograms: ['phoenix', 'unicorn-wrapper'],
  probePatterns: ['cli.js', 'phoenix-herder'],
  probeEnv: ['PHOENIX_WORKER'],
  classify(p): ProcessRole | undefined {
    if (p.args.includes('phoenix-herder') || p.args.includes('unicorn-wrapper/cli.js')) return { role: 'wrapper' };
    const spec = p.env.PHOENIX_WORKER;
    if (spec) {
      const w = JSON.parse(spec) as { generation: number; slot: number };
      return { role: 'worker', generation: w.generation, slot: w.slot };
    }
    return p.args.includes('cli.js') ? { role: 'master' } : undefined;
  },
  // The images start phoenix as shipped: nothing to change.
  activate: () => ({ label: 'phoenix as shipped' }),
  signalVia: 'master',
  upgradeMode: 'in-place (init keeps the master)',
  servedBy: SERVED_BY,
  // The shipped job and unit with --timeout changed, the rest as shipped.
  workerTimeoutBoot: {
    upstart: (s, label) =>
      upstartBoot(upstart.timeout(upstart.strategy('bridge-inplace'), s), `bridge-inplace.conf, ${label}`),
    systemd: (s, label) => systemdBoot(systemd.timeout(systemd.service(), s), `phoenix.service, ${label}`),
  },
  shipped: {
    job: { file: 'phoenix.conf', text: () => upstart.strategy('bridge-inplace') },
    // phoenix makes its own socket for www-data: --socket-group www-data --socket-mode 0660.
    ownSocketJob: {
      label: 'strategies/exec-respawn.conf (own socket, www-data 0660)',
      text: () => upstart.strategy('exec-respawn'),
      socket: 'root:www-data 660',
    },
    socketUnit: { file: 'phoenix.socket', text: () => systemd.socket() },
  },
  workerTimeouts: (log) => parseEvents(log).filter((e) => e.role === 'master' && e.event === 'worker-timeout').length,
  workerTimeoutShown: (pid) => `tr '\\000' ' ' < /proc/${pid}/cmdline 2>/dev/null`,
};
