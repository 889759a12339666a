import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { assertDockerReachable, DockerUnavailableError, dockerSocketPath } from '../../lab/engine/docker';

describe('assertDockerReachable', () => {
  it('says Docker is not running (or not installed) when the socket is missing', async () => {
    const socketPath = path.join(os.tmpdir(), `uul-no-docker-${process.pid}.sock`);
    await assert.rejects(assertDockerReachable({ socketPath }), (err: unknown) => {
      assert.ok(err instanceof DockerUnavailableError);
      assert.match(err.message, /^Docker is not (running|installed): /);
      assert.match(err.message, /start dockerd/);
      assert.ok(err.message.includes(socketPath));
      return true;
    });
  });

  it('says Docker is not running when a stale socket has no listener', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'uul-stale-'));
    const socketPath = path.join(dir, 'docker.sock');
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    // Closing a listener unlinks its socket file; keep a copy of the inode's name by hard link first.
    await fs.link(socketPath, `${socketPath}.stale`);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      await assert.rejects(assertDockerReachable({ socketPath: `${socketPath}.stale` }), (err: unknown) => {
        assert.ok(err instanceof DockerUnavailableError);
        assert.equal(err.reason, 'not-running');
        assert.match(err.message, /^Docker is not running: nothing answers at /);
        return true;
      });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('reads a unix DOCKER_HOST and ignores others', () => {
    assert.equal(dockerSocketPath({}), '/var/run/docker.sock');
    assert.equal(dockerSocketPath({ DOCKER_HOST: 'unix:///tmp/d.sock' }), '/tmp/d.sock');
    assert.equal(dockerSocketPath({ DOCKER_HOST: 'tcp://127.0.0.1:2375' }), undefined);
  });
});
