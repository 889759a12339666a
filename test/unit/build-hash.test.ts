import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  BuildContextError,
  checkContextFiles,
  hashBuildInputs,
  hashTag,
  listContextDir,
  type BuildInputs,
} from '../../lab/engine/content-hash';
import { flavourContextFiles, WrapperNotBuiltError } from '../../lab/engine/flavour-images';

describe('content hash of build inputs', () => {
  let dir: string;
  let extra: string;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'uul-hash-'));
    await fs.writeFile(path.join(dir, 'Dockerfile'), 'FROM scratch\nCOPY . /\n');
    await fs.mkdir(path.join(dir, 'conf'));
    await fs.writeFile(path.join(dir, 'conf', 'app.conf'), 'workers 2\n');
    await fs.writeFile(path.join(dir, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
    extra = path.join(dir, '..', `${path.basename(dir)}-extra.bin`);
    await fs.writeFile(extra, Buffer.alloc(300_000, 7));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rm(extra, { force: true });
  });

  async function inputs(args: Record<string, string> = { BASE: 'base:1' }): Promise<BuildInputs> {
    return { files: [...(await listContextDir(dir)), { name: 'bin/extra', source: extra }], buildArgs: args };
  }

  it('lists every file of a context directory with /-separated names', async () => {
    const names = (await listContextDir(dir)).map((f) => f.name).sort();
    assert.deepEqual(names, ['Dockerfile', 'conf/app.conf', 'run.sh']);
  });

  it('is a sha256 and the same for the same inputs, whatever their order', async () => {
    const a = await hashBuildInputs(await inputs());
    const reordered = await inputs({ BASE: 'base:1' });
    const b = await hashBuildInputs({ ...reordered, files: [...reordered.files].reverse() });
    assert.match(a, /^[0-9a-f]{64}$/);
    assert.equal(a, b);
    assert.equal(hashTag(a), a.slice(0, 12));
  });

  it('changes when a file changes, even by one byte', async () => {
    const before = await hashBuildInputs(await inputs());
    await fs.writeFile(path.join(dir, 'conf', 'app.conf'), 'workers 3\n');
    const after = await hashBuildInputs(await inputs());
    await fs.writeFile(path.join(dir, 'conf', 'app.conf'), 'workers 2\n');
    assert.notEqual(after, before);
    assert.equal(await hashBuildInputs(await inputs()), before, 'restoring the file restores the hash');
  });

  it('changes when a file outside the context directory (e.g. the node binary) changes', async () => {
    const before = await hashBuildInputs(await inputs());
    const fd = await fs.open(extra, 'r+');
    await fd.write(Buffer.from([8]), 0, 1, 150_000);
    await fd.close();
    assert.notEqual(await hashBuildInputs(await inputs()), before);
  });

  it('changes when a file is added, removed or renamed', async () => {
    const before = await hashBuildInputs(await inputs());
    await fs.writeFile(path.join(dir, 'new.txt'), '');
    const added = await hashBuildInputs(await inputs());
    await fs.rename(path.join(dir, 'new.txt'), path.join(dir, 'other.txt'));
    const renamed = await hashBuildInputs(await inputs());
    await fs.rm(path.join(dir, 'other.txt'));
    assert.notEqual(added, before);
    assert.notEqual(renamed, added);
    assert.equal(await hashBuildInputs(await inputs()), before);
  });

  it("changes when a file's mode changes (COPY keeps it)", async () => {
    const before = await hashBuildInputs(await inputs());
    await fs.chmod(path.join(dir, 'run.sh'), 0o644);
    const after = await hashBuildInputs(await inputs());
    await fs.chmod(path.join(dir, 'run.sh'), 0o755);
    assert.notEqual(after, before);
  });

  it('changes when a build arg changes, is added, or the Dockerfile name changes', async () => {
    const base = await hashBuildInputs(await inputs({ BASE: 'base:1' }));
    assert.notEqual(await hashBuildInputs(await inputs({ BASE: 'base:2' })), base);
    assert.notEqual(await hashBuildInputs(await inputs({ BASE: 'base:1', X: '' })), base);
    assert.notEqual(await hashBuildInputs({ ...(await inputs()), dockerfile: 'conf/app.conf' }), base);
    // Field boundaries are unambiguous: moving characters between key and value changes the hash.
    assert.notEqual(await hashBuildInputs(await inputs({ AB: 'C' })), await hashBuildInputs(await inputs({ A: 'BC' })));
  });

  it('rejects names that escape the context or repeat, and unreadable inputs', async () => {
    for (const name of ['../x', '/etc/passwd', 'a//b', './a', '']) {
      assert.throws(() => checkContextFiles([{ name, source: extra }]), BuildContextError, name);
    }
    assert.throws(
      () =>
        checkContextFiles([
          { name: 'a', source: extra },
          { name: 'a', source: extra },
        ]),
      /appears twice/,
    );
    await assert.rejects(
      hashBuildInputs({ files: [{ name: 'gone', source: path.join(dir, 'no-such-file') }] }),
      BuildContextError,
    );
  });
});

