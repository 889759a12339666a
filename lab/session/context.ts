import type Docker from 'dockerode';
import { request } from 'undici';
import { type Applied, applyFile } from '../apply';
import { type ExecResult, execIn } from '../engine/containers';
import type { Flavour } from '../engine/flavour-images';
import { poll } from '../engine/wait';
import type { InitDriver } from '../flavours/types';
import type { ServerDriver } from '../servers/types';
import { type LifecycleEvent, parseEvents } from '../../src/events';
import { type LabStatus, inspectLab } from '../inspect';
import type { RequestRecord } from '../load/record';
import type { ActionKind, Action, SampledSeries } from '../results/types';
import { type LoadHandle, type LoadSpec, startLoad } from './load';
import { SERVED_BY } from '../servers/types';

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
  /** sampled series, their times on performance.now()'s clock until series() shifts them */
  private readonly sampled: SampledSeries[] = [];
  /** loads one after another (traffic paused in between), each shifted onto the run's clock */
  private readonly segments: Array<{ offset: number; handle: LoadHandle }> = [];
  /** init's view once the app first answered: the report's "before" */
  before: LabStatus | undefined;

  constructor(
    readonly flavour: Flavour,
    readonly driver: InitDriver,
    readonly server: ServerDriver,
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

  /**
   * A number sampled at wall-clock times (a queue the container looked at every 100 ms), for
   * the report's timeline; `limit` marks a capacity drawn dashed beside what it limits.
   */
  addSeries(name: string, atEpoch: ReadonlyArray<readonly [number, number]>, o: { limit?: boolean } = {}): void {
    // Wall clock to performance.now()'s clock through the offset between them now.
    const shift = performance.now() - Date.now();
    this.sampled.push({ name, ...(o.limit ? { limit: true } : {}), points: atEpoch.map(([e, v]) => [e + shift, v]) });
  }

  /** Every sampled series, on the load's clock. */
  series(): SampledSeries[] {
    const zero = this.t0 ?? this.created;
    return this.sampled.map((s) => ({ ...s, points: s.points.map(([t, v]) => [Math.round(t - zero), v]) }));
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
    return inspectLab(this.container, this.driver, this.server);
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
  waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 100): Promise<T | undefined> {
    return poll(probe, timeoutMs, everyMs);
  }

  /** One request through nginx: its status (0 when the connection failed) and who served it. */
  async get(path = '/'): Promise<{ status: number; pid?: number; generation?: number; master?: number }> {
    try {
      const res = await request(`${this.origin}${path}`, { headersTimeout: 5000, bodyTimeout: 5000 });
      const body = await res.body.text();
      const pid = res.headers[SERVED_BY.pid];
      const gen = res.headers[SERVED_BY.generation];
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

  /** Asks through nginx until a 200 comes: the ms it took, or null when none came in time. */
  async untilAnswered(timeoutMs: number, path = '/'): Promise<number | null> {
    const t = Date.now();
    const ok = await this.waitFor(async () => ((await this.get(path)).status === 200 ? true : undefined), timeoutMs);
    return ok ? Date.now() - t : null;
  }

  /** Waits for a 200 through nginx (the socket's owner starts the app on the first one); ms taken. */
  async warmUp(timeoutMs = 30_000): Promise<number> {
    const took = await this.untilAnswered(timeoutMs);
    if (took === null) throw new Error(`no 200 through nginx at ${this.origin} within ${timeoutMs / 1000} s`);
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
    const plan = this.driver.initctl(args, this.server);
    if ('refuse' in plan) throw new Error(plan.refuse);
    return this.act('initctl', plan.label, () => execIn(this.container, plan.cmd));
  }

  /** A config through the lab's own `apply` (validate, install, reload), as an action. */
  applyConfig(file: string, text: string, label = `apply ${file}`): Promise<Applied> {
    return this.act('apply', label, () => applyFile(this.container, this.driver, file, text));
  }

  /** Everything the app's processes wrote (their events and messages): the job's log or the unit's journal. */
  async wrapperLog(): Promise<string> {
    return (await this.sh(this.driver.appLogScript(this.server))).stdout;
  }

  /** The app's structured events so far (phoenix's, unicorn-wrapper's), parsed by the one parser. */
  async events(): Promise<LifecycleEvent[]> {
    return parseEvents(await this.wrapperLog());
  }

  private readonly exec = (cmd: string[]) => execIn(this.container, cmd);

  /** Wall-clock ms of each socket event init emitted for the app's socket ([] where init has none). */
  socketEventTimes(): Promise<number[]> {
    return this.driver.socketEventTimes(this.exec, this.server);
  }

  /** How many socket events init emitted for the app's socket. */
  async socketEvents(): Promise<number> {
    return (await this.socketEventTimes()).length;
  }

  /** How many times init itself restarted the app (0 where init keeps no count). */
  restarts(): Promise<number> {
    return this.driver.restarts(this.exec, this.server);
  }

  /** An id that changes when init starts the app anew ('' where init has none). */
  invocation(): Promise<string> {
    return this.driver.invocation(this.exec, this.server);
  }

  /** Times init stopped the app's whole group after its main process left. */
  deactivations(): Promise<number> {
    return this.driver.deactivations(this.exec, this.server);
  }
}
