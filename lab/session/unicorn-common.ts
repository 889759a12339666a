import { request } from 'undici';
import { summarize } from '../check/continuity';
import type { RequestRecord } from '../load/record';
import { UNICORN_OPT } from '../servers/unicorn';
import type { ScenarioContext } from './context';
import { sleep } from './context';
import type { Judge } from './judge';
import type { PhaseFacts } from './phases';

/**
 * What the "unicorn in production" scenarios share: the shipped jobs and units read as text,
 * stretches of a run judged on their own requests, who holds unicorn's listening socket, and
 * upstart's own record of the unicorn job's starts and stops.
 */

export const GROUP = 'unicorn in production';

/** What every scenario of the group declares: written for unicorn, shown under GROUP. */
export const IN_PRODUCTION = { server: 'unicorn', group: GROUP } as const;

export { shippedConf } from './configs';

/** Where the images keep unicorn's upstart jobs and systemd units (images/<flavour>/Dockerfile). */
export const IMAGE_JOB = (name: string): string => `${UNICORN_OPT}/upstart/strategies/${name}.conf`;
export const IMAGE_UNIT = (name: string): string => `${UNICORN_OPT}/systemd/${name}`;

/** The wrapper's command line as the shipped jobs and units run it. */
export const WRAPPER_CLI = '/opt/phoenix/runtime/bin/node /opt/phoenix/app/dist/src/unicorn-wrapper/cli.js';

// ---------------------------------------------------------------------------------------------
// Stretches of a run

/** PhaseFacts plus, per phase, the longest time without a success and the requests that waited. */
export type StretchFacts = PhaseFacts & {
  /** longest time (ms) inside the phase in which no request succeeded */
  phaseGapMs: number[];
  /** requests that waited until the client gave up ('timeout') or nginx did ('http-504') */
  phaseWaited: number[];
  /** failures by class per phase, as "http-502=3 timeout=2" ('' when none) */
  phaseFailures: string[];
};

/**
 * A run cut into named stretches, like Phases, with two more numbers per stretch: the gap and
 * the requests that hung. `span` wraps an action so the stretch holds the action itself
 * (a restart's cost is what happens during it), `hold` lets traffic run after an action.
 */
export class Stretches {
  /** `whole`: only requests that also ended inside count (a steady stretch; see hold) */
  private readonly list: Array<{ name: string; from: number; to: number; whole?: boolean }> = [];

  constructor(
    private readonly ctx: ScenarioContext,
    private readonly settleMs = 300,
  ) {}

  /** A marker on the report's timeline where a stretch begins. */
  private begin(name: string): void {
    this.ctx.mark('note', `phase: ${name}`);
  }

  /**
   * A steady stretch: nothing is done to the lab during it. With `blameNext`, a request it started
   * that failed after it ended is counted with the next stretch, whose action it met (seen: 4
   * requests sent 85 ms before a `systemctl stop`, slow on a loaded machine, answered 502 by the
   * stop and counted against 'before the deploy'). Without it, every request the stretch started
   * is its own: a stretch that shows requests hanging (bridge traps) needs the ones that time out
   * after it.
   */
  async hold(name: string, ms: number, o: { blameNext?: boolean } = {}): Promise<void> {
    this.begin(name);
    const from = this.ctx.now() + this.settleMs;
    await sleep(ms);
    this.list.push({ name, from, to: this.ctx.now(), whole: o.blameNext });
  }

  /** A stretch that lasts while `during` runs (at least `minMs`), from `settleMs` after its start. */
  async holdWhile<T>(name: string, during: () => Promise<T>, minMs = 0): Promise<T> {
    this.begin(name);
    const from = this.ctx.now() + this.settleMs;
    const [out] = await Promise.all([during(), sleep(minMs)]);
    this.list.push({ name, from, to: this.ctx.now() });
    return out;
  }

  /** The stretch starts with `act` (no settling: its cost is the point) and ends `afterMs` after it. */
  async span<T>(name: string, act: () => Promise<T>, afterMs: number): Promise<T> {
    this.begin(name);
    const from = this.ctx.now();
    const out = await act();
    await sleep(afterMs);
    this.list.push({ name, from, to: this.ctx.now() });
    return out;
  }

  facts(records: readonly RequestRecord[]): StretchFacts {
    let carried: RequestRecord[] = [];
    return stretchFacts(
      this.list.map((p) => {
        const started = records.filter((r) => r.start >= p.from && r.start < p.to);
        const metNext = (r: RequestRecord) => r.error !== undefined && r.end > p.to;
        const mine = p.whole ? started.filter((r) => !metNext(r)) : [...carried, ...started];
        carried = p.whole ? started.filter(metNext) : [];
        const c = summarize(mine.map((r) => ({ ...r, start: r.start - p.from, end: r.end - p.from })));
        return { name: p.name, sent: c.sent, ok: c.succeeded, failures: c.failures, gapMs: c.longestGapMs };
      }),
    );
  }
}

