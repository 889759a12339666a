/**
 * The fault classes `lab chaos` injects. Each has a settle time: the least a slot of the
 * schedule lasts after the fault starts, so that the app serves again (and an upgrade has
 * finished) before the next fault, and each fault's cost can be attributed to it.
 */
export const FAULTS = [
  'usr2',
  'hup',
  'ttin-ttou',
  'kill-worker',
  'kill-master',
  'stop-worker',
  'nginx-reload',
  'restart',
  'pause',
  'oom-master',
  'bridge-restart',
  'nginx-restart',
] as const;
export type FaultKind = (typeof FAULTS)[number];

export interface FaultInfo {
  /** what it is, for the schedule and the verdict */
  title: string;
  /** ms the slot lasts at least after the fault starts (holdMs added for stop-worker and pause) */
  settleMs: number;
}

export const FAULT_INFO: Record<FaultKind, FaultInfo> = {
  usr2: { title: 'USR2 upgrade (unicorn: to the wrapper, which forwards it)', settleMs: 3500 },
  hup: { title: 'HUP: new generation of workers', settleMs: 3000 },
  'ttin-ttou': { title: 'TTIN, then TTOU a second later: one worker more, then one less', settleMs: 2500 },
  'kill-worker': { title: 'kill -9 of a worker', settleMs: 2500 },
  'kill-master': { title: 'kill -9 of the master (unicorn: the real master, by its pid file)', settleMs: 6000 },
  'stop-worker': { title: 'SIGSTOP of a worker for longer than its timeout, then SIGCONT', settleMs: 2500 },
  'nginx-reload': { title: 'nginx reload (HUP to the nginx master)', settleMs: 2000 },
  restart: { title: 'initctl restart (systemctl restart on systemd)', settleMs: 6000 },
  pause: { title: 'docker pause of the container for a second or two, then unpause', settleMs: 2500 },
  // The kernel's own kill, not one sent by the lab: a memory limit on the container, the master
  // made the OOM killer's first choice, and memory taken until the kernel kills it (oom.ts).
  // Settles like kill-master, plus the second or so the limit and the allocation take.
  'oom-master': {
    title: "the kernel's OOM killer on the master: a memory limit on the container, memory taken until it kills it",
    settleMs: 7000,
  },
  // The socket's owner restarted as an operator or a package upgrade does it (the init driver
  // says how): upstart-socket-bridge, or the app's .socket unit on systemd.
  'bridge-restart': {
    title: "restart of the socket's owner: initctl restart upstart-socket-bridge (systemd: the app's .socket unit)",
    settleMs: 4000,
  },
  // nginx stopped (its job's kill signal, its unit's ExecStop) and started again by init, as
  // a config-management run or an operator does it; unlike nginx-reload the listening socket is
  // closed and bound again. The init driver maps the verb (systemctl restart nginx.service).
  'nginx-restart': {
    title: 'nginx killed and started by init: initctl restart nginx (systemctl restart nginx.service)',
    settleMs: 3000,
  },
};

export function isFault(name: string): name is FaultKind {
  return (FAULTS as readonly string[]).includes(name);
}

/** `--faults usr2,kill-master` (or `all`): the classes in the order given, each once; or the unknown names. */
export function parseFaults(v: string): { faults: FaultKind[] } | { unknown: string[] } {
  const names = v
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  if (names.length === 1 && names[0] === 'all') return { faults: [...FAULTS] };
  const unknown = names.filter((n) => !isFault(n));
  if (unknown.length || names.length === 0) return { unknown: unknown.length ? unknown : [v] };
  return { faults: [...new Set(names)] as FaultKind[] };
}
