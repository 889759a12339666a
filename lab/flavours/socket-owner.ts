import type { ServerDriver } from '../servers/types';

/** A command the lab runs in the container, and how the timeline names it. */
export interface InitCommand {
  cmd: string[];
  label: string;
}

/**
 * Restarting what owns the app's listening socket, as an operator (or a package upgrade) does
 * it. `lab chaos` uses it for its bridge-restart fault; it differs by init, so it lives here.
 */

/**
 * upstart 1.5: the socket belongs to upstart-socket-bridge, one daemon for every `start on
 * socket` job. Its restart is what a package upgrade or an operator does; the new bridge binds
 * each job's path again over the file the old one never unlinked (README, "What the lab shows on
 * upstart 1.5").
 */
export const upstartBridgeRestart = (): InitCommand => ({
  cmd: ['/sbin/initctl', 'restart', 'upstart-socket-bridge'],
  label: 'initctl restart upstart-socket-bridge',
});

/**
 * systemd: each socket has its own unit, so the equivalent of restarting the bridge is
 * restarting the app's .socket unit (the service Requires= it, so systemd restarts it too).
 */
export const systemdSocketRestart = (s: ServerDriver): InitCommand => {
  const cmd = ['systemctl', 'restart', `${s.job}.socket`];
  return { cmd, label: cmd.join(' ') };
};
