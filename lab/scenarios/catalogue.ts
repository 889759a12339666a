import { bridgeInplace } from './bridge-inplace';
import { bridgeReexec } from './bridge-reexec';
import { bridgeReexecNopid } from './bridge-reexec-nopid';
import { execRespawnReexec } from './exec-respawn-reexec';
import { masterKilled, masterKilledRespawn } from './master-killed';
import { workerKilled } from './worker-killed';
import { workerTimeout } from './worker-timeout';
import { initctlRestart } from './initctl-restart';
import { initctlStopStart } from './initctl-stop-start';
import { socketPermissions } from './socket-permissions';
import { nginxReload } from './nginx-reload';
import { slowRequests } from './slow-requests';
import { containerRestart } from './container-restart';
import { herder } from './herder';
import { reloadConfiguration } from './reload-configuration';
import { bootSocketMode } from './boot-socket-mode';
import { seedPoc } from './seed-poc';
import { wrapperFix } from './wrapper-fix';
import { unicornInitctlReload } from './unicorn-initctl-reload';
import { unicornExecRespawn } from './unicorn-exec-respawn';
import { unicornBrokenRelease } from './unicorn-broken-release';
import { unicornStopStart } from './unicorn-stop-start';
import { unicornBridgeTraps } from './unicorn-bridge-traps';
import { unicornDaemonExpect } from './unicorn-daemon-expect';
import { unicornSymlinkedReleases } from './unicorn-symlinked-releases';
import { unicornSystemdForking } from './unicorn-systemd-forking';
import { unicornColdWorkers } from './unicorn-cold-workers';
import { unicornHerderSleeps } from './unicorn-herder-sleeps';
import { bridgeStall } from './bridge-stall';
import type { Scenario } from '../session/types';

/** Every scenario, in the order `lab scenario list` shows and `run --all` runs them. */
export const CATALOGUE: readonly Scenario[] = [
  bridgeInplace,
  bridgeReexec,
  bridgeReexecNopid,
  execRespawnReexec,
  masterKilled,
  masterKilledRespawn,
  workerKilled,
  workerTimeout,
  initctlRestart,
  initctlStopStart,
  socketPermissions,
  nginxReload,
  slowRequests,
  containerRestart,
  herder,
  reloadConfiguration,
  bootSocketMode,
  seedPoc,
  wrapperFix,
  unicornInitctlReload,
  unicornExecRespawn,
  unicornBrokenRelease,
  unicornStopStart,
  unicornBridgeTraps,
  unicornSymlinkedReleases,
  unicornSystemdForking,
  unicornColdWorkers,
  unicornHerderSleeps,
  unicornDaemonExpect,
  bridgeStall,
];

export function findScenario(name: string): Scenario | undefined {
  return CATALOGUE.find((s) => s.name === name);
}
