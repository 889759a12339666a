import { LabError, LabExit } from '../errors';
import { phoenix } from './phoenix';
import { type ServerDriver, type ServerName, SERVERS } from './types';

export { SERVED_BY } from './types';
import { unicorn } from './unicorn';

/** The one registry of app server drivers. */
export const SERVER_DRIVERS: Record<ServerName, ServerDriver> = { phoenix, unicorn };

/** The server a lab runs when none is named, and the one left out of labels ("bookworm", not "bookworm/phoenix"). */
export const DEFAULT_SERVER: ServerName = 'phoenix';

/** Results, runs and containers from before the server was a choice all ran this one. */
export const SERVER_BEFORE_CHOICE: ServerName = 'phoenix';

/** A cell's label: the init, with the server when it is not the default ("bookworm/unicorn"); `sep` for file names. */
export const columnOf = (flavour: string, server: string | undefined, sep = '/'): string =>
  !server || server === DEFAULT_SERVER ? flavour : `${flavour}${sep}${server}`;

/** What a running lab shows of its processes, as far as choosing a signal's target goes. */
interface SignalView {
  herders: readonly { pid: number }[];
  pidFile?: number;
  init: { trackedPid?: number };
}

/** Where a master-directed signal goes on a running lab: the wrapper (it forwards) or the master. */
export function masterSignalTarget(server: ServerDriver, s: SignalView): { pid?: number; role: 'wrapper' | 'master' } {
  if (server.signalVia === 'wrapper') return { pid: s.herders[0]?.pid ?? s.init.trackedPid, role: 'wrapper' };
  return { pid: s.pidFile ?? s.init.trackedPid, role: 'master' };
}

export function isServer(name: string): name is ServerName {
  return (SERVERS as readonly string[]).includes(name);
}

export function serverFor(name: string): ServerDriver {
  if (!isServer(name))
    throw new LabError(
      `unknown server '${name}': use ${SERVERS.map((s) => `${s} (${SERVER_DRIVERS[s].title})`).join(' or ')}`,
      LabExit.USAGE,
    );
  return SERVER_DRIVERS[name];
}
