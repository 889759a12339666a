import type { Flavour } from '../engine/flavour-images';
import type { BootSpec } from '../engine/boot-spec';
import type { ProcessRole, ServerDriver } from './types';

/** Where the images keep unicorn's alternatives (images/conf, installed by the Dockerfiles). */
export const UNICORN_OPT = '/opt/unicorn';

/**
 * Swaps the image's default server (phoenix) for unicorn before init starts: unicorn's job
 * or units in place, phoenix's out, nginx's site pointed at unicorn's socket.
 */
export function unicornBoot(flavour: Flavour, strategy: string): BootSpec {
  const site = [
    'rm -f /etc/nginx/sites-enabled/phoenix',
    'ln -sf /etc/nginx/sites-available/unicorn /etc/nginx/sites-enabled/unicorn',
  ];
  if (flavour === 'precise') {
    return {
      label: `unicorn.conf = ${strategy}.conf`,
      remove: ['/etc/init/phoenix.conf'],
      shell: [`cp ${UNICORN_OPT}/upstart/${strategy}.conf /etc/init/unicorn.conf`, ...site],
    };
  }
  const own = strategy === 'unicorn-plain';
  return {
    label: own ? 'unicorn-plain.service (unicorn binds its socket)' : 'unicorn.socket + unicorn.service',
    remove: [
      '/etc/systemd/system/sockets.target.wants/phoenix.socket',
      '/etc/systemd/system/multi-user.target.wants/phoenix.service',
    ],
    shell: [
      own
        ? `cp ${UNICORN_OPT}/systemd/unicorn-plain.service /etc/systemd/system/unicorn.service && ln -sf /etc/systemd/system/unicorn.service /etc/systemd/system/multi-user.target.wants/unicorn.service`
        : `cp ${UNICORN_OPT}/systemd/unicorn.socket ${UNICORN_OPT}/systemd/unicorn.service /etc/systemd/system/ && mkdir -p /etc/systemd/system/sockets.target.wants && ln -sf /etc/systemd/system/unicorn.socket /etc/systemd/system/sockets.target.wants/unicorn.socket`,
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
  activate: (flavour) => unicornBoot(flavour, flavour === 'precise' ? 'unicorn-wrapper' : 'unicorn'),
};
