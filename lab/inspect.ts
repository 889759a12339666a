import type Docker from 'dockerode';
import { execIn } from './engine/containers';
import type { FlavourDriver } from './flavours/types';
import { PID_FILE, SOCKET_PATH } from './flavours/types';

/** Everything `lab status` shows, read from inside the container in one exec. */
export interface LabStatus {
  init: { name: string; trackedPid?: number; status: string };
  pidFile?: number;
  oldbin?: number;
  masters: { pid: number; ppid: number; trackedByInit: boolean }[];
  /** the herder strategy's stable process in front of the masters (its command line names cli.js too) */
  herders: { pid: number; trackedByInit: boolean }[];
  workers: { pid: number; master: number; generation: number; slot: number }[];
  nginx: { pid: number; user: string; role: 'master' | 'worker' }[];
  socket?: { path: string; owner: string; group: string; mode: string };
}

// POSIX sh only: it runs on Ubuntu 12.04's dash and busybox-less minbase images alike.
const PROBE = `
for p in /proc/[0-9]*; do
  pid=\${p#/proc/}
  args=$(tr '\\000' ' ' < $p/cmdline 2>/dev/null) || continue
  case "$args" in *cli.js*|nginx*) ;; *) continue ;; esac
  read -r _ _ _ ppid _ < $p/stat 2>/dev/null || continue
  user=$(stat -c %U $p 2>/dev/null)
  w=$(tr '\\000' '\\n' < $p/environ 2>/dev/null | grep '^PHOENIX_WORKER=' | cut -d= -f2-)
  printf 'P\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "$pid" "$ppid" "$user" "$w" "$args"
done
printf 'S\\t%s\\n' "$(stat -c '%U %G %a' ${SOCKET_PATH} 2>/dev/null)"
printf 'F\\t%s\\t%s\\n' "$(cat ${PID_FILE} 2>/dev/null)" "$(cat ${PID_FILE}.oldbin 2>/dev/null)"
`;

export function parseProbe(out: string, trackedPid: number | undefined): Omit<LabStatus, 'init'> {
  const s: Omit<LabStatus, 'init'> = { masters: [], herders: [], workers: [], nginx: [] };
  for (const line of out.split('\n')) {
    const f = line.split('\t');
    if (f[0] === 'P') {
      const [, pid, ppid, user, worker, args] = f;
      if (args.startsWith('nginx')) {
        s.nginx.push({ pid: Number(pid), user, role: args.includes('master') ? 'master' : 'worker' });
      } else if (args.includes('phoenix-herder')) {
        s.herders.push({ pid: Number(pid), trackedByInit: Number(pid) === trackedPid });
      } else if (worker) {
        const spec = JSON.parse(worker) as { generation: number; slot: number };
        s.workers.push({ pid: Number(pid), master: Number(ppid), generation: spec.generation, slot: spec.slot });
      } else if (args.includes('cli.js')) {
        s.masters.push({ pid: Number(pid), ppid: Number(ppid), trackedByInit: Number(pid) === trackedPid });
      }
    } else if (f[0] === 'S' && f[1]) {
      const [owner, group, mode] = f[1].split(' ');
      s.socket = { path: SOCKET_PATH, owner, group, mode: mode.padStart(4, '0') };
    } else if (f[0] === 'F') {
      if (f[1]) s.pidFile = Number(f[1]);
      if (f[2]) s.oldbin = Number(f[2]);
    }
  }
  return s;
}

export async function inspectLab(container: Docker.Container, driver: FlavourDriver): Promise<LabStatus> {
  const st = await execIn(container, driver.statusCmd);
  const trackedPid = driver.trackedPid(st.stdout);
  const probe = await execIn(container, ['/bin/sh', '-c', PROBE]);
  return {
    init: { name: driver.init, trackedPid, status: (st.stdout + st.stderr).trim() },
    ...parseProbe(probe.stdout, trackedPid),
  };
}

export function formatStatus(s: LabStatus): string {
  const lines = [`init (${s.init.name}): ${s.init.status.replace(/\n/g, '; ')}`];
  if (s.masters.length === 0) lines.push('phoenix: no master running');
  for (const m of s.masters) {
    const ws = s.workers
      .filter((w) => w.master === m.pid)
      .sort((a, b) => a.generation - b.generation || a.slot - b.slot);
    const gens = [...new Set(ws.map((w) => w.generation))];
    const tags = [
      m.trackedByInit ? 'tracked by init' : 'NOT tracked by init',
      m.pid === s.pidFile ? 'pid file' : '',
      m.pid === s.oldbin ? '.oldbin' : '',
    ].filter(Boolean);
    lines.push(
      `phoenix master ${m.pid} (${tags.join(', ')}): generation ${gens.join('+') || '-'}, workers ${ws.map((w) => `${w.slot}:${w.pid}`).join(' ') || 'none'}`,
    );
  }
  for (const h of s.herders)
    lines.push(
      `phoenix-herder ${h.pid} (${h.trackedByInit ? 'tracked by init' : 'NOT tracked by init'}): follows the master in the pid file`,
    );
  if (
    s.init.trackedPid &&
    !s.masters.some((m) => m.pid === s.init.trackedPid) &&
    !s.herders.some((h) => h.pid === s.init.trackedPid)
  )
    lines.push(`init tracks pid ${s.init.trackedPid}, which is not a phoenix master`);
  if (s.masters.length > 1) lines.push(`WARNING: ${s.masters.length} masters serve the same socket`);
  const nm = s.nginx.find((n) => n.role === 'master');
  const nw = s.nginx.filter((n) => n.role === 'worker');
  lines.push(
    nm
      ? `nginx: master ${nm.pid} (${nm.user}), workers ${nw.map((w) => `${w.pid} (${w.user})`).join(' ')}`
      : 'nginx: not running',
  );
  lines.push(
    s.socket
      ? `socket ${s.socket.path}: ${s.socket.owner}:${s.socket.group} ${s.socket.mode}`
      : `socket ${SOCKET_PATH}: absent`,
  );
  return lines.join('\n');
}
