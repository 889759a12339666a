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
    assert.match(r.stderr, /^lab load: --rate '-5' is negative: give requests per second, 0 or more/m);
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
