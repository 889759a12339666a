import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RequestRecord } from '../../lab/load/record';
import { isAlive } from '../../src/pidfile';
import { childrenOf } from '../../src/unicorn-wrapper/os';
import { type Proc, ROOT, followChild, sleep, waitUntil } from './harness';
import { type Served, loadWhileActing } from './under-load';

/** Ruby unicorn and unicorn-wrapper, started the way init starts them, for the host tests. */

export const WRAPPER = path.join(ROOT, 'dist', 'src', 'unicorn-wrapper', 'cli.js');
export const PHOENIX_CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
export const UNICORN = '/usr/bin/unicorn';
export const UNICORN_RB = path.join(ROOT, 'images', 'conf', 'unicorn', 'unicorn.rb');
export const CONFIG_RU = path.join(ROOT, 'images', 'conf', 'unicorn', 'config.ru');
const FD_PARENT = path.join(ROOT, 'test', 'support', 'fd-parent.py');

/** How the socket reaches the process: as upstart-socket-bridge + init pass it, as a plain
 *  UNICORN_FD (what a unicorn master passes its successor), something that is not a
 *  listening socket, or nothing. */
export type Handover =
  | { kind: 'direct' }
  | { kind: 'upstart'; socket: string; fd?: number }
  | { kind: 'unicorn-fd'; socket: string; fd?: number }
  | { kind: 'bad-fd'; fdKind: 'connected' | 'file' | 'udp' | 'closed' };

/** unicorn with the lab's config and app; production: no request log line per request. */
export function unicornCommand(o: { config?: string; ru?: string; extra?: string[] } = {}): string[] {
  return [UNICORN, '-E', 'production', '-c', o.config ?? UNICORN_RB, ...(o.extra ?? []), o.ru ?? CONFIG_RU];
}

export interface Started extends Proc {
  /** in the environment of everything it starts: masters, workers, re-executed masters */
  tag: string;
}

const TAG_VAR = 'UNICORN_WRAPPER_TEST_TAG';

/** Living processes whose command line or environment holds `text`, this test process aside. */
export function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const hay = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8') + fs.readFileSync(`/proc/${d}/environ`, 'utf8');
      if (hay.includes(text) && isAlive(Number(d))) found.push(Number(d));
    } catch {
      /* gone, or a kernel thread */
    }
  }
  return found;
}

export function describeProcesses(pids: number[]): string {
  return pids
    .map((p) => {
      try {
        return `${p}: ${fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ')}`;
      } catch {
        return `${p}: (gone)`;
      }
    })
    .join('\n');
}

export const workersOf = (master: number): number[] => childrenOf(master);

/**
 * Owns every process its tests start: each start carries a tag in its environment, and
 * cleanup() SIGKILLs whatever still carries one, however it was re-parented.
 */
export class UnicornLab {
  private readonly tags: string[] = [];

  start(argv: string[], o: { via?: Handover; env?: NodeJS.ProcessEnv } = {}): Started {
    const via = o.via ?? { kind: 'direct' };
    const tag = randomUUID();
    this.tags.push(tag);
    const env: NodeJS.ProcessEnv = { ...process.env, ...o.env, [TAG_VAR]: tag };
    for (const k of ['UPSTART_FDS', 'UNICORN_FD', 'LISTEN_FDS', 'LISTEN_PID'])
      if (!(o.env && k in o.env)) delete env[k];
    const fdArgs = (kind: string, style: string, fd = 11, socket?: string) => [
      'python3',
      FD_PARENT,
      '--kind',
      kind,
      ...(socket ? ['--path', socket, '--mode', '0777'] : []),
      '--fd',
      String(fd),
      '--style',
      style,
      '--',
    ];
    const prefix =
      via.kind === 'direct'
        ? []
        : via.kind === 'upstart'
          ? fdArgs('listen-unix', 'upstart', via.fd, via.socket)
          : via.kind === 'unicorn-fd'
            ? fdArgs('listen-unix', 'unicorn', via.fd, via.socket)
            : fdArgs(via.fdKind, 'upstart');
    const all = [...prefix, ...argv];
    const child = spawn(all[0], all.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    return Object.assign(
      followChild(child, { direct: via.kind === 'direct', defaultMs: 15_000, endsWithStderr: false }),
      {
        tag,
      },
    );
  }

  startWrapper(wrapperArgs: string[], command: string[], o: { via?: Handover; env?: NodeJS.ProcessEnv } = {}): Started {
    return this.start([process.execPath, WRAPPER, ...wrapperArgs, '--', ...command], o);
  }

  async cleanup(): Promise<void> {
    for (let round = 0; round < 20; round++) {
      const left = this.tags.flatMap((t) => processesMentioning(t));
      if (left.length === 0) return;
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await sleep(50);
    }
  }
}

/** The wrapper's pid file and where the lab's unicorn.rb takes it from. */
export function unicornEnv(pidFile: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { UNICORN_PID: pidFile, UNICORN_WORKERS: '2', UNICORN_TIMEOUT: '10', ...extra };
}

/** Waits until nothing carries the tag any more (workers finish on their own schedule). */
export async function waitNothingLeft(tag: string, ms = 8000): Promise<void> {
  try {
    await waitUntil(() => processesMentioning(tag).length === 0, ms, 'every process of the test to be gone');
  } catch (err) {
    throw new Error(`${(err as Error).message}; left:\n${describeProcesses(processesMentioning(tag))}`);
  }
}

/** Load through nginx while `act` runs, then a little longer; every request recorded. */
export async function underLoad(
  port: number,
  act: (served: Served) => Promise<void>,
  pathFor: (n: number) => string = (n) => (n % 10 === 0 ? '/slow?ms=300' : '/'),
): Promise<RequestRecord[]> {
  const { records } = await loadWhileActing(port, act, {
    concurrency: 8,
    durationMs: 170_000,
    pathFor,
    servedWithinMs: 15_000,
  });
  return records;
}
