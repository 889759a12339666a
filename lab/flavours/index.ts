import { LabError, LabExit } from '../errors';
import { bookworm } from './bookworm';
import { precise } from './precise';
import type { FlavourDriver } from './types';

export const DRIVERS: Record<string, FlavourDriver> = { precise, bookworm };

export function driverFor(name: string): FlavourDriver {
  const d = DRIVERS[name];
  if (!d)
    throw new LabError(
      `unknown flavour '${name}': use precise (Ubuntu 12.04 + upstart 1.5) or bookworm (Debian 12 + systemd)`,
      LabExit.USAGE,
    );
  return d;
}
