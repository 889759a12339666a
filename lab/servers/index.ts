import { LabError, LabExit } from '../errors';
import { phoenix } from './phoenix';
import { type ServerDriver, type ServerName, SERVERS } from './types';
import { unicorn } from './unicorn';

/** The one registry of app server drivers. */
export const SERVER_DRIVERS: Record<ServerName, ServerDriver> = { phoenix, unicorn };

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
