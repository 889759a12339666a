/**
 * The hosted GitHub Actions workflows, read as GitHub reads them, for the two things that
 * check them here where GitHub is not: test/unit/workflow.test.ts (what the file says) and
 * test/support/rehearse-workflow.ts (what it does, run on this machine). Only the parts of
 * GitHub's expression language the files use are understood; anything else is an error, so
 * a new form in a workflow is noticed rather than guessed at.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { projectRoot } from '../../lab/engine/images';

type Scalar = string | number | boolean;

export interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  shell?: string;
  if?: string;
  with?: Record<string, Scalar>;
  env?: Record<string, Scalar>;
  'working-directory'?: string;
  'continue-on-error'?: boolean;
  'timeout-minutes'?: number;
}

export interface Job {
  name?: string;
  needs?: string | string[];
  if?: string;
  'runs-on'?: string;
  'timeout-minutes'?: number;
  env?: Record<string, Scalar>;
  strategy?: { 'fail-fast'?: boolean; matrix?: Record<string, unknown> };
  steps: Step[];
}

export interface Workflow {
  name?: string;
  env?: Record<string, Scalar>;
  jobs: Record<string, Job>;
}

export const ROOT = projectRoot(__dirname);
export const WORKFLOW_DIR = path.join(ROOT, '.github', 'workflows');

export function workflowFiles(dir = WORKFLOW_DIR): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The file parsed, with the shape checked as far as the code below relies on it. */
export function parseWorkflow(text: string, what = 'workflow'): Workflow {
  const doc: unknown = parse(text);
  if (!isMapping(doc) || !isMapping(doc.jobs)) throw new Error(`${what}: no jobs mapping`);
  for (const [id, job] of Object.entries(doc.jobs))
    if (!isMapping(job) || !Array.isArray(job.steps)) throw new Error(`${what}: job ${id} has no steps list`);
  return doc as unknown as Workflow;
}

export const readWorkflow = (file: string): Workflow => parseWorkflow(fs.readFileSync(file, 'utf8'), file);

export const needsOf = (job: Job): string[] => (job.needs === undefined ? [] : [job.needs].flat());

export type Combo = Record<string, string>;

/** Every combination of a job's matrix, in GitHub's order (the first key varies slowest). */
export function matrixCombos(job: Job): Combo[] {
  const matrix = job.strategy?.matrix;
  if (!matrix) return [{}];
  let combos: Combo[] = [{}];
  for (const [key, values] of Object.entries(matrix)) {
    // include/exclude change the matrix in ways the lab's files do not use: refuse, not ignore.
    if (key === 'include' || key === 'exclude') throw new Error(`matrix ${key}: not understood here`);
    if (!Array.isArray(values)) throw new Error(`matrix ${key}: a list expected`);
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: String(v) })));
  }
  return combos;
}

export interface ExprContext {
  matrix: Combo;
  env: Record<string, string>;
  steps: Record<string, { outputs: Record<string, string> }>;
  github: Record<string, string>;
}

export const emptyContext = (): ExprContext => ({ matrix: {}, env: {}, steps: {}, github: {} });

/** A workflow's env: block as the process environment gets it (SHARDS: 2 is the string "2"). */
export const envStrings = (env: Record<string, Scalar> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(env ?? {}).map(([k, v]) => [k, String(v)]));

function lookup(table: Record<string, string>, key: string, what: string): string {
  if (!(key in table)) throw new Error(`${what}.${key}: not defined here`);
  return table[key];
}

/** One value reference (matrix.x, env.X, steps.ID.outputs.X, github.x) or a literal. */
export function evaluate(expr: string, ctx: ExprContext): string {
  const e = expr.trim();
  const literal = /^'((?:[^']|'')*)'$/.exec(e);
  if (literal) return literal[1].replace(/''/g, "'");
  if (/^-?\d+(\.\d+)?$/.test(e)) return e;
  const ref = /^(matrix|env|github)\.([A-Za-z_][\w-]*)$/.exec(e);
  if (ref) return lookup(ctx[ref[1] as 'matrix' | 'env' | 'github'], ref[2], ref[1]);
  const out = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(e);
  // An output a step never wrote is the empty string, as on GitHub.
  if (out) return ctx.steps[out[1]]?.outputs[out[2]] ?? '';
  throw new Error(`expression '${e}': not understood here (matrix.x, env.X, steps.ID.outputs.x, github.x, 'text')`);
}

/** Text with every ${{ ... }} replaced by its value. */
export const expand = (text: string, ctx: ExprContext): string =>
  text.replace(/\$\{\{(.*?)\}\}/g, (_, e: string) => evaluate(e, ctx));

export type StatusCheck = 'success' | 'always' | 'failure' | 'cancelled';

/**
 * An `if:` as GitHub reads it: a status function, a comparison, or a comparison with the
 * implicit success() in front. Strings compare without case, as GitHub compares them.
 */
export function condition(text: string | undefined, ctx: ExprContext): { status: StatusCheck; holds: boolean } {
  if (text === undefined) return { status: 'success', holds: true };
  const e = text
    .trim()
    .replace(/^\$\{\{(.*)\}\}$/s, '$1')
    .trim();
  const fn = /^(success|always|failure|cancelled)\(\)$/.exec(e);
  if (fn) return { status: fn[1] as StatusCheck, holds: true };
  const cmp = /^(.+?)\s*(==|!=)\s*(.+)$/.exec(e);
  if (cmp && !/&&|\|\||\(/.test(e)) {
    const same = evaluate(cmp[1], ctx).toLowerCase() === evaluate(cmp[3], ctx).toLowerCase();
    return { status: 'success', holds: cmp[2] === '==' ? same : !same };
  }
  throw new Error(`if: ${text}: not understood here (always(), success(), failure(), cancelled(), a == 'b', a != 'b')`);
}

/** An artifact name pattern (download-artifact's `pattern`) as a regular expression. */
export const globToRegExp = (glob: string): RegExp =>
  new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
