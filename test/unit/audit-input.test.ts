// lab audit's refusals: every bad input of issue 18 gives one message that names the file and
// says what to do, with exit 2 (usage) or 1 (a finding), before anything is judged; and the
// ways of naming files (--dir, --job/--unit.../--unicorn-config/--nginx-site) judge alike.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT } from '../support/root';

const CLI = join(ROOT, 'dist/lab/cli.js');
const EX = join(ROOT, 'lab/audit/examples');

const temps: string[] = [];
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});
function tempDir(files: Record<string, string | Buffer> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'audit-input-'));
  temps.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

function audit(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'audit', '--static', ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 2, nothing on stdout, one line on stderr that matches every pattern. */
function refused(r: ReturnType<typeof audit>, ...patterns: Array<string | RegExp>): void {
  assert.equal(r.status, 2, `${r.stdout}${r.stderr}`);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one message, got:\n${r.stderr}`);
  for (const p of patterns)
    assert.match(lines[0], typeof p === 'string' ? new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : p);
}

const JOB = 'description "app"\nstart on runlevel [2345]\nexec /usr/bin/unicorn -c /app/unicorn.rb /app/config.ru\n';

describe('lab audit: bad input', () => {
  it('a missing file: names it', () => {
    refused(audit('--job', '/nonexistent/unicorn.conf'), '/nonexistent/unicorn.conf does not exist', 'give the path');
  });

  it('an unreadable file (a directory given as a file): names it and says what to do', () => {
    const d = tempDir();
    refused(audit('--job', d), `${d} is a directory`, `--dir ${d}`);
  });

  it('a folder with nothing recognisable: names it and what it looked for', () => {
    const d = tempDir({ 'README.txt': 'hello\n', 'notes.md': '# notes\n' });
    refused(audit('--dir', d), `--dir ${d} has nothing lab audit recognises`, 'README.txt', 'upstart job');
  });

  it('two job files that both run unicorn: names both', () => {
    const d = tempDir({ 'a.conf': JOB, 'b.conf': JOB });
    refused(audit('--dir', d), 'two job files run unicorn', join(d, 'a.conf'), join(d, 'b.conf'));
  });

  it('a binary file: names it and the NUL byte', () => {
    const d = tempDir({ 'unicorn.conf': Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]) });
    refused(audit('--job', join(d, 'unicorn.conf')), `${join(d, 'unicorn.conf')} is not a text file`, 'offset 4');
  });

  it('a job in upstart 1.10+ syntax: reload signal and SOCKET_PATH=, each with its line and the 1.5 way', () => {
    const d = tempDir({
      'reload.conf': `${JOB}reload signal USR2\n`,
      'socket.conf': JOB.replace('start on runlevel [2345]', 'start on socket PROTO=unix SOCKET_PATH=/run/u.sock'),
    });
    refused(audit('--job', join(d, 'reload.conf')), `${join(d, 'reload.conf')}:4:`, '`reload signal`', 'upstart 1.5');
    refused(audit('--job', join(d, 'socket.conf')), `${join(d, 'socket.conf')}:2:`, 'PATH=/your/socket');
  });

  it('a unit with --flavour precise, a job with --flavour bookworm: the file and the way out', () => {
    refused(
      audit('--flavour', 'precise', '--unit', join(EX, 'systemd-forking-no-pidfile/unicorn.service')),
      'unicorn.service is a systemd unit',
      'upstart 1.5',
      'leave --flavour out',
    );
    refused(
      audit('--flavour', 'bookworm', '--dir', join(EX, 'exec-respawn')),
      'unicorn.conf is an upstart job',
      'systemd',
    );
  });

  it('a file given to the wrong flag: says which flag it belongs to', () => {
    refused(
      audit('--job', join(EX, 'recommended-systemd/unicorn.socket')),
      'this is a systemd unit (give it with --unit)',
    );
    refused(audit('--nginx-site', join(EX, 'exec-respawn/unicorn.conf')), 'an upstart job (give it with --job)');
  });

  it('an upstart job and systemd units in one folder: one init at a time', () => {
    const d = tempDir({ 'unicorn.conf': JOB, 'unicorn.service': '[Service]\nExecStart=/usr/bin/unicorn\n' });
    refused(audit('--dir', d), 'both an upstart job', 'give --flavour');
  });

  it('an app without config.ru, and gems that cannot be had offline', () => {
    const noRu = tempDir({ 'app.rb': 'puts 1\n' });
    refused(audit('--dir', join(EX, 'recommended-upstart'), '--app', noRu), `--app ${noRu} has no config.ru`);
    const gems = tempDir({
      'config.ru': 'run lambda { |e| [200, {}, ["ok"]] }\n',
      Gemfile: "source 'https://rubygems.org'\ngem 'rack'\n",
      'Gemfile.lock': 'GEM\n  remote: https://rubygems.org/\n  specs:\n    rack (3.0.8)\n\nBUNDLED WITH\n   2.3.5\n',
    });
    refused(
      audit('--dir', join(EX, 'recommended-upstart'), '--app', gems),
      join(gems, 'Gemfile.lock'),
      'rack 3.0.8',
      'bundle package',
    );
    mkdirSync(join(gems, 'vendor/cache'), { recursive: true });
    writeFileSync(join(gems, 'vendor/cache/rack-3.0.8.gem'), 'not really a gem');
    assert.equal(audit('--dir', join(EX, 'recommended-upstart'), '--app', gems).status, 0, 'vendored: accepted');
  });

  it("a config whose listen names a TCP port the site does not use: a finding (exit 1) naming the config's line", () => {
    const d = tempDir();
    for (const f of ['unicorn-wrapper.conf', 'socket-permissions.conf', 'unicorn-site.conf'])
      copyFileSync(join(EX, 'recommended-upstart', f), join(d, f));
    writeFileSync(join(d, 'unicorn.rb'), 'worker_processes 2\npid "/var/run/unicorn/unicorn.pid"\nlisten 8080\n');
    const r = audit('--dir', d);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`${join(d, 'unicorn.rb')}:3: unicorn listens on 0\\.0\\.0\\.0:8080, a port the site`),
    );
  });

  it('a config that does not parse: ruby -c and the Configurator name its line; exit 1', () => {
    const d = tempDir({ 'unicorn.rb': 'worker_processes 2\nbefore_fork do |s, w|\n' });
    const r = audit('--job', join(EX, 'exec-respawn/unicorn.conf'), '--unicorn-config', join(d, 'unicorn.rb'));
    assert.equal(r.status, 1);
    assert.match(r.stdout, /ERROR +ruby -c: .*unicorn\.rb\n.*unicorn\.rb:\d+: syntax error/);
    assert.match(r.stdout, /not judged: no-pid-file \(wrapper-fix\): .*did not load/);
  });

  it('usage: no files, an unknown flag, a stray word', () => {
    refused(audit(), 'name your files');
    refused(audit('--dri', 'x'), "Unknown option '--dri'");
    refused(audit('--job', join(EX, 'exec-respawn/unicorn.conf'), 'extra.conf'), "unexpected argument 'extra.conf'");
  });
});

describe('lab audit without --static, and no Docker', () => {
  it('runs the static part, then says the lab could not run: exit 3', () => {
    const home = tempDir();
    const r = spawnSync(process.execPath, [CLI, 'audit', '--dir', join(EX, 'recommended-systemd')], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, DOCKER_HOST: `unix://${home}/no-docker.sock`, LAB_HOME: home },
    });
    assert.equal(r.status, 3, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /verdict: CLEAN/);
    assert.match(r.stdout, /dynamic, on bookworm \(systemd\): not run: /);
    assert.match(r.stderr, /lab audit: the lab could not run .*--static needs neither/);
  });
});

