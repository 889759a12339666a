/**
 * Rehearses a hosted workflow on this machine, as written: job by job in the order `needs`
 * gives, each matrix combination in a fresh clone of HEAD, each `run:` step with bash as the
 * runner runs it, the `${{ }}` expressions filled from matrix, env and step outputs, and
 * GitHub's own actions stood in for (test/support/rehearse-actions.ts). There is no GitHub
 * here, no registry and no sudo: this is how the matrix workflow is seen to go red or green
 * before a hosted run. A person runs it; it is not a test.
 *
 *   node --require ts-node/register test/support/rehearse-workflow.ts [options]
 *
 *   --workflow FILE        default .github/workflows/matrix.yml
 *   --only KEY=V[,V]       only the matrix combinations with these values (repeatable)
 *   --job ID               only these jobs (repeatable); the others are "not rehearsed"
 *   --env KEY=VALUE        in every step's environment, as a runner's own (repeatable)
 *   --artifacts-from DIR[=GLOB]  start with an earlier rehearsal's artifacts (those named GLOB), e.g. with --job summary
 *   --rewrite 'FROM=>TO'   change the run: scripts' text; said at the end: not the workflow as written
 *
 * Work goes under /tmp/rehearse-*: the clones are removed at the end, the artifacts, the step
 * logs and the job summaries stay. Exit 0 when the workflow would be green, 1 red, 2 usage.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { actionFor, emulatedActions, readCommandFile, writeShims } from './rehearse-actions';
import {
  type Combo,
  type ExprContext,
  type Job,
  type Step,
  type Workflow,
  ROOT,
  condition,
  emptyContext,
  envStrings,
  expand,
  globToRegExp,
  matrixCombos,
  needsOf,
  readWorkflow,
} from './workflow';

type Status = 'success' | 'failure' | 'skipped' | 'cancelled';

interface Options {
  workflow: string;
  only: Map<string, string[]>;
  jobs: string[];
  env: Record<string, string>;
  artifactsFrom?: { dir: string; pattern: string };
  rewrites: Array<[string, string]>;
}

interface StepRun {
  name: string;
  status: Status;
  code?: number;
  seconds: number;
}

interface JobRun {
  id: string;
  name: string;
  status: Status;
  seconds: number;
  steps: StepRun[];
  summary: string;
}

interface Paths {
  work: string;
  artifacts: string;
  logs: string;
  summaries: string;
  clones: string;
  shims: string;
}

class UsageError extends Error {}

const pair = (text: string, sep: string, what: string): [string, string] => {
  const at = text.indexOf(sep);
  if (at <= 0) throw new UsageError(`${what} ${text}: give ${what === '--rewrite' ? "'FROM=>TO'" : 'KEY=VALUE'}`);
  return [text.slice(0, at), text.slice(at + sep.length)];
};

/** DIR or DIR=GLOB: only some of an earlier run's artifacts, so that a job run again can upload its own anew. */
function artifactsFrom(value: string | undefined): Options['artifactsFrom'] {
  if (value === undefined) return undefined;
  const [dir, pattern] = value.includes('=') ? pair(value, '=', '--artifacts-from') : [value, '*'];
  if (!fs.existsSync(dir)) throw new UsageError(`--artifacts-from ${dir}: no such folder`);
  return { dir: path.resolve(dir), pattern };
}

/** The earlier artifacts asked for, copied in as if uploaded earlier in this run. */
function seedArtifacts(from: NonNullable<Options['artifactsFrom']>, into: string): string[] {
  const names = fs.readdirSync(from.dir).filter((a) => globToRegExp(from.pattern).test(a));
  if (names.length === 0) throw new UsageError(`--artifacts-from: no artifact in ${from.dir} is named ${from.pattern}`);
  for (const a of names) fs.cpSync(path.join(from.dir, a), path.join(into, a), { recursive: true });
  return names;
}

