import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Harness, PHOENIX, type Proc, followChild } from '../support/harness';
import { get } from '../support/http';

/**
 * Issue 17's sweep of inherited fds: two variables set at once, variables sd_listen_fds(3)
 * ignores, fd numbers nobody passed, one fd listed twice, and a --listen on port 0.
 */

/**
 * Starts phoenix holding the unix sockets it is given at the fd numbers it is given, as two
 * inits at once would: fd-parent.py hands over one socket only. Nothing else keeps a copy, so
 * a socket phoenix closes refuses its clients. `selfPid`: LISTEN_PID becomes phoenix's own pid
 * (exec keeps the launcher's pid).
 */
const LAUNCHER = `
import json, os, socket, sys
cfg = json.loads(sys.argv[1])
held = {}
for i, (path, fd) in enumerate(cfg['sockets']):
    if path not in held:
        if os.path.exists(path):
            os.unlink(path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(16)
        held[path] = s
    os.dup2(held[path].fileno(), 200 + i)
for i, (path, fd) in enumerate(cfg['sockets']):
    os.dup2(200 + i, fd)
    os.close(200 + i)
env = dict(os.environ, **cfg['env'])
if cfg.get('selfPid'):
    env['LISTEN_PID'] = str(os.getpid())
os.execve(cfg['cmd'][0], cfg['cmd'], env)
`;

interface Launch {
  sockets: [string, number][];
  env: Record<string, string>;
  selfPid?: boolean;
  args?: string[];
}

function launch(h: Harness, l: Launch): Proc {
  const env = { ...process.env };
  for (const k of ['UPSTART_FDS', 'UNICORN_FD', 'LISTEN_FDS', 'LISTEN_PID', 'PHOENIX_WORKER']) delete env[k];
  const cfg = {
    sockets: l.sockets,
    env: l.env,
    selfPid: l.selfPid,
    cmd: [process.execPath, PHOENIX, ...(l.args ?? [])],
  };
  const child = spawn('python3', ['-c', LAUNCHER, JSON.stringify(cfg)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  // exec keeps the pid: the launcher's child is the master itself.
  h.track(child.pid!);
  return followChild(child, { direct: true, defaultMs: 10_000, endsWithStderr: true });
}

/** Connects and reports how the attempt ended: a listening socket nobody accepts on just waits. */
function connectOutcome(path: string, ms = 2000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    const t = setTimeout(() => {
      s.destroy();
      resolve('no answer');
    }, ms);
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(t);
      resolve(err.code ?? err.message);
    });
    // A unix connect completes into the backlog; an answer means someone accepted and served.
    s.once('connect', () => {
      s.write('GET / HTTP/1.0\r\n\r\n');
      s.once('data', () => {
        clearTimeout(t);
        s.destroy();
        resolve('served');
      });
    });
  });
}

/** The exit code, or a failure with the stderr when the process is still running after `ms`. */
function exitCode(p: Proc, ms = 10_000): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`still running after ${ms} ms; stderr:\n${p.stderr()}`)), ms);
    void p.exited.then((e) => {
      clearTimeout(t);
      resolve(e.code);
    });
  });
}

async function stop(p: Proc): Promise<void> {
  p.child.kill('SIGQUIT');
  await p.exited;
}

const master = (p: Proc, event: string) => p.events().filter((e) => e.role === 'master' && e.event === event);

