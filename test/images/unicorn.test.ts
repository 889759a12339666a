/**
 * Ruby unicorn in the flavour images: the switch documented in images/bookworm/Dockerfile and
 * images/precise/Dockerfile (copy one unit or job into place, swap the nginx site link, then
 * init) makes unicorn answer through nginx with phoenix's x-phoenix-* headers, and a USR2
 * re-exec keeps it serving with init still tracking it. One container per variant, labelled,
 * published on 127.0.0.1 only, removed at the end. Precise is skipped where its base cannot
 * be had (PRECISE_BASE=image:tag gives one).
 *
 *   node --require ts-node/register --test test/images/unicorn.test.ts
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import type Docker from 'dockerode';
import { engineFacts } from '../../lab/engine/boot';
import { execIn, removeContainer } from '../../lab/engine/containers';
import { assertDockerReachable } from '../../lab/engine/docker';
import { buildFlavourImage, type Flavour } from '../../lab/engine/flavour-images';
import { PreciseBaseUnavailableError } from '../../lab/engine/images';
import { labLabels } from '../../lab/engine/labels';
import { DRIVERS } from '../../lab/flavours';

const SITE = [
  'ln -sf /etc/nginx/sites-available/unicorn /etc/nginx/sites-enabled/unicorn',
  'rm -f /etc/nginx/sites-enabled/phoenix',
];

interface Variant {
  flavour: Flavour;
  name: string;
  /** The switch, as documented in the flavour's Dockerfile. */
  install: string[];
  /** The pid init tracks: the master itself, or the wrapper in front of it. */
  tracks: 'master' | 'wrapper';
}

const SOCKET_UNIT = [
  'cp /opt/unicorn/systemd/unicorn.socket /etc/systemd/system/',
  'ln -sf ../unicorn.socket /etc/systemd/system/sockets.target.wants/unicorn.socket',
  'rm -f /etc/systemd/system/sockets.target.wants/phoenix.socket',
];
const VARIANTS: Variant[] = [
  {
    flavour: 'bookworm',
    name: 'unicorn.socket + unicorn.service (LISTEN_FDS)',
    install: [...SOCKET_UNIT, 'cp /opt/unicorn/systemd/unicorn.service /etc/systemd/system/unicorn.service'],
    tracks: 'master',
  },
  {
    flavour: 'bookworm',
    name: 'unicorn.socket + unicorn-wrapper.service',
    install: [...SOCKET_UNIT, 'cp /opt/unicorn/systemd/unicorn-wrapper.service /etc/systemd/system/unicorn.service'],
    tracks: 'wrapper',
  },
  {
    flavour: 'bookworm',
    name: 'unicorn-plain.service (binds its own socket)',
    install: [
      'cp /opt/unicorn/systemd/unicorn-plain.service /etc/systemd/system/unicorn.service',
      'ln -sf ../unicorn.service /etc/systemd/system/multi-user.target.wants/unicorn.service',
      'rm -f /etc/systemd/system/sockets.target.wants/phoenix.socket',
    ],
    tracks: 'master',
  },
  {
    flavour: 'precise',
    name: 'unicorn-wrapper.conf (socket bridge + wrapper)',
    install: [
      'cp /opt/unicorn/upstart/strategies/unicorn-wrapper.conf /etc/init/unicorn.conf',
      'rm -f /etc/init/phoenix.conf',
    ],
    tracks: 'wrapper',
  },
];

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

function get(port: number): Promise<Reply> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 5 s')));
    req.on('error', fail);
    req.end();
  });
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last: ${last})` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The flavour's image, or why it cannot be had here (reported as a skip). */
const images = new Map<Flavour, Promise<{ docker: Docker; image: string } | string>>();
function flavourImage(flavour: Flavour): Promise<{ docker: Docker; image: string } | string> {
  let pending = images.get(flavour);
  if (pending === undefined) {
    pending = (async () => {
      const docker = await assertDockerReachable();
      try {
        return { docker, image: (await buildFlavourImage(flavour, { docker })).ref };
      } catch (err) {
        if (err instanceof PreciseBaseUnavailableError) return err.message.split('\n')[0];
        throw err;
      }
    })();
    images.set(flavour, pending);
  }
  return pending;
}

describe('unicorn switched on in the flavour images', () => {
  for (const variant of VARIANTS) {
    it(`${variant.flavour}: ${variant.name} answers through nginx and keeps serving across USR2`, async (t) => {
      const got = await flavourImage(variant.flavour);
      if (typeof got === 'string') {
        t.skip(got);
        return;
      }
      const { docker, image } = got;
      const sh = async (script: string): Promise<string> => {
        const r = await execIn(container, ['/bin/sh', '-c', script]);
        assert.equal(r.code, 0, `${script}: ${r.stderr}`);
        return r.stdout.trim();
      };
      const tracked = (): Promise<string> =>
        variant.flavour === 'bookworm'
          ? sh('systemctl show -p MainPID --value unicorn.service')
          : sh("initctl status unicorn | sed -n 's/.*start\\/running, process \\([0-9]*\\).*/\\1/p'");
      const masterPid = (): Promise<string> => sh('cat /var/run/unicorn/unicorn.pid');

      const container = await docker.createContainer({
        Image: image,
        Cmd: ['/bin/sh', '-c', [...variant.install, ...SITE, 'exec /sbin/init'].join(' && ')],
        Labels: labLabels(),
        ExposedPorts: { '80/tcp': {} },
        HostConfig: {
          ...DRIVERS[variant.flavour].containerSettings(await engineFacts(docker)).hostConfig,
          PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
        },
      });
      try {
        await container.start();
        const port = Number(
          (await container.inspect()).NetworkSettings.Ports['80/tcp']?.find((p) => p.HostIp === '127.0.0.1')?.HostPort,
        );
        assert.ok(port > 0, 'nginx is not published on 127.0.0.1');

        const first = await until('a first 200 from unicorn through nginx', 90_000, async () => {
          const r = await get(port);
          return r.status === 200 ? r : undefined;
        });
        for (const header of ['x-phoenix-pid', 'x-phoenix-generation', 'x-phoenix-worker']) {
          assert.match(String(first.headers[header]), /^-?\d+$/, `${header} is missing`);
        }
        const generation = Number(first.headers['x-phoenix-generation']);
        const initPid = await tracked();
        const oldMaster = await masterPid();
        if (variant.tracks === 'master') assert.equal(initPid, oldMaster, 'init tracks the master itself');
        else assert.notEqual(initPid, oldMaster, 'init tracks the wrapper, not the master');

        // USR2 to what init tracks (the wrapper forwards it): a new master, the old one QUIT.
        await sh(`kill -USR2 ${initPid}`);
        const newMaster = await until('a new master in the pid file, the old one gone', 60_000, async () => {
          const pid = await masterPid().catch(() => '');
          if (pid === '' || pid === oldMaster) return undefined;
          const old = await execIn(container, ['/bin/sh', '-c', `kill -0 ${oldMaster}`]);
          return old.code === 0 ? undefined : pid;
        });
        const after = await until('a 200 from the new generation', 30_000, async () => {
          const r = await get(port);
          return r.status === 200 && Number(r.headers['x-phoenix-generation']) > generation ? r : undefined;
        });
        assert.equal(after.status, 200);
        // init still tracks the job: the same wrapper, or the new master (systemd's PIDFile=).
        assert.equal(await tracked(), variant.tracks === 'wrapper' ? initPid : newMaster);
      } finally {
        await removeContainer(docker, container.id);
      }
    });
  }
});
