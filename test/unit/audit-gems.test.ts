// An --app with a Gemfile: its gems are resolved from vendor/cache alone, with this machine's
// own bundler (the images' Ruby and bundler are the same Debian 3.1 / 2.3), before anything
// boots. A gem built here stands in for a team's vendored gem.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BUNDLE, requireOffline, tryOffline } from '../../lab/audit/gems';
import { LabError, LabExit } from '../../lab/errors';
import { vendoredApp } from '../support/vendored-app';

const hasBundler = spawnSync(BUNDLE, ['--version']).status === 0 && spawnSync('gem', ['--version']).status === 0;
const tmp = mkdtempSync(join(tmpdir(), 'audit-gems-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('lab audit --app: gems resolved offline', { skip: hasBundler ? false : `no ${BUNDLE} or gem here` }, () => {
  it('installs from vendor/cache with no network, and leaves the team folder as it was', () => {
    const dir = vendoredApp(tmp, 'ok');
    const stamp = () => readdirSync(dir).map((f) => [f, statSync(join(dir, f)).mtimeMs]);
    const before = stamp();
    const c = tryOffline(dir);
    assert.equal(c.ok, true, c.output);
    assert.equal(c.tried, true);
    assert.doesNotThrow(() => requireOffline(dir));
    assert.deepEqual(stamp(), before, 'no .bundle, no new lock');
  });

  it('refuses a Gemfile the vendored gems cannot satisfy: exit 2, the Gemfile named, what to do', () => {
    const dir = vendoredApp(tmp, 'wants-2', '>= 2');
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
    assert.equal(tryOffline(vendoredApp(tmp, 'empty-cache', '= 1.0.0', false)).ok, false);
  });
});