// The flavour images' context (lab/engine/flavour-images.ts), built from a small fake
// repository: unicorn's app and the unicorn wrapper are in it, and the hash follows them.
describe('flavour build context', () => {
  let root: string;
  const write = async (rel: string, text: string): Promise<void> => {
    await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await fs.writeFile(path.join(root, rel), text);
  };

  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'uul-flavour-context-'));
    await write('images/bookworm/Dockerfile', 'FROM scratch\n');
    await write('images/precise/Dockerfile', 'FROM scratch\n');
    await write('images/conf/nginx/unicorn-site.conf', 'server {}\n');
    await write('images/conf/unicorn/config.ru', 'run lambda { |env| [200, {}, []] }\n');
    await write('images/conf/unicorn/unicorn.rb', 'worker_processes 2\n');
    await write('images/conf/unicorn/upstart/unicorn-wrapper.conf', 'exec /bin/true\n');
    await write('dist/src/cli.js', '// phoenix\n');
    await write('dist/src/unicorn-wrapper/cli.js', '// unicorn-wrapper\n');
    await write('dist/src/unicorn-wrapper/cli.d.ts', 'export {};\n');
    await write('package.json', '{"version":"0.0.0"}\n');
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  const contextHash = async (): Promise<string> =>
    hashBuildInputs({ files: await flavourContextFiles('bookworm', root), dockerfile: 'images/bookworm/Dockerfile' });

  it("holds unicorn's app, jobs and site and the compiled unicorn wrapper, and only the flavour's own Dockerfile", async () => {
    for (const flavour of ['bookworm', 'precise'] as const) {
      const names = (await flavourContextFiles(flavour, root)).map((f) => f.name);
      for (const name of [
        `images/${flavour}/Dockerfile`,
        'images/conf/unicorn/config.ru',
        'images/conf/unicorn/unicorn.rb',
        'images/conf/unicorn/upstart/unicorn-wrapper.conf',
        'images/conf/nginx/unicorn-site.conf',
        'dist/src/cli.js',
        'dist/src/unicorn-wrapper/cli.js',
        'package.json',
      ]) {
        assert.ok(names.includes(name), `${flavour}: ${name} is not in the context (${names.join(', ')})`);
      }
      assert.ok(!names.includes('dist/src/unicorn-wrapper/cli.d.ts'), 'only compiled JS goes in');
      const other = flavour === 'bookworm' ? 'precise' : 'bookworm';
      assert.ok(!names.includes(`images/${other}/Dockerfile`), `${flavour}: the other flavour's Dockerfile is in it`);
    }
  });

  it("changes when unicorn's config or the compiled unicorn wrapper changes", async () => {
    const before = await contextHash();
    for (const rel of [
      'images/conf/unicorn/unicorn.rb',
      'images/conf/unicorn/config.ru',
      'dist/src/unicorn-wrapper/cli.js',
    ]) {
      const file = path.join(root, rel);
      const original = await fs.readFile(file, 'utf8');
      await fs.writeFile(file, `${original}# changed\n`);
      const changed = await contextHash();
      await fs.writeFile(file, original);
      assert.notEqual(changed, before, `${rel} changed but the hash did not`);
    }
    assert.equal(await contextHash(), before, 'restoring the files restores the hash');
  });

  it('refuses to build without the compiled unicorn wrapper or without unicorn.rb, and says why', async () => {
    const wrapper = path.join(root, 'dist/src/unicorn-wrapper/cli.js');
    await fs.rename(wrapper, `${wrapper}.away`);
    try {
      await assert.rejects(flavourContextFiles('precise', root), (err: Error) => {
        assert.ok(err instanceof WrapperNotBuiltError, String(err));
        assert.match(err.message, /unicorn-wrapper[\\/]cli\.js.*npm run build/);
        return true;
      });
    } finally {
      await fs.rename(`${wrapper}.away`, wrapper);
    }
    const rb = path.join(root, 'images/conf/unicorn/unicorn.rb');
    await fs.rename(rb, `${rb}.away`);
    try {
      await assert.rejects(flavourContextFiles('bookworm', root), /images\/conf\/unicorn\/unicorn\.rb is missing/);
    } finally {
      await fs.rename(`${rb}.away`, rb);
    }
  });
});
