import { SOCKET_PERMISSIONS_JOB, SOCKET_UNIT, systemd, systemdBoot, upstart, upstartBoot } from '../session/configs';
import type { ScenarioContext } from '../session/context';
import { Judge } from '../session/judge';
import { type PhaseFacts, Phases, okShare, phaseLines } from '../session/phases';
import { type Scenario, perInit } from '../session/types';

const HOLD = 1500;

type F = PhaseFacts & { socketAtBoot: string; socketAfterOwnSocket: string };

const stat = async (ctx: ScenarioContext) =>
  (await ctx.sh(`stat -c '%U:%G %a' ${ctx.server.socketPath} 2>/dev/null || echo absent`)).stdout.trim();

async function nginxUser(ctx: ScenarioContext, user: string): Promise<void> {
  await ctx.must(`sed -i 's/^user [^;]*;/user ${user};/' /etc/nginx/nginx.conf && /usr/sbin/nginx -t 2>/dev/null`);
  const r = await ctx.initctl('reload', 'nginx');
  if (r.code !== 0) throw new Error(`reloading nginx failed: ${(r.stderr || r.stdout).trim()}`);
}

/** The seed's troubleshooting item: a socket nginx's www-data workers may not connect to, and three fixes. */
export const socketPermissions: Scenario<F> = {
  name: 'socket-permissions',
  title: 'a root-owned 0755 socket and nginx as www-data: 502, and three fixes compared',
  story:
    'Every request answers 502 Bad Gateway and nginx logs "connect() to unix:/var/run/app.sock ' +
    'failed (13: Permission denied)"; the advice found online is to run nginx as root.',
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
  boot: (flavour) =>
    perInit(flavour, {
      precise: () =>
        upstartBoot(
          upstart.strategy('bridge-inplace'),
          'phoenix.conf = bridge-inplace.conf present at boot; socket-permissions.conf removed',
          { remove: [SOCKET_PERMISSIONS_JOB] },
        ),
      bookworm: () =>
        systemdBoot(systemd.service(), 'phoenix.socket with SocketGroup=root SocketMode=0755', {
          files: { [SOCKET_UNIT]: systemd.socketMode(systemd.socket(), 'root', '0755') },
        }),
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

    await perInit(ctx.flavour, {
      precise: async () => {
        // The class is replaced when the running job stops: the bridge then drops its socket and
        // phoenix, started by init, binds its own over the stale file.
        await ctx.applyConfig(
          'phoenix.conf',
          upstart.strategy('exec-respawn'),
          'lab apply phoenix.conf = strategies/exec-respawn.conf (own socket, www-data 0660)',
        );
        await ctx.initctl('stop', ctx.server.job);
        const r = await ctx.initctl('start', ctx.server.job);
        if (r.code !== 0) throw new Error(`initctl start ${ctx.server.job}: ${(r.stderr || r.stdout).trim()}`);
      },
      bookworm: async () => {
        await ctx.applyConfig(
          'phoenix.socket',
          systemd.socket(),
          'lab apply phoenix.socket (SocketGroup=www-data SocketMode=0660)',
        );
      },
    })();
    await ctx.untilAnswered(5000);
    await p.hold('fix: socket made for www-data', HOLD);
    const records = await load.stop();
    return { ...p.facts(records), socketAtBoot, socketAfterOwnSocket: await stat(ctx) };
  },
  verdict({ facts: f }) {
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
    j.equal('socket after the last fix', 'root:www-data 660', f.socketAfterOwnSocket);
    j.note(
      'nginx as root works only because root ignores file permissions: every nginx worker then runs as root, so do not ship it',
    );
    for (const l of phaseLines(f)) j.note(l);
    return j.verdict();
  },
};
