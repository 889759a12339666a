import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { formatContinuity, summarize } from '../../lab/check/continuity';
import { readPid } from '../../src/pidfile';
import { Harness, type LogLine, isRunning, waitUntil, withNginx } from '../support/harness';
import { get, getJson } from '../support/http';
import {
  CONFIG_RU,
  type Handover,
  PHOENIX_CLI,
  type Started,
  UnicornLab,
  describeProcesses,
  processesMentioning,
  underLoad,
  unicornCommand,
  unicornEnv,
  waitNothingLeft,
  UNICORN_RB,
  workersOf,
} from '../support/unicorn';

/**
 * unicorn-wrapper in front of Debian's Ruby unicorn 6, with the socket handed over exactly as
 * upstart 1.5's socket bridge does it (fd 11, UPSTART_FDS=11, PATH = the socket's path) and a
 * real nginx in front.
 */

const UPGRADES = 20;
type Who = { pid: number; master: number; worker: number; generation: number; version: string };

const lab = new UnicornLab();
after(() => lab.cleanup());

const isEvent = (name: string) => (e: LogLine) => e.event === name;

/** Starts the wrapper on the bridge's socket and waits until unicorn serves. */
async function startOnBridge(
  h: Harness,
  name: string,
  o: { env?: NodeJS.ProcessEnv; command?: string[]; args?: string[]; socket?: string } = {},
): Promise<{ w: Started; pidFile: string; master: number }> {
  const pidFile = h.file(`${name}.pid`);
  const w = lab.startWrapper(o.args ?? [], o.command ?? unicornCommand(), {
    via: { kind: 'upstart', socket: o.socket ?? h.file('app.sock') },
    env: unicornEnv(pidFile, o.env),
  });
  const ready = await w.waitFor(isEvent('ready'), 20_000);
  return { w, pidFile, master: Number(ready.master) };
}

/** Waits for the wrapper to exit and for every process it started to be gone. */
async function stoppedClean(w: Started, pidFile: string, code: number): Promise<void> {
  const exit = await w.exited;
  assert.deepEqual(exit, { code, signal: null }, `wrapper exit; stderr:\n${w.stderr().slice(-3000)}`);
  const last = w.events().at(-1)!;
  assert.equal(last.event, 'exit');
  assert.equal(last.code, String(code));
  await waitNothingLeft(w.tag);
  assert.equal(fs.existsSync(pidFile), false, 'no pid file left');
  assert.equal(fs.existsSync(`${pidFile}.oldbin`), false, 'no .oldbin left');
}

