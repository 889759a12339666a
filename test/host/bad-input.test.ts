import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Harness, type Via, processesTagged } from '../support/harness';
import { get } from '../support/http';

/**
 * Every bad input: one clear message, the documented exit code, and nothing left behind:
 * no process, no socket file, no pid file.
 */
interface Case {
  name: string;
  args?: (h: Harness) => string[];
  env?: NodeJS.ProcessEnv;
  via?: (h: Harness) => Via;
  setup?: (h: Harness) => void | Promise<void>;
  code: number;
  message: RegExp;
  /** files that must not exist afterwards */
  absent?: (h: Harness) => string[];
}

const CASES: Case[] = [
  { name: 'an unknown flag', args: () => ['--frobnicate'], code: 64, message: /unknown option '--frobnicate'/ },
  { name: 'a flag without its value', args: () => ['--workers'], code: 64, message: /--workers needs a value/ },
  { name: 'a stray argument', args: () => ['serve'], code: 64, message: /unexpected argument 'serve'/ },
  { name: 'a bad worker count', args: () => ['--workers', 'many'], code: 64, message: /'many' is not a worker count/ },
  // Issue 17: a negative number is a bad value, not a missing one.
  {
    name: 'a negative worker count',
    args: () => ['--workers', '-1'],
    code: 64,
    message: /--workers: '-1' is not a worker count \(a whole number from 1 to 256\)/,
  },
  {
    name: 'a negative timeout',
    args: () => ['--timeout', '-3'],
    code: 64,
    message: /--timeout: '-3' is not a timeout in seconds/,
  },
  // Issue 17: no worker ever listens, so every connection would be refused after 'ready'.
  {
    name: 'no workers',
    args: (h) => ['--listen', `unix:${h.file('w0.sock')}`, '--workers', '0'],
    code: 64,
    message: /--workers: 0 workers would serve nothing; give 1 or more/,
    absent: (h) => [h.file('w0.sock')],
  },
  {
    name: 'UPSTART_FDS=abc',
    env: { UPSTART_FDS: 'abc' },
    code: 65,
    message: /UPSTART_FDS='abc' is not a list of fd numbers/,
  },
  {
    name: 'a closed fd in UPSTART_FDS',
    via: () => ({ kind: 'fd', fdKind: 'closed', style: 'upstart', fd: 57 }),
    code: 65,
    message: /fd 57 is not open/,
  },
  {
    name: 'a regular file as UPSTART_FDS',
    via: () => ({ kind: 'fd', fdKind: 'file', style: 'upstart' }),
    code: 65,
    message: /fd 11 is not a socket \(it is \/etc\/hostname\)/,
  },
  {
    name: 'a connected socket as UPSTART_FDS',
    via: () => ({ kind: 'fd', fdKind: 'connected', style: 'upstart' }),
    code: 65,
    message: /fd 11 .* is a connected socket, not a listening one/,
  },
  {
    name: 'a UDP socket as UPSTART_FDS',
    via: () => ({ kind: 'fd', fdKind: 'udp', style: 'upstart' }),
    code: 65,
    message: /fd 11 is a socket but neither a unix nor a TCP stream socket/,
  },
  {
    name: 'junk in UNICORN_FD',
    env: { UNICORN_FD: '3,x' },
    code: 65,
    message: /UNICORN_FD='3,x' is not a list of fd numbers/,
  },
  { name: 'UNICORN_FD naming stdout', env: { UNICORN_FD: '1' }, code: 65, message: /names fd 0, 1 or 2/ },
  // Issue 17: one fd listed twice would be one socket registered twice.
  { name: 'UNICORN_FD=3,3', env: { UNICORN_FD: '3,3' }, code: 65, message: /UNICORN_FD='3,3' names fd 3 twice/ },
  // Issue 17: Node's own event loop sits at fd 3 when nothing was passed there.
  {
    name: 'an fd nobody passed, where Node keeps its own',
    env: { UNICORN_FD: '3' },
    code: 65,
    message: /UNICORN_FD: fd 3 was not inherited: nothing was passed at fd 3 \(the anon_inode:\[\w+\] there/,
  },
  {
    name: 'LISTEN_PID of another process',
    via: (h) => ({ kind: 'systemd', socket: h.file('sd.sock'), listenPid: '1' }),
    code: 65,
    message: /LISTEN_PID=1 is not this process/,
  },
  {
    name: 'a missing app module',
    args: (h) => ['--listen', `unix:${h.file('a.sock')}`, '--app', '/nonexistent/app.js'],
    code: 66,
    message: /app module \/nonexistent\/app.js not found/,
    absent: (h) => [h.file('a.sock')],
  },
  {
    name: 'an app that throws while loading',
    setup: (h) => fs.writeFileSync(h.file('boom.js'), "throw new Error('database unreachable');\n"),
    args: (h) => ['--listen', `unix:${h.file('b.sock')}`, '--pid', h.file('b.pid'), '--app', h.file('boom.js')],
    code: 70,
    message: /threw while loading: Error: database unreachable/,
    absent: (h) => [h.file('b.sock'), h.file('b.pid')],
  },
  {
    name: 'an app that exports no handler',
    setup: (h) => fs.writeFileSync(h.file('nothing.js'), 'module.exports = { port: 3 };\n'),
    args: (h) => ['--listen', `unix:${h.file('n.sock')}`, '--app', h.file('nothing.js')],
    code: 70,
    message: /exports no request handler/,
    absent: (h) => [h.file('n.sock')],
  },
  {
    name: 'an unwritable pid file',
    args: (h) => ['--listen', `unix:${h.file('p.sock')}`, '--pid', '/nonexistent-dir/phoenix.pid'],
    code: 73,
    message: /cannot write pid file \/nonexistent-dir\/phoenix.pid/,
    absent: (h) => [h.file('p.sock')],
  },
  {
    name: 'a socket path held by a regular file',
    setup: (h) => fs.writeFileSync(h.file('file.sock'), 'precious data'),
    args: (h) => ['--listen', `unix:${h.file('file.sock')}`],
    code: 69,
    message: /exists and is not a socket; phoenix will not replace it/,
  },
  {
    name: 'a socket directory that does not exist',
    args: () => ['--listen', 'unix:/nonexistent-dir/x.sock'],
    code: 69,
    message: /directory \/nonexistent-dir does not exist/,
  },
  { name: 'no socket at all', args: () => [], code: 64, message: /no socket to serve/ },
  {
    name: 'a log file that cannot be opened',
    args: (h) => [
      '--listen',
      `unix:${h.file('l.sock')}`,
      '--pid',
      h.file('l.pid'),
      '--log-file',
      h.file('no-such-dir/phoenix.log'),
    ],
    code: 74,
    message: /cannot open log file \S+no-such-dir\/phoenix.log: ENOENT/,
    absent: (h) => [h.file('l.sock'), h.file('l.pid'), h.file('no-such-dir')],
  },
  {
    name: 'a config file with an unknown key',
    setup: (h) => fs.writeFileSync(h.file('c.json'), '{"wokers": 3}'),
    args: (h) => ['--config', h.file('c.json')],
    code: 64,
    message: /unknown key 'wokers'/,
  },
];

describe('bad input: one clear message, a documented exit code, nothing left behind', () => {
  let h: Harness;
  before(() => {
    h = new Harness();
  });
  after(async () => h.cleanup());

  for (const c of CASES) {
    // A bad input that is not refused would run on: the test fails instead of waiting for it.
    test(c.name, { timeout: 20_000 }, async () => {
      await c.setup?.(h);
      const tag = `PHOENIX_TEST_TAG=${randomUUID()}`;
      const [k, v] = tag.split('=');
      const p = h.startPhoenix(c.args?.(h) ?? [], { via: c.via?.(h), env: { ...c.env, [k]: v } });
      const { code } = await p.exited;
      const errLines = p
        .stderr()
        .split('\n')
        .filter((l) => l.startsWith('phoenix: '));
      assert.equal(code, c.code, `exit code; stderr:\n${p.stderr()}`);
      assert.equal(errLines.length, 1, `exactly one error message; stderr:\n${p.stderr()}`);
      assert.match(errLines[0], c.message);
      assert.deepEqual(processesTagged(v), [], 'no process may be left running');
      for (const f of c.absent?.(h) ?? []) assert.equal(fs.existsSync(f), false, `${f} must not be left behind`);
    });
  }

  test('a port in use', async () => {
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const p = h.startPhoenix(['--listen', `127.0.0.1:${port}`]);
      assert.equal((await p.exited).code, 69);
      assert.match(p.stderr(), /cannot bind tcp:127.0.0.1:\d+: the port is in use/);
    } finally {
      holder.close();
    }
  });

  test('a second master against a live pid file is refused and the first keeps serving', async () => {
    const pid = h.file('live.pid');
    const first = h.startPhoenix(['--listen', `unix:${h.file('first.sock')}`, '--pid', pid]);
    await first.waitFor((e) => e.event === 'ready' && e.role === 'master');
    const second = h.startPhoenix(['--listen', `unix:${h.file('second.sock')}`, '--pid', pid]);
    assert.equal((await second.exited).code, 75);
    assert.match(second.stderr(), new RegExp(`another master is running \\(pid ${first.pid}`));
    assert.equal(fs.existsSync(h.file('second.sock')), false, 'the refused master binds nothing');
    assert.equal(fs.readFileSync(pid, 'utf8').trim(), String(first.pid));
    assert.equal((await get(h.file('first.sock'))).status, 200);
    first.child.kill('SIGQUIT');
    await first.exited;
  });

  test('a socket somebody listens on is not clobbered; a stale one is replaced', async () => {
    const sock = h.file('shared.sock');
    const first = h.startPhoenix(['--listen', `unix:${sock}`]);
    await first.waitFor((e) => e.event === 'ready' && e.role === 'master');
    const second = h.startPhoenix(['--listen', `unix:${sock}`]);
    assert.equal((await second.exited).code, 69);
    assert.match(second.stderr(), /another process is listening on it/);
    assert.equal((await get(sock)).status, 200, 'the first master still serves on its socket');
    // SIGKILL leaves the socket file behind with nobody listening: a stale file.
    first.child.kill('SIGKILL');
    await first.exited;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(fs.existsSync(sock), true);
    const third = h.startPhoenix(['--listen', `unix:${sock}`]);
    await third.waitFor((e) => e.event === 'ready' && e.role === 'master');
    assert.equal((await get(sock)).status, 200);
    third.child.kill('SIGQUIT');
    await third.exited;
  });
});
