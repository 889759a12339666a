// The hosted workflows (.github/workflows) cannot run on the project's machines: what they say
// is checked here against the lab's own code, so that a flag renamed in the lab, a server
// added, a shard count changed in one place only or an exit code moved turns this red before a
// hosted run does. test/support/rehearse-workflow.ts runs them for real on this machine.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { takeDockerHost } from '../../lab/args';
import { findCommand } from '../../lab/commands';
import { type MergeArgs, parseReport } from '../../lab/commands/report';
import { parseScenario } from '../../lab/commands/scenario';
import { FLAVOURS } from '../../lab/engine/flavour-images';
import { LabExit } from '../../lab/errors';
import { cellKey, planMatrix, shardCells } from '../../lab/matrix/cells';
import { EXIT_INFRASTRUCTURE } from '../../lab/matrix/exit';
import { SERVERS } from '../../lab/servers/types';
import { logicalLines, shellCommands } from '../support/shell-words';
import {
  type Combo,
  type Job,
  type Step,
  type Workflow,
  WORKFLOW_DIR,
  condition,
  emptyContext,
  envStrings,
  expand,
  globToRegExp,
  matrixCombos,
  needsOf,
  parseWorkflow,
  workflowFiles,
} from '../support/workflow';

const MATRIX_FILE = path.join(WORKFLOW_DIR, 'matrix.yml');
const matrixText = fs.readFileSync(MATRIX_FILE, 'utf8');
const matrixWf = parseWorkflow(matrixText, MATRIX_FILE);
const SHARDS = Number(matrixWf.env?.SHARDS);
const shardJob = matrixWf.jobs.shard;
const summaryJob = matrixWf.jobs.summary;

/** What a hosted runner's shell has for the variables the scripts read. */
const RUNNER_VARS = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  PWD: '/home/runner/work/lab/lab',
  HOME: '/home/runner',
  GITHUB_REF_NAME: 'main',
  GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
};

interface LabCall {
  job: string;
  step: string;
  combo: Combo;
  argv: string[];
  /** the assignments in front of `node` (LAB_HOME=...) */
  assigned: Record<string, string>;
  /** the script's next line: where the exit status is read */
  next: string;
}

function stepContext(wf: Workflow, job: Job, step: Step, combo: Combo) {
  const env = { ...envStrings(wf.env), ...envStrings(job.env), ...envStrings(step.env) };
  return { ...emptyContext(), matrix: combo, env, github: { ref_name: 'main', sha: RUNNER_VARS.GITHUB_SHA } };
}

function callsInLine(
  line: string,
  vars: Record<string, string>,
): Array<Omit<LabCall, 'job' | 'step' | 'combo' | 'next'>> {
  const calls = [];
  for (const words of shellCommands(line, vars)) {
    const at = words.findIndex((w, i) => /(^|\/)dist\/lab\/cli\.js$/.test(w) && words[i - 1] === 'node');
    if (at < 0) continue;
    const assigned = Object.fromEntries(
      words
        .slice(0, at - 1)
        .filter((w) => /^[A-Za-z_]\w*=/.test(w))
        .map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]),
    );
    calls.push({ argv: words.slice(at + 1), assigned });
  }
  return calls;
}

/** Every `node dist/lab/cli.js ...` in every run: script, once per matrix combination, words as bash makes them. */
function labCalls(wf: Workflow): LabCall[] {
  const calls: LabCall[] = [];
  for (const [jobId, job] of Object.entries(wf.jobs))
    for (const combo of matrixCombos(job))
      for (const step of job.steps) {
        const run = step.run;
        if (run === undefined) continue;
        const ctx = stepContext(wf, job, step, combo);
        const lines = logicalLines(expand(run, ctx));
        lines.forEach((line, i) => {
          if (!line.includes('dist/lab/cli.js')) return;
          const found = callsInLine(line, { ...RUNNER_VARS, ...ctx.env });
          assert.equal(found.length, 1, `${jobId} / ${step.name ?? step.run}: one lab command per line: ${line}`);
          const next = lines[i + 1]?.trim() ?? '';
          calls.push({ job: jobId, step: step.name ?? run, combo, next, ...found[0] });
        });
      }
  return calls;
}