describe('unicorn-wrapper: unicorn behind nginx, on the socket bridge socket', () => {
  const fx = withNginx('app.sock');
  const nginxOn = fx.nginxOn;

  test(`${UPGRADES} USR2 upgrades under load (before_fork QUITs .oldbin): no failed request, the wrapper's pid stays`, async () => {
    const { h, port } = fx;
    const { w, pidFile } = await startOnBridge(h, 'upgrades');
    const start = w.events().find(isEvent('start'))!;
    assert.equal(start.source, 'upstart');
    assert.equal(start.fd, '11');
    assert.equal(start.path, 'restored', "upstart 1.5's PATH (the socket path) is replaced");
    assert.equal(start.pidFrom, 'config');
    assert.match(start.command, / -l \S+app\.sock /);
    await nginxOn();
    const wrapper = w.pid;
    let wrapperDown = 0;
    const watch = setInterval(() => (wrapperDown += isRunning(wrapper) ? 0 : 1), 20);
    const masters = new Set<number>([readPid(pidFile)!]);
    // A unicorn worker serves one request at a time: one /slow in 50 keeps some in flight
    // across the handovers without starving the two workers of the rest.
    const slowEvery50 = (n: number) => (n % 50 === 0 ? '/slow?ms=300' : '/');
    const records = await underLoad(
      port,
      async (served) => {
        for (let i = 1; i <= UPGRADES; i++) {
          const from = w.events().length;
          process.kill(wrapper, 'SIGUSR2');
          const followed = await w.waitFor(isEvent('master-followed'), 15_000, from);
          masters.add(Number(followed.master));
          // The old master must be gone before the next USR2, or unicorn (and the wrapper) refuse it.
          await w.waitFor(isEvent('oldbin-exited'), 15_000, from);
          await served((r) => r.generation === i + 1, `generation ${i + 1} to serve through nginx`);
        }
      },
      slowEvery50,
    );
    clearInterval(watch);
    const c = summarize(records);
    assert.equal(c.failed, 0, `failed requests:\n${formatContinuity(c)}`);
    assert.equal(wrapperDown, 0, 'the wrapper init tracks was alive at every look');
    assert.equal(w.events().filter(isEvent('master-followed')).length, UPGRADES);
    assert.equal(masters.size, UPGRADES + 1, 'a new master pid at each upgrade');
    assert.deepEqual(
      c.generations.map((g) => g.generation),
      Array.from({ length: UPGRADES + 1 }, (_, i) => i + 1),
      'every generation served',
    );
    for (const bad of ['upgrade-failed', 'signal-refused', 'wrapper-error', 'master-lost'])
      assert.equal(w.events().filter(isEvent(bad)).length, 0, `no ${bad}`);
    console.log(
      `# ${UPGRADES} upgrades: ${c.sent} requests, ${c.failed} failed, longest gap ${c.longestGapMs} ms, ${masters.size} masters`,
    );
    process.kill(wrapper, 'SIGQUIT');
    await stoppedClean(w, pidFile, 0);
  });

  test('HUP (initctl reload) keeps the socket: the wrapper passes -l; a plain UNICORN_FD start loses it', async () => {
    const { h, port } = fx;
    await nginxOn();
    const { w, pidFile, master } = await startOnBridge(h, 'hup');
    assert.equal((await get(port)).status, 200);
    const before = workersOf(master);
    process.kill(w.pid, 'SIGHUP');
    await w.waitFor((e) => e.event === 'signal-forwarded' && e.signal === 'SIGHUP');
    // preload_app: HUP reloads the app and replaces every worker.
    await waitUntil(
      () => workersOf(master).length === 2 && workersOf(master).every((p) => !before.includes(p)),
      15_000,
      'new workers after HUP',
    );
    for (let i = 0; i < 5; i++) assert.equal((await get(port, '/', 3000)).status, 200);
    process.kill(w.pid, 'SIGTERM');
    await stoppedClean(w, pidFile, 0);

    // Control: the same unicorn given the socket as a bare UNICORN_FD (no -l): HUP closes it.
    const ctlSock = h.file('ctl.sock');
    const ctlPid = h.file('ctl.pid');
    const ctl = lab.start(unicornCommand(), { via: { kind: 'unicorn-fd', socket: ctlSock }, env: unicornEnv(ctlPid) });
    await waitUntil(() => (readPid(ctlPid) ?? 0) > 0 && workersOf(readPid(ctlPid)!).length === 2, 15_000, 'control');
    const ctlMaster = readPid(ctlPid)!;
    assert.equal((await get(ctlSock)).status, 200);
    const ctlBefore = workersOf(ctlMaster);
    process.kill(ctlMaster, 'SIGHUP');
    await waitUntil(
      () => workersOf(ctlMaster).length === 2 && workersOf(ctlMaster).every((p) => !ctlBefore.includes(p)),
      15_000,
      'control: new workers after HUP',
    );
    // The bridge still holds its copy, so the connection is accepted by the kernel and waits.
    await assert.rejects(get(ctlSock, '/', 1500), /timeout/, 'the control lost its socket on HUP');
    assert.match(ctl.stderr(), /inherited addr=\S+ctl\.sock fd=11/);
    process.kill(ctlMaster, 'SIGQUIT');
    await waitNothingLeft(ctl.tag);
  });

  test('TTIN/TTOU change the worker count, WINCH stops the workers, HUP brings them back, USR1 reopens logs', async () => {
    const { h, port } = fx;
    await nginxOn();
    const { w, pidFile, master } = await startOnBridge(h, 'sigs');
    const send = async (sig: NodeJS.Signals) => {
      const from = w.events().length;
      process.kill(w.pid, sig);
      await w.waitFor(
        (e) => e.event === 'signal-forwarded' && e.signal === sig && e.master === String(master),
        5000,
        from,
      );
    };
    await send('SIGTTIN');
    await waitUntil(() => workersOf(master).length === 3, 10_000, '3 workers after TTIN');
    // One TTOU at a time: two sent back to back can reach the master while the first is still
    // pending, and the kernel merges them into one (a loaded machine showed 2 workers, not 1).
    await send('SIGTTOU');
    await waitUntil(() => workersOf(master).length === 2, 10_000, '2 workers after a TTOU');
    await send('SIGTTOU');
    await waitUntil(() => workersOf(master).length === 1, 10_000, '1 worker after 2 TTOU');
    await send('SIGWINCH');
    await waitUntil(() => workersOf(master).length === 0, 10_000, 'no workers after WINCH');
    assert.ok(isRunning(master) && isRunning(w.pid), 'WINCH keeps the master, and the wrapper follows it');
    await send('SIGHUP');
    await waitUntil(() => workersOf(master).length === 2, 10_000, 'workers back after HUP');
    assert.equal((await get(port)).status, 200);
    await send('SIGUSR1');
    await waitUntil(() => /master done reopening logs/.test(w.stderr()), 10_000, 'unicorn to reopen its logs');
    // QUIT: a request in flight finishes, then everything is gone.
    const slow = get(port, '/slow?ms=800');
    await new Promise((r) => setTimeout(r, 200));
    process.kill(w.pid, 'SIGQUIT');
    assert.equal((await slow).status, 200, 'the request in flight at QUIT is answered');
    await stoppedClean(w, pidFile, 0);
  });

  test('restarts off (--restart-budget 0): the master killed (SIGKILL) makes the wrapper exit 71 for respawn, nothing left', async () => {
    const { h } = fx;
    const { w, pidFile, master } = await startOnBridge(h, 'killed', { args: ['--restart-budget', '0'] });
    process.kill(master, 'SIGKILL');
    await stoppedClean(w, pidFile, 71);
    const lost = w.events().find(isEvent('master-lost'))!;
    assert.equal(lost.master, String(master));
    assert.equal(lost.signal, 'SIGKILL');
    assert.equal(
      w
        .stderr()
        .split('\n')
        .filter((l) => l.startsWith('unicorn-wrapper: ')).length,
      1,
    );
    assert.match(w.stderr(), /restarts are off \(--restart-budget 0\): exit 71/);
    assert.equal(w.events().filter(isEvent('master-restarting')).length, 0);
  });

  test('without the before_fork QUIT: both masters run, USR2 is refused until the old one is QUIT by hand', async () => {
    const { h, port } = fx;
    await nginxOn();
    const { w, pidFile, master } = await startOnBridge(h, 'noquit', { env: { UNICORN_QUIT_OLDBIN: 'false' } });
    process.kill(w.pid, 'SIGUSR2');
    const followed = await w.waitFor(isEvent('master-followed'));
    assert.equal(followed.previousAlive, 'true');
    assert.equal(readPid(`${pidFile}.oldbin`), master);
    const from = w.events().length;
    process.kill(w.pid, 'SIGUSR2');
    const refused = await w.waitFor(isEvent('signal-refused'), 5000, from);
    assert.match(refused.reason, new RegExp(`\\.oldbin master ${master} still runs`));
    process.kill(master, 'SIGQUIT');
    await w.waitFor(isEvent('oldbin-exited'), 15_000, from);
    assert.equal((await getJson<Who>(port)).generation, 2);
    process.kill(w.pid, 'SIGUSR2');
    await w.waitFor((e) => e.event === 'master-followed' && e.previous === followed.master, 15_000, from);
    // TERM goes to both masters of the handover: nothing may stay behind.
    process.kill(w.pid, 'SIGTERM');
    await stoppedClean(w, pidFile, 0);
  });

  test('a re-exec that dies before exec (its working directory pruned, as Capistrano does): upgrade-failed all the same', async () => {
    const { h, port } = fx;
    await nginxOn();
    const release = h.file('release-A');
    fs.mkdirSync(release);
    const conf = h.file('pruned.rb');
    fs.writeFileSync(conf, `${fs.readFileSync(UNICORN_RB, 'utf8')}\nworking_directory ${JSON.stringify(release)}\n`);
    const { w, pidFile, master } = await startOnBridge(h, 'pruned', { command: unicornCommand({ config: conf }) });
    fs.rmSync(release, { recursive: true });
    const from = w.events().length;
    process.kill(w.pid, 'SIGUSR2');
    // unicorn renames its pid file to .oldbin and back within milliseconds: the wrapper must
    // still say the upgrade failed, whether or not one of its passes fell in between.
    const failed = await w.waitFor(isEvent('upgrade-failed'), 15_000, from);
    assert.equal(failed.master, String(master));
    assert.match(w.stderr(), /chdir/);
    assert.equal(readPid(pidFile), master);
    assert.equal((await getJson<Who>(port)).master, master, 'the old master serves on');
    process.kill(w.pid, 'SIGQUIT');
    await stoppedClean(w, pidFile, 0);
  });

  test('an upgrade whose new master cannot load the app: upgrade-failed, the old master keeps serving', async () => {
    const { h, port } = fx;
    await nginxOn();
    const ru = h.file('app.ru');
    fs.copyFileSync(CONFIG_RU, ru);
    const { w, pidFile, master } = await startOnBridge(h, 'failing', { command: unicornCommand({ ru }) });
    fs.writeFileSync(ru, "raise 'v2 cannot reach its database'\n");
    const from = w.events().length;
    process.kill(w.pid, 'SIGUSR2');
    const failed = await w.waitFor(isEvent('upgrade-failed'), 15_000, from);
    assert.equal(failed.master, String(master));
    assert.match(w.stderr(), /reaped .* exec\(\)-ed/);
    assert.equal(readPid(pidFile), master, 'unicorn put its pid file back');
    const who = await getJson<Who>(port);
    assert.equal(who.master, master);
    assert.equal(who.generation, 1);
    fs.copyFileSync(CONFIG_RU, ru);
    process.kill(w.pid, 'SIGUSR2');
    const followed = await w.waitFor(isEvent('master-followed'), 15_000, from);
    await waitUntil(() => !isRunning(master), 10_000, 'the old master to leave');
    assert.equal((await getJson<Who>(port)).master, Number(followed.master));
    // INT: unicorn's quick stop, passed on like QUIT and TERM.
    process.kill(w.pid, 'SIGINT');
    await stoppedClean(w, pidFile, 0);
  });

  test('phoenix --upgrade reexec through the wrapper (instead of the herder script): 5 USR2 under load, nothing lost', async () => {
    const { h, port } = fx;
    await nginxOn();
    const pidFile = h.file('phoenix.pid');
    const w = lab.startWrapper(
      ['--pid', pidFile],
      [process.execPath, PHOENIX_CLI, '--upgrade', 'reexec', '--quit-oldbin', '--workers', '2', '--pid', pidFile],
      { via: { kind: 'upstart', socket: h.file('app.sock') } },
    );
    await w.waitFor(isEvent('ready'), 20_000);
    assert.equal(w.events().find(isEvent('start'))!.listenArg, 'none', 'phoenix has no -l');
    const records = await underLoad(port, async (served) => {
      for (let i = 1; i <= 5; i++) {
        const from = w.events().length;
        process.kill(w.pid, 'SIGUSR2');
        const followed = await w.waitFor(isEvent('master-followed'), 15_000, from);
        await w.waitFor(isEvent('oldbin-exited'), 15_000, from);
        const m = Number(followed.master);
        await served((r) => r.pid !== undefined && workersOf(m).includes(r.pid), `master ${m}'s workers to serve`);
      }
    });
    const c = summarize(records);
    assert.equal(c.failed, 0, `failed requests:\n${formatContinuity(c)}`);
    assert.equal(w.events().filter(isEvent('master-followed')).length, 5);
    process.kill(w.pid, 'SIGQUIT');
    await stoppedClean(w, pidFile, 0);
  });
});