function parseOptions(argv: string[]): Options {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      workflow: { type: 'string', default: path.join(ROOT, '.github', 'workflows', 'matrix.yml') },
      only: { type: 'string', multiple: true, default: [] },
      job: { type: 'string', multiple: true, default: [] },
      env: { type: 'string', multiple: true, default: [] },
      'artifacts-from': { type: 'string' },
      rewrite: { type: 'string', multiple: true, default: [] },
    },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals.join(' ')}`);
  const only = new Map(values.only.map((o) => pair(o, '=', '--only')).map(([k, v]) => [k, v.split(',')]));
  return {
    workflow: path.resolve(values.workflow),
    only,
    jobs: values.job,
    env: Object.fromEntries(values.env.map((e) => pair(e, '=', '--env'))),
    artifactsFrom: artifactsFrom(values['artifacts-from']),
    rewrites: values.rewrite.map((r) => pair(r, '=>', '--rewrite')),
  };
}

const git = (...args: string[]): string => {
  const r = spawnSync('git', ['-C', ROOT, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
};

/** A path as the person typed it from the repository: relative inside it, absolute outside. */
const shown = (p: string): string => (p.startsWith(`${ROOT}/`) ? path.relative(ROOT, p) : p);
const say = (line = ''): void => void process.stdout.write(`${line}\n`);
const seconds = (since: number): number => Math.round((Date.now() - since) / 100) / 10;

/** The jobs in an order where each comes after those it needs. */
function jobOrder(wf: Workflow): string[] {
  const done: string[] = [];
  const visit = (id: string, trail: string[]) => {
    if (done.includes(id)) return;
    if (trail.includes(id)) throw new Error(`needs: a cycle through ${[...trail, id].join(' -> ')}`);
    if (!wf.jobs[id]) throw new Error(`needs: no job ${id}`);
    for (const n of needsOf(wf.jobs[id])) visit(n, [...trail, id]);
    done.push(id);
  };
  for (const id of Object.keys(wf.jobs)) visit(id, []);
  return done;
}

/** Checked before anything runs, so that a filter that picks nothing is a usage error, not a green run. */
function checkFilters(wf: Workflow, o: Options): void {
  for (const id of o.jobs)
    if (!wf.jobs[id]) throw new UsageError(`--job ${id}: the workflow has ${Object.keys(wf.jobs).join(', ')}`);
  for (const [key, wanted] of o.only) {
    const known = Object.values(wf.jobs)
      .flatMap((j) => matrixCombos(j).map((c) => c[key]))
      .filter((v): v is string => v !== undefined);
    if (known.length === 0) throw new UsageError(`--only ${key}: no job's matrix has ${key}`);
    for (const v of wanted)
      if (!known.includes(v))
        throw new UsageError(`--only ${key}=${v}: the matrix has ${[...new Set(known)].join(', ')}`);
  }
}

const picked = (combo: Combo, o: Options): boolean =>
  [...o.only].every(([key, wanted]) => combo[key] === undefined || wanted.includes(combo[key]));

function applyRewrites(wf: Workflow, rewrites: Array<[string, string]>): void {
  for (const [from, to] of rewrites) {
    let n = 0;
    for (const job of Object.values(wf.jobs))
      for (const step of job.steps)
        if (step.run?.includes(from)) {
          n += step.run.split(from).length - 1;
          step.run = step.run.split(from).join(to);
        }
    if (n === 0) throw new UsageError(`--rewrite: '${from}' is in no run: script`);
    say(`REWRITE (not the workflow as written): '${from}' -> '${to}' in ${n} place(s)`);
  }
}

const JOB_KEYS = ['name', 'needs', 'if', 'runs-on', 'timeout-minutes', 'env', 'strategy', 'steps'];
const STEP_KEYS = [
  'name',
  'id',
  'uses',
  'run',
  'shell',
  'if',
  'with',
  'env',
  'working-directory',
  'continue-on-error',
  'timeout-minutes',
];

