import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { readPid } from '../../src/pidfile';
import { Harness, type Proc, isRunning, processesTagged, sleep, waitUntil, withNginx } from '../support/harness';
import { get, getJson } from '../support/http';

type Who = { pid: number; master: number; worker: number; generation: number; version: string };

/** Live workers according to the master's own log: spawned, not yet exited. */
function liveWorkers(p: Proc): Map<number, { gen: number; slot: number; ready: boolean }> {
  const live = new Map<number, { gen: number; slot: number; ready: boolean }>();
  for (const e of p.events()) {
    if (e.role !== 'master' || !e.wpid) continue;
    const pid = Number(e.wpid);
    if (e.event === 'worker-spawn') live.set(pid, { gen: Number(e.wgen), slot: Number(e.worker), ready: false });
    if (e.event === 'worker-ready') live.get(pid)!.ready = true;
    if (e.event === 'worker-exit') live.delete(pid);
  }
  return live;
}

async function startMaster(
  h: Harness,
  name: string,
  extra: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<{ p: Proc; sock: string; tag: string }> {
  const sock = h.file(`${name}.sock`);
  const tag = randomUUID();
  const p = h.startPhoenix(['--listen', `unix:${sock}`, '--pid', h.file(`${name}.pid`), ...extra], {
    env: { PHOENIX_TEST_TAG: tag, ...env },
  });
  await p.waitFor((e) => e.role === 'master' && e.event === 'ready');
  return { p, sock, tag };
}

describe('master and worker signals do what unicorn documents', () => {
  let h: Harness;
  before(() => {
    h = new Harness();
  });
  after(async () => h.cleanup());

  test('HUP re-reads the config file and replaces workers gracefully; a bad config is rejected and the old one kept', async () => {
    const cfg = h.file('hup.json');
    fs.writeFileSync(cfg, JSON.stringify({ workers: 2 }));
    const { p, sock } = await startMaster(h, 'hup', ['--config', cfg]);
    const before = await getJson<Who>(sock);
    fs.writeFileSync(cfg, JSON.stringify({ workers: 3 }));
    let from = p.events().length;
    p.child.kill('SIGHUP');
    await p.waitFor((e) => e.event === 'generation-live', 10_000, from);
    await waitUntil(
      () =>
        [...liveWorkers(p).values()].filter((w) => w.gen === 2 && w.ready).length === 3 && liveWorkers(p).size === 3,
      5000,
      '3 workers of generation 2',
    );
    const afterHup = await getJson<Who>(sock);
    assert.equal(afterHup.master, before.master, 'HUP keeps the master');
    assert.equal(afterHup.generation, 2);

    fs.writeFileSync(cfg, '{"workers": "lots"');
    from = p.events().length;
    p.child.kill('SIGHUP');
    const rejected = await p.waitFor((e) => e.event === 'config-rejected', 10_000, from);
    assert.match(rejected.error, /not valid JSON/);
    await p.waitFor((e) => e.event === 'generation-live', 10_000, from);
    await waitUntil(() => liveWorkers(p).size === 3, 5000, 'still 3 workers with the previous config');
  });

  test('QUIT: in-flight requests finish, then the master exits 0 and removes its pid and socket files', async () => {
    const { p, sock } = await startMaster(h, 'quit');
    const slow = get(sock, '/slow?ms=800');
    await sleep(200);
    p.child.kill('SIGQUIT');
    const reply = await slow;
    assert.equal(reply.status, 200, 'the request in flight at QUIT completes');
    assert.deepEqual(await p.exited, { code: 0, signal: null });
    assert.equal(fs.existsSync(h.file('quit.pid')), false);
    assert.equal(fs.existsSync(sock), false);
  });

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    test(`${sig}: quick shutdown, in-flight requests are cut, no process left`, async () => {
      const { p, sock, tag } = await startMaster(h, sig);
      const slow = get(sock, '/slow?ms=5000').then(
        () => 'answered',
        () => 'cut',
      );
      await sleep(200);
      const t0 = Date.now();
      p.child.kill(sig);
      assert.deepEqual(await p.exited, { code: 0, signal: null });
      assert.ok(Date.now() - t0 < 2000, 'quick means quick');
      assert.equal(await slow, 'cut');
      await waitUntil(() => processesTagged(tag).length === 0, 3000, 'workers to be gone');
    });
  }

  test('USR1 reopens the log file (logrotate moved it away)', async () => {
    const log = h.file('phoenix.log');
    const p = h.startPhoenix(['--listen', `unix:${h.file('usr1.sock')}`, '--log-file', log]);
    // With --log-file the lifecycle lines go to the file, not to stderr.
    await waitUntil(
      () => fs.existsSync(log) && /role=master event=ready/.test(fs.readFileSync(log, 'utf8')),
      5000,
      'ready in the log file',
    );
    h.track(p.pid);
    fs.renameSync(log, `${log}.1`);
    p.child.kill('SIGUSR1');
    await waitUntil(() => fs.existsSync(log), 3000, 'a new log file');
    p.child.kill('SIGTTIN');
    await waitUntil(() => /event=worker-ready/.test(fs.readFileSync(log, 'utf8')), 5000, 'new lines in the new file');
    assert.match(fs.readFileSync(`${log}.1`, 'utf8'), /event=ready/);
  });

  test('WINCH stops every worker and keeps the master; HUP brings them back', async () => {
    const { p, sock } = await startMaster(h, 'winch');
    p.child.kill('SIGWINCH');
    await waitUntil(() => liveWorkers(p).size === 0, 5000, 'no workers');
    assert.ok(isRunning(p.pid));
    p.child.kill('SIGHUP');
    await waitUntil(() => [...liveWorkers(p).values()].filter((w) => w.ready).length === 2, 5000, 'workers back');
    assert.equal((await get(sock)).status, 200);
  });

  test('TTIN adds a worker, TTOU removes one', async () => {
    const { p } = await startMaster(h, 'ttin');
    p.child.kill('SIGTTIN');
    await waitUntil(() => [...liveWorkers(p).values()].filter((w) => w.ready).length === 3, 5000, '3 workers');
    // one at a time: a second TTOU sent while the first is still pending is merged into it
    p.child.kill('SIGTTOU');
    await waitUntil(() => liveWorkers(p).size === 2, 5000, '2 workers');
    p.child.kill('SIGTTOU');
    await waitUntil(() => liveWorkers(p).size === 1, 5000, '1 worker');
    assert.deepEqual(
      [...liveWorkers(p).values()].map((w) => w.slot),
      [0],
    );
  });

  test('a worker QUIT finishes its request; a worker TERM dies now; the master replaces both', async () => {
    const { p, sock } = await startMaster(h, 'wsig', ['--workers', '1']);
    const first = await getJson<Who>(sock);
    const slow = get(sock, '/slow?ms=600');
    await sleep(150);
    process.kill(first.pid, 'SIGQUIT');
    assert.equal((await slow).status, 200);
    await waitUntil(
      () => [...liveWorkers(p).entries()].some(([pid, w]) => pid !== first.pid && w.ready),
      5000,
      'a replacement',
    );
    const second = await getJson<Who>(sock);
    assert.notEqual(second.pid, first.pid);
    const cut = get(sock, '/slow?ms=3000').then(
      () => 'answered',
      () => 'cut',
    );
    await sleep(150);
    process.kill(second.pid, 'SIGTERM');
    assert.equal(await cut, 'cut');
    await waitUntil(
      () => [...liveWorkers(p).entries()].some(([pid, w]) => pid !== second.pid && w.ready),
      5000,
      'another replacement',
    );
    assert.equal((await get(sock)).status, 200);
  });

  test('a draining worker closes keep-alive connections cleanly: the in-flight answer says connection: close, idle ones are closed', async () => {
    const { sock } = await startMaster(h, 'keepalive', ['--workers', '1']);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    const ask = (path: string) =>
      new Promise<http.IncomingMessage & { body: string; conn: import('node:net').Socket }>((resolve, reject) => {
        http
          .get({ socketPath: sock, path, agent }, (res) => {
            let body = '';
            const conn = res.socket;
            res.on('data', (d: Buffer) => (body += d));
            res.on('end', () => resolve(Object.assign(res, { body, conn })));
          })
          .on('error', reject);
      });
    try {
      const idle = await ask('/');
      assert.equal(idle.headers.connection, 'keep-alive');
      const idleSocket = idle.conn;
      const idleClosed = new Promise<boolean>((r) => idleSocket.once('close', (hadError: boolean) => r(hadError)));
      const worker = Number(idle.headers['x-phoenix-pid']);
      const slow = ask('/slow?ms=500');
      await sleep(150);
      process.kill(worker, 'SIGQUIT');
      const r = await slow;
      assert.equal(r.statusCode, 200);
      assert.equal(r.headers.connection, 'close', 'the last answer of a draining worker closes its connection');
      assert.equal(await idleClosed, false, 'the idle keep-alive connection is closed without an error');
    } finally {
      agent.destroy();
    }
  });

  test('a worker that dies (/crash) is replaced', async () => {
    const { p, sock } = await startMaster(h, 'crash', ['--workers', '1']);
    const victim = await getJson<Who>(sock);
    await get(sock, '/crash').catch(() => undefined);
    const exit = await p.waitFor((e) => e.event === 'worker-exit' && e.wpid === String(victim.pid));
    assert.equal(exit.code, '1');
    assert.equal(exit.expected, 'false');
    await waitUntil(() => [...liveWorkers(p).values()].some((w) => w.ready), 5000, 'a replacement');
    assert.notEqual((await getJson<Who>(sock)).pid, victim.pid);
  });

  test('timeout: a worker whose event loop is stuck longer than --timeout is killed and replaced', async () => {
    const { p, sock } = await startMaster(h, 'timeout', ['--workers', '1', '--timeout', '1']);
    const victim = await getJson<Who>(sock);
    const stuck = get(sock, '/block?ms=20000').catch(() => 'cut');
    const t = await p.waitFor((e) => e.event === 'worker-timeout' && e.wpid === String(victim.pid), 8000);
    assert.ok(Number(t.silentMs) >= 1000);
    const exit = await p.waitFor((e) => e.event === 'worker-exit' && e.wpid === String(victim.pid));
    assert.equal(exit.signal, 'SIGKILL');
    assert.equal(await stuck, 'cut');
    await waitUntil(() => [...liveWorkers(p).values()].some((w) => w.ready), 5000, 'a replacement');
    assert.notEqual((await getJson<Who>(sock)).pid, victim.pid);
  });

  test('a worker that dies before it is ready is respawned with a growing backoff, while the other one serves', async () => {
    const app = h.file('flaky.js');
    fs.writeFileSync(app, "module.exports = (req, res) => res.end('ok\\n');\n");
    const { p, sock } = await startMaster(h, 'backoff', ['--app', app]);
    const [victim, survivor] = [...liveWorkers(p).entries()];
    fs.writeFileSync(app, "throw new Error('broken on disk');\n");
    const from = p.events().length;
    process.kill(victim[0], 'SIGKILL');
    const spawns = () =>
      p
        .events()
        .slice(from)
        .filter((e) => e.event === 'worker-spawn' && e.worker === String(victim[1].slot));
    await waitUntil(() => spawns().length >= 3, 15_000, 'three respawns of the broken slot');
    const at = spawns().map((e) => Date.parse(e.ts));
    // The first replacement is immediate (the worker had been ready); it dies before ready,
    // so the next comes 1 s after it died, and the one after that 2 s.
    const gaps = at.slice(1, 3).map((t, i) => t - at[i]);
    assert.ok(gaps[0] >= 1000 && gaps[1] >= 2000, `respawn gaps ${gaps.join(', ')} ms`);
    assert.equal((await get(sock)).status, 200, 'the other worker serves meanwhile');
    assert.ok(isRunning(survivor[0]));
    fs.writeFileSync(app, "module.exports = (req, res) => res.end('fixed\\n');\n");
    await waitUntil(() => [...liveWorkers(p).values()].filter((w) => w.ready).length === 2, 10_000, 'two workers');
  });

  test('USR2 (in-place) with an app that no longer loads keeps the old generation serving', async () => {
    const app = h.file('app.js');
    fs.writeFileSync(app, "module.exports = (req, res) => res.end('v1\\n');\n");
    const { p, sock } = await startMaster(h, 'badup', ['--app', app]);
    fs.writeFileSync(app, "throw new Error('syntax of v2 is broken');\n");
    const from = p.events().length;
    p.child.kill('SIGUSR2');
    const failed = await p.waitFor((e) => e.event === 'generation-failed', 10_000, from);
    assert.match(failed.error, /syntax of v2 is broken/);
    assert.equal((await get(sock)).body, 'v1\n');
    fs.writeFileSync(app, "module.exports = (req, res) => res.end('v3\\n');\n");
    p.child.kill('SIGUSR2');
    await p.waitFor((e) => e.event === 'generation-live', 10_000, from);
    await waitUntil(() => liveWorkers(p).size === 2, 5000, 'old generation retired');
    assert.equal((await get(sock)).body, 'v3\n');
  });

  test('USR2 (reexec) whose new master fails puts the pid file back and the old master keeps serving', async () => {
    const app = h.file('reapp.js');
    fs.writeFileSync(app, "module.exports = (req, res) => res.end('v1\\n');\n");
    const pidFile = h.file('reexec-fail.pid');
    const { p, sock } = await startMaster(h, 'reexec-fail', ['--app', app, '--upgrade', 'reexec', '--quit-oldbin']);
    fs.writeFileSync(app, "throw new Error('v2 cannot start');\n");
    const from = p.events().length;
    p.child.kill('SIGUSR2');
    await p.waitFor((e) => e.event === 'reexec-failed', 10_000, from);
    await waitUntil(() => readPid(pidFile) === p.pid && !fs.existsSync(`${pidFile}.oldbin`), 3000, 'pid file restored');
    assert.equal((await get(sock)).body, 'v1\n');
    assert.ok(fs.existsSync(sock), 'the failed new master must not remove the socket it inherited');
  });

  test('reexec without --quit-oldbin: both masters run, the pid files say which is which, a second USR2 is refused', async () => {
    const pidFile = h.file('two.pid');
    const { p, sock } = await startMaster(h, 'two', ['--upgrade', 'reexec']);
    p.child.kill('SIGUSR2');
    await waitUntil(() => readPid(pidFile) !== undefined && readPid(pidFile) !== p.pid, 5000, 'a new master pid file');
    const newMaster = readPid(pidFile)!;
    h.track(newMaster);
    await p.waitFor((e) => e.pid === String(newMaster) && e.event === 'ready');
    assert.equal(readPid(`${pidFile}.oldbin`), p.pid);
    assert.ok(isRunning(p.pid) && isRunning(newMaster));
    const from = p.events().length;
    process.kill(newMaster, 'SIGUSR2');
    await p.waitFor((e) => e.event === 'reexec-refused' && e.pid === String(newMaster), 5000, from);
    // The operator finishes the upgrade by hand, as with unicorn.
    p.child.kill('SIGQUIT');
    await p.exited;
    assert.equal(fs.existsSync(`${pidFile}.oldbin`), false);
    assert.equal(readPid(pidFile), newMaster);
    assert.equal((await get(sock)).status, 200);
  });
});