interface BadCase {
  name: string;
  args?: (h: Harness) => string[];
  command?: (h: Harness) => string[];
  via?: (h: Harness, i: number) => Handover;
  env?: (h: Harness) => NodeJS.ProcessEnv;
  setup?: (h: Harness) => void;
  code: number;
  message: RegExp;
  reason?: string;
}

const bridge = (h: Harness, i: number): Handover => ({ kind: 'upstart', socket: h.file(`bad-${i}.sock`) });

const BAD: BadCase[] = [
  { name: 'an unknown option', args: () => ['--frobnicate'], code: 64, message: /unknown option '--frobnicate'/ },
  {
    name: 'an argument before --',
    command: () => [],
    args: () => ['/usr/bin/unicorn'],
    code: 64,
    message: /stray argument '\/usr\/bin\/unicorn' before '--'/,
  },
  { name: 'no socket at all', via: () => ({ kind: 'direct' }), code: 64, message: /no socket to serve/ },
  {
    name: 'a connected socket in UPSTART_FDS',
    via: () => ({ kind: 'bad-fd', fdKind: 'connected' }),
    code: 65,
    message: /UPSTART_FDS: fd 11 .* is a connected socket, not a listening one/,
  },
  {
    name: 'a regular file in UPSTART_FDS',
    via: () => ({ kind: 'bad-fd', fdKind: 'file' }),
    code: 65,
    message: /fd 11 is not a socket/,
  },
  {
    name: 'a --listen address that cannot be bound',
    args: () => ['--listen', 'unix:/nonexistent-dir/app.sock'],
    via: () => ({ kind: 'direct' }),
    code: 69,
    message: /cannot bind unix:\/nonexistent-dir\/app\.sock: directory \/nonexistent-dir does not exist/,
  },
  {
    name: 'unicorn not installed (absolute path)',
    command: () => ['/nonexistent/bin/unicorn', '-c', 'x.rb'],
    code: 66,
    message: /\/nonexistent\/bin\/unicorn not found: is it installed/,
  },
  {
    name: 'a command not on the (restored) PATH',
    command: () => ['unicorn-not-installed'],
    code: 66,
    message: /unicorn-not-installed not found in PATH=\/usr\/local\/sbin:/,
  },
  {
    name: 'a config.ru that does not load',
    setup: (h) => fs.writeFileSync(h.file('broken.ru'), "raise 'database unreachable'\n"),
    command: (h) => unicornCommand({ ru: h.file('broken.ru') }),
    code: 70,
    reason: 'unicorn-exited',
    message: /unicorn \(pid \d+\) exited with status 1 before it served/,
  },
  {
    name: '--ready-timeout 0',
    args: () => ['--ready-timeout', '0'],
    code: 64,
    message: /--ready-timeout: '0' is not a number of seconds above 0/,
  },
  {
    name: '--stop-timeout negative',
    args: () => ['--stop-timeout', '-5'],
    code: 64,
    message: /--stop-timeout: '-5' is not a number of seconds above 0/,
  },
  {
    name: '--stop-timeout not a number',
    args: () => ['--stop-timeout=soon'],
    code: 64,
    message: /--stop-timeout: 'soon' is not a number of seconds above 0/,
  },
  {
    name: 'a restart budget with a window of 0',
    args: () => ['--restart-budget', '5/0s'],
    code: 64,
    message: /--restart-budget: '5\/0s' has a window under 1 s/,
  },
  {
    name: 'a restart budget that is not N/WINDOW',
    args: () => ['--restart-budget', 'lots'],
    code: 64,
    message: /--restart-budget: 'lots' is not N\/WINDOW/,
  },
  {
    name: 'a restart budget that is a storm',
    args: () => ['--restart-budget', '500/1s'],
    code: 64,
    message: /more than 100 restarts: that is a restart storm/,
  },
  {
    name: 'a config without pid, and no --pid',
    setup: (h) => fs.writeFileSync(h.file('nopid.rb'), 'worker_processes 1\n'),
    command: (h) => unicornCommand({ config: h.file('nopid.rb') }),
    code: 78,
    message: /config \S+nopid\.rb sets no `pid`, and no --pid was given/,
  },
  {
    name: 'a config that does not parse',
    setup: (h) => fs.writeFileSync(h.file('syntax.rb'), 'worker_processes(\n'),
    command: (h) => unicornCommand({ config: h.file('syntax.rb') }),
    code: 78,
    message: /config \S+syntax\.rb cannot be read: SyntaxError/,
  },
  {
    name: 'phoenix without --pid (nothing to learn it from)',
    command: () => [process.execPath, PHOENIX_CLI, '--upgrade', 'reexec'],
    code: 78,
    message: /does not look like unicorn/,
  },
  {
    name: 'no pid file within --pid-timeout (the config writes another one)',
    args: (h) => ['--pid', h.file('watched.pid'), '--pid-timeout', '1'],
    code: 73,
    reason: 'pid-timeout',
    message: /did not write its pid file \S+watched\.pid within 1 s/,
  },
];