/** One stretch's counts, as a run's window gives them (or a test writes them). */
export interface StretchCounts {
  name: string;
  sent: number;
  ok: number;
  /** failed requests by class ("http-502", "timeout", ...) */
  failures: Partial<Record<string, number>>;
  gapMs: number;
}

/** StretchFacts (JSON facts: one array per number) from each stretch's counts, in order. */
export function stretchFacts(list: readonly StretchCounts[]): StretchFacts {
  const f: StretchFacts = {
    phaseNames: [],
    phaseSent: [],
    phaseOk: [],
    phaseFailed: [],
    phaseFailure: [],
    phaseGapMs: [],
    phaseWaited: [],
    phaseFailures: [],
  };
  for (const c of list) {
    const classes = Object.entries(c.failures).sort(([, a], [, b]) => (b ?? 0) - (a ?? 0));
    f.phaseNames.push(c.name);
    f.phaseSent.push(c.sent);
    f.phaseOk.push(c.ok);
    f.phaseFailed.push(c.sent - c.ok);
    f.phaseFailure.push(classes[0]?.[0] ?? '');
    f.phaseGapMs.push(c.gapMs);
    f.phaseWaited.push((c.failures.timeout ?? 0) + (c.failures['http-504'] ?? 0));
    f.phaseFailures.push(classes.map(([k, v]) => `${k}=${v}`).join(' '));
  }
  return f;
}

/** One phase's numbers by name; undefined when the run has no such phase. */
export function stretch(
  f: StretchFacts,
  name: string,
): { sent: number; ok: number; failed: number; gapMs: number; waited: number; failures: string } | undefined {
  const i = f.phaseNames.indexOf(name);
  if (i < 0) return undefined;
  return {
    sent: f.phaseSent[i],
    ok: f.phaseOk[i],
    failed: f.phaseFailed[i],
    gapMs: f.phaseGapMs[i],
    waited: f.phaseWaited[i],
    failures: f.phaseFailures[i],
  };
}

/** "12 sent, 0 ok, 12 failed (timeout=12), longest gap 6000 ms" */
export function stretchLine(f: StretchFacts, name: string): string {
  const s = stretch(f, name);
  if (!s) return `${name}: not reached`;
  return `${name}: ${s.sent} sent, ${s.ok} ok, ${s.failed} failed${s.failures ? ` (${s.failures})` : ''}, longest gap ${s.gapMs} ms`;
}

/** The check every stretch that must lose nothing makes: some requests sent, none failed. */
export function judgeNoneFailed(j: Judge, f: StretchFacts, name: string, expected = '0'): void {
  const s = stretch(f, name);
  j.check(
    `${name}: failed requests`,
    expected,
    s ? `${s.failed} of ${s.sent}` : 'not reached',
    !!s && s.sent > 0 && s.failed === 0,
  );
}

/** The share of a phase's requests answered 200 as a whole percentage ('no requests' when none). */
export function okPercent(f: StretchFacts, name: string): string {
  const s = stretch(f, name);
  return !s || s.sent === 0 ? 'no requests' : `${Math.floor((s.ok / s.sent) * 1000) / 10}%`;
}

export function okRatio(f: StretchFacts, name: string): number {
  const s = stretch(f, name);
  return !s || s.sent === 0 ? -1 : s.ok / s.sent;
}

// ---------------------------------------------------------------------------------------------
// Looking inside the container

/**
 * sh: one "PID NAME" line per process that has open the listening socket bound at `sock`
 * (/var/run is /run on bookworm: both spellings). The inode comes from /proc/net/unix, the
 * holders from one `find` over every process's fds.
 */
