import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type LifecycleEvent, parseEvents } from '../../src/events';
import { Harness, type Proc, type Via } from '../support/harness';

/**
 * Every exit path says so as an event with its exit code: the lab counts refused starts by
 * code and reason (exit 64 when `initctl restart` starts a bridge job without UPSTART_FDS,
 * exit 65 when a respawn's fd is no longer a listening socket), never by message text.
 * One test per exit code of the README's table.
 */

interface Refusal {
  what: string;
  args?: (h: Harness) => string[];
  env?: NodeJS.ProcessEnv;
  via?: (h: Harness) => Via;
  setup?: (h: Harness) => void;
  reason: string;
}

function masterEvents(p: Proc, name: string): LifecycleEvent[] {
  return parseEvents(p.stderr()).filter((e) => e.event === name && e.role === 'master');
}

/** The process exits `code` and logs exactly one start-failed with that code and `reason`. */
async function assertRefused(p: Proc, code: number, reason: string): Promise<void> {
  const exit = await p.exited;
  assert.deepEqual(exit, { code, signal: null }, `exit status; stderr:\n${p.stderr()}`);
  const failed = masterEvents(p, 'start-failed');
  assert.equal(failed.length, 1, `exactly one start-failed event; stderr:\n${p.stderr()}`);
  const e = failed[0];
  assert.equal(e.program, 'phoenix');
  assert.equal(e.role, 'master');
  assert.equal(e.pid, p.pid, 'the event names the process that exited');
  assert.equal(e.fields.code, String(code));
  assert.equal(e.fields.reason, reason);
  assert.ok(e.fields.error, 'the event carries the error for people too');
}

async function refuse(h: Harness, code: number, r: Refusal): Promise<void> {
  r.setup?.(h);
  const p = h.startPhoenix(r.args?.(h) ?? [], { via: r.via?.(h), env: r.env });
  await assertRefused(p, code, r.reason).catch((err: Error) => {
    throw new Error(`${r.what}: ${err.message}`);
  });
}

const REFUSALS: Record<number, Refusal[]> = {
  64: [
    // What `initctl restart` of a bridge job does: the job starts without the bridge's socket.
    { what: 'no socket to serve', reason: 'no-socket' },
    { what: 'an unknown option', args: () => ['--frobnicate'], reason: 'usage' },
    { what: 'a stray argument', args: () => ['serve'], reason: 'usage' },
    { what: 'a bad value', args: () => ['--workers', 'many'], reason: 'usage' },
    {
      what: 'a bad config file',
      setup: (h) => fs.writeFileSync(h.file('bad.json'), '{"wokers": 3}'),
      args: (h) => ['--config', h.file('bad.json')],
      reason: 'config',
    },
    { what: '--check without a socket', args: () => ['--check'], reason: 'no-socket' },
  ],
  65: [
    // What a respawn under the bridge does: the fd number now names a pipe or a file.
    {
      what: 'a regular file as UPSTART_FDS',
      via: () => ({ kind: 'fd', fdKind: 'file', style: 'upstart' }),
      reason: 'not-socket',
    },
    {
      what: 'a connected socket as UPSTART_FDS',
      via: () => ({ kind: 'fd', fdKind: 'connected', style: 'upstart' }),
      reason: 'not-listening',
    },
    {
      what: 'a closed fd',
      via: () => ({ kind: 'fd', fdKind: 'closed', style: 'upstart', fd: 57 }),
      reason: 'fd-closed',
    },
    { what: 'a UDP socket', via: () => ({ kind: 'fd', fdKind: 'udp', style: 'upstart' }), reason: 'not-stream' },
    { what: 'UPSTART_FDS=abc', env: { UPSTART_FDS: 'abc' }, reason: 'bad-fd-list' },
    {
      what: 'LISTEN_PID of another process',
      via: (h) => ({ kind: 'systemd', socket: h.file('sd.sock'), listenPid: '1' }),
      reason: 'listen-pid',
    },
  ],
  66: [
    {
      what: 'a missing app module',
      args: (h) => ['--listen', `unix:${h.file('a.sock')}`, '--app', '/nonexistent/app.js'],
      reason: 'app-missing',
    },
  ],
  69: [
    {
      what: 'a socket path held by a regular file',
      setup: (h) => fs.writeFileSync(h.file('file.sock'), 'precious data'),
      args: (h) => ['--listen', `unix:${h.file('file.sock')}`],
      reason: 'path-not-socket',
    },
    {
      what: 'a socket directory that does not exist',
      args: () => ['--listen', 'unix:/nonexistent-dir/x.sock'],
      reason: 'socket-dir-missing',
    },
  ],
  70: [
    {
      what: 'an app that throws while loading',
      setup: (h) => fs.writeFileSync(h.file('boom.js'), "throw new Error('database unreachable');\n"),
      args: (h) => ['--listen', `unix:${h.file('b.sock')}`, '--app', h.file('boom.js')],
      reason: 'app-threw',
    },
    {
      what: 'an app that exports no handler',
      setup: (h) => fs.writeFileSync(h.file('nothing.js'), 'module.exports = { port: 3 };\n'),
      args: (h) => ['--listen', `unix:${h.file('n.sock')}`, '--app', h.file('nothing.js')],
      reason: 'no-handler',
    },
  ],
  73: [
    {
      what: 'a pid file in a directory that does not exist',
      args: (h) => ['--listen', `unix:${h.file('p.sock')}`, '--pid', '/nonexistent-dir/phoenix.pid'],
      reason: 'pid-file',
    },
  ],
  74: [
    {
      what: 'a log file in a directory that does not exist',
      args: (h) => ['--listen', `unix:${h.file('l.sock')}`, '--log-file', h.file('gone/phoenix.log')],
      reason: 'log-file',
    },
    {
      what: 'a log file path that is a directory',
      setup: (h) => fs.mkdirSync(h.file('a-dir.log')),
      args: (h) => ['--listen', `unix:${h.file('l2.sock')}`, '--log-file', h.file('a-dir.log')],
      reason: 'log-file',
    },
  ],
};