describe('inherited fds: which variable is served is said, and what is not served is not held', () => {
  let h: Harness;
  before(() => {
    h = new Harness();
  });
  after(async () => h.cleanup());

  test('UPSTART_FDS and LISTEN_FDS both set: UPSTART_FDS is served, said, and the other socket refuses', async () => {
    const bridge = h.file('bridge.sock');
    const unit = h.file('unit.sock');
    const p = launch(h, {
      sockets: [
        [bridge, 11],
        [unit, 3],
      ],
      env: { UPSTART_FDS: '11', LISTEN_FDS: '1' },
      selfPid: true,
      args: ['--workers', '1'],
    });
    await p.waitFor((e) => e.role === 'master' && e.event === 'ready');
    const [ignored] = master(p, 'fds-ignored');
    assert.ok(ignored, `an fds-ignored event; stderr:\n${p.stderr()}`);
    assert.equal(ignored.variable, 'LISTEN_FDS');
    assert.equal(ignored.reason, 'other-source');
    assert.equal(ignored.used, 'UPSTART_FDS');
    assert.equal(ignored.closed, '3');
    assert.match(ignored.note, /UPSTART_FDS and LISTEN_FDS are both set: serving UPSTART_FDS/);
    assert.equal(master(p, 'start')[0].source, 'upstart');
    assert.equal((await get(bridge)).status, 200);
    assert.equal(await connectOutcome(unit), 'ECONNREFUSED', 'a client of the socket not served is refused');
    await stop(p);
  });

  test('LISTEN_PID of another process with --listen: ignored as sd_listen_fds(3) says, --listen serves', async () => {
    const own = h.file('own.sock');
    const p = h.startPhoenix(['--listen', `unix:${own}`, '--workers', '1'], {
      via: { kind: 'systemd', socket: h.file('other.sock'), listenPid: '1' },
    });
    await p.waitFor((e) => e.role === 'master' && e.event === 'ready');
    const [ignored] = master(p, 'fds-ignored');
    assert.equal(ignored?.reason, 'listen-pid', p.stderr());
    assert.equal(ignored.used, '--listen');
    assert.equal(ignored.closed, undefined, 'fds passed to another process are not ours to close');
    assert.match(ignored.note, /LISTEN_PID=1 is not this process/);
    assert.equal((await get(own)).status, 200);
    await stop(p);
  });

  test('LISTEN_FDS=0 with --listen: nothing passed, --listen serves; without one, no socket (64)', async () => {
    const own = h.file('zero.sock');
    const p = launch(h, {
      sockets: [],
      env: { LISTEN_FDS: '0' },
      selfPid: true,
      args: ['--listen', `unix:${own}`, '--workers', '1'],
    });
    await p.waitFor((e) => e.role === 'master' && e.event === 'ready');
    assert.equal(master(p, 'fds-ignored')[0]?.reason, 'no-fds', p.stderr());
    assert.equal((await get(own)).status, 200);
    await stop(p);

    const none = launch(h, { sockets: [], env: { LISTEN_FDS: '0' }, selfPid: true });
    assert.equal(await exitCode(none), 64, none.stderr());
    assert.match(none.stderr(), /^phoenix: no socket to serve: LISTEN_FDS=0 passes no fds, and no --listen given$/m);
    assert.equal(master(none, 'start-failed')[0].reason, 'no-socket');
  });

  test('an fd number nobody passed is said to be not inherited, whatever Node holds there', async () => {
    for (let fd = 3; fd <= 12; fd++) {
      const p = h.startPhoenix([], { env: { UPSTART_FDS: String(fd) } });
      assert.equal(await exitCode(p), 65, p.stderr());
      const [line] = p
        .stderr()
        .split('\n')
        .filter((l) => l.startsWith('phoenix: '));
      assert.match(
        line,
        new RegExp(
          `UPSTART_FDS: fd ${fd} (was not inherited|is not open in this process): nothing was passed at fd ${fd}\\b`,
        ),
      );
      assert.equal(master(p, 'start-failed')[0].reason, 'fd-closed');
    }
  });

  test('one socket passed at two fds is refused (65), not registered twice', async () => {
    const p = launch(h, {
      sockets: [
        [h.file('twice.sock'), 11],
        [h.file('twice.sock'), 12],
      ],
      env: { UNICORN_FD: '11,12' },
    });
    assert.equal(await exitCode(p), 65, p.stderr());
    assert.match(p.stderr(), /UNICORN_FD: fds 11 and 12 are the same socket \(unix:\S+twice.sock\); pass it once/);
    assert.equal(master(p, 'start-failed')[0].reason, 'bad-fd-list');
  });
});

/** A GET to [::1]:port. */
function get6(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '::1', family: 6, port, path: '/', agent: false, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

describe('--listen on port 0: the port the kernel chose is said, and kept across a reexec', () => {
  let h: Harness;
  before(() => {
    h = new Harness();
  });
  after(async () => h.cleanup());

  test("'[::1]:0' names its port in the start event; a reexec serves that port and binds no other", async () => {
    const p = h.startPhoenix(['--listen', '[::1]:0', '--workers', '1', '--upgrade', 'reexec', '--quit-oldbin']);
    await p.waitFor((e) => e.role === 'master' && e.event === 'ready');
    const first = master(p, 'start')[0].listeners;
    const m = /^tcp:::1:(\d+)\(bound:fd\d+\)$/.exec(first);
    assert.ok(m && m[1] !== '0', `the start event names the port: ${first}`);
    const port = Number(m[1]);
    assert.equal(await get6(port), 200);

    process.kill(p.pid, 'SIGUSR2');
    const reexec = await p.waitFor((e) => e.event === 'reexec');
    await p.waitFor((e) => e.event === 'ready' && e.pid === reexec.child);
    const next = p.events().find((e) => e.event === 'start' && e.pid === reexec.child)!.listeners;
    assert.match(next, new RegExp(`^tcp:::1:${port}\\(unicorn:fd3\\)$`), 'the inherited socket, and nothing bound');
    await p.waitFor((e) => e.event === 'exit' && e.pid === String(p.pid));
    assert.equal(await get6(port), 200);
    process.kill(Number(reexec.child), 'SIGQUIT');
    await p.waitFor((e) => e.event === 'exit' && e.pid === reexec.child);
  });
});
