import type Docker from 'dockerode';
import { request } from 'undici';
import { type Applied, applyFile } from '../apply';
import { type ExecResult, execIn } from '../engine/containers';
import type { Flavour } from '../engine/flavour-images';
import type { FlavourDriver } from '../flavours/types';
import { type LabStatus, inspectLab } from '../inspect';
import type { RequestRecord } from '../load/record';
import type { ActionKind, Action } from '../report/timeline';
import { type LoadHandle, type LoadSpec, startLoad } from './load';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * What a scenario's run() may do to its lab: act (each act is a timestamped Action for the
 * report), drive load, and look. Time 0 is the start of the load; acts before it are negative.
 */
export class ScenarioContext {
  private readonly created = performance.now();
  private t0: number | undefined;
  /** wall-clock ms at `t0`, to place what the container logged with a date on the run's clock */
  private epochAtT0 = 0;
  private readonly acted: Array<{ abs: number; kind: ActionKind; label: string }> = [];
  /** loads one after another (traffic paused in between), each shifted onto the run's clock */
  private readonly segments: Array<{ offset: number; handle: LoadHandle }> = [];
  /** init's view once the app first answered: the report's "before" */
  before: LabStatus | undefined;

  constructor(
    readonly flavour: Flavour,
    readonly driver: FlavourDriver,
    readonly docker: Docker,
    readonly container: Docker.Container,
    readonly origin: string,
    private readonly say: (line: string) => void,
  ) {}

  /** ms since the load started (before it: negative, counted from when the lab was up) */
  now(): number {
    return performance.now() - (this.t0 ?? this.created);
  }

  log(line: string): void {
    this.say(line);
  }

  /** Records an action at the moment it starts, then does it. */
  async act<T>(kind: ActionKind, label: string, fn: () => Promise<T>): Promise<T> {
    this.mark(kind, label);
    return fn();
  }

  mark(kind: ActionKind, label: string): void {
    this.acted.push({ abs: performance.now(), kind, label });
    this.say(`${kind}: ${label}`);
  }

  /** A marker for something that happened at wall-clock `epochMs` (a line the container logged). */
  markAtEpoch(epochMs: number, kind: ActionKind, label: string): void {
    if (this.t0 === undefined) return;
    this.acted.push({ abs: this.t0 + (epochMs - this.epochAtT0), kind, label });
  }

  /** Every action, on the load's clock. */
  actions(): Action[] {
    const zero = this.t0 ?? this.created;
    return this.acted.map((a) => ({ at: Math.round(a.abs - zero), kind: a.kind, label: a.label }));
  }

  sh(script: string): Promise<ExecResult> {
    return execIn(this.container, ['/bin/sh', '-c', script]);
  }

  /** sh that must succeed: its output, or an error with what the container said. */
  async must(script: string): Promise<string> {
    const r = await this.sh(script);
    if (r.code !== 0)
      throw new Error(
        `in the ${this.flavour} container, \`${script}\` exited ${r.code}: ${(r.stderr || r.stdout).trim()}`,
      );
    return r.stdout;
  }

  inspect(): Promise<LabStatus> {
    return inspectLab(this.container, this.driver);
  }

  /**
   * Starts traffic through nginx. The first load sets time 0 of the run; a later one (after
   * the previous ended: traffic paused, as on a quiet night) is placed on the same clock.
   */
  load(spec: LoadSpec): LoadHandle {
    const last = this.segments[this.segments.length - 1];
    if (last && !last.handle.finished) throw new Error('a load is still running: stop it before starting the next');
    if (this.t0 === undefined) {
      this.t0 = performance.now();
      this.epochAtT0 = Date.now();
    }
    const handle = startLoad(this.origin, spec, `${this.flavour}`);
    this.segments.push({ offset: performance.now() - this.t0, handle });
    return handle;
  }

  /** The load running now (or the last one). */
  get loadHandle(): LoadHandle | undefined {
    return this.segments[this.segments.length - 1]?.handle;
  }

  /** Stops the load and returns every request of every load, on the run's clock. */
  async allRecords(): Promise<RequestRecord[]> {
    const out: RequestRecord[] = [];
    for (const s of this.segments) {
      const recs = await s.handle.stop().catch(() => [] as RequestRecord[]);
      for (const r of recs) out.push(s.offset ? { ...r, start: r.start + s.offset, end: r.end + s.offset } : r);
    }
    return out;
  }

