import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';

/**
 * Every server process the benchmark starts, in one place: stopAll() ends them and every
 * process that descends from them (re-executed masters are re-parented, so they are found
 * by the marker in their environment instead).
 */
export class Procs {
  private readonly children: ChildProcess[] = [];
  constructor(private readonly marker: string) {}

  start(
    cmd: string,
    args: string[],
    opts: { env?: NodeJS.ProcessEnv; cwd?: string; onLine?: (line: string) => void } = {},
  ): ChildProcess {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env, BENCH_MARKER: this.marker },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buf = '';
    const feed = (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        opts.onLine?.(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    };
    child.stdout!.on('data', feed);
    child.stderr!.on('data', feed);
    this.children.push(child);
    return child;
  }

  marked(): number[] {
    const out: number[] = [];
    for (const d of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        if (fs.readFileSync(`/proc/${d}/environ`, 'utf8').includes(`BENCH_MARKER=${this.marker}`)) out.push(Number(d));
      } catch {
        /* gone */
      }
    }
    return out;
  }

  stopAll(): void {
    for (const pid of this.marked()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const c of this.children) if (c.exitCode === null) c.kill('SIGKILL');
  }
}

export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : NaN;
  } catch {
    return NaN;
  }
}

export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid && fields[0] !== 'Z') out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** CPU time (user + system) a process has used, in ms: a cost per request that a busy,
 *  shared machine disturbs far less than requests per second. */
export function cpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return 0;
  }
}
