// lab audit's fixes: the unified diff it prints applies with patch(1) and reads like diff -u;
// the fix is the recipe as it is at run time (change the recipe and the fix changes) with the
// recipe's paths replaced by the team's; config fixes replace the team's own statement.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { auditStatic } from '../../lab/audit';
import { unifiedDiff } from '../../lab/audit/diff';
import { RECIPE, recipeStatement, rubyBlock } from '../../lab/audit/fix';
import { ROOT } from '../support/root';

const temps: string[] = [];
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'audit-fix-'));
  temps.push(d);
  return d;
}
const hasPatch = spawnSync('sh', ['-c', 'command -v patch && command -v diff']).status === 0;
const hasRuby = spawnSync('sh', ['-c', 'command -v ruby']).status === 0;

function applies(before: string, after: string): void {
  const d = tempDir();
  writeFileSync(join(d, 'f'), before);
  const diff = unifiedDiff(before, after, 'a/f', 'b/f');
  const r = spawnSync('patch', ['-p1', '--batch', '--silent'], { cwd: d, input: diff, encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}\n${diff}`);
  assert.equal(readFileSync(join(d, 'f'), 'utf8'), after);
}

describe('lab audit: the diff', () => {
  it('is empty for equal texts', () => assert.equal(unifiedDiff('a\n', 'a\n', 'x', 'y'), ''));

  it(
    'applies with patch -p1: a change, far-apart changes, an append, a new file, everything replaced',
    { skip: !hasPatch },
    () => {
      const base = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
      applies(base, base.replace('line 2\n', 'line two\n'));
      applies(base, base.replace('line 3\n', '').replace('line 27\n', 'line 27\nnew 27b\n'));
      applies(base, `${base}appended\n`);
      applies('', 'a new file\n');
      applies('a\nb\n', 'c\nd\ne\n');
    },
  );

  it('has the hunks diff -u has for a plain change', { skip: !hasPatch }, () => {
    const d = tempDir();
    const a = 'one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n';
    const b = a.replace('two', 'TWO').replace('nine', 'NINE');
    writeFileSync(join(d, 'a'), a);
    writeFileSync(join(d, 'b'), b);
    const ref = spawnSync('diff', ['-u', 'a', 'b'], { cwd: d, encoding: 'utf8' }).stdout;
    const body = (s: string) => s.split('\n').slice(2).join('\n');
    assert.equal(body(unifiedDiff(a, b, 'a', 'b')), body(ref));
  });
});

describe('lab audit: fixes come from the recipe', () => {
  it('reads Ruby blocks and statements of the recipe config as unicorn.rb has them', () => {
    const rb = readFileSync(join(ROOT, RECIPE.config), 'utf8');
    const bf = recipeStatement(rb, 'before_fork');
    assert.ok(bf && /^before_fork do/m.test(bf.join('\n')) && bf[bf.length - 1] === 'end');
    assert.match(recipeStatement(rb, 'pid')!.join('\n'), /^pid /m);
    assert.deepEqual(rubyBlock(['x do |a|', '  y', 'end', 'z'], 0), [0, 2]);
  });

  it('follows the recipe as it changes: a line added to the shipped job shows in the fix', { skip: !hasRuby }, () => {
    const root = tempDir();
    cpSync(join(ROOT, 'images/conf'), join(root, 'images/conf'), { recursive: true });
    const job = join(root, RECIPE.job);
    writeFileSync(job, `${readFileSync(job, 'utf8')}# a line the recipe gained today\n`);
    const r = auditStatic({ dir: join(ROOT, 'lab/audit/examples/exec-respawn'), units: [], root });
    const diff = r.findings.find((f) => f.scenario === 'unicorn-exec-respawn')!.fixes[0].diff;
    assert.match(diff, /^\+# a line the recipe gained today$/m);
    const shipped = auditStatic({ dir: join(ROOT, 'lab/audit/examples/exec-respawn'), units: [] });
    assert.doesNotMatch(shipped.findings[0].fixes[0].diff, /a line the recipe gained today/);
  });

  it("puts the team's paths in place of the recipe's", { skip: !hasRuby }, () => {
    const d = tempDir();
    writeFileSync(
      join(d, 'app.conf'),
      'description "app"\nstart on socket PROTO=unix PATH=/srv/app/shared/app.sock\nkill timeout 40\nchdir /srv/app/current\n' +
        'script\n  exec /usr/bin/env UNICORN_FD="$UPSTART_FDS" /usr/bin/unicorn -c /srv/app/current/config/unicorn.rb /srv/app/current/config.ru\nend script\n',
    );
    writeFileSync(
      join(d, 'unicorn.rb'),
      'worker_processes 3\npid "/srv/app/shared/pids/unicorn.pid"\nworking_directory "/srv/app/current"\n',
    );
    const r = auditStatic({ dir: d, units: [] });
    const diff = r.findings.find((f) => f.scenario === 'seed-poc')!.fixes[0].diff;
    for (const p of [
      'PATH=/srv/app/shared/app.sock',
      '--pid /srv/app/shared/pids/unicorn.pid',
      '-c /srv/app/current/config/unicorn.rb /srv/app/current/config.ru',
    ])
      assert.ok(diff.includes(p), `${p} not in:\n${diff}`);
    assert.doesNotMatch(diff, /^-chdir/m, "the team's chdir is the recipe's, with the team's path");
    assert.doesNotMatch(
      diff
        .split('\n')
        .filter((l) => !l.startsWith('#') && !/^[+ -]#/.test(l))
        .join('\n'),
      /\/var\/run\/unicorn|\/opt\/unicorn\/app/,
    );
  });

  it("replaces the team's own before_fork and adds pid after worker_processes", { skip: !hasRuby }, () => {
    const d = tempDir();
    cpSync(join(ROOT, 'lab/audit/examples/recommended-upstart'), d, { recursive: true });
    writeFileSync(
      join(d, 'unicorn.rb'),
      'worker_processes 2\ntimeout 30\n\nbefore_fork do |server, worker|\n  server.logger.info("forking")\nend\n',
    );
    const r = auditStatic({ dir: d, units: [] });
    const bf = r.findings.find((f) => f.rule === 'no-quit-oldbin')!.fixes[0].diff;
    assert.match(bf, /^- {2}server\.logger\.info\("forking"\)$/m);
    assert.match(bf, /^\+ {4}old_pid = "#\{server\.config\[:pid\]\}\.oldbin"$/m);
    const pid = r.findings.find((f) => f.rule === 'no-pid-file')!.fixes[0].diff;
    assert.match(pid, /^ worker_processes 2\n\+pid ENV\['UNICORN_PID'\] \|\| '\/var\/run\/unicorn\/unicorn\.pid'$/m);
  });
});
