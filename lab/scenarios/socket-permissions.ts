import type { Flavour } from '../engine/flavour-images';
import { DEFAULT_SERVER, serverFor } from '../servers';
import type { ServerName } from '../servers/types';
import { SOCKET_PERMISSIONS_JOB, systemd } from '../session/configs';
import { writeFileLine } from '../engine/boot-spec';
import type { ScenarioContext } from '../session/context';
import { Judge } from '../session/judge';
import { type PhaseFacts, Phases, okShare, phaseLines } from '../session/phases';
import { type BootSpec, type Expectation, type Scenario, perInit } from '../session/types';

const HOLD = 1500;

type F = PhaseFacts & { socketAtBoot: string; socketAfterOwnSocket: string };

const stat = async (ctx: ScenarioContext) =>
  (await ctx.sh(`stat -c '%U:%G %a' ${ctx.server.socketPath} 2>/dev/null || echo absent`)).stdout.trim();

async function nginxUser(ctx: ScenarioContext, user: string): Promise<void> {
  await ctx.must(`sed -i 's/^user [^;]*;/user ${user};/' /etc/nginx/nginx.conf && /usr/sbin/nginx -t 2>/dev/null`);
  const r = await ctx.initctl('reload', 'nginx');
  if (r.code !== 0) throw new Error(`reloading nginx failed: ${(r.stderr || r.stdout).trim()}`);
}

const SYSTEMD = '/etc/systemd/system';

/**
 * The third fix differs by server: the job that binds its own socket for www-data, and the
 * mode that socket gets (phoenix: its own --socket-group/--socket-mode; unicorn: 0777).
 */
const ON: Record<ServerName, { expect: Record<Flavour, Expectation> }> = {
  phoenix: {
    expect: {
      precise: {
        applicable: true,
        expect:
          'with phoenix.conf present at boot and no permission job, the bridge makes the socket ' +
          'root:root 0755 and every request is a 502; each fix restores 200s: chgrp www-data + chmod ' +
          '0660 after the bridge made it (what socket-permissions.conf does at boot), nginx as root ' +
          '(works, but UNSAFE: a web server running as root), and phoenix binding its own socket ' +
          'with --socket-group www-data --socket-mode 0660 (the exec-respawn strategy); undoing a ' +
          'fix brings the 502s back',
      },
      bookworm: {
        applicable: true,
        expect:
          "with phoenix.socket set to SocketGroup=root SocketMode=0755, systemd's socket is " +
          'root:root 0755 and every request is a 502; chmod after the fact, nginx as root (UNSAFE) ' +
          "and the unit's own SocketGroup=www-data SocketMode=0660 (applied with lab apply, socket " +
          're-bound) each restore 200s',
      },
    },
  },
  unicorn: {
    expect: {
      precise: {
        applicable: true,
        expect:
          "the seed's troubleshooting item itself: with unicorn.conf present at boot and no permission job, the " +
          'bridge makes the socket root:root 0755 and every request is a 502; each fix restores 200s: chgrp ' +
          'www-data + chmod 0660 after the bridge made it (socket-permissions.conf at boot), nginx as root ' +
          '(UNSAFE), and unicorn binding its own socket (unicorn-exec.conf, `-l`: unicorn binds under umask 0, ' +
          'root:root 0777); undoing a fix brings the 502s back',
      },
      bookworm: {
        applicable: true,
        expect:
          "with unicorn.socket set to SocketGroup=root SocketMode=0755, systemd's socket is root:root 0755 and " +
          'every request is a 502; chmod after the fact, nginx as root (UNSAFE) and the unit as shipped ' +
          '(SocketGroup=www-data SocketMode=0660, applied with lab apply) each restore 200s',
      },
    },
  },
};