/** Keys this rehearsal does not act on would make it run something else than the hosted run: refused. */
function checkSupported(wf: Workflow): void {
  for (const [id, job] of Object.entries(wf.jobs)) {
    const extra = Object.keys(job).filter((k) => !JOB_KEYS.includes(k));
    if (extra.length) throw new Error(`job ${id}: ${extra.join(', ')} not emulated`);
    for (const step of job.steps) {
      const bad = Object.keys(step).filter((k) => !STEP_KEYS.includes(k));
      if (bad.length)
        throw new Error(`job ${id}, step ${step.name ?? step.uses ?? step.run}: ${bad.join(', ')} not emulated`);
      if (step.uses && !actionFor(step))
        throw new Error(`job ${id}: ${step.uses} is not emulated (${emulatedActions().join(', ')})`);
    }
    // Every if: of every combination is read now: a form not understood stops the rehearsal before it starts.
    for (const combo of matrixCombos(job))
      for (const text of [job.if, ...job.steps.map((st) => st.if)])
        condition(text, {
          ...emptyContext(),
          matrix: combo,
          env: envStrings(wf.env),
          github: { ref_name: 'x', sha: 'x' },
        });
  }
}

/** The runner's environment: this machine's, less what would make a step see a setting it would not have there. */
function runnerEnv(o: Options): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !/^(GITHUB_|RUNNER_|LAB_|PRECISE_|CI$)/.test(k)) env[k] = v;
  return { ...env, ...o.env };
}

interface JobState {
  wf: Workflow;
  o: Options;
  paths: Paths;
  jobId: string;
  job: Job;
  combo: Combo;
  name: string;
  sha: string;
  ref: string;
  workspace: string;
  temp: string;
  deadline: number;
  addedEnv: Record<string, string>;
  addedPath: string[];
  steps: ExprContext['steps'];
  failed: boolean;
  summary: string;
  logFile: string;
}

function exprContext(s: JobState, step?: Step): ExprContext {
  const env: Record<string, string> = { ...envStrings(s.wf.env), ...envStrings(s.job.env), ...s.addedEnv };
  const ctx: ExprContext = { matrix: s.combo, env, steps: s.steps, github: { ref_name: s.ref, sha: s.sha } };
  for (const [k, v] of Object.entries(envStrings(step?.env))) env[k] = expand(v, ctx);
  for (const [k, v] of Object.entries(env)) env[k] = expand(v, ctx);
  return ctx;
}

function githubEnv(s: JobState, files: Record<string, string>): Record<string, string> {
  return {
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKFLOW: s.wf.name ?? path.basename(s.o.workflow),
    GITHUB_JOB: s.jobId,
    GITHUB_REF: `refs/heads/${s.ref}`,
    GITHUB_REF_NAME: s.ref,
    GITHUB_SHA: s.sha,
    GITHUB_WORKSPACE: s.workspace,
    GITHUB_RUN_ID: '0',
    RUNNER_NAME: 'rehearsal',
    RUNNER_OS: 'Linux',
    RUNNER_TEMP: s.temp,
    ...files,
  };
}

const SHELLS: Record<string, string[]> = {
  default: ['bash', '-e'],
  bash: ['bash', '--noprofile', '--norc', '-eo', 'pipefail'],
  sh: ['sh', '-e'],
};

/** The step's child, run in its own process group so that a timeout or Ctrl-C reaches all of it. */
let running: number | undefined;

