import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { DRIVERS, FLAVOURS } from '../../lab/flavours';
import type { InitDriver } from '../../lab/flavours/types';
import { DEFAULT_SERVER, SERVER_DRIVERS, columnOf, masterSignalTarget } from '../../lab/servers';
import type { ServerDriver } from '../../lab/servers/types';
import { unicornBoot } from '../../lab/servers/unicorn';
import { chooseLab } from '../../lab/resolve';
import { ROOT } from '../support/root';

/**
 * The promise of the driver seams: what differs between inits lives in lab/flavours, what
 * differs between app servers in lab/servers, and the rest of the lab asks the driver. These
 * tests hold the lab to it: a name compared anywhere else is a place a third init or server
 * would silently get the wrong behaviour.
 */

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return sources(full);
    return full.endsWith('.ts') ? [full] : [];
  });
}

/** Lines outside `allowed` that compare (===, !==, case) with one of `names`. */
function comparisons(names: readonly string[], allowed: string): string[] {
  const alt = names.join('|');
  const compare = new RegExp(`(?:[!=]==?\\s*'(?:${alt})'|'(?:${alt})'\\s*[!=]==?|case\\s+'(?:${alt})'\\s*:)`);
  return sources(join(ROOT, 'lab'))
    .filter((f) => !relative(ROOT, f).startsWith(allowed))
    .flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .map((line, i) => ({ line, where: `${relative(ROOT, f)}:${i + 1}` }))
        .filter(({ line }) => !/^\s*(\/\/|\*)/.test(line) && compare.test(line))
        .map(({ where, line }) => `${where}: ${line.trim()}`),
    );
}

describe('driver seams', () => {
  it('no init name is compared outside lab/flavours/', () => {
    assert.deepEqual(comparisons(FLAVOURS, 'lab/flavours/'), []);
  });

  it('no server name is compared outside lab/servers/', () => {
    assert.deepEqual(comparisons(Object.keys(SERVER_DRIVERS), 'lab/servers/'), []);
  });

  it('FLAVOURS is the driver registry, each driver under its own name, its image folder present', () => {
    assert.deepEqual([...FLAVOURS], Object.keys(DRIVERS));
    for (const f of FLAVOURS) {
      assert.equal(DRIVERS[f].name, f);
      assert.ok(statSync(join(ROOT, 'images', DRIVERS[f].image.dir, 'Dockerfile')).isFile(), `images/${f}/Dockerfile`);
      const fallback = DRIVERS[f].image.fallback;
      if (fallback !== undefined) assert.equal(DRIVERS[fallback].image.fallback, undefined, 'a fallback has none');
    }
  });

  // A third init of a family the lab knows (Ubuntu 14.04's upstart 1.12, say): the compiler has
  // checked that this object is a whole InitDriver; what the servers do with it must follow its
  // family, never its name.
  const trusty: InitDriver = {
    ...DRIVERS.precise,
    name: 'precise',
    init: 'upstart 1.12',
    image: { ...DRIVERS.precise.image, dir: 'trusty' },
  };
  const thirdSystemd: InitDriver = {
    ...DRIVERS.bookworm,
    init: 'systemd 257',
    image: { ...DRIVERS.bookworm.image, dir: 'trixie' },
  };

  it('a third init gets its files from its family, not its name', () => {
    for (const s of Object.values(SERVER_DRIVERS)) {
      assert.deepEqual(s.activate(trusty), s.activate(DRIVERS.precise), `${s.name} on a third upstart`);
      assert.deepEqual(s.activate(thirdSystemd), s.activate(DRIVERS.bookworm), `${s.name} on a third systemd`);
    }
    assert.deepEqual(unicornBoot(trusty, 'unicorn-seed-poc'), unicornBoot(DRIVERS.precise, 'unicorn-seed-poc'));
    assert.notDeepEqual(unicornBoot(trusty, 'unicorn-wrapper'), unicornBoot(thirdSystemd, 'unicorn-wrapper'));
  });

  // A third server (gunicorn, say): everything the lab decides per server is a field of the driver.
  const gunicorn: ServerDriver = {
    ...SERVER_DRIVERS.unicorn,
    title: 'gunicorn (Python)',
    job: 'gunicorn',
    signalVia: 'master',
    upgradeMode: 'reexec (init keeps the master)',
  };

  it('a third server is signalled, labelled and chosen by its driver', () => {
    const view = { herders: [{ pid: 7 }], pidFile: 42, init: { trackedPid: 1 } };
    assert.deepEqual(masterSignalTarget(gunicorn, view), { pid: 42, role: 'master' });
    assert.deepEqual(masterSignalTarget(SERVER_DRIVERS.unicorn, view), { pid: 7, role: 'wrapper' });
    assert.equal(columnOf('bookworm', DEFAULT_SERVER), 'bookworm');
    assert.equal(columnOf('bookworm', 'gunicorn'), 'bookworm/gunicorn');
    assert.equal(columnOf('bookworm', 'gunicorn', '-'), 'bookworm-gunicorn');
    assert.equal(chooseLab({}).server, SERVER_DRIVERS[DEFAULT_SERVER]);
    assert.equal(chooseLab({}, { server: 'unicorn' }).server.name, 'unicorn');
    assert.equal(chooseLab({ flavour: 'bookworm' }).named, true);
  });
});
