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