  /** Polls `probe` until it returns a value (not undefined) or time runs out (then undefined). */
  async waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 100): Promise<T | undefined> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe().catch(() => undefined);
      if (v !== undefined) return v;
      if (Date.now() >= until) return undefined;
      await sleep(everyMs);
    }
  }

  /** One request through nginx: its status (0 when the connection failed) and who served it. */
  async get(path = '/'): Promise<{ status: number; pid?: number; generation?: number; master?: number }> {
    try {
      const res = await request(`${this.origin}${path}`, { headersTimeout: 5000, bodyTimeout: 5000 });
      const body = await res.body.text();
      const pid = res.headers['x-phoenix-pid'];
      const gen = res.headers['x-phoenix-generation'];
      let master: number | undefined;
      try {
        master = (JSON.parse(body) as { master?: number }).master;
      } catch {
        master = undefined;
      }
      return {
        status: res.statusCode,
        pid: typeof pid === 'string' ? Number(pid) : undefined,
        generation: typeof gen === 'string' ? Number(gen) : undefined,
        master,
      };
    } catch {
      return { status: 0 };
    }
  }

  /** Waits for a 200 through nginx (the socket's owner starts the app on the first one); ms taken. */
  async warmUp(timeoutMs = 30_000): Promise<number> {
    const t = Date.now();
    const ok = await this.waitFor(async () => ((await this.get()).status === 200 ? true : undefined), timeoutMs, 100);
    if (!ok) throw new Error(`no 200 through nginx at ${this.origin} within ${timeoutMs / 1000} s`);
    const took = Date.now() - t;
    this.before = await this.inspect();
    this.mark('note', `first 200 through nginx after ${took} ms`);
    return took;
  }

  /**
   * The usual opening: the app answers, steady load with some slow requests runs for a
   * moment, and the master init tracks is known. Returns that pid.
   */
  async trackedMasterUnderLoad(): Promise<number> {
    await this.warmUp();
    const pid = await this.trackedMaster();
    this.load({ durationMs: 60_000, slowEvery: 10, slowMs: 300 });
    await sleep(800);
    return pid;
  }

  /** The pid init tracks once the app answered: the master a scenario acts on. */
  async trackedMaster(): Promise<number> {
    const pid = (await this.inspect()).init.trackedPid;
    if (!pid) throw new Error('init tracks no master after the first request');
    return pid;
  }

  /** Sends a signal inside the container, as an action on the timeline. */
  async signal(sig: string, pid: number, who: string, why?: string): Promise<void> {
    await this.act('signal', `${sig} -> ${who} ${pid}${why ? ` (${why})` : ''}`, async () => {
      const r = await execIn(this.container, ['/bin/kill', `-${sig}`, String(pid)]);
      if (r.code !== 0) throw new Error(`kill -${sig} ${pid}: ${r.stderr.trim()}`);
    });
  }

  /** `initctl ARGS` (its systemd equivalent on bookworm) as an action; returns what it printed. */
  async initctl(...args: string[]): Promise<ExecResult> {
    const plan = this.driver.initctl(args);
    if ('refuse' in plan) throw new Error(plan.refuse);
    const label = this.flavour === 'precise' ? `initctl ${args.join(' ')}` : plan.cmd.join(' ');
    return this.act('initctl', label, () => execIn(this.container, plan.cmd));
  }

  /** A config through the lab's own `apply` (validate, install, reload), as an action. */
  applyConfig(file: string, text: string, label = `apply ${file}`): Promise<Applied> {
    return this.act('apply', label, () => applyFile(this.container, this.driver, file, text));
  }

  /** phoenix's lifecycle lines and error messages: the job's upstart log, or the unit's journal. */
  async wrapperLog(): Promise<string> {
    const cmd =
      this.flavour === 'precise'
        ? 'cat /var/log/upstart/phoenix.log 2>/dev/null'
        : 'journalctl --no-pager -o cat -u phoenix.service 2>/dev/null';
    return (await this.sh(cmd)).stdout;
  }

  /** upstart: wall-clock ms of each `socket` event socket-event-counter logged. */
  async socketEventTimes(): Promise<number[]> {
    if (this.flavour !== 'precise') return [];
    const r = await this.sh('cut -d" " -f1 /var/log/phoenix-socket-events.log 2>/dev/null');
    return r.stdout
      .split('\n')
      .map((l) => Math.round(Number(l) * 1000))
      .filter((n) => Number.isFinite(n) && n > 0);
  }

  /** upstart: lines the socket-event-counter job wrote, one per `socket` event it saw. */
  async socketEvents(): Promise<number> {
    if (this.flavour !== 'precise') return 0;
    const r = await this.sh('cat /var/log/phoenix-socket-events.log 2>/dev/null | wc -l');
    return Number(r.stdout.trim()) || 0;
  }

  /** systemd: properties of a unit (`systemctl show -p ...`). */
  async unitProps(unit: string, props: string[]): Promise<Record<string, string>> {
    const r = await this.sh(`systemctl show ${props.map((p) => `-p ${p}`).join(' ')} ${unit}`);
    const out: Record<string, string> = {};
    for (const line of r.stdout.split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
    }
    return out;
  }
}
