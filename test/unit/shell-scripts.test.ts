// Shell scripts shipped in the images: every file under images/**/bin/,
// every images/**/*.sh and every `script` block of the upstart jobs parses
// (`sh -n`, or `bash -n` for a bash script), and phoenix-herder really
// follows a re-executing master.

import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT } from '../support/root';

const HERDER = join(ROOT, 'images/conf/bin/phoenix-herder');
const UNICORN_SHIM = join(ROOT, 'images/conf/bin/unicorn-wrapper');

function scripts(dir: string, inBin = false): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...scripts(path, inBin || entry.name === 'bin'));
    else if (entry.isFile() && (inBin || entry.name.endsWith('.sh'))) found.push(path);
  }
  return found.sort();
}

function upstartJobs(dir: string, inUpstart = false): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...upstartJobs(path, inUpstart || entry.name === 'upstart'));
    else if (inUpstart && entry.name.endsWith('.conf')) found.push(path);
  }
  return found.sort();
}

/** The `[pre-start|post-start|pre-stop|post-stop] script ... end script` blocks of a job file. */
function scriptBlocks(job: string): Array<{ job: string; line: number; kind: string; text: string }> {
  const lines = readFileSync(job, 'utf8').split('\n');
  const out: Array<{ job: string; line: number; kind: string; text: string }> = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*((?:pre|post)-(?:start|stop)\s+)?script\s*(#.*)?$/.exec(lines[i]);
    if (open === null) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*end\s+script\b/.test(lines[i]); i++) body.push(lines[i]);
    out.push({
      job,
      line: start + 1,
      kind: `${open[1] ?? ''}script`.replace(/\s+/, ' '),
      text: `${body.join('\n')}\n`,
    });
  }
  return out;
}

/** The shell a script asks for; undefined when it names another interpreter. */
function shellOf(text: string): string | undefined {
  const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(text);
  if (shebang === null) return 'sh';
  const program = shebang[1].endsWith('/env') ? (shebang[2] ?? '') : shebang[1];
  const name = program.split('/').pop() ?? '';
  return ['sh', 'dash', 'bash'].includes(name) ? (name === 'bash' ? 'bash' : 'sh') : undefined;
}

function syntaxCheck(file: string): { shell: string | undefined; status: number | null; stderr: string } {
  const shell = shellOf(readFileSync(file, 'utf8'));
  if (shell === undefined) return { shell, status: null, stderr: '' };
  const result = spawnSync(shell, ['-n', file], { encoding: 'utf8' });
  return { shell, status: result.status, stderr: result.stderr };
}

const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shell-scripts-'));
  temps.push(dir);
  return dir;
}

