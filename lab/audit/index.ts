import { LabExit } from '../errors';
import type { Flavour } from '../flavours';
import { findScenario } from '../scenarios/catalogue';
import { readConfig } from './configurator';
import { type AuditInput, gather } from './files';
import { fixesFor, readRecipe } from './fix';
import { appEnvironment, buildModel } from './model';
import { initSocket, runRules } from './rules';
import { jobChecks, nginxTest, rubySyntax, verifyUnits } from './tools';
import type { AuditModel, AuditReport, CheckResult, TeamFile } from './types';

export interface StaticOptions extends AuditInput {
  flavour?: Flavour;
  /** the project root the recipe is read from (tests point it elsewhere) */
  root?: string;
}

/**
 * `lab audit --static`: the team's files through the tools they know and the rules that map a
 * configuration to the catalogue. No container; reads the files, writes only temp dirs.
 */
export function auditStatic(o: StaticOptions): AuditReport {
  return staticAudit(o).report;
}

/** The static audit with what it read: the model and the files, which the dynamic part installs. */
export function staticAudit(o: StaticOptions): { report: AuditReport; model: AuditModel; files: TeamFile[] } {
  const t0 = Date.now();
  const { files, ignored } = gather(o);
  const built = buildModel(files, o.flavour);
  const model: AuditModel = { ...built.model };
  const checks: CheckResult[] = [];
  const notJudged: string[] = [];

  if (model.job) checks.push(...jobChecks(files.filter((f) => f.kind === 'upstart-job')));
  if (model.service || model.socket) checks.push(...verifyUnits(files.filter((f) => f.kind === 'systemd-unit')));

  const cfg = built.configFile;
  if (cfg) {
    checks.push(rubySyntax(cfg));
    const run = readConfig(cfg.path, cfg.text, appEnvironment(model));
    const tool = "unicorn's Unicorn::Configurator";
    if (run.unavailable) {
      checks.push({ tool, file: cfg.path, status: 'skipped', messages: [run.unavailable] });
      notJudged.push(`the rules that read unicorn's config: ${run.unavailable}`);
    } else {
      model.config = run.facts;
      checks.push({
        tool,
        file: cfg.path,
        status: run.facts.loaded ? 'ok' : 'error',
        messages: run.facts.loaded ? [] : [`${cfg.path}: ${run.facts.error}`],
      });
    }
  }
  for (const ru of files.filter((f) => f.kind === 'rackup')) checks.push(rubySyntax(ru));
  const site = files.find((f) => f.kind === 'nginx-site');
  if (site) checks.push(nginxTest(site));
  checks.push(...crossChecks(model));

  const main = model.job?.main ?? model.service?.main;
  const runs = model.job?.file ?? model.service?.file;
  if (runs && main?.runner === 'other')
    notJudged.push(
      `${main.at.file}:${main.at.line}: the main process runs neither unicorn, unicorn-wrapper nor a herder the audit ` +
        `recognises (${main.words.slice(0, 3).join(' ') || 'nothing'}): the rules about how unicorn runs were not applied`,
    );
  const { findings, notJudged: nj } = runRules(model);
  notJudged.push(...nj);
  const recipe = readRecipe(o.root);
  for (const f of findings) {
    if (!findScenario(f.scenario))
      throw new Error(`audit rule ${f.rule} names '${f.scenario}', which the catalogue does not have`);
    f.fixes = fixesFor(f, model, recipe);
  }
  const report: AuditReport = {
    flavour: model.flavour,
    flavourFrom: built.flavourFrom,
    files: files.map((f) => ({ path: f.path, kind: f.kind })),
    ignored,
    checks,
    findings,
    notJudged,
    seconds: (Date.now() - t0) / 1000,
  };
  return { report, model, files };
}

const norm = (p: string) => p.replace(/^unix:/, '').replace(/^\/var\/run\//, '/run/');
const portOf = (addr: string): string | undefined => /(?:^|:)(\d+)$/.exec(addr)?.[1];

/** What no single tool sees: the site and the app must meet on the same socket or port. */
export function crossChecks(m: AuditModel): CheckResult[] {
  const out: CheckResult[] = [];
  const site = m.site;
  if (!site) return out;
  const main = m.job?.main ?? m.service?.main;
  const sock = initSocket(m)?.path;
  const appUnix = [
    ...(sock ? [sock] : []),
    ...(main?.unicorn?.listen ?? []).filter((l) => norm(l).startsWith('/')),
    ...(m.config?.listeners ?? []).map((l) => l.address).filter((a) => norm(a).startsWith('/')),
  ].map(norm);
  const tool = 'the site and the app meet';
  const errors: string[] = [];
  if (site.unixUpstreams.length > 0 && appUnix.length > 0) {
    for (const u of site.unixUpstreams)
      if (!appUnix.includes(norm(u.value)))
        errors.push(
          `${u.file}:${u.line}: nginx proxies to ${u.value}, but the app's socket is ` +
            `${[...new Set(appUnix)].join(', ')}: every request would be a 502; make them the same path`,
        );
  }
  const tcp = (m.config?.listeners ?? []).filter((l) => !norm(l.address).startsWith('/'));
  const sitePorts = new Set(site.tcpUpstreams.map((u) => portOf(u.value)));
  for (const l of tcp) {
    const port = portOf(l.address);
    if (port && !sitePorts.has(port))
      errors.push(
        `${m.config!.file}:${l.line}: unicorn listens on ${l.address}, a port the site (${site.file}) does not proxy to: ` +
          `nginx never sends it a request; add \`server 127.0.0.1:${port};\` to the site's upstream, or drop this listen`,
      );
  }
  out.push({
    tool,
    file: `${site.file}, ${m.job?.file ?? m.service?.file ?? m.config?.file ?? ''}`,
    status: errors.length ? 'error' : 'ok',
    messages: errors,
  });
  return out;
}

/** 0 clean, 1 an exposure or a failed check. */
export function exitCodeOf(r: AuditReport): number {
  return r.findings.length > 0 || r.checks.some((c) => c.status === 'error') ? LabExit.FAILED : LabExit.OK;
}
