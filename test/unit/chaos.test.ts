import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { BUDGETS, budgetFor, parseBudgetOverrides } from '../../lab/chaos/budgets';
import { FAULTS, isFault, parseFaults } from '../../lab/chaos/faults';
import { ownersFrom, OWNERS_SCRIPT } from '../../lab/chaos/listeners';
import { HEADROOM_MB, HOG, oomKillMaster } from '../../lab/chaos/oom';
import { judgeResponse, startOutsider } from '../../lab/chaos/outsider';
import { mulberry32, parseSeed } from '../../lab/chaos/prng';
import { COOLDOWN_MS, makeSchedule, minSlotMs, WARMUP_MS } from '../../lab/chaos/schedule';
import { judgeChaos, type DoneFault } from '../../lab/chaos/verdict';
import type { RequestRecord } from '../../lab/load/record';

describe('lab chaos: the schedule', () => {
  it('the same seed gives the same schedule; another seed another', () => {
    const input = { seed: 42, durationMs: 120_000, faults: [...FAULTS] };
    const a = makeSchedule(input);
    const b = makeSchedule({ ...input, faults: [...FAULTS] });
    assert.deepEqual(a, b);
    assert.ok(a.length >= 5, `a 2-minute run holds several faults (${a.length})`);
    assert.notDeepEqual(makeSchedule({ ...input, seed: 43 }), a);
  });

  it('mulberry32(1) gives its known sequence (0.6270739405...), on every machine', () => {
    const r = mulberry32(1);
    assert.deepEqual(
      [r(), r(), r()].map((x) => x.toFixed(8)),
      ['0.62707394', '0.00273572', '0.52744704'],
    );
  });

  it('faults do not overlap, start after the baseline and end before the cool-down', () => {
    for (const seed of [0, 1, 7, 99, 4294967295]) {
      const s = makeSchedule({ seed, durationMs: 60_000, faults: [...FAULTS], workerTimeoutS: 3 });
      let t = WARMUP_MS;
      for (const f of s) {
        assert.ok(f.at >= t, `fault #${f.n} at ${f.at} starts after the previous slot ended (${t})`);
        t = f.at + f.slotMs;
        if (f.kind === 'stop-worker') assert.equal(f.holdMs, 4500, 'held longer than the worker timeout');
        if (f.kind === 'pause') assert.ok(f.holdMs! >= 1000 && f.holdMs! < 2000, 'a pause of a second or two');
      }
      assert.ok(t <= 60_000 - COOLDOWN_MS);
    }
  });

  it('only the classes asked for, and none when the run is too short', () => {
    const s = makeSchedule({ seed: 5, durationMs: 60_000, faults: ['usr2', 'hup'] });
    assert.ok(s.every((f) => f.kind === 'usr2' || f.kind === 'hup'));
    assert.deepEqual(makeSchedule({ seed: 5, durationMs: 3000, faults: ['kill-master'] }), []);
  });
});

describe('lab chaos: inputs', () => {
  it('fault lists, seeds and budget overrides', () => {
    assert.deepEqual(parseFaults('usr2, kill-master,usr2'), { faults: ['usr2', 'kill-master'] });
    assert.deepEqual(parseFaults('all'), { faults: [...FAULTS] });
    assert.deepEqual(parseFaults('usr2,explode'), { unknown: ['explode'] });
    assert.equal(parseSeed('12'), 12);
    assert.equal(parseSeed('abc'), undefined);
    assert.equal(parseSeed('-1'), undefined);
    assert.equal(parseSeed('1.5'), undefined);
    assert.equal(parseSeed('4294967296'), undefined);
    assert.deepEqual(parseBudgetOverrides('kill-master=0', isFault), {
      overrides: { 'kill-master': { failed: 0, resets: 0, gapMs: 0 } },
    });
    assert.ok('error' in parseBudgetOverrides('boom=1', isFault));
  });

  it('upgrades, HUP, TTIN/TTOU, reloads and restarts cost nothing on every init and server', () => {
    for (const flavour of ['precise', 'bookworm'] as const)
      for (const server of ['phoenix', 'unicorn'] as const)
        for (const k of ['usr2', 'hup', 'ttin-ttou', 'nginx-reload', 'restart'] as const)
          assert.equal(BUDGETS[flavour][server][k].failed, 0, `${flavour}/${server}/${k}`);
    assert.ok(budgetFor('precise', 'phoenix', 'kill-master').failed > 0, 'kill -9 of the master costs a few');
  });
});

