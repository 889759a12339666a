import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { assertDockerReachable } from '../../lab/engine/docker';
import { labFilter } from '../../lab/engine/labels';
import { OWNER_PID_LABEL } from '../../lab/engine/owner';
import { LAB_CLI as CLI, runLab } from '../support/lab-cli';

/**
 * Every bad input of `lab chaos`: one clear message, exit 2 (usage), and nothing left behind:
 * no container, no process, no run folder. The inputs are checked before anything starts.
 */
const chaos = (args: string[], home: string) => runLab(['chaos', ...args], home);

/** Processes whose parent was the lab process (none may outlive it). */
function orphansOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

const CASES: Array<{ name: string; args: string[]; message: RegExp; docker?: boolean }> = [
  { name: 'an unknown fault', args: ['--faults', 'usr2,explode'], message: /unknown fault 'explode': use usr2, hup/ },
  { name: 'a negative duration', args: ['--duration', '-5s'], message: /--duration '-5s' is negative/ },
  { name: 'a negative duration (=)', args: ['--duration=-30s'], message: /--duration '-30s' is negative/ },
  { name: 'a duration that is not one', args: ['--duration', 'soon'], message: /'soon' is not a duration/ },
  { name: 'a seed that is not a number', args: ['--seed', 'abc'], message: /--seed 'abc' is not a number/ },
  { name: 'a negative seed', args: ['--seed', '-3'], message: /--seed '-3' is not a number/ },
  { name: 'an unknown server', args: ['--server', 'nginx'], message: /unknown server 'nginx'/ },
  { name: 'an unknown flavour', args: ['--flavour', 'trusty'], message: /unknown flavour 'trusty'/ },
  { name: 'a bad budget', args: ['--budget', 'usr2=lots'], message: /--budget: 'usr2=lots' is not FAULT=FAILED/ },
  { name: 'too short for any fault', args: ['--duration', '2s'], message: /too short for any of these faults/ },
  {
    name: 'a lab that is not up, asked to use the running one',
    args: ['--running', '--name', `nosuchlab${process.pid}`],
    message: /no lab named 'nosuchlab\d+' is up: start it with 'lab up'/,
    docker: true,
  },
];

describe('lab chaos: bad input', () => {
  for (const c of CASES) {
    test(`${c.name}: one message, exit 2, nothing left`, async (t) => {
      assert.ok(fs.existsSync(CLI), `${CLI} is missing: npm run build`);
      if (c.docker) {
        try {
          await assertDockerReachable();
        } catch (err) {
          t.skip(`no Docker: ${(err as Error).message}`);
          return;
        }
      }
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-chaos-bad-'));
      try {
        const r = await chaos(c.args, home);
        assert.equal(r.code, 2, `exit 2 expected, got ${r.code}: ${r.stderr}`);
        // The reaper's notice about containers a killed run left behind is not this command's message.
        const lines = r.stderr
          .trim()
          .split('\n')
          .filter((l) => !l.startsWith('lab: removed '));
        assert.equal(lines.length, 1, `one message: ${r.stderr}`);
        assert.match(lines[0], c.message);
        assert.equal(r.stdout, '', 'nothing printed as if it ran');
        assert.deepEqual(orphansOf(r.pid), [], 'no process left');
        assert.equal(fs.existsSync(path.join(home, 'runs')), false, 'no run folder');
        if (c.docker) {
          const d = await assertDockerReachable();
          const left = await d.listContainers({ all: true, filters: labFilter() });
          assert.deepEqual(
            left.filter((x) => x.Labels[OWNER_PID_LABEL] === String(r.pid)).map((x) => x.Names[0]),
            [],
            'no container left',
          );
        }
      } finally {
        fs.rmSync(home, { recursive: true, force: true });
      }
    });
  }
});