function runShell(
  s: JobState,
  argv: string[],
  env: Record<string, string>,
  cwd: string,
  timeoutAt: number,
): Promise<number> {
  return new Promise((resolve) => {
    const log = fs.openSync(s.logFile, 'a');
    const child = spawn(argv[0], argv.slice(1), { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    running = child.pid;
    const out = (d: Buffer) => {
      fs.writeSync(log, d);
      process.stdout.write(d.toString().replace(/^(?=.)/gm, '      | '));
    };
    child.stdout.on('data', out);
    child.stderr.on('data', out);
    const timer = setTimeout(
      () => {
        say(`      ::error::the job's timeout-minutes is up: stopping the step`);
        stopGroup(child.pid);
      },
      Math.max(0, timeoutAt - Date.now()),
    );
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      fs.closeSync(log);
      running = undefined;
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

/** As a cancelled hosted run does: SIGINT (the lab removes its containers on it), then TERM, then KILL. */
function stopGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  const send = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // the group is gone already
    }
  };
  send('SIGINT');
  setTimeout(() => send('SIGTERM'), 15_000).unref();
  setTimeout(() => send('SIGKILL'), 30_000).unref();
}

async function runScript(s: JobState, step: Step, ctx: ExprContext): Promise<number> {
  const shell = SHELLS[step.shell ?? 'default'];
  if (!shell) throw new Error(`shell: ${step.shell} is not emulated (${Object.keys(SHELLS).join(', ')})`);
  const script = path.join(s.temp, `step-${Date.now()}.sh`);
  fs.writeFileSync(script, expand(step.run ?? '', ctx));
  const files = {
    GITHUB_OUTPUT: path.join(s.temp, 'output'),
    GITHUB_ENV: path.join(s.temp, 'env'),
    GITHUB_PATH: path.join(s.temp, 'path'),
    GITHUB_STEP_SUMMARY: path.join(s.temp, 'summary'),
  };
  for (const f of Object.values(files)) fs.writeFileSync(f, '');
  const env = { ...runnerEnv(s.o), ...githubEnv(s, files), ...ctx.env };
  env.PATH = [s.paths.shims, ...s.addedPath, env.PATH].join(':');
  const cwd = path.resolve(s.workspace, step['working-directory'] ?? '.');
  const stepDeadline = step['timeout-minutes'] ? Date.now() + Number(step['timeout-minutes']) * 60_000 : Infinity;
  const code = await runShell(s, [...shell, script], env, cwd, Math.min(s.deadline, stepDeadline));
  collectFiles(s, step, files);
  return code;
}

/** What the step told the runner through its files: outputs, env and PATH for later steps, its summary. */
function collectFiles(s: JobState, step: Step, files: Record<string, string>): void {
  if (step.id) s.steps[step.id] = { outputs: readCommandFile(files.GITHUB_OUTPUT) };
  Object.assign(s.addedEnv, readCommandFile(files.GITHUB_ENV));
  const added = fs.readFileSync(files.GITHUB_PATH, 'utf8').split('\n').filter(Boolean);
  s.addedPath.unshift(...added.reverse());
  s.summary += fs.readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8');
}

const stepName = (step: Step, ctx: ExprContext): string =>
  step.name !== undefined
    ? expand(step.name, ctx)
    : step.uses
      ? `Run ${step.uses}`
      : `Run ${(step.run ?? '').trim().split('\n')[0]}`;

async function runStep(s: JobState, step: Step): Promise<StepRun> {
  const t = Date.now();
  const ctx = exprContext(s, step);
  const name = stepName(step, ctx);
  const cond = condition(step.if, ctx);
  const statusOk =
    cond.status === 'always' || (cond.status === 'failure' ? s.failed : cond.status === 'success' && !s.failed);
  if (!statusOk || !cond.holds || stopped) {
    say(`    - ${name}: skipped${step.if ? ` (if: ${step.if})` : ''}`);
    return { name, status: 'skipped', seconds: 0 };
  }
  say(`    > ${name}`);
  fs.appendFileSync(s.logFile, `\n=== ${name}\n`);
  const action = actionFor(step);
  const inputs = Object.fromEntries(Object.entries(envStrings(step.with)).map(([k, v]) => [k, expand(v, ctx)]));
  const emulate =
    action &&
    (() =>
      action({
        workspace: s.workspace,
        artifacts: s.paths.artifacts,
        root: ROOT,
        sha: s.sha,
        inputs,
        say: (l) => say(`      | ${l}`),
      }));
  const code = emulate ? emulate() : await runScript(s, step, ctx);
  const ok = code === 0 || step['continue-on-error'] === true;
  if (!ok) s.failed = true;
  say(`    ${code === 0 ? 'ok' : ok ? 'FAILED (continue-on-error)' : 'FAILED'} ${name}: exit ${code}, ${seconds(t)} s`);
  return { name, status: code === 0 ? 'success' : 'failure', code, seconds: seconds(t) };
}

let stopped = false;

async function runJob(
  base: Omit<
    JobState,
    'workspace' | 'temp' | 'deadline' | 'addedEnv' | 'addedPath' | 'steps' | 'failed' | 'summary' | 'logFile'
  >,
): Promise<JobRun> {
  const t = Date.now();
  const slug = base.name.replace(/[^\w.-]+/g, '-');
  const workspace = path.join(base.paths.clones, slug);
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'rehearse-runner-temp-'));
  fs.mkdirSync(workspace, { recursive: true });
  const minutes = base.job['timeout-minutes'] ?? 360;
  const s: JobState = {
    ...base,
    workspace,
    temp,
    deadline: Date.now() + minutes * 60_000,
    addedEnv: {},
    addedPath: [],
    steps: {},
    failed: false,
    summary: '',
    logFile: path.join(base.paths.logs, `${slug}.log`),
  };
  say(
    `\nJOB ${base.jobId}: ${base.name}  (runs-on ${base.job['runs-on']}: here, this machine; timeout ${minutes} min; log ${s.logFile})`,
  );
  const steps: StepRun[] = [];
  try {
    for (const step of base.job.steps) steps.push(await runStep(s, step));
  } finally {
    fs.rmSync(temp, { recursive: true, force: true });
    fs.rmSync(workspace, { recursive: true, force: true });
  }
  const status: Status = stopped ? 'cancelled' : s.failed ? 'failure' : 'success';
  if (s.summary) fs.writeFileSync(path.join(base.paths.summaries, `${slug}.md`), s.summary);
  say(`JOB ${base.name}: ${status.toUpperCase()} in ${seconds(t)} s`);
  return { id: base.jobId, name: base.name, status, seconds: seconds(t), steps, summary: s.summary };
}