export function socketHoldersScript(sock: string): string {
  const alt = sock.replace(/^\/var\/run\//, '/run/');
  return `for ino in $(awk -v a='${sock}' -v b='${alt}' '($NF==a || $NF==b) && $4=="00010000" {print $7}' /proc/net/unix); do
  find /proc/[0-9]*/fd -maxdepth 1 -lname "socket:\\[$ino\\]" 2>/dev/null | cut -d/ -f3 | sort -un |
    while read -r p; do echo "$p $(cat /proc/$p/comm 2>/dev/null)"; done
done`;
}

/** Who holds unicorn's listening socket: the master in the pid file, and how many processes. */
export interface SocketHolders {
  /** the master the pid file names (0: none) */
  master: number;
  /** that master has the listening socket open */
  masterHolds: boolean;
  /** processes with it open (the bridge or systemd, masters, workers) */
  holders: number;
  /** a listening socket is bound at the path (someone holds it) */
  listening: boolean;
}

export async function socketHolders(ctx: ScenarioContext): Promise<SocketHolders> {
  const out = await ctx.sh(
    `cat ${ctx.server.pidFile} 2>/dev/null || echo 0\n${socketHoldersScript(ctx.server.socketPath)}`,
  );
  const [first = '0', ...rest] = out.stdout.split('\n').filter((l) => l.trim());
  const master = Number(first.trim()) || 0;
  const pids = rest.map((l) => Number(l.split(' ')[0]));
  return { master, masterHolds: master > 0 && pids.includes(master), holders: pids.length, listening: pids.length > 0 };
}

/** One request through nginx, with the JSON the demo app answers (its version and generation). */
export async function askApp(
  ctx: ScenarioContext,
  timeoutMs = 5000,
): Promise<{ status: number; ms: number; version?: string; generation?: number; master?: number }> {
  const t = Date.now();
  try {
    const res = await request(`${ctx.origin}/`, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const body = await res.body.text();
    let j: { version?: string; generation?: number; master?: number } = {};
    try {
      j = JSON.parse(body) as typeof j;
    } catch {
      j = {};
    }
    return {
      status: res.statusCode,
      ms: Date.now() - t,
      version: j.version,
      generation: j.generation,
      master: j.master,
    };
  } catch {
    return { status: 0, ms: Date.now() - t };
  }
}

/** Waits for a 200 through nginx; ms taken, or null when none came. */
export async function waitFor200(ctx: ScenarioContext, timeoutMs: number): Promise<number | null> {
  return ctx.untilAnswered(timeoutMs, '/health');
}

/** The master in unicorn's pid file, if alive, with its parent. */
export async function pidFileMaster(ctx: ScenarioContext): Promise<{ pid: number; ppid: number } | undefined> {
  const out = (
    await ctx.sh(
      `p=$(cat ${ctx.server.pidFile} 2>/dev/null) && [ -d /proc/$p ] && read -r _ _ _ pp _ < /proc/$p/stat && echo "$p $pp"`,
    )
  ).stdout.trim();
  const [pid, ppid] = out.split(' ').map(Number);
  return pid ? { pid, ppid } : undefined;
}

/** Is this pid alive in the container (and not a zombie)? */
export async function alive(ctx: ScenarioContext, pid: number): Promise<boolean> {
  const r = await ctx.sh(`[ -d /proc/${pid} ] && ! grep -q '^State:.*Z' /proc/${pid}/status`);
  return r.code === 0;
}

/** unicorn processes (masters, workers, the wrapper) the status probe sees. */
export async function unicornProcesses(ctx: ScenarioContext): Promise<number> {
  const s = await ctx.inspect();
  return s.masters.length + s.workers.length + s.herders.length;
}

// ---------------------------------------------------------------------------------------------
// upstart's own record of the job: one line per `starting`/`stopping` event

export const LIFECYCLE_LOG = '/var/log/lab-unicorn-lifecycle.log';
export const LIFECYCLE_JOB = '/etc/init/lab-unicorn-lifecycle.conf';

/**
 * A task upstart runs on each `starting unicorn` and `stopping unicorn` event, writing the
 * event's own variables (RESULT, PROCESS, EXIT_STATUS, EXIT_SIGNAL): how many times upstart
 * started the job (respawns included) and how each run ended, from upstart, not from text.
 * Both events block the unicorn job until the task is done, so no event is missed.
 */
export const LIFECYCLE_JOB_TEXT = `# Written by the lab (unicorn scenarios): upstart's starts and stops of the unicorn job.
description "lab: one line per starting/stopping event of the unicorn job"

start on starting unicorn or stopping unicorn

task

script
    printf '%s %s result=%s process=%s status=%s signal=%s\\n' "$(/bin/date +%s.%N)" "$UPSTART_EVENTS" \\
        "\${RESULT:-}" "\${PROCESS:-}" "\${EXIT_STATUS:-}" "\${EXIT_SIGNAL:-}" >> ${LIFECYCLE_LOG}
end script
`;

export interface JobEvent {
  at: number;
  event: 'starting' | 'stopping';
  result: string;
  process: string;
  status: string;
  signal: string;
}

export function parseJobEvents(text: string): JobEvent[] {
  const out: JobEvent[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+(?:\.\d+)?) (starting|stopping) result=(\S*) process=(\S*) status=(\S*) signal=(\S*)$/.exec(
      line.trim(),
    );
    if (m)
      out.push({
        at: Math.round(Number(m[1]) * 1000),
        event: m[2] as JobEvent['event'],
        result: m[3],
        process: m[4],
        status: m[5],
        signal: m[6],
      });
  }
  return out;
}

export async function jobEvents(ctx: ScenarioContext): Promise<JobEvent[]> {
  return parseJobEvents((await ctx.sh(`cat ${LIFECYCLE_LOG} 2>/dev/null`)).stdout);
}