describe('every exit path is an event with its exit code', () => {
  let h: Harness;
  before(() => {
    h = new Harness();
  });
  after(async () => h.cleanup());

  test('0: a normal stop logs exit code=0; so does a successful --check', async () => {
    const p = h.startPhoenix(['--listen', `unix:${h.file('ok.sock')}`]);
    await p.waitFor((e) => e.role === 'master' && e.event === 'ready');
    p.child.kill('SIGQUIT');
    assert.deepEqual(await p.exited, { code: 0, signal: null });
    const exits = masterEvents(p, 'exit');
    assert.equal(exits.length, 1);
    assert.equal(exits[0].program, 'phoenix');
    assert.equal(exits[0].pid, p.pid);
    assert.equal(exits[0].fields.code, '0');
    assert.equal(exits[0].fields.handedOver, 'false');
    assert.equal(masterEvents(p, 'start-failed').length, 0);

    const check = h.startPhoenix(['--check', '--listen', `unix:${h.file('check.sock')}`]);
    assert.deepEqual(await check.exited, { code: 0, signal: null });
    const checked = masterEvents(check, 'exit');
    assert.equal(checked.length, 1);
    assert.equal(checked[0].fields.code, '0');
    assert.equal(checked[0].fields.reason, 'check');
  });

  for (const code of [64, 65, 66, 69, 70, 73, 74]) {
    const cases = REFUSALS[code];
    test(`${code}: ${cases.map((c) => c.what).join('; ')}`, async () => {
      for (const c of cases) await refuse(h, code, c);
    });
  }

  test('69: a port in use (reason in-use)', async () => {
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (holder.address() as net.AddressInfo).port;
      await assertRefused(h.startPhoenix(['--listen', `127.0.0.1:${port}`]), 69, 'in-use');
    } finally {
      holder.close();
    }
  });

  test('75: another master is running (reason master-running)', async () => {
    const pid = h.file('live.pid');
    const first = h.startPhoenix(['--listen', `unix:${h.file('first.sock')}`, '--pid', pid]);
    await first.waitFor((e) => e.role === 'master' && e.event === 'ready');
    await assertRefused(
      h.startPhoenix(['--listen', `unix:${h.file('second.sock')}`, '--pid', pid]),
      75,
      'master-running',
    );
    first.child.kill('SIGQUIT');
    assert.deepEqual(await first.exited, { code: 0, signal: null });
  });
});
