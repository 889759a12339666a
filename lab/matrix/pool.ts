/**
 * N scenario runs at once in one process, on one engine (each run already has its own
 * container, name and port), with progress a person can still read:
 *  - on a terminal, one live line per job at the bottom, rewritten in place, and each
 *    finished run's result printed above them;
 *  - in a log (CI, a pipe), every line prefixed with its job ("j2 [bridge-inplace/bookworm ...]").
 * Anything a run writes to stderr by itself (the load's progress line, image build steps) is
 * attributed to its job through the async context it was written from, so two loads never
 * interleave on one line. Ctrl-C needs nothing here: every container of every job is owned
 * by this process (engine/owner.ts) and removed on the signal.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import * as fs from 'node:fs';

export interface Job {
  /** 1..jobs */
  index: number;
  /** a progress line of the run this job is on */
  say(line: string): void;
  /** a finished block of text (a run's result), printed whole on stdout */
  print(text: string): void;
}

export interface PoolOptions<T> {
  jobs: number;
  /** what a job is doing, for its live line ("bridge-inplace/bookworm") */
  label: (item: T) => string;
  /** every progress line is also appended here, prefixed with its job */
  logFile?: string;
  /** default: stderr is a terminal */
  tty?: boolean;
  /** true once no further item may start (Ctrl-C): the items not started have no result */
  stop?: () => boolean;
}

interface Slot {
  index: number;
  label: string;
  line: string;
  started: number;
}

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** The live lines at the bottom of a terminal, and everything else printed above them. */
class Board {
  private drawn = 0;
  private pending = false;
  private readonly log: fs.WriteStream | undefined;

  constructor(
    private readonly slots: Slot[],
    private readonly tty: boolean,
    private readonly write: (stream: 'stdout' | 'stderr', text: string) => void,
    logFile?: string,
  ) {
    this.log = logFile ? fs.createWriteStream(logFile, { flags: 'a' }) : undefined;
  }

  /** A line from job `slot`: its live line on a terminal, a prefixed line in a log. */
  line(slot: Slot, text: string): void {
    const clean = text.replace(ANSI, '').replace(/\r/g, '').trimEnd();
    if (!clean.trim()) return;
    this.log?.write(`j${slot.index} ${clean}\n`);
    if (this.tty) {
      slot.line = clean.trim();
      this.schedule();
    } else {
      this.write('stderr', `j${slot.index} ${clean}\n`);
    }
  }

  /** Text written to stderr from inside a job by something else than its say (the load's progress). */
  raw(slot: Slot, text: string): void {
    for (const piece of text.split(/\r|\n/)) {
      const clean = piece.replace(ANSI, '').trim();
      if (clean) this.line(slot, `[${slot.label}] ${clean}`);
    }
  }

  /** Text that stays: above the live lines on a terminal, as it is elsewhere. */
  above(stream: 'stdout' | 'stderr', text: string): void {
    if (!text) return;
    if (!this.tty) return this.write(stream, text);
    this.clear();
    this.write(stream, text.endsWith('\n') ? text : `${text}\n`);
    this.draw();
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    setTimeout(() => {
      this.pending = false;
      this.clear();
      this.draw();
    }, 100).unref();
  }

  private clear(): void {
    if (this.drawn > 0) this.write('stderr', `\x1b[${this.drawn}F\x1b[0J`);
    this.drawn = 0;
  }

  private draw(): void {
    if (!this.tty) return;
    const width = Math.max(40, (process.stderr.columns ?? 120) - 1);
    const lines = this.slots.map((s) => {
      const t = s.label ? `${((Date.now() - s.started) / 1000).toFixed(0).padStart(4)} s ` : '';
      const text = `j${s.index} ${t}${s.label ? s.line || s.label : 'idle'}`;
      return text.length > width ? `${text.slice(0, width - 1)}…` : text;
    });
    this.write('stderr', `${lines.join('\n')}\n`);
    this.drawn = lines.length;
  }

  end(): void {
    this.clear();
    this.log?.end();
  }
}

/**
 * Runs `work` over `items` with at most `jobs` at once; results in the items' order (an item
 * not started because `stop()` said so has none). With one job nothing is intercepted and the
 * output is exactly that of a plain loop.
 */
export async function runPool<T, R>(
  items: readonly T[],
  o: PoolOptions<T>,
  work: (item: T, job: Job) => Promise<R>,
): Promise<R[]> {
  const jobs = Math.max(1, Math.min(Math.floor(o.jobs) || 1, items.length || 1));
  const results = new Array<R>(items.length);
  if (jobs === 1) {
    const log = o.logFile ? fs.createWriteStream(o.logFile, { flags: 'a' }) : undefined;
    const job: Job = {
      index: 1,
      say: (line) => {
        log?.write(`j1 ${line}\n`);
        process.stderr.write(`${line}\n`);
      },
      print: (text) => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    };
    try {
      for (let i = 0; i < items.length && !o.stop?.(); i++) results[i] = await work(items[i], job);
    } finally {
      log?.end();
    }
    return results;
  }

  const tty = o.tty ?? Boolean(process.stderr.isTTY);
  const slots: Slot[] = Array.from({ length: jobs }, (_, i) => ({ index: i + 1, label: '', line: '', started: 0 }));
  const context = new AsyncLocalStorage<Slot>();
  const stderrWrite = process.stderr.write.bind(process.stderr);
  const stdoutWrite = process.stdout.write.bind(process.stdout);
  const board = new Board(
    slots,
    tty,
    (stream, text) => void (stream === 'stdout' ? stdoutWrite : stderrWrite)(text),
    o.logFile,
  );
  // While jobs run, whatever reaches stderr goes through the board: a job's to its line.
  process.stderr.write = ((chunk: string | Uint8Array, encoding?: unknown, cb?: unknown): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const slot = context.getStore();
    if (slot) board.raw(slot, text);
    else board.above('stderr', text);
    const done = typeof encoding === 'function' ? encoding : cb;
    if (typeof done === 'function') process.nextTick(done as () => void);
    return true;
  }) as typeof process.stderr.write;

  let next = 0;
  const worker = async (slot: Slot): Promise<void> => {
    const job: Job = {
      index: slot.index,
      say: (line) => board.line(slot, line),
      print: (text) => board.above('stdout', text),
    };
    while (next < items.length && !o.stop?.()) {
      const i = next++;
      slot.label = o.label(items[i]);
      slot.line = '';
      slot.started = Date.now();
      results[i] = await context.run(slot, () => work(items[i], job));
      slot.label = '';
    }
  };
  try {
    await Promise.all(slots.map(worker));
  } finally {
    process.stderr.write = stderrWrite as typeof process.stderr.write;
    board.end();
  }
  return results;
}
