import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Harness, type Proc, processesTagged } from '../support/harness';
import { get } from '../support/http';

/**
 * Issue 17's sweep of apps and drains: an app that exits while loading, one with top-level
 * await, one that dies another way, and a slowloris client cut at the end of a QUIT drain.
 */

function exitCode(p: Proc, ms = 15_000): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`still running after ${ms} ms; stderr:\n${p.stderr()}`)), ms);
    void p.exited.then((e) => {
      clearTimeout(t);
      resolve(e.code);
    });
  });
}

const messages = (p: Proc) =>
  p
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('phoenix: '));

const master = (p: Proc, event: string) => p.events().filter((e) => e.role === 'master' && e.event === event);

describe('apps that fail to load say how, and which module', () => {
  let h: Harness;
  before(() => {
    h = new Harness();
  });
  after(async () => h.cleanup());

  async function refused(args: string[], code: number, reason: string, message: RegExp): Promise<void> {
    const tag = randomUUID();
    const p = h.startPhoenix(args, { env: { PHOENIX_TEST_TAG: tag } });
    assert.equal(await exitCode(p), code, p.stderr());
    assert.equal(messages(p).length, 1, `exactly one message; stderr:\n${p.stderr()}`);
    assert.match(messages(p)[0], message);
    assert.equal(master(p, 'start-failed')[0]?.reason, reason);
    assert.deepEqual(processesTagged(tag), [], 'no process may be left running');
  }

  test('process.exit(3) while loading: the code and the module are named (70, app-exited)', async () => {
    const app = h.file('exit3.js');
    fs.writeFileSync(app, "if (!process.env.DATABASE_URL) process.exit(3);\nmodule.exports = (q, s) => s.end('x');\n");
    const sock = h.file('exit3.sock');
    const said = new RegExp(`^phoenix: app module ${app} called process\\.exit\\(3\\) while loading`);
    await refused(['--listen', `unix:${sock}`, '--app', app], 70, 'app-exited', said);
    assert.equal(fs.existsSync(sock), false, 'the socket it bound is removed');
    await refused(['--check', '--app', app], 70, 'app-exited', said);
  });

  test('a worker that dies another way while loading: how it died and the module are named', async () => {
    const app = h.file('kill.js');
    fs.writeFileSync(app, "process.kill(process.pid, 'SIGKILL');\n");
    await refused(
      ['--listen', `unix:${h.file('kill.sock')}`, '--app', app, '--workers', '1'],
      70,
      'worker-exited',
      new RegExp(`a worker of generation 1 killed by SIGKILL before it was ready, loading app module ${app}`),
    );
  });

  test('an ES module app with top-level await is loaded and serves', async () => {
    const app = h.file('tla.mjs');
    fs.writeFileSync(
      app,
      "const greeting = await Promise.resolve('ready after await');\nexport default (req, res) => res.end(greeting);\n",
    );
    const sock = h.file('tla.sock');
    const p = h.startPhoenix(['--listen', `unix:${sock}`, '--app', app, '--workers', '1']);
    await p.waitFor((e) => e.role === 'master' && e.event === 'ready');
    const r = await get(sock);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'ready after await');
    p.child.kill('SIGQUIT');
    await p.exited;
  });
});

describe('a QUIT drain that has to cut a connection says so', () => {
  let h: Harness;
  before(() => {
    h = new Harness();
  });
  after(async () => h.cleanup());

  test('a slowloris client still sending headers at --timeout: the worker cuts it and says how many', async () => {
    const sock = h.file('slow.sock');
    const p = h.startPhoenix(['--listen', `unix:${sock}`, '--workers', '1', '--timeout', '1']);
    await p.waitFor((e) => e.role === 'master' && e.event === 'ready');
    const client = net.connect(sock);
    await new Promise<void>((r) => client.once('connect', () => r()));
    client.write('GET / HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => client.write('X-Slow: 1\r\n'), 200);
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    client.on('error', () => undefined);
    try {
      await p.waitFor((e) => e.role === 'worker' && e.event === 'ready');
      await new Promise((r) => setTimeout(r, 300));
      p.child.kill('SIGQUIT');
      const cut = await p.waitFor((e) => e.role === 'worker' && e.event === 'drain-timeout', 8000);
      assert.equal(cut.cut, '1', 'the one connection still open is counted');
      await closed;
      assert.equal(await exitCode(p), 0);
      const [exit] = master(p, 'worker-exit');
      assert.equal(exit.code, '0', `the worker left by itself, before the master's SIGKILL; stderr:\n${p.stderr()}`);
      assert.equal(exit.signal, undefined);
    } finally {
      clearInterval(drip);
      client.destroy();
    }
  });
});
