// The nginx sites under images/**/nginx/: each one, wrapped in a minimal
// nginx.conf in a temp dir, passes `nginx -t`; a broken copy does not; they
// use nothing newer than nginx 1.1.19 (Ubuntu 12.04); and the phoenix and
// unicorn sites really proxy to their unix sockets and log
// $upstream_response_time.

import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, Server } from 'node:http';
import { AddressInfo, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT } from '../support/root';

const NGINX = ['/usr/sbin/nginx', '/usr/local/sbin/nginx'].find((p) => existsSync(p));
const skip = NGINX === undefined ? 'nginx is not installed (apt-get install nginx)' : false;

function siteFiles(dir: string, inNginx = false): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...siteFiles(path, inNginx || entry.name === 'nginx'));
    else if (inNginx && entry.name.endsWith('.conf')) found.push(path);
  }
  return found.sort();
}

const SITES = siteFiles(join(ROOT, 'images'));

async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

interface Sandbox {
  dir: string;
  conf: string;
  /** Where the rewritten site's unix upstream points, inside dir. */
  socket: string;
}

const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/**
 * A site rewritten to stay inside a temp dir (logs, unix upstreams, listen
 * on 127.0.0.1) and
 * wrapped in the smallest nginx.conf that includes it, as Debian's does.
 */
function sandbox(site: string, port: number): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'nginx-conf-'));
  temps.push(dir);
  // nginx's www-data workers must reach the upstream socket in here.
  chmodSync(dir, 0o755);
  let text = site
    .replace(/^(\s*listen\s+)[^;]*;/gm, `$1127.0.0.1:${port};`)
    .replace(
      /^(\s*(?:access_log|error_log)\s+)(\/[^\s;]+)/gm,
      (_all, head: string, path: string) => `${head}${join(dir, basename(path))}`,
    );
  const socket = join(dir, 'phoenix.sock');
  text = text.replace(/unix:\/[^\s;]+/g, `unix:${socket}`);
  assert.match(text, new RegExp(`listen\\s+127\\.0\\.0\\.1:${port};`), 'the site has no listen directive to rewrite');
  writeFileSync(join(dir, 'site.conf'), text);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    [
      'user www-data;',
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log;`,
      'events { worker_connections 64; }',
      'http {',
      `    client_body_temp_path ${dir}/client_body;`,
      `    proxy_temp_path ${dir}/proxy;`,
      `    fastcgi_temp_path ${dir}/fastcgi;`,
      `    uwsgi_temp_path ${dir}/uwsgi;`,
      `    scgi_temp_path ${dir}/scgi;`,
      `    access_log ${dir}/access.log;`,
      `    include ${dir}/site.conf;`,
      '}',
      '',
    ].join('\n'),
  );
  return { dir, conf, socket };
}

function nginxArgs(box: Sandbox, ...more: string[]): string[] {
  // -e (nginx 1.19.5+) keeps even the startup error log out of /var/log.
  const help = spawnSync(NGINX ?? 'nginx', ['-h'], { encoding: 'utf8' });
  const early = /-e filename/.test(`${help.stdout}${help.stderr}`) ? ['-e', join(box.dir, 'startup-error.log')] : [];
  return [...early, '-p', `${box.dir}/`, '-c', box.conf, ...more];
}

function nginxTest(box: Sandbox): { status: number | null; output: string } {
  const result = spawnSync(NGINX ?? 'nginx', nginxArgs(box, '-t'), { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

// Directives, parameters and variables that nginx 1.1.19 does not have yet.
const NEWER_THAN_1_1_19: Array<[RegExp, string]> = [
  [/\bhttp2\b/, 'http2 (1.9.5)'],
  [/\breuseport\b/, 'listen ... reuseport (1.9.1)'],
  [/\bproxy_request_buffering\b/, 'proxy_request_buffering (1.7.11)'],
  [/\bproxy_next_upstream_(tries|timeout)\b/, 'proxy_next_upstream_tries/_timeout (1.7.5)'],
  [/\bproxy_socket_keepalive\b/, 'proxy_socket_keepalive (1.15.6)'],
  [/\babsolute_redirect\b/, 'absolute_redirect (1.11.8)'],
  [/\badd_header\b[^;]*\balways\s*;/, 'add_header ... always (1.7.5)'],
  [/^\s*stream\s*\{/m, 'stream {} (1.9.0)'],
  [/\b(access_log|error_log)\s+syslog:/, 'logging to syslog: (1.7.1)'],
  [/\baccess_log\b[^;]*\bif=/, 'access_log ... if= (1.7.0)'],
  [/\blimit_(req|conn)_status\b/, 'limit_req_status/limit_conn_status (1.3.15)'],
  [/\$request_id\b/, '$request_id (1.11.0)'],
  [/\$upstream_connect_time\b/, '$upstream_connect_time (1.9.1)'],
  [/\$upstream_header_time\b/, '$upstream_header_time (1.7.10)'],
  [/\$upstream_bytes_(received|sent)\b/, '$upstream_bytes_received/_sent (1.11.4/1.15.8)'],
  [/\$proxy_protocol_addr\b/, '$proxy_protocol_addr (1.5.12)'],
];

const stripComments = (text: string): string => text.replace(/#.*$/gm, '');

describe('nginx sites under images/**/nginx/', () => {
  it('includes the phoenix and unicorn sites', () => {
    for (const site of ['phoenix-site.conf', 'unicorn-site.conf']) {
      assert.ok(
        SITES.some((s) => s.endsWith(join('images', 'conf', 'nginx', site))),
        `${site} not found in: ${SITES.join(', ')}`,
      );
    }
  });

  for (const site of SITES) {
    const name = site.slice(ROOT.length + 1);

    it(`${name}: passes nginx -t wrapped in a minimal nginx.conf`, { skip }, async () => {
      const result = nginxTest(sandbox(readFileSync(site, 'utf8'), await freePort()));
      assert.equal(result.status, 0, result.output);
      assert.match(result.output, /test is successful/);
    });

    it(`${name}: a broken copy fails nginx -t`, { skip }, async () => {
      const broken = readFileSync(site, 'utf8').replace(/\}\s*$/, '');
      assert.notEqual(broken, readFileSync(site, 'utf8'), 'could not break the site: it does not end with }');
      const result = nginxTest(sandbox(broken, await freePort()));
      assert.notEqual(result.status, 0, result.output);
      assert.match(result.output, /emerg/);
    });

    it(`${name}: uses nothing newer than nginx 1.1.19 and no upstream keepalive`, () => {
      const text = stripComments(readFileSync(site, 'utf8'));
      const newer = NEWER_THAN_1_1_19.filter(([pattern]) => pattern.test(text)).map(([, what]) => what);
      assert.deepEqual(newer, []);
      for (const upstream of text.match(/\bupstream\s+\S+\s*\{[^}]*\}/g) ?? []) {
        assert.doesNotMatch(upstream, /\bkeepalive\b/, 'upstream keepalive: each request must open its own connection');
      }
    });
  }

  for (const app of ['phoenix', 'unicorn']) {
    it(`the ${app} site proxies to /var/run/${app}/${app}.sock and logs $upstream_response_time`, () => {
      const text = stripComments(readFileSync(join(ROOT, `images/conf/nginx/${app}-site.conf`), 'utf8'));
      assert.match(text, new RegExp(`upstream\\s+${app}\\s*\\{[^}]*server\\s+unix:/var/run/${app}/${app}\\.sock\\b`));
      assert.match(text, new RegExp(`proxy_pass\\s+http://${app}\\s*;`));
      assert.match(text, /log_format\s+\S+[^;]*\$upstream_response_time/);
      assert.match(text, /^\s*listen\s+80\s*;/m);
      assert.match(text, new RegExp(`error_log\\s+/var/log/nginx/${app}-error\\.log\\s*;`));
      for (const directive of ['proxy_connect_timeout', 'proxy_send_timeout', 'proxy_read_timeout']) {
        assert.match(text, new RegExp(`\\b${directive}\\s+\\d+s?\\s*;`), `${directive} is not set`);
      }
    });
  }

  it('the phoenix and unicorn sites use their own log_format and upstream names (both can be installed)', () => {
    const names = (app: string, what: string): string[] => {
      const text = stripComments(readFileSync(join(ROOT, `images/conf/nginx/${app}-site.conf`), 'utf8'));
      return [...text.matchAll(new RegExp(`\\b${what}\\s+(\\S+)`, 'g'))].map((m) => m[1]);
    };
    for (const what of ['log_format', 'upstream']) {
      assert.deepEqual(names('unicorn', what), ['unicorn'], what);
      assert.deepEqual(names('phoenix', what), ['phoenix'], what);
    }
  });
});

