import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/**
 * A real Debian nginx on the host, owned by one object: its config, temp dirs, pid and logs
 * live in one folder, it listens on 127.0.0.1 only, and stop() always leaves nothing running.
 */
export interface Site {
  port: number;
  /** unix socket path to proxy to; undefined = `return 200` (nginx alone) */
  upstream?: string;
}

export const NGINX = '/usr/sbin/nginx';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export function nginxConfig(dir: string, sites: Site[], workers = 1): string {
  // Debian runs nginx workers as www-data: that is the permission case the lab is about.
  const user = process.getuid?.() === 0 ? 'user www-data;' : '';
  const servers = sites
    .map((s) => {
      const body = s.upstream
        ? `location / {\n        proxy_pass http://unix:${s.upstream}:;\n        proxy_read_timeout 60s;\n      }`
        : 'location / { return 200 "ok\\n"; }';
      return `    server {\n      listen 127.0.0.1:${s.port};\n      ${body}\n    }`;
    })
    .join('\n');
  return `daemon off;
${user}
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path ${dir}/body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
${servers}
}
`;
}

function waitForPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > until) reject(new Error(`nginx did not listen on 127.0.0.1:${port} within ${ms} ms`));
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

export class HostNginx {
  private proc: ChildProcess | undefined;
  readonly conf: string;

  constructor(
    readonly dir: string,
    readonly sites: Site[],
    workers = 1,
  ) {
    fs.mkdirSync(dir, { recursive: true });
    this.conf = path.join(dir, 'nginx.conf');
    fs.writeFileSync(this.conf, nginxConfig(dir, sites, workers));
  }

  async start(): Promise<void> {
    if (!fs.existsSync(NGINX)) throw new Error(`${NGINX} not found: install Debian's nginx (apt-get install nginx)`);
    const test = spawnSync(NGINX, ['-t', '-q', '-c', this.conf, '-e', path.join(this.dir, 'error.log')], {
      encoding: 'utf8',
    });
    if (test.status !== 0) throw new Error(`nginx rejected ${this.conf}: ${test.stderr}`);
    this.proc = spawn(NGINX, ['-c', this.conf, '-e', path.join(this.dir, 'error.log')], { stdio: 'ignore' });
    await Promise.all(this.sites.map((s) => waitForPort(s.port, 5000)));
  }

  errorLog(): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** SIGHUP: nginx re-reads its config and replaces its workers gracefully. */
  reload(): void {
    this.proc?.kill('SIGHUP');
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }
}
