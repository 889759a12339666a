import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { STANDARD_PATH, childEnv, resolveCommand, sanePath } from '../../src/unicorn-wrapper/command';
import { WrapperError } from '../../src/unicorn-wrapper/exit-codes';
import { USAGE, parseRestartBudget, parseWrapperArgs } from '../../src/unicorn-wrapper/options';
import {
  readUnicornArgs,
  rubyFor,
  unicornAddress,
  unicornIndex,
  withListenArgs,
} from '../../src/unicorn-wrapper/unicorn-config';

function usageError(argv: string[]): WrapperError {
  try {
    parseWrapperArgs(argv, '/srv/app');
  } catch (err) {
    assert.ok(err instanceof WrapperError);
    assert.equal(err.exitCode, 64);
    assert.doesNotMatch(err.message, /\n/, 'one line');
    return err;
  }
  assert.fail(`${argv.join(' ')} was accepted`);
}

describe('unicorn-wrapper options', () => {
  test('the command after -- passes through as is; relative --pid is made absolute', () => {
    const p = parseWrapperArgs(
      ['--pid', 'tmp/u.pid', '--pid-timeout', '2.5', '--', 'unicorn', '-c', 'u.rb', '--', 'x'],
      '/srv/app',
    );
    assert.equal(p.kind, 'run');
    if (p.kind !== 'run') return;
    assert.deepEqual(p.options.command, ['unicorn', '-c', 'u.rb', '--', 'x']);
    assert.equal(p.options.pid, '/srv/app/tmp/u.pid');
    assert.equal(p.options.pidTimeoutMs, 2500);
    assert.equal(p.options.listenArg, 'auto');
  });

  test('defaults and --listen in the canonical form', () => {
    const p = parseWrapperArgs(['--listen', 'unix:/run/a.sock', '--listen=8080', '--', '/usr/bin/unicorn']);
    assert.ok(p.kind === 'run');
    assert.deepEqual(p.options.listen, ['unix:/run/a.sock', 'tcp:127.0.0.1:8080']);
    assert.equal(p.options.pidTimeoutMs, 30_000);
    assert.equal(p.options.pid, undefined);
  });

  test('deadlines and the restart budget: defaults, values, units', () => {
    const d = parseWrapperArgs(['--', 'unicorn']);
    assert.ok(d.kind === 'run');
    assert.equal(d.options.readyTimeoutMs, 60_000);
    assert.equal(d.options.stopTimeoutMs, 30_000);
    assert.deepEqual(d.options.restart, { max: 5, windowMs: 30_000 });
    const p = parseWrapperArgs(
      ['--ready-timeout', '1.5', '--stop-timeout=3', '--restart-budget', '3/2m', '--', 'unicorn'],
      '/srv/app',
    );
    assert.ok(p.kind === 'run');
    assert.equal(p.options.readyTimeoutMs, 1500);
    assert.equal(p.options.stopTimeoutMs, 3000);
    assert.deepEqual(p.options.restart, { max: 3, windowMs: 120_000 });
    assert.deepEqual(parseRestartBudget('10/45'), { max: 10, windowMs: 45_000 });
    assert.deepEqual(parseRestartBudget('1/1h'), { max: 1, windowMs: 3_600_000 });
    assert.deepEqual(parseRestartBudget('0'), { max: 0, windowMs: 0 }, '0: restarts off');
    assert.deepEqual(parseRestartBudget('0/30s'), { max: 0, windowMs: 0 });
  });

  test('a deadline of 0, negative or not a number, and a budget that makes no sense: one usage line, 64', () => {
    for (const flag of ['--ready-timeout', '--stop-timeout'])
      for (const v of ['0', '-1', 'abc', '1e3', '5s', '', '0.0'])
        assert.match(
          usageError([flag, v, '--', 'u']).message,
          v === ''
            ? new RegExp(`${flag}: '' is not a number`)
            : new RegExp(`${flag}: '${v}' is not a number of seconds above 0`),
          `${flag} ${v}`,
        );
    const budget = (v: string) => usageError(['--restart-budget', v, '--', 'u']).message;
    for (const v of ['five', '5', '-1/30s', '1.5/30s', '5/30x', '5/-30s', '/30s', '5/'])
      assert.match(budget(v), /is not N\/WINDOW \(5\/30s: at most 5 restarts within 30 s; 0: never restart\)/, v);
    assert.match(budget('5/0s'), /window under 1 s/);
    assert.match(budget('5/0.5'), /window under 1 s/);
    assert.match(budget('1000/30s'), /more than 100 restarts: that is a restart storm/);
  });

  test('help and version', () => {
    assert.deepEqual(parseWrapperArgs(['-h']), { kind: 'help' });
    assert.deepEqual(parseWrapperArgs(['--version']), { kind: 'version' });
  });

  test('every mistake is one usage line with exit 64', () => {
    assert.match(usageError(['--frobnicate', '--', 'unicorn']).message, /unknown option '--frobnicate'/);
    assert.match(usageError(['unicorn', '-c', 'x']).message, /stray argument 'unicorn' before '--'/);
    assert.match(usageError(['--pid']).message, /--pid needs a value/);
    assert.match(usageError(['--']).message, /no command to run/);
    assert.match(usageError([]).message, /no command to run/);
    assert.match(usageError(['--pid-timeout', '0', '--', 'u']).message, /'0' is not a number of seconds/);
    assert.match(usageError(['--listen-arg', 'maybe', '--', 'u']).message, /not one of auto, always, never/);
    assert.match(usageError(['--listen', 'unix:rel.sock', '--', 'u']).message, /needs an absolute socket path/);
    assert.match(usageError(['--help=yes', '--', 'u']).message, /--help takes no value/);
  });

  test('the help text lists every option and every exit code', () => {
    for (const o of [
      '--listen ADDR',
      '--pid FILE',
      '--pid-timeout SECONDS',
      '--ready-timeout SECONDS',
      '--stop-timeout SECONDS',
      '--restart-budget N/WINDOW',
      '--listen-arg WHEN',
      '-h, --help',
    ])
      assert.ok(USAGE.includes(o), o);
    for (const c of [0, 64, 65, 66, 69, 70, 71, 72, 73, 75, 78]) assert.match(USAGE, new RegExp(`^ +${c}  `, 'm'));
    assert.match(USAGE, /\(default\s+60:/, 'the ready default is said');
    assert.match(USAGE, /\(default\s+30,/, 'the stop default is said');
    assert.match(USAGE, /\(default\s+5\/30s\)/, 'the budget default is said');
  });
});

describe('reading a unicorn command line', () => {
  test('the word that runs unicorn', () => {
    assert.equal(unicornIndex(['/usr/bin/unicorn', '-c', 'x']), 0);
    assert.equal(unicornIndex(['bundle', 'exec', 'unicorn_rails']), 2);
    assert.equal(unicornIndex(['/usr/bin/node', 'dist/src/cli.js']), -1);
  });

  test("OptionParser's forms of -c, -P and -l", () => {
    assert.equal(readUnicornArgs(['-c', 'a.rb']).config, 'a.rb');
    assert.equal(readUnicornArgs(['-ca.rb']).config, 'a.rb');
    assert.equal(readUnicornArgs(['-Nc', 'a.rb']).config, 'a.rb');
    assert.equal(readUnicornArgs(['--config-file', 'a.rb']).config, 'a.rb');
    assert.equal(readUnicornArgs(['--config-file=a.rb']).config, 'a.rb');
    assert.equal(readUnicornArgs(['--config', 'a.rb']).config, 'a.rb', 'an unambiguous prefix');
    assert.equal(readUnicornArgs(['-E', '-c', 'config.ru']).config, undefined, "-E's value is not a switch");
    assert.equal(readUnicornArgs(['-P', 'u.pid']).pid, 'u.pid');
    assert.deepEqual(readUnicornArgs(['-l', '/a.sock', '--listen=1.2.3.4:80', '-l9']).listen, [
      '/a.sock',
      '1.2.3.4:80',
      '9',
    ]);
    assert.deepEqual(readUnicornArgs(['--', '-l', 'x']).listen, [], 'nothing after --');
    assert.equal(readUnicornArgs(['-D']).daemonize, true);
  });

  test('-l for the socket: added right after unicorn, unless the command names its own or is not unicorn', () => {
    const add = withListenArgs(['bundle', 'exec', 'unicorn', '-c', 'u.rb'], ['unix:/run/a.sock'], 'auto');
    assert.deepEqual(add, {
      command: ['bundle', 'exec', 'unicorn', '-l', '/run/a.sock', '-c', 'u.rb'],
      listenArg: 'added',
    });
    assert.equal(withListenArgs(['unicorn', '-l', '/x.sock'], ['unix:/run/a.sock'], 'auto').listenArg, 'user');
    assert.deepEqual(withListenArgs(['node', 'cli.js'], ['unix:/run/a.sock'], 'auto'), {
      command: ['node', 'cli.js'],
      listenArg: 'none',
    });
    assert.equal(withListenArgs(['unicorn'], ['unix:/a'], 'never').listenArg, 'none');
    assert.deepEqual(withListenArgs(['start-app'], ['tcp:127.0.0.1:80'], 'always').command, [
      'start-app',
      '-l',
      '127.0.0.1:80',
    ]);
  });

  test("addresses as unicorn's -l takes them", () => {
    assert.equal(unicornAddress('unix:/run/a.sock'), '/run/a.sock');
    assert.equal(unicornAddress('tcp:127.0.0.1:8080'), '127.0.0.1:8080');
    assert.equal(unicornAddress('tcp:::1:8080'), '[::1]:8080');
  });

  test('the Ruby that runs unicorn comes from its #! line', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uw-ruby-'));
    try {
      const script = path.join(dir, 'unicorn');
      fs.writeFileSync(script, '#!/opt/ruby-2.7/bin/ruby\n', { mode: 0o755 });
      assert.equal(rubyFor(script, dir, dir), '/opt/ruby-2.7/bin/ruby');
      fs.writeFileSync(path.join(dir, 'ruby'), '', { mode: 0o755 });
      fs.writeFileSync(script, '#!/usr/bin/env ruby\n', { mode: 0o755 });
      assert.equal(rubyFor(script, dir, dir), path.join(dir, 'ruby'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the command and its environment', () => {
  test("upstart 1.5's PATH (the socket's path) is replaced; a real one is kept", () => {
    const dirs = new Set(['/usr/bin', '/opt/app/bin']);
    const isDir = (p: string) => dirs.has(p);
    assert.deepEqual(sanePath('/var/run/unicorn.sock', isDir), { path: STANDARD_PATH, restored: true });
    assert.deepEqual(sanePath(undefined, isDir), { path: STANDARD_PATH, restored: true });
    assert.deepEqual(sanePath('', isDir), { path: STANDARD_PATH, restored: true });
    assert.deepEqual(sanePath('/opt/app/bin:/usr/bin', isDir), { path: '/opt/app/bin:/usr/bin', restored: false });
  });

  test('a missing command is exit 66 with a hint', () => {
    for (const cmd of ['unicorn-not-installed', '/nonexistent/unicorn']) {
      assert.throws(
        () => resolveCommand(cmd, STANDARD_PATH, '/'),
        (err: unknown) => err instanceof WrapperError && err.exitCode === 66 && /not found/.test(err.message),
      );
    }
    const sh = resolveCommand('sh', STANDARD_PATH, '/');
    assert.ok(path.isAbsolute(sh) && path.basename(sh) === 'sh', `found on the standard PATH: ${sh}`);
  });

  test("the child's environment: UNICORN_FD from 3, no trace of the fds the wrapper got", () => {
    const env = childEnv(
      { UPSTART_FDS: '11', LISTEN_FDS: '1', LISTEN_PID: '9', PATH: '/run/a.sock', UPSTART_JOB: 'u', HOME: '/root' },
      STANDARD_PATH,
      2,
    );
    assert.deepEqual(env, { PATH: STANDARD_PATH, UPSTART_JOB: 'u', HOME: '/root', UNICORN_FD: '3,4' });
  });
});