/** The seed's troubleshooting item: a socket nginx's www-data workers may not connect to, and three fixes. */
export const socketPermissions: Scenario<F> = {
  name: 'socket-permissions',
  title: 'a root-owned 0755 socket and nginx as www-data: 502, and three fixes compared',
  story:
    'Every request answers 502 Bad Gateway and nginx logs "connect() to unix:/var/run/app.sock ' +
    'failed (13: Permission denied)"; the advice found online is to run nginx as root.',
  expect: ON.phoenix.expect,
  alsoOn: { unicorn: ON.unicorn.expect },
  boot: (flavour, server) =>
    perInit(flavour, {
      precise: (): BootSpec => ({
        label: `${serverFor(server).shipped.job.file} present at boot; socket-permissions.conf removed`,
        remove: [SOCKET_PERMISSIONS_JOB],
      }),
      bookworm: (): BootSpec => {
        const unit = serverFor(server).shipped.socketUnit;
        return {
          label: `${unit.file} with SocketGroup=root SocketMode=0755`,
          shell: [writeFileLine(`${SYSTEMD}/${unit.file}`, systemd.socketMode(unit.text(), 'root', '0755'))],
        };
      },
    })(),
  async run(ctx) {
    const sock = ctx.server.socketPath;
    const socketAtBoot = await stat(ctx);
    const load = ctx.load({ durationMs: 120_000, rate: 100, concurrency: 4 });
    const p = new Phases(ctx);
    await p.hold('broken', HOLD);

    await ctx.act('apply', `chgrp www-data + chmod 0660 ${sock}`, () =>
      ctx.must(`chgrp www-data ${sock} && chmod 0660 ${sock}`),
    );
    await p.hold('fix: chmod', HOLD);
    await ctx.act('apply', 'undo: chgrp root + chmod 0755', () => ctx.must(`chgrp root ${sock} && chmod 0755 ${sock}`));
    await p.hold('broken again', HOLD);

    await ctx.act('apply', 'nginx.conf: user root (UNSAFE)', () => nginxUser(ctx, 'root'));
    await p.hold('fix: nginx as root', HOLD);
    await ctx.act('apply', 'undo: nginx.conf user www-data', () => nginxUser(ctx, 'www-data'));
    await p.hold('broken once more', HOLD);

    const shipped = ctx.server.shipped;
    await perInit(ctx.flavour, {
      precise: async () => {
        // The class is replaced when the running job stops: the bridge then drops its socket and
        // the server, started by init, binds its own over the stale file.
        await ctx.applyConfig(
          shipped.job.file,
          shipped.ownSocketJob.text(),
          `lab apply ${shipped.job.file} = ${shipped.ownSocketJob.label}`,
        );
        await ctx.initctl('stop', ctx.server.job);
        const r = await ctx.initctl('start', ctx.server.job);
        if (r.code !== 0) throw new Error(`initctl start ${ctx.server.job}: ${(r.stderr || r.stdout).trim()}`);
      },
      bookworm: async () => {
        await ctx.applyConfig(
          shipped.socketUnit.file,
          shipped.socketUnit.text(),
          `lab apply ${shipped.socketUnit.file} (SocketGroup=www-data SocketMode=0660)`,
        );
      },
    })();
    await ctx.untilAnswered(5000);
    await p.hold('fix: socket made for www-data', HOLD);
    const records = await load.stop();
    return { ...p.facts(records), socketAtBoot, socketAfterOwnSocket: await stat(ctx) };
  },
  verdict({ flavour, server, facts: f }) {
    const j = new Judge();
    j.equal('socket at boot', 'root:root 755', f.socketAtBoot);
    for (const broken of ['broken', 'broken again', 'broken once more']) {
      const s = okShare(f, broken);
      j.check(
        `${broken}: requests answered 200`,
        'none (all 502)',
        s < 0 ? 'no requests' : `${Math.round(s * 100)}%`,
        s === 0,
      );
    }
    for (const fix of ['fix: chmod', 'fix: nginx as root', 'fix: socket made for www-data']) {
      const s = okShare(f, fix);
      j.check(
        `${fix}: requests answered 200`,
        'at least 98%',
        s < 0 ? 'no requests' : `${Math.round(s * 100)}%`,
        s >= 0.98,
      );
    }
    // The shipped socket unit's mode, or what the server's own-socket job makes (its driver says).
    const made = perInit(flavour, {
      precise: serverFor(server ?? DEFAULT_SERVER).shipped.ownSocketJob.socket,
      bookworm: 'root:www-data 660',
    });
    j.equal('socket after the last fix', made, f.socketAfterOwnSocket);
    j.note(
      'nginx as root works only because root ignores file permissions: every nginx worker then runs as root, so do not ship it',
    );
    for (const l of phaseLines(f)) j.note(l);
    return j.verdict();
  },
};
