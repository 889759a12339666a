import { LabError, LabExit } from '../errors';
import { bookworm } from './bookworm';
import { precise } from './precise';
import type { InitDriver } from './types';

/**
 * The one registry of init drivers. The flavour names are its keys: a new init is a driver file
 * and one entry here, and every table over Flavour (scenario expectations) then fails to
 * compile until it has a column for it.
 */
export const DRIVERS = { precise, bookworm } satisfies Record<string, InitDriver>;

export type Flavour = keyof typeof DRIVERS;
export const FLAVOURS = Object.keys(DRIVERS) as readonly Flavour[];

/** What `lab up` and the other commands run when no --flavour is given: the reference, upstart 1.5. */
export const DEFAULT_FLAVOUR: Flavour = 'precise';

/** The flavour that builds anywhere (no registry): where the default falls back to. */
export const OFFLINE_FLAVOUR: Flavour = DRIVERS[DEFAULT_FLAVOUR].image.fallback ?? DEFAULT_FLAVOUR;

export function isFlavour(value: string): value is Flavour {
  return Object.prototype.hasOwnProperty.call(DRIVERS, value);
}

export function driverFor(name: string): InitDriver {
  if (!isFlavour(name))
    throw new LabError(
      `unknown flavour '${name}': use ${FLAVOURS.map((f) => `${f} (${DRIVERS[f].init})`).join(' or ')}`,
      LabExit.USAGE,
    );
  return DRIVERS[name];
}
