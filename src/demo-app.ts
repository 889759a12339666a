import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The default app: small routes that make a server's lifecycle visible. The version is read
 * when the module loads, so a new worker generation shows new code from disk.
 */
const VERSION = (() => {
  const file = process.env.DEMO_VERSION_FILE;
  if (file) {
    try {
      return fs.readFileSync(file, 'utf8').trim();
    } catch {
      /* fall back below */
    }
  }
  return process.env.DEMO_VERSION ?? '1';
})();

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

function msParam(url: URL, fallback: number): number {
  const n = Number(url.searchParams.get('ms') ?? fallback);
  return Number.isFinite(n) && n >= 0 ? Math.min(n, 600_000) : fallback;
}

export default function demoApp(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const who = {
    pid: process.pid,
    master: process.ppid,
    worker: Number(process.env.PHOENIX_WORKER_SLOT ?? -1),
    generation: Number(process.env.PHOENIX_GENERATION ?? 0),
    version: VERSION,
  };
  switch (url.pathname) {
    case '/':
      return json(res, 200, who);
    case '/health':
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end('ok\n');
    case '/slow': {
      // In flight across an upgrade: the worker must finish it before it exits.
      const ms = msParam(url, 1000);
      const t = setTimeout(() => json(res, 200, { ...who, slept: ms }), ms);
      req.once('close', () => {
        if (!res.writableEnded) clearTimeout(t);
      });
      return;
    }
    case '/block': {
      // Blocks the event loop: what the master's --timeout is for.
      const until = Date.now() + msParam(url, 60_000);
      while (Date.now() < until) {
        /* busy on purpose */
      }
      return json(res, 200, who);
    }
    case '/crash':
      // The worker dies mid-request, as a segfault or an OOM kill would: no answer is sent.
      return void process.exit(1);
    default:
      return json(res, 404, { error: 'not found', path: url.pathname });
  }
}
