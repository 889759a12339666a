import type Docker from 'dockerode';
import { execIn } from './engine/containers';
import type { InitDriver } from './flavours/types';
import type { ProbedProcess, ServerDriver } from './servers/types';
import { SERVER_BEFORE_CHOICE } from './servers';

/** Everything `lab status` shows, read from inside the container in one exec. */
export interface LabStatus {
  init: { name: string; trackedPid?: number; state?: string; status: string };
  server?: string;
  pidFile?: number;
  oldbin?: number;
  /** bootingS: a master with no workers that has not named itself a master yet (unicorn does
   *  so when its master loop starts, after loading the app): seconds since it started */
  masters: { pid: number; ppid: number; trackedByInit: boolean; bootingS?: number }[];
  /** a stable process in front of the masters (unicorn-wrapper, phoenix-herder) */
  herders: { pid: number; trackedByInit: boolean }[];
  workers: { pid: number; master: number; generation: number; slot: number }[];
  nginx: { pid: number; user: string; role: 'master' | 'worker' }[];
  socket?: { path: string; owner: string; group: string; mode: string };
}

const SEP = '\x1f';

/**
 * The probe: every process whose command line names one of the server's patterns (or nginx),
 * with the few environment variables the server driver reads; the socket's owner and mode;
 * the pid files. POSIX sh only: it runs on Ubuntu 12.04's dash and minbase images alike.
 */
export function probeScript(server: ServerDriver): string {
  const cases = [...server.probePatterns.map((p) => `*${p}*`), 'nginx*'].join('|');
  const env = server.probeEnv.length
    ? `e=$(tr '\\000' '\\n' < $p/environ 2>/dev/null | grep -E '^(${server.probeEnv.join('|')})=' | tr '\\n' '\\037')`
    : 'e=';
  // A line: each process's age in seconds (uptime minus its start time, field 22 of stat, in
  // clock ticks), for "booting for N s".
  return `
read -r up _ < /proc/uptime
hz=$(getconf CLK_TCK 2>/dev/null) || hz=100
for p in /proc/[0-9]*; do
  pid=\${p#/proc/}
  args=$(tr '\\000' ' ' < $p/cmdline 2>/dev/null) || continue
  case "$args" in ${cases}) ;; *) continue ;; esac
  read -r _ _ _ ppid _ < $p/stat 2>/dev/null || continue
  user=$(stat -c %U $p 2>/dev/null)
  ${env}
  printf 'P\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "$pid" "$ppid" "$user" "$e" "$args"
  st=$(cat $p/stat 2>/dev/null) && st=\${st##*) } && set -- $st && printf 'A\\t%s\\t%s\\n' "$pid" $(( \${up%.*} - \${20} / hz ))
done
printf 'S\\t%s\\n' "$(stat -c '%U %G %a' ${server.socketPath} 2>/dev/null)"
printf 'F\\t%s\\t%s\\n' "$(cat ${server.pidFile} 2>/dev/null)" "$(cat ${server.pidFile}.oldbin 2>/dev/null)"
`;
}

