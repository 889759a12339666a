import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkJobFiles } from '../jobcheck';
import type { CheckResult, TeamFile } from './types';
import { unitType } from './units';

/**
 * The tools a team already has, run on copies in a temp dir (never on the team's files in
 * place): the upstart 1.5 job checker, `systemd-analyze verify`, `ruby -c`, `nginx -t`. A tool
 * that is not on this host is reported as skipped with the reason, never as passed.
 */

function which(candidates: readonly string[]): string | undefined {
  return candidates.find((p) => fs.existsSync(p));
}

export function jobChecks(jobs: readonly TeamFile[]): CheckResult[] {
  return checkJobFiles(jobs.map((j) => ({ fileName: j.path, text: j.text }))).map((r) => {
    const errors = r.problems.filter((p) => p.severity === 'error');
    return {
      tool: 'upstart 1.5 job checker (lab/jobcheck)',
      file: r.fileName,
      status: errors.length > 0 ? 'error' : 'ok',
      messages: r.problems.map((p) => `${r.fileName}:${p.line}: ${p.severity}: ${p.message}`),
    };
  });
}

/**
 * Units are verified as systemd will load them: one socket and one service are verified as a
 * pair (the service under the name the socket starts), drop-ins in NAME.service.d/. A command
 * that is not on this host (the wrapper's node, installed in the image) is said as such: it is
 * not a fault of the unit.
 */
export function verifyUnits(units: readonly TeamFile[]): CheckResult[] {
  if (units.length === 0) return [];
  const tool = 'systemd-analyze verify';
  const bin = which(['/usr/bin/systemd-analyze', '/bin/systemd-analyze']);
  const file = units.map((u) => u.path).join(', ');
  if (bin === undefined)
    return [
      {
        tool,
        file,
        status: 'skipped',
        messages: ['systemd-analyze is not on this host (apt-get install systemd): the units were not verified'],
      },
    ];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-audit-units-'));
  try {
    const sockets = units.filter((u) => unitType(u.path, u.text) === 'socket');
    const services = units.filter((u) => /\.service$/.test(u.path));
    const nameOf = new Map<string, string>();
    for (const u of units) nameOf.set(u.path, path.basename(u.path));
    if (sockets.length === 1 && services.length === 1 && !/^Service=/m.test(sockets[0].text)) {
      nameOf.set(services[0].path, path.basename(sockets[0].path).replace(/\.socket$/, '.service'));
    }
    const service = services[0] ? nameOf.get(services[0].path) : undefined;
    const verified: string[] = [];
    for (const u of units) {
      const isDropIn = !/\.(service|socket)$/.test(u.path);
      const name = nameOf.get(u.path) ?? path.basename(u.path);
      const target = isDropIn && service ? path.join(dir, `${service}.d`, name) : path.join(dir, name);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, u.text);
      if (!isDropIn) verified.push(target);
    }
    const r = spawnSync(bin, ['verify', ...verified], { encoding: 'utf8', cwd: dir, timeout: 20_000 });
    const back = (s: string) => {
      let out = s;
      for (const u of units) out = out.split(path.join(dir, nameOf.get(u.path) ?? '')).join(u.path);
      return out.split(`${dir}/`).join('');
    };
    const lines = `${r.stdout ?? ''}${r.stderr ?? ''}`
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map(back);
    // ExecStart= of a program the image has and this host has not: not the unit's fault.
    const notHere = (l: string) => /Command (\/\S+) is not executable: No such file or directory/.test(l);
    const faults = lines.filter((l) => !notHere(l));
    return [
      {
        tool,
        file,
        status: faults.length > 0 ? 'error' : 'ok',
        messages: [
          ...faults,
          ...lines.filter(notHere).map((l) => `${l} (on this host; the lab's image has it: not a fault of the unit)`),
        ],
      },
    ];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function rubySyntax(file: TeamFile): CheckResult {
  const tool = 'ruby -c';
  const bin = which(['/usr/bin/ruby', '/usr/local/bin/ruby']);
  if (bin === undefined)
    return { tool, file: file.path, status: 'skipped', messages: ['ruby is not on this host (apt-get install ruby)'] };
  const r = spawnSync(bin, ['-c'], { input: file.text, encoding: 'utf8', timeout: 10_000 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.replace(/-:(\d+):/g, `${file.path}:$1:`).trim();
  return {
    tool,
    file: file.path,
    status: r.status === 0 ? 'ok' : 'error',
    messages: r.status === 0 ? [] : out.split('\n'),
  };
}

/**
 * `nginx -t` of the site included by a minimal nginx.conf in a temp prefix (never /etc/nginx).
 * Log paths are moved into the temp dir (each rewrite said), because nginx -t opens them.
 */
export function nginxTest(site: TeamFile): CheckResult {
  const tool = 'nginx -t';
  const bin = which(['/usr/sbin/nginx', '/usr/local/sbin/nginx']);
  if (bin === undefined)
    return {
      tool,
      file: site.path,
      status: 'skipped',
      messages: ['nginx is not on this host (apt-get install nginx): the site was not tested'],
    };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-audit-nginx-'));
  try {
    const rewrites: string[] = [];
    const lines = site.text.split('\n').map((l, i) =>
      l.replace(/^(\s*(?:access_log|error_log)\s+)(\/[^\s;]+)/, (_all, head: string, p: string) => {
        const to = path.join(dir, `${i + 1}-${path.basename(p)}`);
        rewrites.push(`${site.path}:${i + 1}: ${p} -> a temp file (nginx -t opens its logs)`);
        return `${head}${to}`;
      }),
    );
    fs.writeFileSync(path.join(dir, 'site.conf'), lines.join('\n'));
    const conf = path.join(dir, 'nginx.conf');
    fs.writeFileSync(
      conf,
      [
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log;`,
        'events { worker_connections 64; }',
        'http {',
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path ${dir}/${t};`),
        `    access_log ${dir}/access.log;`,
        `    include ${dir}/site.conf;`,
        '}',
        '',
      ].join('\n'),
    );
    const help = spawnSync(bin, ['-h'], { encoding: 'utf8' });
    const early = /-e filename/.test(`${help.stdout}${help.stderr}`) ? ['-e', path.join(dir, 'startup.log')] : [];
    const r = spawnSync(bin, [...early, '-p', `${dir}/`, '-c', conf, '-t'], { encoding: 'utf8', timeout: 10_000 });
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`
      .split(path.join(dir, 'site.conf'))
      .join(site.path)
      .split('\n')
      .filter((l) => l.trim() !== '' && !/syntax is ok|test is successful/.test(l))
      .map((l) => l.split(`${dir}/`).join(''));
    return {
      tool,
      file: site.path,
      status: r.status === 0 ? 'ok' : 'error',
      messages: r.status === 0 ? rewrites : [...out, ...rewrites],
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