describe('shell scripts under images/', () => {
  const files = scripts(join(ROOT, 'images'));

  it('finds phoenix-herder and the unicorn-wrapper shim among them', () => {
    assert.ok(files.includes(HERDER), `found: ${files.join(', ')}`);
    assert.ok(files.includes(UNICORN_SHIM), `found: ${files.join(', ')}`);
  });

  for (const file of files) {
    it(`${relative(ROOT, file)} passes ${shellOf(readFileSync(file, 'utf8')) ?? 'no shell'} -n`, (t) => {
      const result = syntaxCheck(file);
      if (result.shell === undefined) {
        t.diagnostic('not a shell script (its #! names another interpreter): not checked');
        return;
      }
      assert.equal(result.status, 0, result.stderr);
    });
  }

  // Upstart runs each `script ... end script` block with /bin/sh -e.
  const blocks = upstartJobs(join(ROOT, 'images')).flatMap((job) => scriptBlocks(job));
  it('finds the script blocks of the upstart jobs (container glue, the seed PoC)', () => {
    const names = new Set(blocks.map((b) => relative(ROOT, b.job)));
    for (const job of [
      'images/conf/upstart/container/container-boot.conf',
      'images/conf/unicorn/upstart/unicorn-seed-poc.conf',
    ]) {
      assert.ok(names.has(job), `no script block found in ${job}`);
    }
  });
  for (const block of blocks) {
    it(`${relative(ROOT, block.job)}:${block.line} (${block.kind}) passes sh -n`, () => {
      const file = join(tempDir(), 'block.sh');
      writeFileSync(file, block.text);
      const result = spawnSync('sh', ['-n', file], { encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
    });
  }

  it('a deliberately broken script fails the same check', () => {
    const broken = join(tempDir(), 'broken.sh');
    writeFileSync(broken, '#!/bin/sh\nif [ -n "$1" ]; then\n    echo "never closed"\n');
    const result = syntaxCheck(broken);
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /Syntax error|syntax error|unexpected/);
  });

  it('phoenix-herder is executable (the herder job execs it directly)', () => {
    assert.ok((statSync(HERDER).mode & 0o111) !== 0, 'chmod +x images/conf/bin/phoenix-herder');
  });

  it('the unicorn-wrapper shim is executable and runs the same wrapper as unicorn-wrapper.conf', () => {
    assert.ok((statSync(UNICORN_SHIM).mode & 0o111) !== 0, 'chmod +x images/conf/bin/unicorn-wrapper');
    const wrapper = '/opt/phoenix/runtime/bin/node /opt/phoenix/app/dist/src/unicorn-wrapper/cli.js';
    assert.match(
      readFileSync(UNICORN_SHIM, 'utf8'),
      new RegExp(`^exec ${wrapper.replace(/[./]/g, '\\$&')} "\\$@"$`, 'm'),
    );
    const job = readFileSync(join(ROOT, 'images/conf/unicorn/upstart/unicorn-wrapper.conf'), 'utf8');
    assert.ok(job.includes(`exec ${wrapper} `), 'unicorn-wrapper.conf runs another wrapper than the shim');
  });
});

// A stand-in for the wrapper in reexec mode: writes its pid file, on USR2
// renames it to .oldbin and starts a new master that QUITs the old one once
// up (like --quit-oldbin); logs the signals it gets.
const FAKE_MASTER = `
const fs = require('fs');
const { spawn } = require('child_process');
const [pidfile, logfile] = process.argv.slice(2);
const log = (m) => fs.appendFileSync(logfile, process.pid + ' ' + m + '\\n');
fs.writeFileSync(pidfile, process.pid + '\\n');
log('up');
process.on('SIGUSR2', () => {
  fs.renameSync(pidfile, pidfile + '.oldbin');
  spawn(process.execPath, [__filename, pidfile, logfile], { env: { ...process.env, OLD_MASTER: String(process.pid) }, stdio: 'ignore' });
});
process.on('SIGHUP', () => log('HUP'));
for (const s of ['SIGQUIT', 'SIGTERM', 'SIGINT']) process.on(s, () => {
  log(s);
  try { if (fs.readFileSync(pidfile, 'utf8').trim() === String(process.pid)) fs.unlinkSync(pidfile); } catch {}
  process.exit(0);
});
if (process.env.OLD_MASTER) setTimeout(() => {
  process.kill(Number(process.env.OLD_MASTER), 'SIGQUIT');
  fs.rmSync(pidfile + '.oldbin', { force: true });
}, 200);
setInterval(() => {}, 1000);
`;

interface Herd {
  herder: ChildProcess;
  pidfile: string;
  logfile: string;
  exit: Promise<number | null>;
}

function startHerd(): Herd {
  const dir = tempDir();
  const master = join(dir, 'master.js');
  const pidfile = join(dir, 'master.pid');
  const logfile = join(dir, 'master.log');
  writeFileSync(master, FAKE_MASTER);
  // detached: its own session and process group, as upstart gives a job.
  const herder = spawn(HERDER, [pidfile, process.execPath, master, pidfile, logfile], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, HERDER_GONE_AFTER: '1' },
  });
  const exit = new Promise<number | null>((done) => herder.once('exit', (code) => done(code)));
  return { herder, pidfile, logfile, exit };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const readPid = (file: string): number => (existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) || 0 : 0);
/** Running, not a zombie: a master re-parented to a PID 1 that does not reap lingers as one. */
const isAlive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

function stopGroup(herd: Herd): void {
  try {
    if (herd.herder.pid !== undefined) process.kill(-herd.herder.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

describe('phoenix-herder', () => {
  it('follows the master across a re-exec, forwards signals, and exits 0 when stopped', async () => {
    const herd = startHerd();
    const herderPid = herd.herder.pid;
    // A missing pid would make the group kill below kill(0): this test runner's own group.
    assert.ok(herderPid !== undefined, 'the herder started');
    try {
      await waitFor(() => readPid(herd.pidfile) > 0, 'the first master to write its pid file');
      const first = readPid(herd.pidfile);
      process.kill(herderPid, 'SIGUSR2');
      await waitFor(
        () => readPid(herd.pidfile) > 0 && readPid(herd.pidfile) !== first && !isAlive(first),
        'the handover to a new master',
      );
      const second = readPid(herd.pidfile);
      assert.ok(isAlive(herderPid), 'the herder must outlive the first master');
      process.kill(herderPid, 'SIGHUP');
      await waitFor(() => readFileSync(herd.logfile, 'utf8').includes(`${second} HUP`), 'HUP to reach the new master');
      // upstart's stop: the kill signal goes to the whole process group.
      process.kill(-herderPid, 'SIGTERM');
      assert.equal(await herd.exit, 0);
      // The group signal reaches the master too; it may take a few ms longer than the herder.
      await waitFor(() => !isAlive(second), 'the master to be gone after the stop', 3000);
    } finally {
      stopGroup(herd);
    }
  });

  it('exits 1 when the master dies on its own, so that respawn starts a new one', async () => {
    const herd = startHerd();
    try {
      await waitFor(() => readPid(herd.pidfile) > 0, 'the master to write its pid file');
      process.kill(readPid(herd.pidfile), 'SIGKILL');
      assert.equal(await herd.exit, 1);
    } finally {
      stopGroup(herd);
    }
  });
});