async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path: '/hello', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

describe('the phoenix and unicorn sites, served by a real nginx', () => {
  for (const app of ['phoenix', 'unicorn']) {
    it(`${app}: proxies a request to the unix socket and logs the upstream response time`, { skip }, async () => {
      const port = await freePort();
      const box = sandbox(readFileSync(join(ROOT, `images/conf/nginx/${app}-site.conf`), 'utf8'), port);
      const socket = box.socket;
      const upstream: Server = createServer((req, res) =>
        res.end(`phoenix saw ${req.url} via ${req.headers['x-real-ip'] ?? '?'}`),
      );
      await new Promise<void>((done) => upstream.listen(socket, done));
      // The socket's mode follows the umask (0755): www-data could not connect.
      chmodSync(socket, 0o666);
      let nginx: ChildProcess | undefined;
      try {
        nginx = spawn(NGINX ?? 'nginx', nginxArgs(box, '-g', 'daemon off;'), { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        nginx.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const pidFile = join(box.dir, 'nginx.pid');
        await waitFor(() => existsSync(pidFile) || nginx?.exitCode !== null, 'nginx to start');
        assert.equal(nginx.exitCode, null, `nginx exited: ${stderr}`);
        const reply = await get(port);
        assert.equal(reply.status, 200, reply.body);
        assert.equal(reply.body, 'phoenix saw /hello via 127.0.0.1');
        const log = join(box.dir, `${app}-access.log`);
        await waitFor(
          () => existsSync(log) && /urt=\d+\.\d+/.test(readFileSync(log, 'utf8')),
          'an access log line with the upstream response time',
        );
      } finally {
        if (nginx?.pid !== undefined && nginx.exitCode === null) {
          const exited = new Promise((done) => nginx?.once('exit', done));
          nginx.kill('SIGQUIT');
          await exited;
        }
        await new Promise<void>((done) => upstream.close(() => done()));
      }
    });
  }
});
