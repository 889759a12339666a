import type { ExecResult } from '../engine/containers';
import type { LabStatus } from '../inspect';

/** How long a restarted socket owner gets to listen on the app's path again. */
export const OWNER_WAIT_MS = 3000;

/** Every pid of the app itself: masters, workers, the wrapper or herder in front of them. */
export function appPids(s: LabStatus): number[] {
  return [...s.masters.map((m) => m.pid), ...s.workers.map((w) => w.pid), ...s.herders.map((h) => h.pid)];
}

/**
 * The pids, other than the app's, that hold a LISTENING unix socket bound to `path`: the socket's
 * owner (upstart-socket-bridge, or systemd itself). The same on every init: /proc/net/unix names
 * each bound socket's path and inode (flags 00010000: listening), /proc/PID/fd links name the
 * inodes each process holds. `path` and its resolved form both count (bookworm's /var/run is a
 * link to /run, where systemd binds).
 */
export const OWNERS_SCRIPT = (path: string): string =>
  [
    `p='${path}'`,
    'r="$(readlink -f "$(dirname "$p")")/$(basename "$p")"',
    `for i in $(awk -v a="$p" -v b="$r" '($8==a || $8==b) && $4=="00010000" {print $7}' /proc/net/unix); do`,
    '  for f in /proc/[0-9]*/fd/*; do',
    '    [ "$(readlink "$f" 2>/dev/null)" = "socket:[$i]" ] && { f=${f#/proc/}; echo "${f%%/*}"; }',
    '  done',
    'done | sort -un',
  ].join('\n');

/** Parses OWNERS_SCRIPT's output and leaves out the app's own pids. */
export function ownersFrom(stdout: string, app: readonly number[]): number[] {
  return stdout
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 0 && !app.includes(n));
}

export async function socketOwners(
  exec: (cmd: string[]) => Promise<ExecResult>,
  path: string,
  app: readonly number[],
): Promise<number[]> {
  return ownersFrom((await exec(['/bin/sh', '-c', OWNERS_SCRIPT(path)])).stdout, app);
}