describe('lab audit: what it cannot judge it says', () => {
  it('a job whose main process is neither unicorn, the wrapper nor a herder: not judged, never CLEAN', () => {
    const d = tempDir({
      'u.conf': 'description "x"\nstart on runlevel [2345]\nexec /usr/local/bin/unicorn_wrapper.rb\n',
    });
    const r = audit('--dir', d);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /not judged: .*u\.conf:3: the main process runs neither unicorn/);
    assert.doesNotMatch(r.stdout, /CLEAN/);
  });

  it('without --static, an engine on another machine is refused (exit 3): the load could not reach its lab', () => {
    const r = spawnSync(process.execPath, [CLI, 'audit', '--dir', join(EX, 'exec-respawn')], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, DOCKER_HOST: 'tcp://docker.invalid:2375' },
    });
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /not on this machine.*--static needs no Docker/);
  });
});

describe('lab audit: naming files one by one', () => {
  it('--job, --unicorn-config, --nginx-site judge as --dir does', () => {
    const d = join(EX, 'seed-poc');
    const one = audit(
      '--json',
      '--job',
      join(d, 'unicorn.conf'),
      '--unicorn-config',
      join(d, 'unicorn.rb'),
      '--nginx-site',
      join(d, 'app-site.conf'),
    );
    const all = audit('--json', '--dir', d);
    const names = (s: string) =>
      (JSON.parse(s) as { findings: Array<{ scenario: string }> }).findings.map((f) => f.scenario);
    assert.deepEqual(names(one.stdout), names(all.stdout));
    assert.equal(one.status, 1);
  });

  it('--unit takes further units after it', () => {
    const d = join(EX, 'recommended-systemd');
    const r = audit(
      '--unit',
      join(d, 'unicorn.socket'),
      join(d, 'unicorn-wrapper.service'),
      '--unicorn-config',
      join(d, 'unicorn.rb'),
    );
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /on bookworm \(systemd\)/);
    assert.match(r.stdout, /verdict: CLEAN/);
  });
});
