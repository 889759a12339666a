// Ruby unicorn's pieces in the images: the app (images/conf/unicorn/config.ru) and its
// config (unicorn.rb) pass `ruby -c`, keep to what the lab relies on (no `listen`, the pid
// file from UNICORN_PID) and to syntax Ubuntu 12.04's Ruby 1.8.7 reads; a real unicorn
// loads them and answers with phoenix's x-phoenix-* headers; and unicorn's systemd units
// pass `systemd-analyze verify` without a single complaint.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT } from '../support/root';

const CONF = join(ROOT, 'images/conf/unicorn');
const FILES = ['config.ru', 'unicorn.rb'].map((name) => join(CONF, name));
const SCENARIO_RUBY = [
  'symlinked-releases/config.ru',
  'symlinked-releases/unicorn-fix.rb',
  'symlinked-releases/Gemfile',
  'bridge-traps/Gemfile',
  'systemd-forking/forking.rb',
  'cold-workers/unicorn.rb',
  'cold-workers/boot-delay.rb',
  'cold-workers/listen-queue.rb',
  'herder-sleeps/slow-boot.ru',
];
const missing = FILES.filter((f) => !existsSync(f));
// The only reason to skip: the app's files are not written yet.
const skipFiles =
  missing.length > 0 ? `not written yet: ${missing.map((f) => f.slice(ROOT.length + 1)).join(', ')}` : false;
const UNICORN = '/usr/bin/unicorn';
const skipUnicorn =
  skipFiles || (existsSync(UNICORN) ? false : 'unicorn is not installed (apt-get install unicorn ruby-rack)');
const SYSTEMD_ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));

const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

function rubyCheck(file: string): { status: number | null; output: string } {
  const r = spawnSync('ruby', ['-c', file], { encoding: 'utf8' });
  if (r.error !== undefined) throw new Error(`cannot run ruby (apt-get install ruby): ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The code without comments (a line's # outside quotes is good enough for these two files). */
const code = (file: string): string =>
  readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.replace(/(^|\s)#(?![{]).*$/, '$1'))
    .join('\n');

// Syntax Ruby 1.8.7 (Ubuntu 12.04's default /usr/bin/ruby, what precise's unicorn runs on)
// does not read. Not a parser: the constructs a modern habit would bring in.
const NEWER_THAN_1_8: Array<[RegExp, string]> = [
  [/(^|[\s({,|])[a-z_]\w*: (?!:)/m, '`key: value` hash or keyword syntax (1.9)'],
  [/->\s*[({]/, '`->` lambda (1.9)'],
  [/&\./, '`&.` (2.3)'],
  [/%[iI][[({]/, '`%i[]` (2.0)'],
  [/\b__dir__\b/, '`__dir__` (2.0)'],
  [/\brequire_relative\b/, '`require_relative` (1.9)'],
  [/\*\*\w/, '`**kwargs` (2.0)'],
];

describe("unicorn's app and config (images/conf/unicorn)", () => {
  for (const file of FILES) {
    const name = file.slice(ROOT.length + 1);

    it(`${name} passes ruby -c`, { skip: skipFiles }, () => {
      const r = rubyCheck(file);
      assert.equal(r.status, 0, r.output);
      assert.match(r.output, /Syntax OK/);
    });

    it(`${name} keeps to syntax Ruby 1.8.7 reads (Ubuntu 12.04)`, { skip: skipFiles }, () => {
      const text = code(file);
      assert.deepEqual(
        NEWER_THAN_1_8.filter(([pattern]) => pattern.test(text)).map(([, what]) => what),
        [],
      );
    });
  }

  // The scenarios' own Ruby files (images/conf/unicorn/<scenario>/): the same two checks.
  for (const rel of SCENARIO_RUBY) {
    it(`${rel} passes ruby -c and keeps to Ruby 1.8.7 syntax`, () => {
      const file = join(CONF, rel);
      const r = rubyCheck(file);
      assert.equal(r.status, 0, r.output);
      assert.deepEqual(
        NEWER_THAN_1_8.filter(([pattern]) => pattern.test(code(file))).map(([, what]) => what),
        [],
      );
    });
  }

  it('a broken copy fails the same ruby -c', { skip: skipFiles }, () => {
    const broken = join(tempDir('ruby-conf-'), 'broken.rb');
    writeFileSync(broken, `${readFileSync(FILES[1], 'utf8')}\nbefore_fork do |server, worker|\n`);
    const r = rubyCheck(broken);
    assert.notEqual(r.status, 0, r.output);
    assert.match(r.output, /syntax error/i);
  });

  it('unicorn.rb binds nothing itself and takes its pid file from UNICORN_PID', { skip: skipFiles }, () => {
    const text = code(FILES[1]);
    // The socket comes from the bridge (through the wrapper), from systemd, or from -l.
    assert.doesNotMatch(text, /^\s*listen\b/m, 'unicorn.rb must not `listen`: the jobs and units give the socket');
    assert.match(text, /^\s*pid\s+ENV\[['"]UNICORN_PID['"]\]\s*\|\|\s*['"]\/var\/run\/unicorn\/unicorn\.pid['"]/m);
    assert.match(text, /^\s*worker_processes\b/m);
    assert.match(text, /^\s*before_fork\b[\s\S]*\.oldbin/m, 'before_fork QUITs the .oldbin master');
  });

  it('the jobs, units and wrapper shim name the app where the images put it', () => {
    const uses = [
      'images/conf/unicorn/upstart/unicorn-seed-poc.conf',
      'images/conf/unicorn/upstart/unicorn-wrapper.conf',
      'images/conf/unicorn/upstart/unicorn-exec.conf',
      'images/conf/systemd/unicorn.service',
      'images/conf/systemd/unicorn-wrapper.service',
      'images/conf/systemd/unicorn-plain.service',
    ];
    for (const rel of uses) {
      const text = readFileSync(join(ROOT, rel), 'utf8');
      assert.ok(
        text.includes('/usr/bin/unicorn -E production -c /opt/unicorn/app/unicorn.rb'),
        `${rel}: not /opt/unicorn/app/unicorn.rb`,
      );
      assert.ok(text.includes('/opt/unicorn/app/config.ru'), `${rel}: not /opt/unicorn/app/config.ru`);
    }
    for (const dockerfile of ['images/bookworm/Dockerfile', 'images/precise/Dockerfile']) {
      assert.match(
        readFileSync(join(ROOT, dockerfile), 'utf8'),
        /^COPY images\/conf\/unicorn\/config\.ru images\/conf\/unicorn\/unicorn\.rb \/opt\/unicorn\/app\/$/m,
        dockerfile,
      );
    }
  });
});

function get(socket: string, path: string): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((done, fail) => {
    const req = request({ socketPath: socket, path, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in 5 s`)));
    req.on('error', fail);
    req.end();
  });
}