/** A job's result for those that need it: a failed or cancelled combination makes it failed. */
function neededResult(runs: JobRun[]): Status | 'not rehearsed' {
  if (runs.length === 0) return 'not rehearsed';
  if (runs.some((r) => r.status === 'failure' || r.status === 'cancelled')) return 'failure';
  return runs.every((r) => r.status === 'skipped') ? 'skipped' : 'success';
}

function jobRuns(job: Job, id: string, results: Map<string, JobRun[]>): boolean {
  const cond = condition(job.if, emptyContext());
  const needs = needsOf(job).map((n) => neededResult(results.get(n) ?? []));
  if (needs.length)
    say(
      `\n${id} needs ${needsOf(job)
        .map((n, i) => `${n}: ${needs[i]}`)
        .join(', ')}; if: ${job.if ?? 'success()'}`,
    );
  if (cond.status === 'always') return cond.holds;
  const failed = needs.some((r) => r === 'failure');
  const ok = needs.every((r) => r === 'success' || r === 'not rehearsed');
  return cond.holds && (cond.status === 'failure' ? failed : cond.status === 'success' ? ok : false);
}

function makePaths(): Paths {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rehearse-'));
  const paths: Paths = {
    work,
    artifacts: path.join(work, 'artifacts'),
    logs: path.join(work, 'logs'),
    summaries: path.join(work, 'summaries'),
    clones: path.join(work, 'clones'),
    shims: path.join(work, 'shims'),
  };
  for (const d of [paths.artifacts, paths.logs, paths.summaries, paths.clones]) fs.mkdirSync(d, { recursive: true });
  return paths;
}

