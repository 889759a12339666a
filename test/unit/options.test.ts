import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { PhoenixError } from '../../src/errors';
import { DEFAULTS, parseArgs, parseListenSpec } from '../../src/options';

const run = (argv: string[]) => {
  const r = parseArgs(argv);
  assert.equal(r.kind, 'run');
  return (r as { options: typeof DEFAULTS }).options;
};

test('defaults are unicorn-like and safe: 2 workers, in-place, 0666 socket', () => {
  const o = run([]);
  assert.equal(o.workers, 2);
  assert.equal(o.upgrade, 'in-place');
  assert.equal(o.socketMode, 0o666);
  assert.equal(o.quitOldbin, false);
});

test('listen specs normalise to the form inherited sockets are described in', () => {
  assert.equal(parseListenSpec('unix:/run/x/../app.sock', 'f'), 'unix:/run/app.sock');
  assert.equal(parseListenSpec('8080', 'f'), 'tcp:127.0.0.1:8080', 'a bare port binds loopback only');
  assert.equal(parseListenSpec('localhost:80', 'f'), 'tcp:127.0.0.1:80');
  assert.equal(parseListenSpec('0.0.0.0:80', 'f'), 'tcp:0.0.0.0:80');
  assert.equal(parseListenSpec('[::1]:80', 'f'), 'tcp:::1:80');
  for (const bad of ['unix:relative.sock', 'host:', '99999', 'example.com:80']) {
    assert.throws(
      () => parseListenSpec(bad, '--listen'),
      (e: PhoenixError) => e.exitCode === 64 && /--listen/.test(e.message),
    );
  }
});

test('flags: both --flag value and --flag=value; errors name the flag', () => {
  const o = run(['--workers=4', '--upgrade', 'reexec', '--quit-oldbin', '--socket-mode', '0660', '--timeout', '2.5']);
  assert.equal(o.workers, 4);
  assert.equal(o.upgrade, 'reexec');
  assert.equal(o.quitOldbin, 'ready', 'bare --quit-oldbin waits for the new workers');
  assert.equal(run(['--quit-oldbin=spawned']).quitOldbin, 'spawned');
  assert.equal(o.socketMode, 0o660);
  assert.equal(o.timeout, 2.5);
  assert.throws(() => parseArgs(['--upgrade', 'phoenix']), /'phoenix' is not an upgrade mode: use in-place or reexec/);
  assert.throws(() => parseArgs(['--socket-mode', '999']), /not an octal file mode/);
  assert.throws(
    () => parseArgs(['--quit-oldbin=yes']),
    /'yes' is not when to QUIT the old master: use ready or spawned/,
  );
  assert.throws(() => parseArgs(['--check=1']), /takes no value/);
  assert.throws(() => parseArgs(['--timeout', '0']), /not a timeout/);
  assert.equal(parseArgs(['--help']).kind, 'help');
});

test('config file: same keys as flags in camelCase, paths relative to the file, flags win', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-opts-'));
  try {
    const cfg = path.join(dir, 'phoenix.json');
    fs.writeFileSync(
      cfg,
      JSON.stringify({
        workers: 5,
        upgrade: 'reexec',
        quitOldbin: true,
        pid: 'run/p.pid',
        listen: ['unix:/tmp/a.sock', 9000],
        socketMode: '0600',
      }),
    );
    const o = run(['--config', cfg, '--workers', '3']);
    assert.equal(o.workers, 3, 'the flag wins');
    assert.equal(o.upgrade, 'reexec');
    assert.equal(o.quitOldbin, 'ready');
    assert.equal(o.pid, path.join(dir, 'run/p.pid'));
    assert.deepEqual(o.listen, ['unix:/tmp/a.sock', 'tcp:127.0.0.1:9000']);
    assert.equal(o.socketMode, 0o600);
    fs.writeFileSync(cfg, JSON.stringify({ quitOldbin: 'yes' }));
    assert.throws(() => parseArgs(['--config', cfg]), /quitOldbin: 'yes' is not when to QUIT/);
    fs.writeFileSync(cfg, JSON.stringify({ check: true }));
    assert.throws(() => parseArgs(['--config', cfg]), /unknown key 'check'/);
    fs.writeFileSync(cfg, '[1]');
    assert.throws(() => parseArgs(['--config', cfg]), /must hold a JSON object/);
    assert.throws(() => parseArgs(['--config', path.join(dir, 'missing.json')]), /cannot be read/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
