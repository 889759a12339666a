import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { EXIT_CODE_DOCS, PhoenixError } from '../../src/errors';
import { DEFAULTS, USAGE, applyConfigFile, parseArgs, parseListenSpec, reloadOptions } from '../../src/options';

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

test('util.parseArgs in strict mode: unknown options and stray arguments are usage errors (64), one message each', () => {
  const usageError = (argv: string[], message: RegExp) =>
    assert.throws(
      () => parseArgs(argv),
      (e: PhoenixError) => e.exitCode === 64 && e.reason === 'usage' && message.test(e.message.split('\n')[0]),
      argv.join(' '),
    );
  usageError(['--frobnicate'], /^unknown option '--frobnicate'$/);
  usageError(['-x'], /^unknown option '-x'$/);
  usageError(['serve'], /^unexpected argument 'serve'/);
  usageError(['--workers', '2', 'extra'], /^unexpected argument 'extra'/);
  usageError(['--', '--workers'], /^unexpected argument '--workers'/);
  usageError(['--workers'], /^option --workers needs a value$/);
  usageError(['--workers', '--check'], /^option --workers needs a value$/);
  usageError(['--check=yes'], /^option --check takes no value$/);
  // An optional value is only ever given with '=': the next argument is never taken as it.
  usageError(['--quit-oldbin', 'spawned'], /^unexpected argument 'spawned'/);
  const o = run(['--quit-oldbin', '--workers', '3', '--listen', '8080', '--listen=unix:/tmp/b.sock']);
  assert.equal(o.quitOldbin, 'ready');
  assert.equal(o.workers, 3);
  assert.deepEqual(o.listen, ['tcp:127.0.0.1:8080', 'unix:/tmp/b.sock'], 'repeatable, in order');
  assert.equal(run(['--workers', '1', '--workers', '4']).workers, 4, 'the last one wins');
  assert.equal(parseArgs(['-h']).kind, 'help');
  assert.equal(parseArgs(['-v']).kind, 'version');
  assert.equal(parseArgs(['--version']).kind, 'version');
});

test('the help text is written from the same table: every flag, every config key, every exit code', () => {
  const flags = [...USAGE.matchAll(/^ {2}(?:-\w, )?--([a-z-]+)/gm)].map((m) => m[1]);
  assert.deepEqual(flags, [
    'listen',
    'workers',
    'app',
    'upgrade',
    'quit-oldbin',
    'pid',
    'timeout',
    'socket-mode',
    'socket-group',
    'log-file',
    'config',
    'check',
    'help',
    'version',
  ]);
  assert.match(USAGE, /--quit-oldbin\[=WHEN\]/);
  for (const [code] of EXIT_CODE_DOCS.filter(([c]) => c !== 0)) assert.match(USAGE, new RegExp(`^ {2}${code} `, 'm'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-opts-'));
  try {
    // Every flag a config file may set is accepted under its camelCase name.
    const cfg = path.join(dir, 'all.json');
    fs.writeFileSync(
      cfg,
      JSON.stringify({
        listen: '9000',
        workers: 1,
        app: 'app.js',
        upgrade: 'reexec',
        quitOldbin: 'spawned',
        pid: 'p.pid',
        timeout: 3,
        socketMode: '0600',
        socketGroup: 'www-data',
        logFile: 'p.log',
      }),
    );
    const o = run(['--config', cfg]);
    assert.equal(o.quitOldbin, 'spawned');
    assert.equal(o.socketGroup, 'www-data');
    assert.equal(o.logFile, path.join(dir, 'p.log'));
    assert.equal(o.timeout, 3);
    for (const key of ['config', 'help', 'socket-mode'])
      assert.throws(() => applyConfigFile(DEFAULTS, write(dir, { [key]: 'x' })), /unknown key/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function write(dir: string, data: unknown): string {
  const file = path.join(dir, `c-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(data));
  return file;
}

test('HUP: the file is read again and the command line still wins; sockets, pid and log file stay; a bad file throws', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-opts-'));
  try {
    const cfg = path.join(dir, 'phoenix.json');
    fs.writeFileSync(cfg, JSON.stringify({ workers: 5, upgrade: 'reexec', pid: 'a.pid' }));
    const argv = ['--config', cfg, '--workers', '3', '--listen', 'unix:/tmp/x.sock'];
    const first = run(argv);
    assert.equal(first.workers, 3);
    fs.writeFileSync(cfg, JSON.stringify({ workers: 7, upgrade: 'in-place', pid: 'b.pid', timeout: 9 }));
    const next = reloadOptions(argv, first);
    assert.equal(next.workers, 3, 'the flag still wins over the file');
    assert.equal(next.upgrade, 'in-place');
    assert.equal(next.timeout, 9);
    assert.equal(next.pid, path.join(dir, 'a.pid'), 'the pid file stays where the master wrote it');
    assert.deepEqual(next.listen, ['unix:/tmp/x.sock']);
    fs.writeFileSync(cfg, '{"workers": ');
    assert.throws(
      () => reloadOptions(argv, next),
      (e: PhoenixError) => e.exitCode === 64 && e.reason === 'config',
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// Issue 17: a negative number after a flag is a bad value, said as such, not a missing one.
test("a negative number after a flag is judged as that flag's value, in both spellings", () => {
  const firstLine = (argv: string[]) => {
    try {
      parseArgs(argv);
    } catch (e) {
      assert.equal((e as PhoenixError).exitCode, 64);
      return (e as PhoenixError).message.split('\n')[0];
    }
    return assert.fail(`${argv.join(' ')} was accepted`);
  };
  for (const spelling of [['--workers', '-1'], ['--workers=-1']])
    assert.match(firstLine(spelling), /^--workers: '-1' is not a worker count \(a whole number from 1 to 256\)$/);
  for (const spelling of [['--timeout', '-3'], ['--timeout=-3']])
    assert.match(firstLine(spelling), /^--timeout: '-3' is not a timeout in seconds \(a number above 0\)$/);
  // A value the setting would take, had it been written with '=': say how to write it.
  assert.match(firstLine(['--app', '-1']), /^option --app: a value starting with '-' is written --app=-1$/);
  assert.match(firstLine(['--workers', '-x']), /^option --workers needs a value$/);
});

// Issue 17: with no worker nothing ever listens; WINCH and TTOU still take a running master to 0.
test('--workers 0 is refused, on the command line and in a config file', () => {
  assert.throws(() => parseArgs(['--workers', '0']), /--workers: 0 workers would serve nothing; give 1 or more/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-opts-'));
  try {
    const cfg = path.join(dir, 'p.json');
    fs.writeFileSync(cfg, JSON.stringify({ workers: 0 }));
    assert.throws(
      () => parseArgs(['--config', cfg]),
      (e: PhoenixError) => e.reason === 'config' && /workers: 0 workers would serve nothing/.test(e.message),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(run(['--workers', '1']).workers, 1);
  assert.equal(run(['--workers', '256']).workers, 256);
});
