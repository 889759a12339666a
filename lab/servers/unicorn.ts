import type { BootSpec } from '../engine/boot-spec';
import { shippedConf } from '../session/configs';
import { driverFor, type Flavour } from '../flavours';
import type { InitDriver } from '../flavours/types';
import { type ProcessRole, SERVED_BY, type ServerDriver } from './types';

/** Where the images keep unicorn's alternatives (images/conf, installed by the Dockerfiles). */
export const UNICORN_OPT = '/opt/unicorn';

/** How unicorn is run: the seed's PoC, the wrapper (the fix), or unicorn binding its own socket. */
export type UnicornStrategy = 'unicorn-seed-poc' | 'unicorn-wrapper' | 'unicorn-exec';

/**
 * Swaps the image's default server (phoenix) for unicorn before init starts: unicorn's job
 * or units in place, phoenix's out, nginx's site pointed at unicorn's socket. On systemd the
 * PoC is unicorn.service running unicorn itself on the socket unit's fd (LISTEN_FDS), the fix
 * is unicorn-wrapper.service in front of it, and unicorn-exec is unicorn-plain.service.
 */
export function unicornBoot(on: Flavour | InitDriver, strategy: UnicornStrategy): BootSpec {
  const init = typeof on === 'string' ? driverFor(on) : on;
  const site = [
    'rm -f /etc/nginx/sites-enabled/phoenix',
    'ln -sf /etc/nginx/sites-available/unicorn /etc/nginx/sites-enabled/unicorn',
  ];
  if (init.family === 'upstart') {
    return {
      activatesServer: true,
      label: `unicorn.conf = ${strategy}.conf`,
      remove: ['/etc/init/phoenix.conf'],
      shell: [`cp ${UNICORN_OPT}/upstart/strategies/${strategy}.conf /etc/init/unicorn.conf`, ...site],
    };
  }
  const own = strategy === 'unicorn-exec';
  const service = strategy === 'unicorn-wrapper' ? 'unicorn-wrapper.service' : 'unicorn.service';
  return {
    activatesServer: true,
    label: own
      ? 'unicorn-plain.service (unicorn binds its socket)'
      : `unicorn.socket + ${service}${service === 'unicorn.service' ? '' : ' as unicorn.service'}`,
    remove: [
      '/etc/systemd/system/sockets.target.wants/phoenix.socket',
      '/etc/systemd/system/multi-user.target.wants/phoenix.service',
    ],
    shell: [
      own
        ? `cp ${UNICORN_OPT}/systemd/unicorn-plain.service /etc/systemd/system/unicorn.service && ln ` +
          `-sf /etc/systemd/system/unicorn.service /etc/systemd/system/multi-user.target.wants/unicorn.service`
        : `cp ${UNICORN_OPT}/systemd/unicorn.socket /etc/systemd/system/ && cp ` +
          `${UNICORN_OPT}/systemd/${service} /etc/systemd/system/unicorn.service && mkdir -p ` +
          `/etc/systemd/system/sockets.target.wants && ln -sf /etc/systemd/system/unicorn.socket /etc/systemd/system/sockets.target.wants/unicorn.socket`,
      ...site,
    ],
  };
}

const WORKER = /^unicorn(?:_rails)? worker\[(\d+)\]/;
const MASTER = /^unicorn(?:_rails)? master\b|\/unicorn(?:_rails)? /;

/**
 * Ruby unicorn. It names its processes itself ($0): "unicorn master -c ...", "unicorn master
 * (old)" during a handover, "unicorn worker[N]". Its generation is the master's
 * UNICORN_GENERATION (images/conf/unicorn/unicorn.rb counts it up in before_exec), 1 at first.
 */
export const unicorn: ServerDriver = {
  name: 'unicorn',
  title: 'unicorn (Ruby)',
  job: 'unicorn',
  socketPath: '/var/run/unicorn/unicorn.sock',
  pidFile: '/var/run/unicorn/unicorn.pid',
  nginxErrorLog: '/var/log/nginx/unicorn-error.log',
  eventPrograms: ['unicorn-wrapper'],
  probePatterns: ['unicorn'],
  probeEnv: ['UNICORN_GENERATION'],
  classify(p, all): ProcessRole | undefined {
    if (p.args.includes('unicorn-wrapper/cli.js')) return { role: 'wrapper' };
    const w = WORKER.exec(p.args);
    if (w) {
      const master = all.find((m) => m.pid === p.ppid);
      const generation = Number(master?.env.UNICORN_GENERATION ?? p.env.UNICORN_GENERATION ?? 1) || 1;
      return { role: 'worker', generation, slot: Number(w[1]) };
    }
    return MASTER.test(p.args) ? { role: 'master' } : undefined;
  },
  // As shipped, the lab runs the fix: the socket's owner hands it to unicorn-wrapper.
  activate: (init) => unicornBoot(init, 'unicorn-wrapper'),
  // The wrapper is what init tracks; it forwards the signal to the current master.
  signalVia: 'wrapper',
  upgradeMode: 'reexec behind unicorn-wrapper (init keeps the wrapper)',
  servedBy: SERVED_BY,
  // unicorn.rb reads UNICORN_TIMEOUT; activate() puts the job/unit in place first.
  workerTimeoutBoot: {
    upstart: (s, label) => ({
      label,
      shell: [`sed -i '/^env UNICORN_PID=/i env UNICORN_TIMEOUT=${s}' /etc/init/unicorn.conf`],
    }),
    systemd: (s, label) => ({
      label,
      files: { '/etc/systemd/system/unicorn.service.d/chaos.conf': `[Service]\nEnvironment=UNICORN_TIMEOUT=${s}\n` },
    }),
  },
  shipped: {
    job: { file: 'unicorn.conf', text: () => shippedConf('unicorn', 'upstart', 'unicorn-wrapper.conf') },
    // unicorn binds a unix socket under umask 0 unless its `listen` gives one (socket_helper.rb):
    // root:root 0777, open to www-data too.
    ownSocketJob: {
      label: 'unicorn-exec.conf (unicorn binds its own socket with -l: 0777)',
      text: () => shippedConf('unicorn', 'upstart', 'unicorn-exec.conf'),
      socket: 'root:root 777',
    },
    socketUnit: { file: 'unicorn.socket', text: () => shippedConf('systemd', 'unicorn.socket') },
  },
  // unicorn says it in its own log (http_server.rb, murder_lazy_workers), one line per kill.
  workerTimeouts: (log) => (log.match(/worker=\d+ PID:\d+ timeout \(\d+s > \d+s\), killing/g) ?? []).length,
  workerTimeoutShown: (pid) => `tr '\\000' '\\n' < /proc/${pid}/environ 2>/dev/null | grep '^UNICORN_TIMEOUT='`,
};
