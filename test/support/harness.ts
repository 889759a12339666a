import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseEventLine } from '../../src/events';
import { isAlive } from '../../src/pidfile';
import { ROOT } from './root';

export { ROOT };
/** Tests run the compiled wrapper, as the images do (npm test builds first). */
export const PHOENIX = path.join(ROOT, 'dist', 'src', 'cli.js');
const FD_PARENT = path.join(ROOT, 'test', 'support', 'fd-parent.py');

export interface LogLine {
  [k: string]: string;
}

/** One event line as its fields (the shared parser of src/events.ts), or undefined. */
export function parseLogLine(line: string): LogLine | undefined {
  return parseEventLine(line)?.fields;
}

export interface Proc {
  child: ChildProcess;
  /** pid of the process under test (the wrapper, not the fd-passing parent) */
  pid: number;
  stderr: () => string;
  stdout: () => string;
  events: () => LogLine[];
  waitFor(pred: (e: LogLine) => boolean, ms?: number, from?: number): Promise<LogLine>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * A started child as the tests see it: its output so far, its event lines, a wait for one
 * event that fails with the stderr tail, and its exit. `direct`: the child is the process under
 * test; otherwise it is the fd-passing parent, which prints the child's pid first on stdout.
 * `endsWithStderr`: the log ends when stderr closes too (a re-executed master keeps writing to it).
 */
export function followChild(
  child: ChildProcess,
  o: { direct: boolean; defaultMs: number; endsWithStderr: boolean },
): Proc {
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const notify = () => waiters.forEach((w) => w());
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    notify();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    notify();
  });
  let stderrClosed = !o.endsWithStderr;
  child.stderr!.once('close', () => {
    stderrClosed = true;
    notify();
  });
  const events = () =>
    err
      .split('\n')
      .map(parseLogLine)
      .filter((e): e is LogLine => e !== undefined);
  let isExited = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      isExited = true;
      notify();
      resolve({ code, signal });
    }),
  );
  return {
    child,
    get pid(): number {
      if (o.direct) return child.pid!;
      const first = out.split('\n')[0];
      return first ? (JSON.parse(first) as { child: number }).child : -1;
    },
    stderr: () => err,
    stdout: () => out,
    events,
    waitFor: (pred, ms = o.defaultMs, from = 0) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const hit = events().slice(from).find(pred);
          if (hit) return done(() => resolve(hit));
          if (isExited && stderrClosed)
            return done(() =>
              reject(new Error(`process exited before the awaited log line; stderr:\n${err.slice(-3000)}`)),
            );
        };
        const t = setTimeout(
          () => done(() => reject(new Error(`no awaited log line within ${ms} ms; stderr:\n${err.slice(-3000)}`))),
          ms,
        );
        const done = (f: () => void) => {
          clearTimeout(t);
          waiters.delete(check);
          f();
        };
        waiters.add(check);
        check();
      }),
    exited,
  };
}

export type Via =
  | { kind: 'direct' }
  | { kind: 'upstart'; socket: string; mode?: string; fd?: number }
  | { kind: 'systemd'; socket: string; listenPid?: string }
  | {
      kind: 'fd';
      fdKind: 'connected' | 'file' | 'udp' | 'closed' | 'listen-tcp';
      style: 'upstart' | 'systemd' | 'unicorn';
      fd?: number;
    };

/**
 * Owns a temp dir and every process a test starts. cleanup() kills everything it ever saw a
 * pid of (masters, workers, re-executed masters, all read from the wrapper's log lines), so a
 * failing test leaves no process behind.
 */
