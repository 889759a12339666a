/**
 * The lab runner end to end, as a person uses it: `lab up`, `lab status --json`,
 * `lab initctl restart` under load, `lab apply` of a broken and a fixed socket, `lab down`.
 * Flavours as in lab.test.ts (LAB_FLAVOUR); one that cannot be had is skipped with its reason.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { formatContinuity, summarize } from '../../lab/check/continuity';
import { freePort } from '../../lab/host/nginx';
import { runLoad } from '../../lab/load/run';
import { get } from '../support/http';
import { selection } from './lab-container';
import { ROOT } from '../support/root';

const LAB = path.join(ROOT, 'dist', 'lab', 'cli.js');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-e2e-'));

function lab(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [LAB, ...args], {
    encoding: 'utf8',
    env: { ...process.env, LAB_HOME: home },
    timeout: 300_000,
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const flavour of selection().flavours) {
  describe(`lab runner on ${flavour}`, { concurrency: 1 }, () => {
    const name = `e2e-runner-${flavour}-${process.pid}`;
    let port = 0;
    let skip: string | undefined;
    const ready = (t: TestContext) => (skip ? (t.skip(skip), false) : true);

    before(async () => {
      port = await freePort();
      const r = lab(['up', '--flavour', flavour, '--port', String(port), '--name', name]);
      if (r.code === 3) skip = `${flavour} cannot be had here: ${r.err.trim().split('\n')[0]}`;
      else assert.equal(r.code, 0, `lab up failed:\n${r.err}`);
    });
    after(() => {
      lab(['down', '--name', name]);
      fs.rmSync(home, { recursive: true, force: true });
    });

    it('status names the flavour, shows one master that init tracks, and a socket www-data can reach', (t) => {
      if (!ready(t)) return;
      const r = lab(['status', '--name', name, '--json']);
      assert.equal(r.code, 0, r.err);
      const s = JSON.parse(r.out) as {
        flavour: string;
        init: { trackedPid?: number };
        masters: { pid: number; trackedByInit: boolean }[];
        socket?: { group: string; mode: string };
      };
      assert.equal(s.flavour, flavour);
      assert.equal(s.masters.length, 1);
      assert.equal(s.masters[0].trackedByInit, true);
      assert.equal(s.init.trackedPid, s.masters[0].pid);
      assert.equal(s.socket?.group, 'www-data');
      assert.equal(s.socket?.mode, '0660');
    });

    it('initctl restart under load: failures counted and held to what the init promises', async (t) => {
      if (!ready(t)) return;
      const load = runLoad({ origin: `http://127.0.0.1:${port}`, concurrency: 4, durationMs: 6000, timeoutMs: 10_000 });
      await sleep(2000);
      const r = lab(['initctl', '--name', name, 'restart', 'phoenix']);
      const c = summarize(await load);
      t.diagnostic(`${flavour} initctl restart under load: ${formatContinuity(c).replace(/\n/g, '; ')}`);
      assert.ok(c.sent > 100);
      if (flavour === 'bookworm') {
        // systemd keeps the listening socket through the restart: connections wait in its
        // backlog and the graceful QUIT lets in-flight requests finish. Nothing may fail.
        assert.equal(r.code, 0, r.err);
        assert.equal(c.failed, 0, formatContinuity(c));
      } else {
        // upstart 1.5 promises no continuity across a restart of a bridge-started job: the
        // restarted instance's UPSTART_FDS names an fd init has already closed. What it
        // must do is serve again: the next connection makes the bridge start the job.
        assert.equal((await get(port)).status, 200);
      }
    });

    it('a socket www-data cannot reach gives 502; lab apply of the fix restores 200', async (t) => {
      if (!ready(t)) return;
      if (flavour !== 'bookworm')
        return t.skip('precise: the boot-time 0755 socket case is the socket-permissions scenario');
      const good = fs.readFileSync(path.join(ROOT, 'images', 'conf', 'systemd', 'phoenix.socket'), 'utf8');
      const dir = fs.mkdtempSync(path.join(home, 'units-'));
      const broken = path.join(dir, 'phoenix.socket');
      fs.writeFileSync(
        broken,
        good.replace(/^SocketGroup=.*$/m, 'SocketGroup=root').replace(/^SocketMode=.*$/m, 'SocketMode=0600'),
      );
      let r = lab(['apply', '--name', name, broken]);
      assert.equal(r.code, 0, r.err);
      assert.equal((await get(port)).status, 502, 'nginx (www-data) must be refused by a root 0600 socket');
      const fixed = path.join(dir, 'fixed', 'phoenix.socket');
      fs.mkdirSync(path.dirname(fixed));
      fs.writeFileSync(fixed, good);
      r = lab(['apply', '--name', name, fixed]);
      assert.equal(r.code, 0, r.err);
      assert.equal((await get(port)).status, 200);
    });

    it('a rejected nginx site leaves the running one in place', async (t) => {
      if (!ready(t)) return;
      const bad = path.join(home, 'bad-site.conf');
      fs.writeFileSync(
        bad,
        'server {\n  listen 80;\n  location / { proxy_pass http://unix:/var/run/phoenix/phoenix.sock:; }\n  this_is_not_a_directive on;\n}\n',
      );
      const r = lab(['apply', '--name', name, bad]);
      assert.equal(r.code, 1);
      assert.match(r.err, /nginx -t rejected .*the previous site was put back/s);
      assert.equal((await get(port)).status, 200);
    });

    it('lab down leaves no container', (t) => {
      if (!ready(t)) return;
      assert.equal(lab(['down', '--name', name]).code, 0);
      const left = spawnSync('docker', ['ps', '-aq', '--filter', `label=upstart-unicorn-lab.instance=${name}`], {
        encoding: 'utf8',
      });
      assert.equal(left.stdout.trim(), '');
    });
  });
}