async function waitFor(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a real unicorn runs the app with the config', () => {
  it('answers GET / with the x-phoenix-* headers, then stops on QUIT', { skip: skipUnicorn }, async () => {
    const dir = tempDir('ruby-conf-unicorn-');
    const socket = join(dir, 'unicorn.sock');
    const pidFile = join(dir, 'unicorn.pid');
    let stderr = '';
    // Its own process group, so that whatever happens nothing it started outlives the test.
    const master = spawn(UNICORN, ['-E', 'production', '-c', FILES[1], '-l', socket, FILES[0]], {
      cwd: CONF,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, UNICORN_PID: pidFile, UNICORN_WORKERS: '1' },
    });
    master.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((done) => master.once('exit', (code) => done(code)));
    try {
      await waitFor(
        () => /worker=0 ready/.test(stderr) || master.exitCode !== null,
        'a unicorn worker to be ready',
        20_000,
      );
      assert.equal(master.exitCode, null, `unicorn exited:\n${stderr}`);
      assert.equal(readFileSync(pidFile, 'utf8').trim(), String(master.pid));
      const reply = await get(socket, '/');
      assert.equal(reply.status, 200, stderr);
      for (const header of ['x-phoenix-pid', 'x-phoenix-generation', 'x-phoenix-worker']) {
        assert.match(String(reply.headers[header]), /^-?\d+$/, `${header}: ${String(reply.headers[header])}`);
      }
      assert.equal((await get(socket, '/health')).status, 200);
      process.kill(master.pid ?? 0, 'SIGQUIT');
      assert.equal(await exited, 0, stderr);
      assert.ok(!existsSync(pidFile), 'unicorn removes its pid file on a graceful stop');
    } finally {
      try {
        if (master.pid !== undefined) process.kill(-master.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
});

describe("unicorn's systemd units (images/conf/systemd/unicorn*)", () => {
  const units = ['unicorn.socket', 'unicorn.service', 'unicorn-wrapper.service', 'unicorn-plain.service'];
  const skipVerify =
    SYSTEMD_ANALYZE === undefined
      ? 'systemd-analyze is not installed (apt-get install systemd)'
      : existsSync(UNICORN)
        ? false
        : 'unicorn is not installed: verify checks that ExecStart= exists (apt-get install unicorn)';

  function verify(dir: string, names: string[]): { status: number | null; output: string } {
    const r = spawnSync(SYSTEMD_ANALYZE ?? 'systemd-analyze', ['verify', ...names.map((n) => join(dir, n))], {
      encoding: 'utf8',
    });
    return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
  }

  it('pass systemd-analyze verify with no complaint at all', { skip: skipVerify }, () => {
    const dir = tempDir('ruby-conf-units-');
    // verify checks that ExecStart= is executable: on this host the image's portable node is
    // this node (the images run the real file through the same check when they are built).
    for (const unit of units) {
      const text = readFileSync(join(ROOT, 'images/conf/systemd', unit), 'utf8');
      writeFileSync(join(dir, unit), text.replaceAll('/opt/phoenix/runtime/bin/node', process.execPath));
    }
    const r = verify(dir, units);
    assert.equal(r.status, 0, r.output);
    assert.equal(r.output, '', 'systemd-analyze verify complained');
  });

  it("unicorn-cold-workers' drop-in for unicorn.socket passes the same check beside it", { skip: skipVerify }, () => {
    // verify reads DIR/unicorn.socket.d/*.conf for DIR/unicorn.socket, as systemd does.
    const check = (dropIn: string) => {
      const dir = tempDir('ruby-conf-dropin-');
      copyFileSync(join(ROOT, 'images/conf/systemd/unicorn.socket'), join(dir, 'unicorn.socket'));
      copyFileSync(join(ROOT, 'images/conf/systemd/unicorn.service'), join(dir, 'unicorn.service'));
      mkdirSync(join(dir, 'unicorn.socket.d'));
      writeFileSync(join(dir, 'unicorn.socket.d', 'backlog.conf'), dropIn);
      return verify(dir, ['unicorn.socket', 'unicorn.service']);
    };
    const text = readFileSync(join(CONF, 'cold-workers/unicorn-socket-backlog.conf'), 'utf8');
    assert.match(text, /^\[Socket\]\nBacklog=64$/m);
    const r = check(text);
    assert.equal(r.status, 0, r.output);
    assert.equal(r.output, '', 'systemd-analyze verify complained');
    assert.match(check(text.replace('Backlog=64', 'Backlog=sixty-four')).output, /backlog\.conf:\d+: Failed to parse/);
  });

  it('a broken copy is caught by the same check', { skip: skipVerify }, () => {
    const dir = tempDir('ruby-conf-units-');
    const text = readFileSync(join(ROOT, 'images/conf/systemd/unicorn.service'), 'utf8');
    writeFileSync(join(dir, 'unicorn.service'), text.replace(/^KillMode=mixed$/m, 'KillMode=gently'));
    copyFileSync(join(ROOT, 'images/conf/systemd/unicorn.socket'), join(dir, 'unicorn.socket'));
    assert.match(verify(dir, ['unicorn.socket', 'unicorn.service']).output, /kill mode/i);
  });

  it('unicorn.service is socket-activated, runs unicorn itself and keeps the socket across HUP', () => {
    const text = readFileSync(join(ROOT, 'images/conf/systemd/unicorn.service'), 'utf8');
    // unicorn adopts LISTEN_FDS only when LISTEN_PID is its own pid: no shell or wrapper in between.
    assert.match(text, /^ExecStart=\/usr\/bin\/unicorn /m);
    assert.match(text, /^ExecStart=.* -l \/run\/unicorn\/unicorn\.sock /m);
    assert.match(text, /^NonBlocking=true$/m);
    assert.match(text, /^Requires=unicorn\.socket$/m);
    assert.match(text, /^PIDFile=\/run\/unicorn\/unicorn\.pid$/m);
    const socket = readFileSync(join(ROOT, 'images/conf/systemd/unicorn.socket'), 'utf8');
    assert.match(socket, /^ListenStream=\/run\/unicorn\/unicorn\.sock$/m);
    assert.match(socket, /^SocketGroup=www-data$/m);
    assert.match(socket, /^SocketMode=0660$/m);
    const wrapper = readFileSync(join(ROOT, 'images/conf/systemd/unicorn-wrapper.service'), 'utf8');
    // The wrapper, not a shell or the shim, is what systemd forks: LISTEN_PID is its pid.
    assert.match(
      wrapper,
      /^ExecStart=\/opt\/phoenix\/runtime\/bin\/node \/opt\/phoenix\/app\/dist\/src\/unicorn-wrapper\/cli\.js .*-- \/usr\/bin\/unicorn /m,
    );
    assert.match(wrapper, /^NonBlocking=true$/m);
    assert.match(wrapper, /^Requires=unicorn\.socket$/m);
    const plain = readFileSync(join(ROOT, 'images/conf/systemd/unicorn-plain.service'), 'utf8');
    assert.doesNotMatch(plain.replace(/^#.*$/gm, ''), /unicorn\.socket/, 'the plain unit binds its own socket');
    assert.match(plain, /^ExecStart=.* -l \/run\/unicorn\/unicorn\.sock /m);
    assert.match(plain, /^Restart=/m);
  });
});
