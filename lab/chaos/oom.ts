import type Docker from 'dockerode';
import type { ExecResult } from '../engine/containers';

/**
 * The OOM killer on the master, for real: the kernel picks and kills it, as it does on a box out
 * of memory, rather than the lab sending a signal. The recipe is the same on every init (the
 * engine and the kernel do it, init only sees its aftermath):
 *
 *  1. a memory limit on the container (`docker update`): what it uses now plus HEADROOM_MB;
 *  2. the master's oom_score_adj raised to 1000, so the OOM killer chooses it first (the kernel's
 *     badness is its pages plus adj x the limit's pages / 1000: with 1000 the master outranks
 *     any process, the memory hog below included, whose pages fit under the limit);
 *  3. a memory hog in the container (the images' own node, no new package) takes memory 1 MiB
 *     at a time, touching every page, until the OOM killer has killed the master, then exits;
 *  4. the limit lifted again (to the engine's whole memory: Docker cannot unset a limit).
 *
 * Without swap the kernel cannot page out, so step 3 ends in the OOM killer, not in swapping;
 * MemorySwap -1 leaves swap as it was (the lab's machines have none). The engine's `oom` events
 * for the container in the fault's seconds are counted to say it was the kernel's kill.
 */
export const HEADROOM_MB = 64;
/** the hog gives up after this long: the limit is lifted even if the master was not chosen */
const HOG_MS = 15_000;

/**
 * The hog, run as `node -e HOG PID CAP_MB`: prints {dead, mb, ms} as JSON. It takes 1 MiB at a
 * time and stops the moment the master is killed: a SIGKILL pending (bit 9 of ShdPnd/SigPnd), or
 * exiting (PF_EXITING, 0x4 in /proc/PID/stat's flags), a zombie, or gone; then it exits, which
 * gives its memory back at once. Measured on precise: 4 MiB steps that looked only for a zombie
 * went on taking memory while the master (a phoenix master, 7 MiB of its own) was exiting, and
 * the kernel's second choice was the hog, its third a worker.
 */
export const HOG = `
const fs = require('fs');
const [pid, capMb] = [process.argv[1], Number(process.argv[2])];
const killed = () => {
  try {
    const stat = fs.readFileSync('/proc/' + pid + '/stat', 'utf8').split(') ')[1].split(' ');
    if (stat[0] === 'Z' || stat[0] === 'X' || (Number(stat[6]) & 0x4) !== 0) return true;
    const st = fs.readFileSync('/proc/' + pid + '/status', 'utf8');
    const pending = [...st.matchAll(/^(?:ShdPnd|SigPnd):\\s+([0-9a-f]+)/gm)];
    return pending.some((m) => (BigInt('0x' + m[1]) & 0x100n) !== 0n);
  } catch { return true; }
};
const t = Date.now();
let mb = 0;
const done = () => { process.stdout.write(JSON.stringify({ dead: killed(), mb, ms: Date.now() - t }) + '\\n'); process.exit(0); };
// A master already gone or a zombie has no score to raise: reported as dead, nothing taken.
try { fs.writeFileSync('/proc/' + pid + '/oom_score_adj', '1000'); } catch (e) { if (!killed()) throw e; }
const keep = [];
while (mb < capMb && Date.now() - t < ${HOG_MS}) {
  if (killed()) done();
  keep.push(Buffer.alloc(1 << 20, 1));
  mb += 1;
}
done();
`;

/** Is `pid` gone or a zombie? (read in the container after the hog, whatever became of the hog) */
const GONE = (pid: number) =>
  `s=$(cat /proc/${pid}/stat 2>/dev/null) || { echo gone; exit 0; }; case "\${s##*) }" in Z*|X*) echo gone;; *) echo alive;; esac`;

export interface OomOutcome {
  /** the master was gone (or a zombie) when the hog stopped */
  killed: boolean;
  limitMb: number;
  usageMb: number;
  /** MiB the hog took before the master was gone */
  hogMb: number;
  /** ms from the limit set to the master gone */
  ms: number;
  /** the engine's oom events for the container during the fault */
  oomEvents: number;
  /** the kernel killed the hog as well (after the master, or instead of it) */
  hogKilled?: boolean;
  /** what went wrong, when the recipe could not be carried out */
  error?: string;
}

export interface OomDeps {
  docker: Docker;
  container: Docker.Container;
  exec: (cmd: string[]) => Promise<ExecResult>;
  /** the node binary inside the image (the wrapper's and phoenix's own runtime) */
  node?: string;
}

export const IMAGE_NODE = '/opt/phoenix/runtime/bin/node';

/** The engine's `oom` events for a container between two times (s since the epoch). */
async function oomEvents(d: Docker, id: string, since: number, until: number): Promise<number> {
  const stream = (await d.getEvents({
    since,
    until,
    filters: JSON.stringify({ container: [id], event: ['oom'] }),
  })) as NodeJS.ReadableStream;
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  return text.split('\n').filter((l) => l.trim() !== '').length;
}

export async function oomKillMaster(deps: OomDeps, pid: number): Promise<OomOutcome> {
  const { docker, container } = deps;
  const since = Math.floor(Date.now() / 1000);
  const stats = await container.stats({ stream: false, 'one-shot': true });
  const usageMb = Math.ceil((stats.memory_stats?.usage ?? 0) / 2 ** 20);
  const limitMb = usageMb + HEADROOM_MB;
  const total = (await docker.info()) as { MemTotal?: number };
  const out: OomOutcome = { killed: false, limitMb, usageMb, hogMb: 0, ms: 0, oomEvents: 0 };
  await container.update({ Memory: limitMb * 2 ** 20, MemorySwap: -1 });
  try {
    const r = await deps.exec([deps.node ?? IMAGE_NODE, '-e', HOG, String(pid), String(limitMb)]);
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (r.code === 0 && line.startsWith('{')) {
      const h = JSON.parse(line) as { dead: boolean; mb: number; ms: number };
      Object.assign(out, { killed: h.dead, hogMb: h.mb, ms: h.ms });
    } else if (r.code === 137) {
      // The kernel took the hog too (a second choice while the container stayed at its limit):
      // what matters is whether its first choice was the master.
      out.hogKilled = true;
      out.killed = (await deps.exec(['/bin/sh', '-c', GONE(pid)])).stdout.trim() === 'gone';
    } else out.error = `the memory hog exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`;
    if (!out.killed && !out.error)
      out.error = out.hogKilled
        ? 'the OOM killer took the memory hog, not the master'
        : `the master outlived ${out.hogMb} MiB taken in ${out.ms} ms`;
  } finally {
    // Lifted before anything else: the master's restart must not find the limit still there.
    await container.update({ Memory: total.MemTotal ?? 64 * 2 ** 30, MemorySwap: -1 });
  }
  out.oomEvents = await oomEvents(docker, container.id, since, Math.ceil(Date.now() / 1000) + 1).catch(() => 0);
  return out;
}
