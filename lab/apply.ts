import type Docker from 'dockerode';
import * as path from 'node:path';
import { execIn, writeFileIn } from './engine/containers';
import { LabError, LabExit } from './errors';
import type { InitDriver } from './flavours/types';
import { checkJobFile } from './jobcheck';
import { poll } from './engine/wait';

/**
 * `lab apply`: validate -> install -> make init/nginx take it, or keep the old file.
 * Validation happens before anything is written; where only the running system can judge
 * (nginx -t, upstart's own parser), the previous file is put back when it says no.
 */
export type ConfigKind = 'upstart-job' | 'systemd-unit' | 'nginx-site' | 'wrapper-config';

export function classify(file: string, text: string): ConfigKind {
  const base = path.basename(file);
  if (/\.(service|socket)$/.test(base)) return 'systemd-unit';
  if (base.endsWith('.json')) return 'wrapper-config';
  if (
    /^\s*(server|upstream|location|log_format)\b[^\n]*\{?/m.test(text) &&
    /[{};]\s*$/m.test(text) &&
    !/^\s*(start on|exec|script|respawn|task)\b/m.test(text)
  )
    return 'nginx-site';
  if (base.endsWith('.conf')) return 'upstart-job';
  throw new LabError(
    `lab apply: cannot tell what ${file} is: name job files NAME.conf, systemd units ` +
      `NAME.service/.socket, wrapper configs NAME.json; nginx sites must contain a server or ` +
      `upstream block`,
    LabExit.USAGE,
  );
}

export interface Applied {
  file: string;
  kind: ConfigKind;
  target: string;
  notes: string[];
}

async function sh(c: Docker.Container, script: string, ...args: string[]) {
  return execIn(c, ['/bin/sh', '-c', script, 'sh', ...args]);
}

async function applyUpstartJob(c: Docker.Container, d: InitDriver, file: string, text: string): Promise<Applied> {
  if (d.jobKind !== 'upstart-job')
    throw new LabError(
      `${file} is an upstart job; this lab runs ${d.init} (${d.name}): apply a systemd unit instead, or use the precise flavour`,
      LabExit.USAGE,
    );
  const errors = checkJobFile(text, file).filter((p) => p.severity === 'error');
  if (errors.length) {
    throw new LabError(
      `${file} rejected by the upstart 1.5 job checker, nothing was changed:\n${errors.map((p) => `  ${file}:${p.line}: ${p.message}`).join('\n')}`,
      LabExit.FAILED,
    );
  }
  const job = path.basename(file, '.conf');
  const target = `${d.jobDir}/${job}.conf`;
  const prev = `/var/lib/lab-prev-${job}.conf`;
  const old = await sh(c, 'cat "$1" 2>/dev/null', target);
  await sh(c, '[ -f "$1" ] && cp -p "$1" "$2" || rm -f "$2"', target, prev);
  const notes: string[] = [];
  // A changed job makes upstart-socket-bridge drop the job's socket and bind it again; the
  // old file is still there (1.5 never unlinks it), so that bind fails and nginx gets
  // "Connection refused" as soon as the running instance stops. Stop the job and remove
  // the file first, so the bridge binds afresh and the next connection starts the new job.
  const sockets = [
    ...new Set([bridgeSocketPath(text), bridgeSocketPath(old.stdout)].filter((p): p is string => p !== undefined)),
  ];
  if (sockets.length) {
    await execIn(c, ['/sbin/initctl', 'stop', job]);
    await sh(c, 'rm -f "$@"', ...sockets);
    notes.push(
      `socket-bridge job: stopped ${job} and removed ${sockets.join(', ')} so the bridge could bind again (upstart 1.5 does not unlink its socket)`,
    );
  }
  // upstart 1.5 watches /etc/init with inotify: the file is live once renamed into place.
  // No `initctl reload-configuration`: it makes the socket bridge drop its socket too.
  await writeFileIn(c, target, text);
  await new Promise((r) => setTimeout(r, 300));
  const seen = await execIn(c, ['/sbin/initctl', 'status', job]);
  const newSocket = bridgeSocketPath(text);
  const bound = newSocket ? await waitForListening(c, newSocket, 3000) : true;
  if (seen.code !== 0 || !bound) {
    await sh(c, 'if [ -f "$2" ]; then mv -f "$2" "$1"; else rm -f "$1"; fi', target, prev);
    const why = seen.code !== 0 ? (seen.stderr || seen.stdout).trim() : `the socket bridge did not bind ${newSocket}`;
    throw new LabError(`upstart did not take ${file} (${why}); the previous file was put back`, LabExit.FAILED);
  }
  notes.unshift(`upstart picked it up by itself: ${seen.stdout.trim()}`);
  if (!sockets.length)
    notes.push(`running instances keep their old definition until restarted (lab initctl restart ${job})`);
  return { file, kind: 'upstart-job', target, notes };
}

/** PATH= of a job's `start on socket PROTO=unix PATH=...`, the socket the bridge binds for it. */
export function bridgeSocketPath(jobText: string): string | undefined {
  const joined = jobText.replace(/\\\n/g, ' ');
  for (const line of joined.split('\n')) {
    const m = /^\s*start\s+on\b.*\bsocket\b.*\bPATH=([^\s()]+)/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

async function waitForListening(c: Docker.Container, socketPath: string, ms: number): Promise<boolean> {
  // Flags 00010000 = listening; the path is the last column of /proc/net/unix.
  const listening = async () =>
    (await sh(c, 'grep -q " 00010000 .* $1$" /proc/net/unix', socketPath)).code === 0 ? true : undefined;
  return (await poll(listening, ms)) ?? false;
}

async function applySystemdUnit(c: Docker.Container, d: InitDriver, file: string, text: string): Promise<Applied> {
  if (d.jobKind !== 'systemd-unit')
    throw new LabError(
      `${file} is a systemd unit; this lab runs ${d.init}: apply an upstart job (NAME.conf) instead`,
      LabExit.USAGE,
    );
  const unit = path.basename(file);
  const target = `${d.jobDir}/${unit}`;
  const candidate = `/var/lib/lab-candidate/${unit}`;
  await sh(c, 'mkdir -p /var/lib/lab-candidate');
  await writeFileIn(c, candidate, text);
  const verify = await execIn(c, ['systemd-analyze', 'verify', candidate]);
  const complaints = (verify.stderr + verify.stdout)
    .split('\n')
    .filter((l) => l.includes(unit) && !/Unit .* not found|is added as a dependency/.test(l));
  if (verify.code !== 0 && complaints.length) {
    await sh(c, 'rm -f "$1"', candidate);
    throw new LabError(
      `${file} rejected by systemd-analyze verify, nothing was changed:\n${complaints.join('\n')}`,
      LabExit.FAILED,
    );
  }
  await sh(c, 'mv -f "$1" "$2" && systemctl daemon-reload', candidate, target);
  const notes = ['systemd reloaded its units (daemon-reload)'];
  if (unit.endsWith('.socket')) {
    // A socket unit's settings (mode, group) apply when it is bound again, which needs its service stopped.
    const svc = unit.replace(/\.socket$/, '.service');
    const r = await sh(c, 'systemctl stop "$1"; systemctl restart "$2"', svc, unit);
    if (r.code !== 0) throw new LabError(`restarting ${unit} failed: ${r.stderr.trim()}`, LabExit.FAILED);
    notes.push(`${svc} stopped and ${unit} bound again; the next connection starts ${svc}`);
  } else {
    notes.push(`restart it to use it: lab initctl restart ${unit.replace(/\.service$/, '')}`);
  }
  return { file, kind: 'systemd-unit', target, notes };
}

async function applyNginxSite(c: Docker.Container, file: string, text: string): Promise<Applied> {
  const found = await sh(
    c,
    'for f in /etc/nginx/sites-enabled/phoenix /etc/nginx/sites-enabled/default; do if [ -e "$f" ]; then readlink -f "$f"; exit 0; fi; done; exit 1',
  );
  if (found.code !== 0)
    throw new LabError(
      'no enabled nginx site (sites-enabled/phoenix or default) to replace in the container',
      LabExit.FAILED,
    );
  const target = found.stdout.trim();
  const prev = `${target}.lab-prev`;
  await sh(c, 'cp -p "$1" "$2"', target, prev);
  await writeFileIn(c, target, text);
  const t = await execIn(c, ['/usr/sbin/nginx', '-t']);
  if (t.code !== 0) {
    await sh(c, 'mv -f "$2" "$1"', target, prev);
    throw new LabError(
      `nginx -t rejected ${file}; the previous site was put back and nginx still runs it:\n${t.stderr.trim()}`,
      LabExit.FAILED,
    );
  }
  const r = await sh(c, 'kill -HUP "$(cat /var/run/nginx.pid 2>/dev/null || cat /run/nginx.pid)"');
  if (r.code !== 0)
    throw new LabError(`nginx accepted ${file} but could not be told to reload: ${r.stderr.trim()}`, LabExit.FAILED);
  return { file, kind: 'nginx-site', target, notes: ['nginx -t passed; nginx reloaded gracefully (HUP)'] };
}

async function applyWrapperConfig(c: Docker.Container, file: string, text: string): Promise<Applied> {
  const target = '/etc/phoenix/phoenix.json';
  const candidate = '/etc/phoenix/phoenix.json.lab-candidate';
  await sh(c, 'mkdir -p /etc/phoenix');
  await writeFileIn(c, candidate, text);
  const check = await execIn(c, [
    '/opt/phoenix/runtime/bin/node',
    '/opt/phoenix/app/dist/src/cli.js',
    '--check',
    '--listen',
    'unix:/nonexistent/check.sock',
    '--config',
    candidate,
  ]);
  if (check.code !== 0) {
    await sh(c, 'rm -f "$1"', candidate);
    throw new LabError(
      `phoenix --check rejected ${file}, nothing was changed:\n${check.stderr.trim()}`,
      LabExit.FAILED,
    );
  }
  await sh(c, 'mv -f "$1" "$2"', candidate, target);
  const master = await sh(
    c,
    'pid=$(cat /var/run/phoenix/phoenix.pid 2>/dev/null) && tr "\\000" " " < /proc/$pid/cmdline && echo && echo $pid',
  );
  const [cmdline, pid] = master.stdout.trim().split('\n');
  if (master.code === 0 && cmdline.includes(`--config ${target}`)) {
    await execIn(c, ['/bin/kill', '-HUP', pid]);
    return {
      file,
      kind: 'wrapper-config',
      target,
      notes: [`phoenix --check passed; master ${pid} sent HUP (re-reads the config, replaces workers gracefully)`],
    };
  }
  return {
    file,
    kind: 'wrapper-config',
    target,
    notes: [
      'phoenix --check passed',
      `the running master was not started with --config ${target}: the config takes effect when a job or unit that passes it starts`,
    ],
  };
}

export async function applyFile(c: Docker.Container, d: InitDriver, file: string, text: string): Promise<Applied> {
  switch (classify(file, text)) {
    case 'upstart-job':
      return applyUpstartJob(c, d, file, text);
    case 'systemd-unit':
      return applySystemdUnit(c, d, file, text);
    case 'nginx-site':
      return applyNginxSite(c, file, text);
    case 'wrapper-config':
      return applyWrapperConfig(c, file, text);
  }
}
