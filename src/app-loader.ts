import type { RequestListener } from 'node:http';
import * as path from 'node:path';
import { ExitCode, PhoenixError } from './errors';

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

export function loadApp(app: string | undefined): RequestListener {
  const file = resolveApp(app);
  let mod: unknown;
  try {
    mod = require(file);
  } catch (err) {
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
