import type { Install } from './dynamic';
import { adapt, type Recipe, RECIPE } from './fix';
import type { AuditModel, Finding } from './types';

/**
 * Seeing past a blocking finding. A finding that keeps the site from ever answering (the
 * bridge's root 0755 socket: every request a 502) stops the battery before its first step, so
 * every other finding would go unjudged. When the first answer failed because of such a
 * finding and the recipe has its fix, the lab applies that one fix, in the lab only (the team's
 * files are only read), says so as a rewrite, and runs the battery again for the rest.
 */

/** The rules whose finding stops the battery at the first answer, and which the lab can lift. */
export const BLOCKING_RULES = ['bridge-socket-0755'] as const;

export interface SeePast {
  /** the finding lifted: confirmed by the first run, not judged again */
  finding: Finding;
  install: Install;
  /** what the lab changed, and why, as the report lists it */
  rewrite: string;
}

const JOB_DIR = '/etc/init';
const SOCKET_DROPIN = '/etc/systemd/system/unicorn.socket.d/lab-audit-socket-mode.conf';

/**
 * The install with the blocking finding's fix applied (pure: the unit test reads it), or
 * undefined when no finding blocks or the lab has no fix for it. `blocked` is the first run's
 * word: the first answer failed and this finding was confirmed by it.
 */
export function seePast(
  findings: readonly Finding[],
  model: AuditModel,
  install: Install,
  recipe: Recipe,
  blocked: (f: Finding) => boolean,
): SeePast | undefined {
  const f = findings.find((x) => (BLOCKING_RULES as readonly string[]).includes(x.rule) && blocked(x));
  if (!f) return undefined;
  const why = `to see past finding ${f.scenario} [${f.rule}]`;
  const boot = { ...install.boot, files: { ...install.boot.files }, remove: [...(install.boot.remove ?? [])] };
  let rewrite: string;
  if (model.job?.bridgeSocket) {
    // The recipe's job, with the team's socket path: it hands the socket to www-data, 0660, once
    // the bridge has bound it. installFor removed the image's copy; this one must stay.
    const target = `${JOB_DIR}/socket-permissions.conf`;
    boot.files[target] = adapt(recipe.socketPermissions, model);
    boot.remove = boot.remove.filter((r) => r !== target);
    rewrite = `${target} added from the recipe (${RECIPE.socketPermissions}: ${model.job.bridgeSocket.value} to group www-data, mode 0660) ${why}`;
  } else if (model.socket) {
    // The recipe's socket unit's owner and mode, as a drop-in: the team's unit stays as written.
    boot.files[SOCKET_DROPIN] = '[Socket]\nSocketGroup=www-data\nSocketMode=0660\n';
    rewrite = `${SOCKET_DROPIN} added (SocketGroup=www-data, SocketMode=0660, as ${RECIPE.socket} has them) ${why}`;
  } else return undefined;
  return {
    finding: f,
    install: { ...install, boot, rewrites: [...install.rewrites, rewrite] },
    rewrite,
  };
}