function parseEnv(field: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of field.split(SEP)) {
    const i = kv.indexOf('=');
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

/**
 * A unicorn master still under the command line it was started with: unicorn renames itself
 * "unicorn master ..." only when its master loop starts, after loading the app. (A phoenix
 * master never renames itself, so no such claim is made for it.)
 */
const unicornLoading = (args: string) =>
  /(?:^|[\s/])unicorn(?:_rails)? /.test(args) && !/^unicorn(?:_rails)? master\b/.test(args);

export function parseProbe(out: string, trackedPid: number | undefined, server: ServerDriver): Omit<LabStatus, 'init'> {
  const s: Omit<LabStatus, 'init'> = { server: server.name, masters: [], herders: [], workers: [], nginx: [] };
  const procs: ProbedProcess[] = [];
  const ages = new Map<number, number>();
  for (const line of out.split('\n')) {
    const f = line.split('\t');
    if (f[0] === 'A' && /^\d+$/.test(f[2] ?? '')) ages.set(Number(f[1]), Number(f[2]));
    else if (f[0] === 'P') {
      const [, pid, ppid, user, env, args] = f;
      if (args.startsWith('nginx')) {
        s.nginx.push({ pid: Number(pid), user, role: args.includes('master') ? 'master' : 'worker' });
      } else {
        // A probe line of phoenix's older format carries the worker spec itself.
        const e = env.startsWith('{') ? { PHOENIX_WORKER: env } : parseEnv(env);
        procs.push({ pid: Number(pid), ppid: Number(ppid), user, args: args.trim(), env: e });
      }
    } else if (f[0] === 'S' && f[1]) {
      const [owner, group, mode] = f[1].split(' ');
      s.socket = { path: server.socketPath, owner, group, mode: mode.padStart(4, '0') };
    } else if (f[0] === 'F') {
      if (f[1]) s.pidFile = Number(f[1]);
      if (f[2]) s.oldbin = Number(f[2]);
    }
  }
  for (const p of procs) {
    const role = server.classify(p, procs);
    const tracked = p.pid === trackedPid;
    if (role?.role === 'wrapper') s.herders.push({ pid: p.pid, trackedByInit: tracked });
    else if (role?.role === 'worker')
      s.workers.push({ pid: p.pid, master: p.ppid, generation: role.generation, slot: role.slot });
    else if (role?.role === 'master') s.masters.push({ pid: p.pid, ppid: p.ppid, trackedByInit: tracked });
  }
  for (const m of s.masters) {
    const args = procs.find((p) => p.pid === m.pid)?.args ?? '';
    const age = ages.get(m.pid);
    if (age !== undefined && unicornLoading(args) && !s.workers.some((w) => w.master === m.pid)) m.bootingS = age;
  }
  return s;
}

export async function inspectLab(
  container: Docker.Container,
  init: InitDriver,
  server: ServerDriver,
): Promise<LabStatus> {
  const st = await execIn(container, init.statusCmd(server));
  const trackedPid = init.trackedPid(st.stdout);
  const probe = await execIn(container, ['/bin/sh', '-c', probeScript(server)]);
  return {
    init: { name: init.init, trackedPid, state: init.state(st.stdout), status: (st.stdout + st.stderr).trim() },
    ...parseProbe(probe.stdout, trackedPid, server),
  };
}

export function formatStatus(s: LabStatus): string {
  const who = s.server ?? SERVER_BEFORE_CHOICE;
  const lines = [`init (${s.init.name}): ${s.init.status.replace(/\n/g, '; ')}`];
  if (s.masters.length === 0) lines.push(`${who}: no master running`);
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
    const what =
      m.bootingS !== undefined
        ? `booting for ${m.bootingS} s, no workers yet`
        : `generation ${gens.join('+') || '-'}, workers ${ws.map((w) => `${w.slot}:${w.pid}`).join(' ') || 'none'}`;
    lines.push(`${who} master ${m.pid} (${tags.join(', ')}): ${what}`);
  }
  for (const h of s.herders)
    lines.push(
      `wrapper ${h.pid} (${h.trackedByInit ? 'tracked by init' : 'NOT tracked by init'}): follows the master in the pid file`,
    );
  if (
    s.init.trackedPid &&
    !s.masters.some((m) => m.pid === s.init.trackedPid) &&
    !s.herders.some((h) => h.pid === s.init.trackedPid)
  )
    lines.push(`init tracks pid ${s.init.trackedPid}, which is not a ${who} master`);
  const serving = s.masters.filter((m) => s.workers.some((w) => w.master === m.pid));
  if (serving.length > 1) lines.push(`WARNING: ${serving.length} masters serve the same socket`);
  const nm = s.nginx.find((n) => n.role === 'master');
  const nw = s.nginx.filter((n) => n.role === 'worker');
  lines.push(
    nm
      ? `nginx: master ${nm.pid} (${nm.user}), workers ${nw.map((w) => `${w.pid} (${w.user})`).join(' ')}`
      : 'nginx: not running',
  );
  lines.push(
    s.socket ? `socket ${s.socket.path}: ${s.socket.owner}:${s.socket.group} ${s.socket.mode}` : 'socket: absent',
  );
  return lines.join('\n');
}
