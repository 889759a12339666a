import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LabError, LabExit } from '../errors';

/**
 * An `--app` with a Gemfile: its gems come from its own vendor/cache, installed with
 * `bundle install --local`, since the lab has no network. The images' Ruby is Debian's 3.1
 * with its bundler 2.3 (the command is `bundle3.1`: Debian's `bundler` package, which adds
 * `bundle`, is not in the images), and so is this machine's when it has Ruby: the same
 * resolution is tried here first, on a copy, so gems that cannot be resolved offline are
 * refused before anything boots.
 */

/** Debian's ruby3.1 names bundler's command after the Ruby it belongs to. */
export const BUNDLE = 'bundle3.1';

/** The app folder's bundle lives here in the lab: every gem in Ruby's own gem dir, as `gem install` puts it. */
export const installCommand = (appRoot: string): string =>
  `cd '${appRoot}' && BUNDLE_GEMFILE='${appRoot}/Gemfile' ${BUNDLE} install --local --no-color 2>&1`;

export interface OfflineCheck {
  /** false: this machine has no bundler to try with; the lab's own install will say */
  tried: boolean;
  ok: boolean;
  /** bundler's last lines when it failed */
  output: string;
}

/** `bundle install --local` on a copy of the app (the team's folder is only read), into a temp dir. */
export function tryOffline(app: string): OfflineCheck {
  const probe = spawnSync(BUNDLE, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return { tried: false, ok: true, output: '' };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-audit-gems-'));
  try {
    const copy = path.join(tmp, 'app');
    fs.cpSync(app, copy, { recursive: true, filter: (src) => path.basename(src) !== '.bundle' });
    const r = spawnSync(BUNDLE, ['install', '--local', '--no-color'], {
      cwd: copy,
      encoding: 'utf8',
      timeout: 120_000,
      env: {
        ...process.env,
        BUNDLE_GEMFILE: path.join(copy, 'Gemfile'),
        BUNDLE_PATH: path.join(tmp, 'gems'),
        BUNDLE_APP_CONFIG: path.join(tmp, 'bundle-config'),
        BUNDLE_USER_HOME: path.join(tmp, 'bundle-home'),
        // No network: a resolution that would need rubygems.org must fail here as in the lab.
        BUNDLE_DISABLE_VERSION_CHECK: 'true',
        http_proxy: 'http://127.0.0.1:9',
        https_proxy: 'http://127.0.0.1:9',
      },
    });
    const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
    return { tried: true, ok: r.status === 0, output };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The last lines of bundler's output, for one message. */
export const tail = (text: string, n = 4): string =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-n)
    .join(' / ');

/** Refuses an app whose gems bundler cannot resolve from vendor/cache alone: exit 2, the file named. */
export function requireOffline(app: string): void {
  if (!fs.existsSync(path.join(app, 'Gemfile'))) return;
  const c = tryOffline(app);
  if (!c.ok)
    throw new LabError(
      `lab audit: ${path.join(app, 'Gemfile')}: \`${BUNDLE} install --local\` cannot install its gems from ` +
        `${path.join(app, 'vendor', 'cache')} without the network (${tail(c.output)}): run \`bundle package --all\` ` +
        'in the app (gems for ruby 3.1, x86_64-linux or pure Ruby) and audit again, or audit without --app',
      LabExit.USAGE,
    );
}