/** Each lab command line that the lab's own parsing refuses, with lab's reason. */
function labProblems(wf: Workflow): string[] {
  const problems: string[] = [];
  for (const call of labCalls(wf)) {
    const where = `${call.job} ${JSON.stringify(call.combo)}: lab ${call.argv.join(' ')}`;
    try {
      const [name, ...rest] = takeDockerHost(call.argv, {});
      const cmd = findCommand(name ?? '');
      if (!cmd?.parse) throw new Error(`no lab command '${name}' with a parse() to check it with`);
      cmd.parse(rest);
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
  }
  return problems;
}

const stepRunning = (job: Job, pattern: RegExp): Step => {
  const found = job.steps.filter((s) => s.run !== undefined && pattern.test(s.run));
  assert.equal(found.length, 1, `one step runs ${pattern}`);
  return found[0];
};
const stepUsing = (job: Job, action: string): Step[] => job.steps.filter((s) => s.uses?.split('@')[0] === action);
const dirName = (p: string): string => path.normalize(p).replace(/\/+$/, '');

test("the shard matrix is exactly the lab's inits x app servers x shards 1..SHARDS", () => {
  const m = shardJob.strategy?.matrix ?? {};
  assert.deepEqual(Object.keys(m).sort(), ['flavour', 'server', 'shard']);
  assert.deepEqual([...(m.flavour as string[])].sort(), [...FLAVOURS].sort());
  assert.deepEqual([...(m.server as string[])].sort(), [...SERVERS].sort());
  assert.ok(Number.isInteger(SHARDS) && SHARDS >= 1, `env.SHARDS is a whole number: ${matrixWf.env?.SHARDS}`);
  assert.deepEqual(
    m.shard,
    Array.from({ length: SHARDS }, (_, i) => i + 1),
  );
  // GitHub gives no env context to a job's name: it says N itself, and must say the same N.
  assert.match(shardJob.name ?? '', new RegExp(`/${SHARDS}$`));
  assert.equal(shardJob.strategy?.['fail-fast'], false, 'one red shard must not cancel the others');
  const e2e = readAll().find(([f]) => f.endsWith('precise.yml'))?.[1].jobs.e2e;
  assert.deepEqual([...((e2e?.strategy?.matrix?.flavour as string[]) ?? [])].sort(), [...FLAVOURS].sort());
});

function readAll(): Array<[string, Workflow]> {
  return workflowFiles().map((f) => [f, parseWorkflow(fs.readFileSync(f, 'utf8'), f)]);
}

test("every lab command line in the workflows parses as lab's own argument parsing parses it", () => {
  for (const [file, wf] of readAll()) {
    const text = fs.readFileSync(file, 'utf8');
    const found = labCalls(wf);
    const perCombo = Object.values(wf.jobs).reduce(
      (n, job) =>
        n +
        matrixCombos(job).length *
          (
            job.steps
              .map((s) => s.run ?? '')
              .join('\n')
              .match(/dist\/lab\/cli\.js/g) ?? []
          ).length,
      0,
    );
    assert.ok(text.includes('dist/lab/cli.js'), `${file} runs lab`);
    assert.equal(found.length, perCombo, `${file}: every mention of dist/lab/cli.js is read as a command`);
    assert.deepEqual(labProblems(wf), [], file);
  }
});

test('a typo in a lab flag in the workflow is caught by that check', () => {
  const typos: Array<[string, string, RegExp]> = [
    ['--jobs 2', '--job 2', /Unknown option '--job'/],
    ['--shards "$SHARDS"', '--shard "$SHARDS"', /Unknown option '--shard'/],
    ['--server ${{ matrix.server }}', '--server ${{ matrix.server }}x', /unknown server '(phoenix|unicorn)x'/],
    ['--shard ${{ matrix.shard }}/${{ env.SHARDS }}', '--shard ${{ matrix.shard }}', /--shard \d: give I\/N/],
  ];
  for (const [from, to, why] of typos) {
    assert.ok(matrixText.includes(from), `the workflow has ${from}`);
    const problems = labProblems(parseWorkflow(matrixText.replace(from, to)));
    assert.ok(problems.length > 0 && problems.every((p) => why.test(p)), `${to}: ${problems.join('\n')}`);
  }
});

/** The cells the shard jobs run (cell -> shard), as `lab scenario run` picks them from its flags. */
function cellsTheShardsRun(calls: LabCall[]): Map<string, number> {
  const ran = new Map<string, number>();
  for (const call of calls) {
    const args = parseScenario(call.argv.slice(1));
    assert.ok(
      args.verb === 'run' && args.options.summary,
      'each shard runs --all, which writes the plan the merge reads',
    );
    assert.deepEqual(args.flavours, [call.combo.flavour]);
    assert.equal(args.options.server, call.combo.server);
    assert.deepEqual(args.options.shard, { index: Number(call.combo.shard), count: SHARDS });
    const cells = shardCells(planMatrix(args.scenarios, args.flavours, args.options.server), args.options.shard!);
    for (const c of cells) {
      assert.ok(!ran.has(cellKey(c)), `${cellKey(c)} is run by one shard job only`);
      ran.set(cellKey(c), args.options.shard!.index);
    }
  }
  return ran;
}

function theMerge(calls: LabCall[]): MergeArgs {
  assert.equal(calls.length, 1, 'the summary job merges once');
  const args = parseReport(calls[0].argv.slice(1));
  assert.ok(args.mode === 'merge');
  return args.merge;
}

test('the merge expects every cell from the very shard job that runs it', () => {
  const calls = labCalls(matrixWf);
  const shardRuns = calls.filter((c) => c.job === 'shard' && c.argv[0] === 'scenario');
  assert.equal(shardRuns.length, matrixCombos(shardJob).length, 'one scenario run per shard job');
  const merge = theMerge(calls.filter((c) => c.job === 'summary'));
  const expected = new Map<string, number>();
  for (const g of merge.asked) {
    assert.equal(g.count, SHARDS, `${g.label}: split in SHARDS shards, as the jobs split it`);
    g.cells.forEach((c, i) => expected.set(cellKey(c), g.shardOf[i]));
  }
  assert.deepEqual(
    new Map([...cellsTheShardsRun(shardRuns)].sort()),
    new Map([...expected].sort()),
    'cell -> shard: what the merge waits for is what the shard jobs run',
  );
  // The exit status is read on the next line, before anything else can replace $?.
  for (const c of [...shardRuns, calls.find((k) => k.job === 'summary')!]) assert.equal(c.next, 'code=$?', c.step);
});

test('the summary job waits for every shard, runs whatever they did, and reads what they upload', () => {
  assert.deepEqual(needsOf(summaryJob), ['shard']);
  assert.equal(
    condition(summaryJob.if, emptyContext()).status,
    'always',
    'a red shard is reported, not a reason to skip',
  );
  const [upload] = stepUsing(shardJob, 'actions/upload-artifact');
  assert.equal(condition(upload.if, emptyContext()).status, 'always', 'a shard with an UNEXPECTED cell still uploads');
  const [download] = stepUsing(summaryJob, 'actions/download-artifact');
  const pattern = globToRegExp(String(download.with?.pattern));
  assert.notEqual(download.with?.['merge-multiple'], true, 'each shard in its own folder: their files share names');
  for (const combo of matrixCombos(shardJob)) {
    const name = expand(String(upload.with?.name), { ...emptyContext(), matrix: combo });
    assert.match(name, pattern, `the summary downloads ${name}`);
  }
  for (const own of stepUsing(summaryJob, 'actions/upload-artifact'))
    assert.doesNotMatch(String(own.with?.name), pattern, 'the summary is not read back as a shard');
  const calls = labCalls(matrixWf);
  assert.deepEqual(theMerge(calls.filter((c) => c.job === 'summary')).dirs.map(dirName), [
    dirName(String(download.with?.path)),
  ]);
  // What a shard uploads is its LAB_HOME, where `scenario run --all` writes its runs and plan.
  for (const c of calls.filter((k) => k.job === 'shard' && k.argv[0] === 'scenario'))
    assert.equal(
      dirName(path.relative(RUNNER_VARS.PWD, c.assigned.LAB_HOME ?? '')),
      dirName(String(upload.with?.path)),
    );
});

function bash(step: Step, script: string): { code: number | null; out: string } {
  const flags = step.shell === 'bash' ? ['--noprofile', '--norc', '-eo', 'pipefail'] : ['-e'];
  const r = spawnSync('bash', [...flags, '-c', script], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

test("the final step reads lab report --merge's exit code with lab's own numbers", () => {
  const last = summaryJob.steps[summaryJob.steps.length - 1];
  const mergeStep = stepRunning(summaryJob, /cli\.js report --merge/);
  assert.ok(mergeStep.id, 'the merge step has an id to read its output by');
  assert.match(last.run ?? '', new RegExp(`steps\\.${mergeStep.id}\\.outputs\\.code`));
  assert.match(mergeStep.run ?? '', /echo "code=\$code" >> "\$GITHUB_OUTPUT"/);
  const arms = [...(last.run ?? '').matchAll(/^\s*(\d+)\)/gm)].map((m) => Number(m[1])).sort();
  assert.deepEqual(arms, [LabExit.OK, LabExit.FAILED, EXIT_INFRASTRUCTURE].sort());
  const withCode = (code: string) =>
    bash(last, expand(last.run!, { ...emptyContext(), steps: { [mergeStep.id!]: { outputs: { code } } } }));
  assert.equal(withCode(String(LabExit.OK)).code, 0);
  const failed = withCode(String(LabExit.FAILED));
  assert.equal(failed.code, 1);
  assert.match(failed.out, /UNEXPECTED/);
  const incomplete = withCode(String(EXIT_INFRASTRUCTURE));
  assert.equal(incomplete.code, 1);
  assert.match(incomplete.out, /incomplete/);
  for (const other of [LabExit.USAGE, LabExit.ENVIRONMENT, ''])
    assert.equal(withCode(String(other)).code, 1, `exit ${other || 'none'} is red`);
});

test('a shard step fails only when lab says it did not run at all (usage, environment)', () => {
  const step = stepRunning(shardJob, /scenario run --all/);
  const lines = (step.run ?? '').trim().split('\n');
  const verdict = lines[lines.length - 1];
  const codes = [...verdict.matchAll(/-ne (\d+)/g)].map((m) => Number(m[1])).sort();
  assert.deepEqual(codes, [LabExit.USAGE, LabExit.ENVIRONMENT].sort());
  const red = [LabExit.OK, LabExit.FAILED, LabExit.USAGE, LabExit.ENVIRONMENT, EXIT_INFRASTRUCTURE].filter(
    (code) => bash(step, `code=${code}\n${verdict}`).code !== 0,
  );
  assert.deepEqual(red, [LabExit.USAGE, LabExit.ENVIRONMENT]);
});
