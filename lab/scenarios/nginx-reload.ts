import { shippedBoot } from '../session/configs';
import { sleep } from '../session/context';
import { Judge, failuresText } from '../session/judge';
import type { Scenario } from '../session/types';

const RELOADS = 3;

type F = { reloads: number; reloadExits: number[]; nginxMastersAfter: number; nginxWorkersAfter: number };

/** nginx re-reading its configuration (logrotate, a certificate renewal) while traffic flows. */
export const nginxReload: Scenario<F> = {
  name: 'nginx-reload',
  title: `${RELOADS} nginx reloads (HUP) under load`,
  story: 'logrotate or a certificate renewal reloads nginx every night; nobody should see an error because of it.',
  expect: {
    precise: {
      applicable: true,
      expect:
        `initctl reload nginx (HUP) ${RELOADS} times: new nginx workers take over, old ones finish ` +
        `their requests: no request nginx accepted fails (no 5xx, nothing refused); the one thing ` +
        `a reload can cost is the keep-alive race: an old worker closing an idle client connection ` +
        `just as the client sends on it (a reset, at most one per reload, which browsers retry)`,
    },
    bookworm: {
      applicable: true,
      expect:
        `systemctl reload nginx (HUP) ${RELOADS} times: the same as under upstart, no request ` +
        `nginx accepted fails; at most one keep-alive reset per reload`,
    },
  },
  alsoOn: {
    unicorn: {
      precise: {
        applicable: true,
        expect:
          `the same with unicorn behind its wrapper: ${RELOADS} reloads of nginx, no request nginx accepted fails; ` +
          'the upstream unix socket and unicorn are not touched (the wrapper and its master keep their pids); at ' +
          'most one keep-alive reset per reload',
      },
      bookworm: {
        applicable: true,
        expect: `the same under systemd with unicorn: no request nginx accepted fails; at most one keep-alive reset per reload`,
      },
    },
  },
  boot: shippedBoot,
  async run(ctx) {
    await ctx.warmUp();
    const load = ctx.load({ durationMs: 60_000, slowEvery: 10, slowMs: 300 });
    const exits: number[] = [];
    await sleep(700);
    for (let i = 0; i < RELOADS; i++) {
      exits.push((await ctx.initctl('reload', 'nginx')).code);
      await sleep(900);
    }
    await sleep(500);
    await load.stop();
    const s = await ctx.inspect();
    return {
      reloads: RELOADS,
      reloadExits: exits,
      nginxMastersAfter: s.nginx.filter((n) => n.role === 'master').length,
      nginxWorkersAfter: s.nginx.filter((n) => n.role === 'worker').length,
    };
  },
  verdict({ continuity: c, facts: f }) {
    const j = new Judge();
    j.check(
      'reload commands',
      `${f.reloads} x exit 0`,
      f.reloadExits.join(','),
      f.reloadExits.length === f.reloads && f.reloadExits.every((e) => e === 0),
    );
    // A reset is the client's keep-alive race with an old worker closing idle connections;
    // anything else (a 502, a refusal, a timeout) would be nginx dropping a request it took.
    const resets = c.failures.reset ?? 0;
    j.equal('failed requests other than keep-alive resets', 0, c.failed - resets);
    j.atMost('keep-alive resets (idle connection closed by an old worker as the client sent)', f.reloads, resets);
    j.note(`failures: ${failuresText(c)}; longest gap ${c.longestGapMs} ms; p99 ${c.latencyMs.p99} ms`);
    j.equal('nginx masters after', 1, f.nginxMastersAfter);
    return j.verdict();
  },
};
