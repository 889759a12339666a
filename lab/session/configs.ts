import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../engine/images';
import type { BootSpec } from './types';

/**
 * The configs scenarios run, taken from the files the images ship (images/conf) and changed
 * in one visible way each, so a report's "config applied" is the shipped file plus a
 * stated difference. A shipped file that no longer has the text an edit expects is an
 * error, not a silent no-op.
 */
/** A file the images ship, under images/conf, as the repository has it. */
export const shippedConf = (...rel: string[]): string =>
  fs.readFileSync(path.join(projectRoot(), 'images', 'conf', ...rel), 'utf8');

/** As `replace`: remove the whole line. */
export const DROP_LINE = '\u0000drop';

export function edit(text: string, find: string | RegExp, replace: string, what: string): string {
  // Comments quote flags too ("--upgrade in-place: USR2 starts..."): only lines that are not comments are edited.
  const lines = text.split('\n');
  const re = typeof find === 'string' ? undefined : new RegExp(find.source, find.flags.replace('m', ''));
  const i = lines.findIndex((l) => !/^\s*#/.test(l) && (re ? re.test(l) : l.includes(find as string)));
  if (i < 0) throw new Error(`${what}: the shipped file no longer contains ${String(find)} outside comments`);
  if (replace === DROP_LINE) lines.splice(i, 1);
  else lines[i] = re ? lines[i].replace(re, replace) : lines[i].replace(find as string, replace);
  return lines.join('\n');
}

export const PHOENIX_JOB = '/etc/init/phoenix.conf';
export const SOCKET_PERMISSIONS_JOB = '/etc/init/socket-permissions.conf';
export const SERVICE_UNIT = '/etc/systemd/system/phoenix.service';
export const SOCKET_UNIT = '/etc/systemd/system/phoenix.socket';
const SOCKET_WANTS = '/etc/systemd/system/sockets.target.wants/phoenix.socket';
const MULTI_USER_WANTS = '/etc/systemd/system/multi-user.target.wants/phoenix.service';
const NODE = '/opt/phoenix/runtime/bin/node /opt/phoenix/app/dist/src/cli.js';

export type Strategy = 'bridge-inplace' | 'bridge-reexec' | 'exec-respawn' | 'herder';

export const upstart = {
  strategy: (name: Strategy): string => shippedConf('upstart', 'strategies', `${name}.conf`),
  /** `respawn` added to a bridge job: what people try after a master died once. */
  withRespawn: (job: string): string =>
    edit(
      job,
      /^console log$/m,
      'console log\n\n# added by the lab: respawn a master that dies\nrespawn\nrespawn limit 10 5',
      'respawn',
    ),
  /** the master no longer writes a pid file, so nothing stops a second master starting */
  withoutPidFile: (job: string): string =>
    edit(job, /^\s*--pid \/var\/run\/phoenix\/phoenix\.pid \\$/, DROP_LINE, 'no pid file'),
  reexec: (job: string): string => edit(job, '--upgrade in-place', '--upgrade reexec \\\n    --quit-oldbin', 'reexec'),
  timeout: (job: string, seconds: number): string => edit(job, '--timeout 30', `--timeout ${seconds}`, 'timeout'),
};

export const systemd = {
  service: (): string => shippedConf('systemd', 'phoenix.service'),
  socket: (): string => shippedConf('systemd', 'phoenix.socket'),
  reexec: (unit: string): string => edit(unit, '--upgrade in-place', '--upgrade reexec --quit-oldbin', 'reexec'),
  timeout: (unit: string, seconds: number): string => edit(unit, '--timeout 30', `--timeout ${seconds}`, 'timeout'),
  /** The bridge's boot-time socket, as systemd would make it if told to: root:root 0755. */
  socketMode: (unit: string, group: string, mode: string): string =>
    edit(
      edit(unit, /^SocketGroup=.*$/m, `SocketGroup=${group}`, 'socket group'),
      /^SocketMode=.*$/m,
      `SocketMode=${mode}`,
      'socket mode',
    ),
  /**
   * systemd's counterpart of upstart's `exec` + `respawn`: phoenix binds its own socket
   * (no socket unit), Restart=always, and upstart's respawn limit (10 in 5 s) as StartLimit.
   */
  ownSocketService: (
    execStart: string,
    description: string,
  ): string => `# phoenix.service written by the lab (scenario): ${description}
[Unit]
Description=${description}
StartLimitIntervalSec=5
StartLimitBurst=10

[Service]
Type=simple
ExecStartPre=/bin/mkdir -p /run/phoenix
ExecStart=${execStart}
KillSignal=SIGQUIT
TimeoutStopSec=35
Restart=always
RestartSec=100ms

[Install]
WantedBy=multi-user.target
`,
};

export const OWN_SOCKET_ARGS =
  '--listen unix:/run/phoenix/phoenix.sock --socket-group www-data --socket-mode 0660 --workers 2 --pid /run/phoenix/phoenix.pid --timeout 30';

/** Boot with this upstart job as /etc/init/phoenix.conf. */
export function upstartBoot(job: string, label: string, extra: Partial<BootSpec> = {}): BootSpec {
  return { ...extra, label, files: { ...extra.files, [PHOENIX_JOB]: job } };
}

/** Boot with the shipped socket unit and this service unit. */
export function systemdBoot(service: string, label: string, extra: Partial<BootSpec> = {}): BootSpec {
  return { ...extra, label, files: { ...extra.files, [SERVICE_UNIT]: service } };
}

/**
 * The lab as shipped, for either server: nothing beyond the server's own activation (phoenix:
 * the image's bridge-inplace job, or phoenix.socket + phoenix.service; unicorn: the
 * unicorn-wrapper job, or unicorn.socket + the wrapper's service).
 */
export function shippedBoot(): BootSpec {
  return { label: 'as shipped' };
}

/** Boot with phoenix.service binding its own socket: the socket unit is disabled, the service enabled. */
export function systemdOwnSocketBoot(service: string, label: string, extra: Partial<BootSpec> = {}): BootSpec {
  return {
    ...extra,
    label,
    files: { ...extra.files, [SERVICE_UNIT]: service },
    remove: [...(extra.remove ?? []), SOCKET_WANTS],
    shell: [...(extra.shell ?? []), `ln -sf ${SERVICE_UNIT} ${MULTI_USER_WANTS}`],
  };
}

export const herderScript = (): string => shippedConf('bin', 'phoenix-herder');
export const HERDER = '/usr/local/bin/phoenix-herder';
export const nodeCommand = (args: string): string => `${NODE} ${args}`;