describe('inits and nginx: the socket handed over the way each init does it', () => {
  const fx = withNginx('init.sock');

  test('systemd (LISTEN_FDS/LISTEN_PID): serves and upgrades in place', async () => {
    const { h, nginx, port } = fx;
    const p = h.startPhoenix([], { via: { kind: 'systemd', socket: h.file('init.sock') } });
    await p.waitFor((e) => e.role === 'master' && e.event === 'ready');
    assert.match(p.stderr(), /listeners=unix:\S+init.sock\(systemd:fd3\)/);
    await nginx.start();
    assert.equal((await get(port)).status, 200);
    // p.child is the fd-passing parent (the init); the wrapper is p.pid.
    process.kill(p.pid, 'SIGUSR2');
    await p.waitFor((e) => e.event === 'generation-retired');
    assert.equal((await getJson<Who>(port)).generation, 2);
    p.child.kill('SIGTERM');
    await p.exited;
  });

  test(
    "upstart's 0755 root socket: nginx's www-data workers get 502; the wrapper's own socket (0666) works",
    { skip: process.getuid?.() !== 0 && 'needs root: nginx workers run as www-data' },
    async () => {
      const { h, nginx, port } = fx;
      const sock = h.file('init.sock');
      const p = h.startPhoenix([], { via: { kind: 'upstart', socket: sock, mode: '0755' } });
      await p.waitFor((e) => e.role === 'master' && e.event === 'ready');
      assert.equal((await get(port)).status, 502);
      assert.match(nginx.errorLog(), /connect\(\) to unix:\S+init.sock failed \(13: Permission denied\)/);
      p.child.kill('SIGTERM');
      await p.exited;
      const own = h.startPhoenix(['--listen', `unix:${sock}`]);
      await own.waitFor((e) => e.role === 'master' && e.event === 'ready');
      assert.equal(fs.statSync(sock).mode & 0o777, 0o666);
      assert.equal((await get(port)).status, 200);
      own.child.kill('SIGTERM');
      await own.exited;
    },
  );
});
