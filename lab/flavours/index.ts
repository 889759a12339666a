import { FLAVOURS, type Flavour, isFlavour } from '../engine/flavour-images';
import { LabError, LabExit } from '../errors';
import { bookworm } from './bookworm';
import { precise } from './precise';
import type { InitDriver } from './types';

/** The one registry of init drivers; a Record over Flavour, so a flavour without a driver does not compile. */
export const DRIVERS: Record<Flavour, InitDriver> = { precise, bookworm };

export function driverFor(name: string): InitDriver {
  if (!isFlavour(name))
    throw new LabError(
      `unknown flavour '${name}': use ${FLAVOURS.map((f) => `${f} (${DRIVERS[f].init})`).join(' or ')}`,
      LabExit.USAGE,
    );
  return DRIVERS[name];
}
