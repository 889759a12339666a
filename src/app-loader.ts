import type { RequestListener } from 'node:http';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ExitCode, PhoenixError, errnoOf } from './errors';

export const DEMO_APP = path.join(__dirname, 'demo-app.js');

/** Module path -> request handler. Accepts module.exports = fn, exports.default or exports.handler. */
export function resolveApp(app: string | undefined): string {
  const file = app ?? DEMO_APP;
  try {
    return require.resolve(file);
  } catch {
    throw new PhoenixError(
      `app module ${file} not found; give --app the path of a module that exports a request handler`,
      ExitCode.APP_MISSING,
    );
  }
}

/** What an app's process.exit() throws while it loads, so the exit is reported, not obeyed. */
class AppExited extends Error {
  constructor(readonly code: number) {
    super(`process.exit(${code})`);
  }
}

/**
 * TypeScript compiles import() to require() for CommonJS output, and require() cannot load an
 * ES module with top-level await: this import() is left as written.
 */
const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;

/** require() first (CommonJS, the common case); import() for what only import() loads. */
async function load(file: string): Promise<unknown> {
  try {
    return require(file);
  } catch (err) {
    const code = errnoOf(err);
    if (code !== 'ERR_REQUIRE_ASYNC_MODULE' && code !== 'ERR_REQUIRE_ESM') throw err;
  }
  return importModule(pathToFileURL(file).href);
}

/**
 * An app that exits while loading would take the worker (or `--check`) down with a bare exit
 * code and no word of which module or why: process.exit throws instead while the app loads.
 */
async function loadGuarded(file: string): Promise<unknown> {
  const exit = process.exit;
  process.exit = ((code?: number | string | null) => {
    throw new AppExited(Number(code ?? process.exitCode ?? 0));
  }) as typeof process.exit;
  try {
    return await load(file);
  } finally {
    process.exit = exit;
  }
}

export async function loadApp(app: string | undefined): Promise<RequestListener> {
  const file = resolveApp(app);
  let mod: unknown;
  try {
    mod = await loadGuarded(file);
  } catch (err) {
    if (err instanceof AppExited)
      throw new PhoenixError(
        `app module ${file} called process.exit(${err.code}) while loading; a module phoenix loads must ` +
          'export a request handler, and report a failure by throwing',
        ExitCode.APP_LOAD,
        'app-exited',
      );
    const msg = err instanceof Error ? (err.stack ?? err.message) : String(err);
    throw new PhoenixError(
      `app module ${file} threw while loading: ${msg.split('\n').slice(0, 3).join(' | ')}`,
      ExitCode.APP_LOAD,
      'app-threw',
    );
  }
  const m = mod as { default?: unknown; handler?: unknown };
  const candidate = typeof mod === 'function' ? mod : typeof m.default === 'function' ? m.default : m.handler;
  if (typeof candidate !== 'function') {
    throw new PhoenixError(
      `app module ${file} exports no request handler: export a function (req, res) as module.exports, default or handler`,
      ExitCode.APP_LOAD,
      'no-handler',
    );
  }
  return candidate as RequestListener;
}
