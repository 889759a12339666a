// An --app with a Gemfile: its gems are resolved from vendor/cache alone, with this machine's
// own bundler (the images' Ruby and bundler are the same Debian 3.1 / 2.3), before anything
// boots. A gem built here stands in for a team's vendored gem.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BUNDLE, requireOffline, tryOffline } from '../../lab/audit/gems';
import { LabError, LabExit } from '../../lab/errors';

const hasBundler = spawnSync(BUNDLE, ['--version']).status === 0;
const tmp = mkdtempSync(join(tmpdir(), 'audit-gems-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A Rack app whose Gemfile asks `hello` REQUIREMENT, with hello 1.0.0 vendored and locked. */
function app(name: string, requirement: string, vendored = true): string {
  const dir = join(tmp, name);
  mkdirSync(join(dir, 'vendor', 'cache'), { recursive: true });
  writeFileSync(join(dir, 'config.ru'), 'require "hello"\nrun ->(_) { [200, {}, [Hello::TEXT]] }\n');
  writeFileSync(join(dir, 'Gemfile'), `source "https://rubygems.org"\ngem "hello", "${requirement}"\n`);
  writeFileSync(
    join(dir, 'Gemfile.lock'),
    'GEM\n  remote: https://rubygems.org/\n  specs:\n    hello (1.0.0)\n\nPLATFORMS\n  ruby\n\n' +
      `DEPENDENCIES\n  hello (= 1.0.0)\n\nBUNDLED WITH\n   2.3.7\n`,
  );
  if (vendored) spawnSync('cp', [join(tmp, 'gem', 'hello-1.0.0.gem'), join(dir, 'vendor', 'cache')]);
  return dir;
}

describe(
  'lab audit --app: gems resolved offline',
  { skip: hasBundler ? false : `no ${BUNDLE} on this machine` },
  () => {
    before(() => {
      const g = join(tmp, 'gem');
      mkdirSync(join(g, 'lib'), { recursive: true });
      writeFileSync(join(g, 'lib', 'hello.rb'), 'module Hello; TEXT = "hello from a vendored gem"; end\n');
      writeFileSync(
        join(g, 'hello.gemspec'),
        'Gem::Specification.new { |s| s.name = "hello"; s.version = "1.0.0"; s.summary = "t"; s.authors = ["t"]; ' +
          's.files = ["lib/hello.rb"]; s.license = "MIT" }\n',
      );
      const r = spawnSync('gem', ['build', 'hello.gemspec'], { cwd: g, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    });

    it('installs from vendor/cache with no network, and leaves the team folder as it was', () => {
      const dir = app('ok', '= 1.0.0');
      const before = readdirSync(dir).map((f) => [f, statSync(join(dir, f)).mtimeMs]);
      const c = tryOffline(dir);
      assert.equal(c.ok, true, c.output);
      assert.equal(c.tried, true);
      assert.doesNotThrow(() => requireOffline(dir));
      assert.deepEqual(
        readdirSync(dir).map((f) => [f, statSync(join(dir, f)).mtimeMs]),
        before,
        'no .bundle, no new lock',
      );
    });

    it('refuses a Gemfile the vendored gems cannot satisfy: exit 2, the Gemfile named, what to do', () => {
      const dir = app('wants-2', '>= 2');
      assert.throws(
        () => requireOffline(dir),
        (e: unknown) =>
          e instanceof LabError &&
          e.exitCode === LabExit.USAGE &&
          e.message.includes(join(dir, 'Gemfile')) &&
          /cannot install its gems from .*vendor\/cache without the network/.test(e.message) &&
          /bundle package --all/.test(e.message),
      );
    });

    it('refuses a gem that is not vendored at all (the lock alone is not enough)', () => {
      assert.equal(tryOffline(app('empty-cache', '= 1.0.0', false)).ok, false);
    });
  },
);