/** A steady 100 req/s for `ms`, with failures at the given times. */
function records(ms: number, fail: Record<number, RequestRecord['error']> = {}): RequestRecord[] {
  const out: RequestRecord[] = [];
  for (let t = 0; t < ms; t += 10)
    out.push({ start: t, end: t + 3, path: '/', status: 200, ...(fail[t] ? { error: fail[t], status: 502 } : {}) });
  return out;
}

describe('lab chaos: the verdict', () => {
  const faults: DoneFault[] = [
    { n: 1, kind: 'usr2', at: 2000, startedAt: 2000, detail: 'USR2 -> master 10' },
    { n: 2, kind: 'kill-master', at: 5000, startedAt: 5000, detail: 'KILL -> master 10' },
  ];

  it('costs within budget pass; every fault is listed with its cost', () => {
    const v = judgeChaos({
      faults,
      records: records(10_000, { 5100: 'http-502', 5110: 'http-502' }),
      outsider: [],
      budgetOf: (k) => budgetFor('bookworm', 'phoenix', k),
      endMs: 10_000,
    });
    assert.equal(v.ok, true, v.lines.join('\n'));
    assert.deepEqual(
      v.costs.map((c) => [c.n, c.kind, c.failed]),
      [
        [1, 'usr2', 0],
        [2, 'kill-master', 2],
      ],
    );
  });

  it('a fault given a zero budget makes the verdict fail', () => {
    const v = judgeChaos({
      faults,
      records: records(10_000, { 5100: 'http-502', 5110: 'http-502' }),
      outsider: [],
      budgetOf: (k) => (k === 'kill-master' ? { failed: 0, gapMs: 0 } : budgetFor('bookworm', 'phoenix', k)),
      endMs: 10_000,
    });
    assert.equal(v.ok, false);
    assert.deepEqual(v.costs[1].exceeded.slice(0, 1), ['2 failed > budget 0']);
    assert.match(v.lines.join('\n'), /FAIL over budget: #2 kill-master/);
  });

  it('failures the outsider saw in a window where the lab saw none fail the run', () => {
    const v = judgeChaos({
      faults,
      records: records(10_000),
      outsider: [{ start: 2500, end: 2600, ok: false, cls: 'http-502' }],
      budgetOf: (k) => budgetFor('bookworm', 'phoenix', k),
      endMs: 10_000,
    });
    assert.equal(v.ok, false);
    assert.deepEqual(v.missed, [1]);
  });

  it("the outsider's failures within what the fault may cost, unseen by the lab, do not fail the run", () => {
    const judge = (n: number) =>
      judgeChaos({
        faults,
        records: records(10_000),
        outsider: Array.from({ length: n }, (_, i) => ({ start: 5100 + i, end: 5150 + i, ok: false, cls: 'reset' })),
        budgetOf: (k) => budgetFor('bookworm', 'phoenix', k),
        endMs: 10_000,
      });
    const may = budgetFor('bookworm', 'phoenix', 'kill-master').failed;
    assert.equal(judge(may).ok, true, judge(may).lines.join('\n'));
    assert.deepEqual(judge(may + 1).missed, [2]);
  });

  it('a skipped USR2 is listed as skipped and costs nothing', () => {
    const v = judgeChaos({
      faults: [{ n: 1, kind: 'usr2', at: 2000, detail: '', skipped: 'upgrade in progress' }],
      records: records(5000),
      outsider: [],
      budgetOf: (k) => budgetFor('bookworm', 'unicorn', k),
      endMs: 5000,
    });
    assert.equal(v.ok, true);
    assert.match(v.lines[0], /#.1 usr2 +SKIPPED: upgrade in progress/);
  });
});

describe('lab chaos: the independent client', () => {
  it('parses what came back without any HTTP library', () => {
    assert.equal(judgeResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')), undefined);
    assert.equal(judgeResponse(Buffer.from('HTTP/1.1 502 Bad Gateway\r\n\r\n')), 'http-502');
    assert.equal(judgeResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok')), 'short-body');
    assert.equal(judgeResponse(Buffer.alloc(0)), 'closed-early');
  });

  it('counts 502s and refused connections from a real server', async () => {
    let n = 0;
    const server = http.createServer((_req, res) => {
      res.writeHead(n++ % 2 ? 502 : 200, { 'content-length': '2' });
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const h = startOutsider({ port, rate: 100, concurrency: 1, timeoutMs: 2000, t0: performance.now() });
    await new Promise((r) => setTimeout(r, 300));
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise((r) => setTimeout(r, 100));
    const recs = await h.stop();
    assert.ok(recs.some((r) => r.ok));
    assert.ok(recs.some((r) => r.cls === 'http-502'));
    assert.ok(
      recs.some((r) => r.cls === 'refused'),
      JSON.stringify(recs.map((r) => r.cls)),
    );
  });
});

describe('lab chaos: keep-alive resets of an nginx reload', () => {
  it('are allowed once per connection of the lab load, and no more', () => {
    const faults: DoneFault[] = [{ n: 1, kind: 'nginx-reload', at: 2000, startedAt: 2000, detail: 'HUP -> nginx 5' }];
    const fail = { 2100: 'reset', 2110: 'reset', 2120: 'reset', 2130: 'reset' } as const;
    const judge = (connections: number) =>
      judgeChaos({
        faults,
        records: records(5000, fail),
        outsider: [],
        budgetOf: (k) => budgetFor('bookworm', 'phoenix', k),
        endMs: 5000,
        connections,
      });
    assert.equal(judge(4).ok, true, judge(4).lines.join('\n'));
    assert.equal(judge(4).costs[0].failed, 0);
    assert.equal(judge(2).ok, false);
  });
});

describe('lab chaos: the faults production has (OOM killer, bridge restart, nginx restart)', () => {
  const NEW = ['oom-master', 'bridge-restart', 'nginx-restart'] as const;

  it('are fault classes of their own, drawn by the schedule and parsed from --faults', () => {
    assert.deepEqual(parseFaults('oom-master, bridge-restart,nginx-restart'), { faults: [...NEW] });
    for (const k of NEW) assert.ok(FAULTS.includes(k), k);
    const s = makeSchedule({ seed: 7, durationMs: 40_000, faults: [...NEW] });
    assert.deepEqual(
      s.map((f) => f.kind),
      [
        'oom-master',
        'nginx-restart',
        'bridge-restart',
        'bridge-restart',
        'bridge-restart',
        'oom-master',
        'nginx-restart',
      ],
      'seed 7, 40 s: the schedule of the first measurements in budgets.ts',
    );
    for (const f of s) assert.ok(f.slotMs >= minSlotMs(f.kind), `#${f.n} ${f.kind} gets its settle time`);
  });

  it('the CI seeds draw them on top of the old faults (test/e2e/chaos.test.ts)', () => {
    const kinds = (seed: number, ms: number) =>
      makeSchedule({ seed, durationMs: ms, faults: [...FAULTS] }).map((f) => f.kind);
    assert.ok(kinds(52, 45_000).includes('oom-master') && kinds(52, 45_000).includes('nginx-restart'));
    assert.ok(kinds(21, 50_000).includes('bridge-restart') && kinds(21, 50_000).includes('restart'));
  });

  it('have a budget on every init and server; an OOM kill costs no more than kill -9 of the master', () => {
    for (const flavour of ['precise', 'bookworm'] as const)
      for (const server of ['phoenix', 'unicorn'] as const) {
        for (const k of NEW) assert.ok(BUDGETS[flavour][server][k], `${flavour}/${server}/${k}`);
        const oom = budgetFor(flavour, server, 'oom-master');
        const kill = budgetFor(flavour, server, 'kill-master');
        assert.ok(oom.failed <= kill.failed && oom.gapMs <= kill.gapMs, `${flavour}/${server}`);
        assert.equal(BUDGETS[flavour][server]['nginx-restart'].resets, undefined, 'resets are failures here');
      }
    // Both inits close the socket on a restart of its owner (upstart 1.5 through the shipped
    // bridge-socket-refresh job, which the new bridge needs to bind at all): a short window of
    // refused connects, never more than the budget of a graceful app restart on that init.
    for (const flavour of ['precise', 'bookworm'] as const)
      for (const server of ['phoenix', 'unicorn'] as const) {
        const b = budgetFor(flavour, server, 'bridge-restart');
        assert.ok(b.failed > 0 && b.failed <= 6 && b.gapMs <= 1000, `${flavour}/${server}: ${JSON.stringify(b)}`);
      }
  });

  it('a fault whose recipe broke its promise fails the run, whatever it cost', () => {
    const v = judgeChaos({
      faults: [
        {
          n: 1,
          kind: 'bridge-restart',
          at: 2000,
          startedAt: 2000,
          detail: 'failed: nothing but the app listens',
          error: 'after initctl restart upstart-socket-bridge nothing but the app listens on /var/run/x.sock',
        },
      ],
      records: records(5000),
      outsider: [],
      budgetOf: (k) => budgetFor('precise', 'unicorn', k),
      endMs: 5000,
    });
    assert.equal(v.ok, false);
    assert.match(v.costs[0].exceeded[0], /^fault failed: after initctl restart upstart-socket-bridge/);
    assert.match(v.lines.join('\n'), /FAIL over budget: #1 bridge-restart/);
  });
});

describe('lab chaos: who listens on the app socket (the bridge-restart check)', () => {
  it('finds the process holding a listening unix socket at a path, and leaves out the app', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chaos-owners-'));
    const sock = path.join(dir, 'app.sock');
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      const out = execFileSync('/bin/sh', ['-c', OWNERS_SCRIPT(sock)], { encoding: 'utf8' });
      assert.deepEqual(ownersFrom(out, []), [process.pid]);
      assert.deepEqual(ownersFrom(out, [process.pid]), [], "the app's own pids are not the socket's owner");
      // A path only the bridge's stale file names (nobody listening) has no owner.
      const none = execFileSync('/bin/sh', ['-c', OWNERS_SCRIPT(path.join(dir, 'stale.sock'))], { encoding: 'utf8' });
      assert.deepEqual(ownersFrom(none, []), []);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('lab chaos: the OOM recipe', () => {
  const hog = (pid: number, capMb: number) =>
    JSON.parse(execFileSync(process.execPath, ['-e', HOG, String(pid), String(capMb)], { encoding: 'utf8' })) as {
      dead: boolean;
      mb: number;
    };

  it("the hog raises the target's OOM score, takes memory 1 MiB at a time, and stops at its cap", async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      assert.deepEqual({ ...hog(child.pid!, 3), ms: undefined }, { dead: false, mb: 3, ms: undefined });
      assert.equal(fs.readFileSync(`/proc/${child.pid}/oom_score_adj`, 'utf8').trim(), '1000');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('the hog stops at once, having taken nothing, when the target is a zombie', async () => {
    // sh's background child outlives sh's exec into sleep, which never reaps it: a zombie.
    const parent = spawn('/bin/sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 10'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    try {
      const pid = await new Promise<number>((r) =>
        parent.stdout.once('data', (d: Buffer) => r(Number(String(d).trim()))),
      );
      const zombie = () => /\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
      for (let i = 0; i < 100 && !zombie(); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(zombie(), `${pid} is a zombie`);
      assert.deepEqual({ ...hog(pid, 50), ms: undefined }, { dead: true, mb: 0, ms: undefined });
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('lifts the limit again when the hog fails, and says who the kernel chose', async () => {
    const updates: unknown[] = [];
    const container = {
      id: 'c1',
      stats: async () => ({ memory_stats: { usage: 40 * 2 ** 20 } }),
      update: async (o: unknown) => void updates.push(o),
    };
    const docker = {
      info: async () => ({ MemTotal: 8 * 2 ** 30 }),
      getEvents: async () => {
        const { Readable } = await import('node:stream');
        return Readable.from(['{"status":"oom"}\n']);
      },
    };
    const o = await oomKillMaster(
      {
        docker: docker as never,
        container: container as never,
        exec: async () => ({ code: 137, stdout: '', stderr: '' }),
      },
      42,
    );
    assert.equal(o.killed, false);
    assert.equal(o.limitMb, 40 + HEADROOM_MB);
    assert.match(o.error ?? '', /the OOM killer took the memory hog, not the master/);
    assert.deepEqual(updates, [
      { Memory: (40 + HEADROOM_MB) * 2 ** 20, MemorySwap: -1 },
      { Memory: 8 * 2 ** 30, MemorySwap: -1 },
    ]);
    assert.equal(o.oomEvents, 1);
  });
});
