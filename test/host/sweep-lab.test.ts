import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runLab } from '../support/lab-cli';

/** Issue 17's sweep of lab commands: --rate asked vs reached, and a lab name that names nothing. */
describe('lab load and lab down: bad input said as such, numbers not passed off', () => {
  let home: string;
  let server: http.Server;
  let port: number;
  before(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-sweep-'));
    server = http.createServer((_req, res) => res.end('ok\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  test('--rate=-5 is refused as negative (2), before anything is recorded', async () => {
    const r = await runLab(['load', '--port', String(port), '--rate=-5', '--duration', '1s'], home);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^lab load: --rate '-5' is negative: give requests per second .*, 0 or more$/m);
    assert.equal(fs.existsSync(path.join(home, 'runs')), false, 'no run folder for a refused load');
  });

  test('--rate 1e9: the rate reached is said beside the one asked, and kept in meta.json', async () => {
    const r = await runLab(
      ['load', '--port', String(port), '--rate', '1e9', '--duration', '1s', '--concurrency', '2'],
      home,
    );
    assert.equal(r.code, 0, r.stderr);
    const said = /^rate: asked 1,000,000,000\/s, achieved ([\d,]+)\/s \((\d+) requests in 1 s\); 2 connections/m.exec(
      r.stdout,
    );
    assert.ok(said, `the rates are said; stdout:\n${r.stdout}`);
    assert.match(r.stdout, /raise --concurrency or lower --rate/);
    const run = /^run: (.*)$/m.exec(r.stdout)![1];
    const meta = JSON.parse(fs.readFileSync(path.join(run, 'meta.json'), 'utf8')) as {
      achieved: { asked: number; achieved: number; requests: number; short: boolean };
    };
    assert.equal(meta.achieved.asked, 1e9);
    assert.equal(meta.achieved.requests, Number(said[2]));
    assert.equal(meta.achieved.short, true);
  });

  test('lab down --name of a lab that is not up: exit 2, as lab signal does, naming it', async (t) => {
    const r = await runLab(['down', '--name', 'nosuchlab-sweep'], home);
    if (r.code === 3) return t.skip(`Docker is not reachable here: ${r.stderr.trim()}`);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^lab down: no lab named 'nosuchlab-sweep' is up/m);
    const signal = await runLab(['signal', 'USR2', '--name', 'nosuchlab-sweep'], home);
    assert.equal(signal.code, r.code, 'the same exit for the same mistake');
  });
});

/**
 * README: every lab command removes the containers of runs that were killed before it does
 * anything, `lab scenario list` (which never needs the engine) included. The container is made
 * as a kill -9ed scenario run leaves it: the lab's labels, a scenario purpose, and an owner pid
 * that has exited.
 */
describe('a killed run leaves nothing behind the next lab command', () => {
  test('lab scenario list removes a container whose owner is gone', async (t) => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-reap-'));
    const { assertDockerReachable } = await import('../../lab/engine/docker');
    const { ownerLabels, OWNER_PID_LABEL, OWNER_START_LABEL } = await import('../../lab/engine/owner');
    const { labLabels } = await import('../../lab/engine/labels');
    let docker;
    try {
      docker = await assertDockerReachable();
    } catch (err) {
      return t.skip(`Docker is not reachable here: ${(err as Error).message}`);
    }
    // An image with nothing in it: creating a container needs one, running it does not.
    const image = 'upstart-unicorn-lab-test/empty:reap';
    const { execFileSync, spawnSync } = await import('node:child_process');
    execFileSync('/bin/sh', ['-c', `tar -c -T /dev/null | docker import - ${image} >/dev/null`]);
    // A pid that has exited: a child that is gone by the time the container is made.
    const dead = spawnSync('/bin/true').pid;
    const c = await docker.createContainer({
      Image: image,
      Cmd: ['/nothing'],
      Labels: { ...labLabels(), ...ownerLabels('scenario'), [OWNER_PID_LABEL]: String(dead), [OWNER_START_LABEL]: '1' },
    });
    try {
      const r = await runLab(['scenario', 'list'], home);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^lab: removed 1 container\(s\) left by a killed run/m);
      await assert.rejects(c.inspect(), /no such container/i, 'the container is gone');
    } finally {
      await c.remove({ force: true }).catch(() => undefined);
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