describe('unicorn-wrapper: every bad input is one message, a documented exit code, and nothing left running', () => {
  let h: Harness;
  before(() => {
    h = new Harness();
  });
  after(() => h.cleanup());

  BAD.forEach((c, i) => {
    test(c.name, async () => {
      c.setup?.(h);
      const pidFile = h.file(`bad-${i}.pid`);
      const w = lab.startWrapper(c.args?.(h) ?? [], c.command?.(h) ?? unicornCommand(), {
        via: c.via?.(h, i) ?? bridge(h, i),
        env: { ...unicornEnv(pidFile), ...c.env?.(h) },
      });
      const { code } = await w.exited;
      const messages = w
        .stderr()
        .split('\n')
        .filter((l) => l.startsWith('unicorn-wrapper: '));
      assert.equal(code, c.code, `exit code; stderr:\n${w.stderr()}`);
      assert.equal(messages.length, 1, `exactly one message; stderr:\n${w.stderr()}`);
      assert.match(messages[0], c.message);
      const failed = w.events().filter(isEvent('start-failed'));
      assert.equal(failed.length, 1);
      assert.equal(failed[0].code, String(c.code));
      if (c.reason) assert.equal(failed[0].reason, c.reason);
      // A config.ru that raises at first boot is never restarted: unicorn never served.
      assert.equal(w.events().filter(isEvent('master-restarting')).length, 0, 'no restart');
      const left = processesMentioning(w.tag);
      assert.deepEqual(left, [], `nothing may be left running:\n${describeProcesses(left)}`);
      assert.equal(fs.existsSync(pidFile), false, 'no pid file left');
    });
  });

  test('LISTEN_FDS for another process (LISTEN_PID not ours) with --listen: ignored as sd_listen_fds(3) says, --listen serves', async () => {
    const pidFile = h.file('foreign.pid');
    const sock = h.file('foreign.sock');
    const w = lab.startWrapper(['--listen', `unix:${sock}`], unicornCommand(), {
      via: { kind: 'direct' },
      env: { ...unicornEnv(pidFile), LISTEN_FDS: '1', LISTEN_PID: '1' },
    });
    await w.waitFor(isEvent('ready'), 20_000);
    assert.equal((await get(sock)).status, 200);
    process.kill(w.pid, 'SIGQUIT');
    await stoppedClean(w, pidFile, 0);
  });

  test('a second wrapper against a live master is refused before it starts anything; the first serves on', async () => {
    const pidFile = h.file('live.pid');
    const first = lab.startWrapper([], unicornCommand(), { via: bridge(h, 100), env: unicornEnv(pidFile) });
    const ready = await first.waitFor(isEvent('ready'), 20_000);
    const second = lab.startWrapper([], unicornCommand(), { via: bridge(h, 101), env: unicornEnv(pidFile) });
    assert.equal((await second.exited).code, 75);
    assert.match(
      second.stderr(),
      new RegExp(`unicorn-wrapper: a master is already running: pid ${ready.master} from \\S+live\\.pid`),
    );
    assert.equal(second.events().find(isEvent('start'))?.event, undefined, 'the second one started nothing');
    assert.deepEqual(processesMentioning(second.tag), []);
    assert.equal(readPid(pidFile), Number(ready.master));
    assert.equal((await get(h.file('bad-100.sock'))).status, 200);
    process.kill(first.pid, 'SIGQUIT');
    await stoppedClean(first, pidFile, 0);
  });
});