export class Harness {
  readonly dir: string;
  private readonly procs: Proc[] = [];
  private readonly extraPids = new Set<number>();

  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-test-'));
    // nginx's www-data workers must reach sockets in here.
    fs.chmodSync(this.dir, 0o755);
  }

  file(name: string): string {
    return path.join(this.dir, name);
  }

  startPhoenix(args: string[], opts: { via?: Via; env?: NodeJS.ProcessEnv } = {}): Proc {
    const via = opts.via ?? { kind: 'direct' };
    const env = { ...process.env, ...opts.env };
    for (const k of ['UPSTART_FDS', 'UNICORN_FD', 'LISTEN_FDS', 'LISTEN_PID', 'PHOENIX_WORKER'])
      if (!(opts.env && k in opts.env)) delete env[k];
    const cmd = [process.execPath, PHOENIX, ...args];
    let argv: string[];
    switch (via.kind) {
      case 'direct':
        argv = cmd;
        break;
      case 'upstart':
        argv = [
          'python3',
          FD_PARENT,
          '--kind',
          'listen-unix',
          '--path',
          via.socket,
          '--mode',
          via.mode ?? '0777',
          '--fd',
          String(via.fd ?? 11),
          '--style',
          'upstart',
          '--',
          ...cmd,
        ];
        break;
      case 'systemd':
        argv = [
          'python3',
          FD_PARENT,
          '--kind',
          'listen-unix',
          '--path',
          via.socket,
          '--style',
          'systemd',
          ...(via.listenPid ? ['--listen-pid', via.listenPid] : []),
          '--',
          ...cmd,
        ];
        break;
      case 'fd':
        argv = [
          'python3',
          FD_PARENT,
          '--kind',
          via.fdKind,
          '--fd',
          String(via.fd ?? 11),
          '--style',
          via.style,
          '--',
          ...cmd,
        ];
        break;
    }
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    // A re-executed master writes to the same stderr: the stream, not the first process, ends the log.
    const proc = followChild(child, { direct: via.kind === 'direct', defaultMs: 10_000, endsWithStderr: true });
    this.procs.push(proc);
    return proc;
  }

  track(pid: number): void {
    this.extraPids.add(pid);
  }

  /** Every pid this harness knows of, alive or not. */
  knownPids(): number[] {
    const pids = new Set<number>(this.extraPids);
    for (const p of this.procs) {
      if (p.child.pid) pids.add(p.child.pid);
      for (const e of p.events())
        for (const k of ['pid', 'wpid', 'child']) if (e[k] && /^\d+$/.test(e[k])) pids.add(Number(e[k]));
    }
    return [...pids];
  }

  async cleanup(): Promise<void> {
    for (const pid of this.knownPids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await Promise.all(this.procs.map((p) => Promise.race([p.exited, sleep(2000)])));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Alive and not a zombie: the wrapper's own definition, so tests and wrapper agree. */
export const isRunning = isAlive;

export async function waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Processes whose environment carries `tag`: what a test left behind. */
export function processesTagged(tag: string): number[] {
  const found: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/environ`, 'utf8').includes(tag) && isAlive(Number(d))) found.push(Number(d));
    } catch {
      /* gone or not ours */
    }
  }
  return found;
}

/**
 * A Harness and a real nginx in front of `h.file(sock)`, set up before a describe block's
 * tests and torn down after them. Read the fields inside tests, not at describe time.
 */
export interface NginxFixture {
  h: Harness;
  nginx: import('../../lab/host/nginx').HostNginx;
  port: number;
  /** starts nginx the first time it is called (a test that needs it says so; others skip the cost) */
  nginxOn(): Promise<void>;
}

export function withNginx(sock: string): NginxFixture {
  // Required here, not imported at the top: only the tests that want nginx load it.
  const { HostNginx, freePort } = require('../../lab/host/nginx') as typeof import('../../lab/host/nginx');
  const { before, after } = require('node:test') as typeof import('node:test');
  let started = false;
  const fx = {
    nginxOn: async () => {
      if (!started) await fx.nginx.start();
      started = true;
    },
  } as NginxFixture;
  before(async () => {
    fx.h = new Harness();
    fx.port = await freePort();
    fx.nginx = new HostNginx(fx.h.file('nginx'), [{ port: fx.port, upstream: fx.h.file(sock) }]);
  });
  after(async () => {
    await fx.nginx.stop();
    await fx.h.cleanup();
  });
  return fx;
}
