import { serverFor } from '../servers';
import { SOCKET_PERMISSIONS_JOB } from '../session/configs';
import type { ScenarioContext } from '../session/context';
import { sleep } from '../session/context';
import { Judge } from '../session/judge';
import { type PhaseFacts, Phases, okShare, phaseLines } from '../session/phases';
import { type BootSpec, type Scenario, perInit } from '../session/types';

const AT_BOOT = 'job present at boot';
const LATER = 'same job added after boot';

type F = PhaseFacts & { modeAtBoot: string; modeAddedLater: string };

const stat = async (ctx: ScenarioContext) =>
  (await ctx.sh(`stat -c '%U:%G %a' ${ctx.server.socketPath} 2>/dev/null || echo absent`)).stdout.trim();

/** The same job file, two outcomes: the bridge's umask differs before and after it daemonises. */
export const bootSocketMode: Scenario<F> = {
  name: 'boot-socket-mode',
  title: 'the same job: 502 when present at boot, 200 when added later',
  story:
    'The app works after a deploy that added the job, then after the next reboot every request is a 502, with nothing changed.',
  expect: {
    precise: {
      applicable: true,
      expect:
        'with the job present when the bridge starts (a boot), the socket is root:root 0755 (umask ' +
        '022 before the bridge daemonises): www-data cannot connect, every request is a 502; the ' +
        'same file added after boot (lab apply, picked up by inotify) gets 0777 (umask 0 after ' +
        'daemonising): every request is a 200',
    },
    bookworm: {
      applicable: true,
      expect:
        "systemd creates the socket with the unit's SocketMode=/SocketGroup= whenever it binds it: " +
        'root:www-data 0660 at boot and again when the same unit is added later; 200 both times',
    },
  },
  alsoOn: {
    unicorn: {
      precise: {
        applicable: true,
        expect:
          'the same with unicorn.conf (unicorn-wrapper.conf): present when the bridge starts, the socket is ' +
          'root:root 0755 and every request is a 502; the same file added after boot gets 0777 and every ' +
          'request is a 200 (the bridge is the same for every app)',
      },
      bookworm: {
        applicable: true,
        expect:
          "systemd makes unicorn.socket's socket with its SocketMode=/SocketGroup= whenever it binds it: " +
          'root:www-data 0660 at boot and again when the same unit is added later; 200 both times',
      },
    },
  },
  boot: (flavour, server) =>
    perInit(flavour, {
      precise: (): BootSpec => ({
        label: `${serverFor(server).shipped.job.file} present at boot; socket-permissions.conf removed`,
        remove: [SOCKET_PERMISSIONS_JOB],
      }),
      bookworm: (): BootSpec => ({ label: 'the socket and service units as shipped' }),
    })(),
  async run(ctx) {
    const modeAtBoot = await stat(ctx);
    const load = ctx.load({ durationMs: 120_000, rate: 100, concurrency: 4, timeoutMs: 5000 });
    const p = new Phases(ctx);
    await p.hold(AT_BOOT, 1500);
    const { job, socketUnit } = ctx.server.shipped;
    const unitPath = `/etc/systemd/system/${socketUnit.file}`;
    await perInit(ctx.flavour, {
      precise: async () => {
        // Removing the job makes the bridge close its socket (the file stays behind): clear it too.
        await ctx.act(
          'apply',
          `rm /etc/init/${job.file} (the bridge drops its socket) and the stale socket file`,
          async () => {
            await ctx.must(`rm -f /etc/init/${job.file}`);
            await sleep(500);
            await ctx.must(`rm -f ${ctx.server.socketPath}`);
          },
        );
        await ctx.applyConfig(job.file, job.text(), `lab apply ${job.file} (the same file, added after boot)`);
      },
      bookworm: async () => {
        const units = `${ctx.server.job}.socket ${ctx.server.job}.service`;
        await ctx.act('apply', `systemctl stop ${units}; rm the socket unit; daemon-reload`, () =>
          ctx.must(`systemctl stop ${units} && rm -f ${unitPath} && systemctl daemon-reload`),
        );
        await ctx.applyConfig(
          socketUnit.file,
          socketUnit.text(),
          `lab apply ${socketUnit.file} (the same unit, added after boot)`,
        );
      },
    })();
    await sleep(300);
    const modeAddedLater = await stat(ctx);
    await p.hold(LATER, 1500);
    const records = await load.stop();
    return { ...p.facts(records), modeAtBoot, modeAddedLater };
  },
  verdict({ flavour, facts: f }) {
    const j = new Judge();
    const pct = (name: string) => {
      const s = okShare(f, name);
      return s < 0 ? 'no requests' : `${Math.round(s * 100)}%`;
    };
    perInit(flavour, {
      precise: () => {
        j.equal('socket mode, job present at boot', 'root:root 755', f.modeAtBoot);
        j.check(`${AT_BOOT}: answered 200`, 'none (502)', pct(AT_BOOT), okShare(f, AT_BOOT) === 0);
        j.equal('socket mode, same job added after boot', 'root:root 777', f.modeAddedLater);
      },
      bookworm: () => {
        j.equal('socket mode at boot', 'root:www-data 660', f.modeAtBoot);
        j.check(`${AT_BOOT}: answered 200`, 'all', pct(AT_BOOT), okShare(f, AT_BOOT) >= 0.99);
        j.equal('socket mode, same unit added after boot', 'root:www-data 660', f.modeAddedLater);
      },
    })();
    j.check(`${LATER}: answered 200`, 'all', pct(LATER), okShare(f, LATER) >= 0.98);
    for (const l of phaseLines(f)) j.note(l);
    return j.verdict();
  },
};
