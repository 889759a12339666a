/**
 * The portable Node runtime is self-contained: copied alone into a FROM scratch
 * image (no C library, no /lib at all), node runs, reports v20, and can spawn
 * itself. Builds the base and runtime images when missing (minutes the first
 * time), then reuses them.
 *
 *   node --require ts-node/register --test test/images/runtime.test.ts
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { buildImage } from '../../lab/engine/build';
import { assertDockerReachable } from '../../lab/engine/docker';
import { ensureRuntime } from '../../lab/engine/images';
import { LAB_LABEL, LAB_LABEL_VALUE } from '../../lab/engine/labels';

const run = promisify(execFile);

// Runs inside the scratch image. It prints one JSON line.
const PROBE = `
const fs = require('fs');
const os = require('os');
const { spawnSync } = require('child_process');
const child = spawnSync(process.execPath, ['-e', 'console.log("child " + process.version + " " + process.execPath)'], { encoding: 'utf8' });
// NSS through the runtime's own libnss_compat: glibc dlopens it when nsswitch.conf says "compat".
fs.writeFileSync('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\\n');
fs.writeFileSync('/etc/nsswitch.conf', 'passwd: compat\\ngroup: compat\\n');
let user;
try { user = os.userInfo().username; } catch (e) { user = 'error: ' + e.message; }
console.log(JSON.stringify({
  hello: 'from scratch',
  version: process.version,
  execPath: process.execPath,
  child: { status: child.status, stdout: child.stdout, stderr: child.stderr, error: child.error && child.error.message },
  libc: fs.existsSync('/lib/x86_64-linux-gnu/libc.so.6'),
  loader: fs.existsSync('/lib64/ld-linux-x86-64.so.2'),
  root: fs.readdirSync('/').sort(),
  user,
}));
`;

const PROBE_DOCKERFILE = `
ARG RUNTIME
FROM \${RUNTIME} AS runtime
FROM scratch
COPY --from=runtime /opt/phoenix/runtime /opt/phoenix/runtime
COPY probe.js /probe.js
ENTRYPOINT ["/opt/phoenix/runtime/bin/node", "/probe.js"]
`;

interface ProbeOutput {
  hello: string;
  version: string;
  execPath: string;
  child: { status: number | null; stdout: string; stderr: string; error?: string };
  libc: boolean;
  loader: boolean;
  root: string[];
  user: string;
}

describe('portable node runtime', () => {
  let docker: Docker;
  let runtimeRef: string;
  let probeRef: string;
  let context: string;

  before(async () => {
    docker = await assertDockerReachable();
    runtimeRef = (await ensureRuntime({ docker })).ref;
    context = await fs.mkdtemp(path.join(os.tmpdir(), 'uul-runtime-probe-'));
    await fs.writeFile(path.join(context, 'Dockerfile'), PROBE_DOCKERFILE);
    await fs.writeFile(path.join(context, 'probe.js'), PROBE);
    probeRef = (
      await buildImage(docker, { name: 'runtime-probe', contextDir: context, buildArgs: { RUNTIME: runtimeRef } })
    ).ref;
  });

  after(async () => {
    if (context !== undefined) await fs.rm(context, { recursive: true, force: true });
  });

  it('reuses the runtime image when its inputs have not changed', async () => {
    const again = await ensureRuntime({ docker, log: () => {} });
    assert.equal(again.ref, runtimeRef);
    assert.equal(again.built, false);
  });

  it('the runtime image holds only /opt/phoenix/runtime and is labelled', async () => {
    const info = await docker.getImage(runtimeRef).inspect();
    assert.equal(info.Config.Labels?.[LAB_LABEL], LAB_LABEL_VALUE);
    assert.equal(info.RootFS.Layers?.length, 1, 'one layer: the COPY of /opt/phoenix/runtime');
  });

  it('runs in a FROM scratch image with no C library, reports v20 and spawns itself', async () => {
    const name = `uul-runtime-probe-${process.pid}-${Date.now()}`;
    try {
      const { stdout } = await run(
        'docker',
        ['run', '--rm', '--name', name, '--label', `${LAB_LABEL}=${LAB_LABEL_VALUE}`, '--network', 'none', probeRef],
        { timeout: 60_000 },
      );
      const out = JSON.parse(stdout.trim()) as ProbeOutput;
      assert.equal(out.hello, 'from scratch');
      assert.match(out.version, /^v20\./);
      assert.equal(out.execPath, '/opt/phoenix/runtime/bin/node');
      assert.equal(out.child.error, undefined, 'spawnSync(process.execPath) started');
      assert.equal(out.child.status, 0, `child stderr: ${out.child.stderr}`);
      assert.equal(out.child.stdout.trim(), `child ${out.version} /opt/phoenix/runtime/bin/node`);
      assert.equal(out.libc, false, 'no /lib/x86_64-linux-gnu/libc.so.6 in the image');
      assert.equal(out.loader, false, 'no /lib64/ld-linux-x86-64.so.2 in the image');
      for (const dir of ['lib', 'lib64', 'usr', 'bin'])
        assert.ok(!out.root.includes(dir), `no /${dir}: ${out.root.join(' ')}`);
      assert.equal(out.user, 'root', "getpwuid via the runtime's libnss_compat");
    } finally {
      // --rm removes it when it exits; this covers a timeout or a failed start.
      await run('docker', ['rm', '-f', name]).catch(() => undefined);
    }
  });
});
