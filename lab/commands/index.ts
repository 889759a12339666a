import { apply } from './apply';
import { audit } from './audit';
import { build } from './build';
import { chaos } from './chaos';
import { check } from './check';
import type { Command } from './command';
import { demo } from './demo';
import { down } from './down';
import { initctl } from './initctl';
import { load } from './load';
import { logs } from './logs';
import { report } from './report';
import { scenario } from './scenario';
import { signal } from './signal';
import { status } from './status';
import { up } from './up';

/** Every `lab` command, in the order the help lists them; apart from cli.ts, which runs on import. */
export const COMMANDS: Command[] = [
  build,
  up,
  down,
  status,
  initctl,
  signal,
  apply,
  logs,
  load,
  check,
  scenario,
  chaos,
  report,
  demo,
  audit,
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
