// lab audit --static on its example folders (lab/audit/examples/), through the command a team
// runs: each folder modelled on a public report is flagged with the scenarios that reproduce
// it, the recommended recipe comes back clean on both inits and stays a byte-for-byte copy of
// the shipped recipe, each audit takes under 5 s, the audited files are left exactly as they
// were (bytes and mtimes), and the fixes it prints, applied with patch(1), leave a clean audit.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT } from '../support/root';

const CLI = join(ROOT, 'dist/lab/cli.js');
const EXAMPLES = join(ROOT, 'lab/audit/examples');

const EXPECTED: Record<string, string[]> = {
  'seed-poc': ['seed-poc', 'unicorn-initctl-reload', 'socket-permissions', 'unicorn-bridge-traps'],
  'exec-respawn': ['unicorn-exec-respawn'],
  'daemon-expect-fork': ['unicorn-daemon-expect'],
  'herder-sleeps': ['unicorn-herder-sleeps'],
  'systemd-forking-no-pidfile': ['unicorn-systemd-forking'],
  'recommended-upstart': [],
  'recommended-systemd': [],
};

/** The recommended examples are copies of these shipped files, and nothing else. */
const RECIPE_COPIES: Record<string, Record<string, string>> = {
  'recommended-upstart': {
    'unicorn-wrapper.conf': 'images/conf/unicorn/upstart/unicorn-wrapper.conf',
    'socket-permissions.conf': 'images/conf/upstart/container/socket-permissions.conf',
    'bridge-socket-refresh.conf': 'images/conf/upstart/container/bridge-socket-refresh.conf',
    'unicorn.rb': 'images/conf/unicorn/unicorn.rb',
    'unicorn-site.conf': 'images/conf/nginx/unicorn-site.conf',
    'config.ru': 'images/conf/unicorn/config.ru',
  },
  'recommended-systemd': {
    'unicorn.socket': 'images/conf/systemd/unicorn.socket',
    'unicorn-wrapper.service': 'images/conf/systemd/unicorn-wrapper.service',
    'unicorn.rb': 'images/conf/unicorn/unicorn.rb',
    'unicorn-site.conf': 'images/conf/nginx/unicorn-site.conf',
    'config.ru': 'images/conf/unicorn/config.ru',
  },
};

const tools = ['ruby', 'nginx', 'patch'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
const skip = tools.length ? `not on this host: ${tools.join(', ')}` : false;

interface Json {
  flavour: string;
  findings: Array<{ scenario: string; fixes: Array<{ file: string; diff: string }> }>;
  checks: Array<{ tool: string; status: string; messages: string[] }>;
  seconds: number;
}

function audit(args: string[], cwd = ROOT): { status: number | null; json: Json; ms: number; stderr: string } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [CLI, 'audit', '--static', '--json', ...args], { cwd, encoding: 'utf8' });
  const ms = Date.now() - t0;
  assert.equal(r.stderr, '', 'nothing on stderr');
  return { status: r.status, json: JSON.parse(r.stdout) as Json, ms, stderr: r.stderr };
}

function snapshot(dir: string): Map<string, { bytes: Buffer; mtimeMs: number }> {
  const out = new Map<string, { bytes: Buffer; mtimeMs: number }>();
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const p = join(e.parentPath ?? e.path, e.name);
    if (e.isFile()) out.set(p, { bytes: readFileSync(p), mtimeMs: statSync(p).mtimeMs });
  }
  return out;
}

const temps: string[] = [];
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

describe('lab audit --static on lab/audit/examples/', () => {
  it('has the folders the issue lists, and only audited ones', () => {
    assert.deepEqual(readdirSync(EXAMPLES).sort(), Object.keys(EXPECTED).sort());
  });

  for (const [dir, copies] of Object.entries(RECIPE_COPIES)) {
    it(`${dir} is the shipped recipe, byte for byte (it cannot drift from it)`, () => {
      assert.deepEqual(readdirSync(join(EXAMPLES, dir)).sort(), Object.keys(copies).sort());
      for (const [name, shipped] of Object.entries(copies))
        assert.ok(
          readFileSync(join(EXAMPLES, dir, name)).equals(readFileSync(join(ROOT, shipped))),
          `${dir}/${name} differs from ${shipped}: copy it again (cp ${shipped} lab/audit/examples/${dir}/${name})`,
        );
    });
  }

  const before = snapshot(EXAMPLES);
  for (const [dir, scenarios] of Object.entries(EXPECTED)) {
    it(
      `${dir}: ${scenarios.length ? scenarios.join(', ') : 'clean'}, exit ${scenarios.length ? 1 : 0}, under 5 s`,
      { skip },
      () => {
        const r = audit(['--dir', join('lab/audit/examples', dir)]);
        assert.deepEqual([...new Set(r.json.findings.map((f) => f.scenario))], scenarios);
        assert.deepEqual(
          r.json.checks.filter((c) => c.status !== 'ok').map((c) => `${c.tool}: ${c.messages.join('; ')}`),
          [],
          'every check passes on the examples',
        );
        assert.equal(r.status, scenarios.length ? 1 : 0);
        assert.ok(r.ms < 5000, `took ${r.ms} ms`);
        for (const f of r.json.findings) assert.ok(f.fixes.length > 0, `${f.scenario}: no fix`);
      },
    );
  }

  it("leaves the team's files exactly as they were: bytes and mtimes", { skip }, () => {
    for (const dir of Object.keys(EXPECTED)) audit(['--dir', join('lab/audit/examples', dir)]);
    const now = snapshot(EXAMPLES);
    assert.deepEqual([...now.keys()].sort(), [...before.keys()].sort(), 'no file added or removed');
    for (const [p, s] of before) {
      assert.ok(now.get(p)!.bytes.equals(s.bytes), `${p} changed`);
      assert.equal(now.get(p)!.mtimeMs, s.mtimeMs, `${p} was written`);
    }
  });

  for (const dir of Object.keys(EXPECTED).filter((d) => EXPECTED[d].length > 0)) {
    it(`${dir}: its fixes, applied with patch -p1 one round at a time, leave a clean audit`, { skip }, () => {
      const tmp = mkdtempSync(join(tmpdir(), 'audit-fix-'));
      temps.push(tmp);
      cpSync(join(EXAMPLES, dir), join(tmp, dir), { recursive: true });
      let r = audit(['--dir', dir], tmp);
      // Each diff is against the file as audited: one diff per file per round, then audit again.
      for (let round = 0; round < 3 && r.json.findings.length > 0; round++) {
        const perFile = new Map<string, string>();
        for (const f of r.json.findings) for (const x of f.fixes) if (!perFile.has(x.file)) perFile.set(x.file, x.diff);
        for (const [file, diff] of perFile) {
          const p = spawnSync('patch', ['-p1', '--batch', '--silent'], { cwd: tmp, input: diff, encoding: 'utf8' });
          assert.equal(p.status, 0, `patch of ${file}: ${p.stdout}${p.stderr}\n${diff}`);
        }
        r = audit(['--dir', dir], tmp);
      }
      assert.deepEqual(
        r.json.findings.map((f) => f.scenario),
        [],
        'still exposed after the fixes',
      );
      assert.deepEqual(
        r.json.checks.filter((c) => c.status === 'error').map((c) => c.messages),
        [],
      );
      assert.equal(r.status, 0);
    });
  }
});
