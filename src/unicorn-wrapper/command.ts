import * as fs from 'node:fs';
import * as path from 'node:path';
import { WrapperError, WrapperExit } from './exit-codes';

/** What Debian and Ubuntu give a job when nobody says otherwise. */
export const STANDARD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * upstart 1.5 starts a socket-bridge job with PATH set to the socket's path (the event's
 * PATH= replaces the job's), so nothing is found through it. A PATH none of whose entries is a
 * directory is not a search path: replace it. A PATH with at least one directory is the
 * operator's, and is kept as it is.
 */
export function sanePath(
  current: string | undefined,
  isDir: (p: string) => boolean = isDirectory,
): {
  path: string;
  restored: boolean;
} {
  const entries = (current ?? '').split(':').filter((e) => e !== '');
  if (entries.some((e) => path.isAbsolute(e) && isDir(e))) return { path: current!, restored: false };
  return { path: STANDARD_PATH, restored: true };
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isExecutableFile(p: string): boolean {
  try {
    if (!fs.statSync(p).isFile()) return false;
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The absolute path of the command, found the way execvp would find it, so "not installed" is
 * one clear refusal before anything starts instead of a child that dies with ENOENT.
 */
export function resolveCommand(cmd: string, searchPath: string, cwd: string): string {
  if (cmd.includes('/')) {
    const abs = path.resolve(cwd, cmd);
    if (isExecutableFile(abs)) return abs;
    throw new WrapperError(
      fs.existsSync(abs)
        ? `${cmd} is not an executable file`
        : `${cmd} not found: is it installed? (apt-get install unicorn ruby-rack)`,
      WrapperExit.NO_COMMAND,
      'command-not-found',
    );
  }
  for (const dir of searchPath.split(':')) {
    if (!dir) continue;
    const candidate = path.join(dir, cmd);
    if (isExecutableFile(candidate)) return candidate;
  }
  throw new WrapperError(
    `${cmd} not found in PATH=${searchPath}: is it installed? (apt-get install unicorn ruby-rack), or give its absolute path`,
    WrapperExit.NO_COMMAND,
    'command-not-found',
  );
}

/** Environment variables about fds the wrapper received; its child gets UNICORN_FD instead. */
const INHERITED_FD_ENV = ['UPSTART_FDS', 'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'UNICORN_FD'];

/** The command's environment: the wrapper's own, with the sockets described as unicorn reads them. */
export function childEnv(env: NodeJS.ProcessEnv, searchPath: string, fdCount: number): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env, PATH: searchPath };
  for (const k of INHERITED_FD_ENV) delete out[k];
  // spawn's stdio array puts the sockets at 3, 4, ... in the child, whatever their number here.
  out.UNICORN_FD = Array.from({ length: fdCount }, (_, i) => 3 + i).join(',');
  return out;
}