function report(
  results: Map<string, JobRun[]>,
  skippedCombos: string[],
  o: Options,
  paths: Paths,
  started: number,
): boolean {
  say('\n==== rehearsal result');
  const all = [...results.values()].flat();
  for (const r of all)
    say(`  ${r.status.toUpperCase().padEnd(10)} ${String(r.seconds).padStart(7)} s  ${r.id}: ${r.name}`);
  for (const n of skippedCombos) say(`  NOT RUN HERE          ${n}`);
  for (const r of all.filter((j) => j.summary)) say(`\n---- step summary of ${r.name}\n${r.summary.trimEnd()}`);
  const red = all.some((r) => r.status === 'failure' || r.status === 'cancelled');
  say(`\nartifacts: ${paths.artifacts}\nstep logs: ${paths.logs}\nsummaries: ${paths.summaries}\n(clones removed)`);
  const rewritten = o.rewrites.length ? ' (WITH --rewrite: not the workflow as written)' : '';
  say(`\nworkflow ${shown(o.workflow)}: ${red ? 'RED' : 'GREEN'}${rewritten} in ${seconds(started)} s`);
  return !red;
}

async function rehearse(o: Options): Promise<boolean> {
  const started = Date.now();
  const wf = readWorkflow(o.workflow);
  checkSupported(wf);
  checkFilters(wf, o);
  applyRewrites(wf, o.rewrites);
  const sha = git('rev-parse', 'HEAD');
  const ref = git('rev-parse', '--abbrev-ref', 'HEAD');
  if (git('status', '--porcelain', '--untracked-files=no'))
    say(`NOTE: uncommitted changes are not rehearsed: the clones are of HEAD ${sha.slice(0, 12)}`);
  const paths = makePaths();
  const nodeModules = fs.realpathSync(path.join(ROOT, 'node_modules'));
  writeShims(paths.shims, nodeModules);
  const seeded = o.artifactsFrom ? seedArtifacts(o.artifactsFrom, paths.artifacts) : [];
  say(`rehearsing ${shown(o.workflow)} at ${sha.slice(0, 12)} (${ref}) in ${paths.work}`);
  say(
    `npm ci is never run: it becomes a symlink node_modules -> ${nodeModules}; sudo runs its command as this root user`,
  );
  if (o.artifactsFrom) say(`artifacts to start with, from ${o.artifactsFrom.dir}: ${seeded.join(', ')}`);
  const results = new Map<string, JobRun[]>();
  const notRun: string[] = [];
  for (const id of jobOrder(wf)) {
    const job = wf.jobs[id];
    const runs: JobRun[] = [];
    results.set(id, runs);
    for (const combo of matrixCombos(job)) {
      const name = job.name
        ? expand(job.name, { ...emptyContext(), matrix: combo })
        : [id, ...Object.values(combo)].join(' ');
      if ((o.jobs.length && !o.jobs.includes(id)) || !picked(combo, o)) notRun.push(`${id}: ${name}`);
      else if (stopped) runs.push({ id, name, status: 'cancelled', seconds: 0, steps: [], summary: '' });
      else if (!jobRuns(job, id, results))
        runs.push({ id, name, status: 'skipped', seconds: 0, steps: [], summary: '' });
      else runs.push(await runJob({ wf, o, paths, jobId: id, job, combo, name, sha, ref }));
    }
  }
  fs.rmSync(paths.clones, { recursive: true, force: true });
  return report(results, notRun, o, paths, started);
}

process.on('SIGINT', () => {
  if (stopped) process.exit(130);
  say('\nrehearsal: interrupted: stopping the running step (Ctrl-C again: leave now); no further step or job starts');
  stopped = true;
  stopGroup(running);
});

/** Options that node's parseArgs refuses (unknown, or a value it takes for an option) are usage errors too. */
const isUsage = (err: unknown): boolean =>
  err instanceof UsageError || String((err as { code?: string }).code).startsWith('ERR_PARSE_ARGS');

Promise.resolve()
  .then(() => rehearse(parseOptions(process.argv.slice(2))))
  .then(
    (green) => process.exit(green ? 0 : 1),
    (err: unknown) => {
      process.stderr.write(`rehearse-workflow: ${(err as Error).message}\n`);
      process.exit(isUsage(err) ? 2 : 1);
    },
  );
