import * as path from 'node:path';
import { LabError, LabExit } from '../errors';
import { DRIVERS, FLAVOURS, type Flavour } from '../flavours';
import type { InitFamily } from '../flavours/types';
import { parseJob } from '../jobcheck/parse';
import { execLookup, scriptLookups } from '../jobcheck/shell';
import type { Stanza } from '../jobcheck/types';
import { readCommand, scriptCommand } from './command';
import { parseUnit, unitType, unitValue } from './units';
import type {
  AppCommand,
  At,
  AuditModel,
  Evidence,
  JobModel,
  ServiceModel,
  SiteModel,
  TeamFile,
  UnitModel,
} from './types';

/**
 * From the team's files to the model every rule reads: which init (from the files, unless
 * --flavour), the job or the units, how they run unicorn, the nginx site's upstreams. Refuses,
 * with one message naming the file, what the audit cannot judge: a file for the other init,
 * two jobs that both run the app, a job written for a later upstart.
 */

const usage = (message: string) => new LabError(`lab audit: ${message}`, LabExit.USAGE);

function evidence(file: string, lines: readonly string[], line: number): Evidence {
  return { file, line, text: lines[line - 1] ?? '' };
}

function at<T>(value: T, file: string, lines: readonly string[], line: number): At<T> {
  return { value, ...evidence(file, lines, line) };
}

/** Stanzas of upstart 1.10 and later: 1.5 refuses the whole file (or ignores the socket). */
function laterUpstart(job: TeamFile, stanzas: readonly Stanza[]): string | undefined {
  const lines = job.text.split('\n');
  for (const s of stanzas) {
    if (s.keyword === 'reload' && s.args[0]?.text === 'signal')
      return (
        `${job.path}:${s.line}: \`reload signal\` is upstart 1.10 syntax; upstart 1.5 (Ubuntu 12.04) ` +
        'refuses the whole job. Remove it (initctl reload always sends HUP on 1.5) and audit again'
      );
  }
  const i = lines.findIndex((l) => /^\s*start\s+on\b.*\bSOCKET_PATH=/.test(l));
  if (i >= 0)
    return (
      `${job.path}:${i + 1}: SOCKET_PATH= is upstart 1.12's socket event; 1.5's bridge ignores it and ` +
      'makes no socket. Write `start on socket PROTO=unix PATH=/your/socket` and audit again'
    );
  return undefined;
}

export function jobModel(file: string, text: string): JobModel {
  const lines = text.split('\n');
  const { stanzas } = parseJob(text);
  const env: JobModel['env'] = {};
  const job: JobModel = { file, text, lines, env, pathLookups: [] };
  for (const s of stanzas) {
    const a0 = s.args[0]?.text;
    if (s.keyword === 'start' && a0 === 'on') {
      const words = s.args.map((t) => t.text);
      const i = words.indexOf('socket');
      const p = i >= 0 ? words.slice(i + 1).find((w) => w.startsWith('PATH=')) : undefined;
      const inet = i >= 0 && words.slice(i + 1).includes('PROTO=inet');
      if (p !== undefined && !inet) {
        const tok = s.args.find((t) => t.text === p);
        job.bridgeSocket = at(p.slice('PATH='.length), file, lines, tok?.line ?? s.line);
      }
    } else if (s.keyword === 'respawn' && s.args.length === 0) job.respawn = evidence(file, lines, s.line);
    else if (s.keyword === 'expect' && a0) job.expect = at(a0, file, lines, s.line);
    else if (s.keyword === 'chdir' && a0) job.chdir = at(a0, file, lines, s.line);
    else if (s.keyword === 'env' && a0) {
      const eq = a0.indexOf('=');
      const [k, v] = eq < 0 ? [a0, s.args[1]?.text ?? ''] : [a0.slice(0, eq), a0.slice(eq + 1)];
      env[k] = at(v, file, lines, s.line);
    } else if (s.keyword === 'kill' && a0 === 'timeout' && s.args[1]) {
      job.killTimeout = at(Number(s.args[1].text), file, lines, s.line);
    } else if (s.keyword === 'exec' && s.command) {
      job.main = readCommand(s.command.text, evidence(file, lines, s.line));
    } else if (s.keyword === 'script' && s.mode === 'script' && s.script) {
      const cmd = scriptCommand(s.script.body);
      const whole = s.script.body.map((l) => l.text).join('\n');
      job.main = cmd
        ? readCommand(cmd.text, evidence(file, lines, cmd.line), whole)
        : readCommand('', evidence(file, lines, s.line), whole);
    }
  }
  if (job.bridgeSocket) {
    for (const s of stanzas) {
      const found =
        s.mode === 'exec' && s.command
          ? [execLookup(s.command.text, s.line)].filter((x) => x !== undefined)
          : s.mode === 'script' && s.script
            ? scriptLookups(s.script.body)
            : [];
      for (const l of found) job.pathLookups.push({ word: l.word, at: evidence(file, lines, l.line) });
    }
  }
  return job;
}

/** ExecStart= without systemd's prefixes (-, @, +, !, :). */
function execStart(u: UnitModel): AppCommand | undefined {
  const v = unitValue(u, 'Service', 'ExecStart');
  if (v === undefined || v.value === '') return undefined;
  return readCommand(v.value.replace(/^[-@+!:]+/, ''), { file: v.file, line: v.line, text: v.text });
}

export function siteModel(file: string, text: string): SiteModel {
  const lines = text.split('\n');
  const site: SiteModel = { file, lines, unixUpstreams: [], tcpUpstreams: [] };
  lines.forEach((raw, i) => {
    const l = raw.replace(/#.*$/, '');
    const unix = /\b(?:server|proxy_pass\s+https?:\/\/)\s*unix:([^\s;:]+)/.exec(l);
    if (unix) site.unixUpstreams.push(at(unix[1], file, lines, i + 1));
    const tcp = /^\s*(?:server\s+|proxy_pass\s+https?:\/\/)((?:\d{1,3}(?:\.\d{1,3}){3}|localhost|\[[^\]]+\]):\d+)/.exec(
      l,
    );
    if (tcp) site.tcpUpstreams.push(at(tcp[1], file, lines, i + 1));
  });
  return site;
}

export interface Built {
  model: Omit<AuditModel, 'config'>;
  flavourFrom: string;
  configFile?: TeamFile;
}

const APP_RUNNERS = new Set(['direct', 'wrapper', 'herder']);

/** The model, or one refusal naming the file. */
export function buildModel(files: readonly TeamFile[], flavour?: Flavour): Built {
  const jobs = files.filter((f) => f.kind === 'upstart-job');
  const units = files.filter((f) => f.kind === 'systemd-unit');
  // The init comes from the driver registry by family: a job is the first upstart flavour
  // (precise, upstart 1.5), units the first systemd one (bookworm).
  const familyOf = (f: Flavour) => DRIVERS[f].family;
  const firstOf = (family: InitFamily) => FLAVOURS.find((f) => familyOf(f) === family)!;
  let chosen: Flavour;
  let flavourFrom: string;
  if (flavour !== undefined && familyOf(flavour) === 'upstart' && units.length > 0)
    throw usage(
      `${units[0].path} is a systemd unit, and --flavour ${flavour} runs ${DRIVERS[flavour].init}, which ` +
        'cannot read it: give the upstart job instead, or leave --flavour out to audit the unit under systemd',
    );
  if (flavour !== undefined && familyOf(flavour) === 'systemd' && jobs.length > 0)
    throw usage(
      `${jobs[0].path} is an upstart job, and --flavour ${flavour} runs ${DRIVERS[flavour].init}, which ` +
        'cannot read it: give the systemd units instead, or leave --flavour out to audit the job under upstart',
    );
  if (flavour !== undefined) {
    chosen = flavour;
    flavourFrom = '--flavour';
  } else if (jobs.length > 0 && units.length > 0) {
    throw usage(
      `both an upstart job (${jobs[0].path}) and systemd units (${units[0].path}): audit one init at a ` +
        `time: give --flavour (${FLAVOURS.join(' or ')}), with only that init's files`,
    );
  } else if (jobs.length > 0) {
    chosen = firstOf('upstart');
    flavourFrom = `${jobs[0].path} is an upstart job`;
  } else if (units.length > 0) {
    chosen = firstOf('systemd');
    flavourFrom = `${units[0].path} is a systemd unit`;
  } else {
    throw usage(
      'no upstart job and no systemd unit among the files: lab audit reads the init from them; give the ' +
        `job (--job) or the units (--unit), or --flavour ${FLAVOURS.join('|')}`,
    );
  }
  const upstart = familyOf(chosen) === 'upstart';

  const jobModels = jobs.map((j) => {
    // The refusal is about 1.5: a later upstart flavour reads these stanzas.
    const later = /^upstart 1\.5\b/.test(DRIVERS[chosen].init) ? laterUpstart(j, parseJob(j.text).stanzas) : undefined;
    if (later) throw usage(later);
    return jobModel(j.path, j.text);
  });
  const appJobs = jobModels.filter((j) => j.main && APP_RUNNERS.has(j.main.runner));
  if (appJobs.length > 1)
    throw usage(
      `two job files run unicorn (${appJobs.map((j) => j.file).join(' and ')}): audit one app at a time; put the other in a folder of its own`,
    );
  if (appJobs.length === 0 && jobModels.length > 1)
    throw usage(
      `${jobModels.length} job files and none runs unicorn (${jobModels.map((j) => j.file).join(', ')}): give the job that starts your app`,
    );
  const job = appJobs[0] ?? jobModels[0];
  if (job && flavour === undefined) flavourFrom = `${job.file} is an upstart job`;

  const parsedUnits = units.map((u) => ({ f: u, type: unitType(u.path, u.text), m: parseUnit(u.path, u.text) }));
  const services = parsedUnits.filter((u) => u.type === 'service' && /\.service$/.test(u.f.path));
  const dropIns = parsedUnits.filter((u) => u.type === 'service' && !/\.service$/.test(u.f.path));
  const sockets = parsedUnits.filter((u) => u.type === 'socket');
  const appServices = services.filter((s) => APP_RUNNERS.has(execStart(s.m)?.runner ?? ''));
  if (appServices.length > 1)
    throw usage(
      `two services run unicorn (${appServices.map((s) => s.f.path).join(' and ')}): audit one app at a time; put the other in a folder of its own`,
    );
  const svc = appServices[0] ?? services[0];
  let service: ServiceModel | undefined;
  if (svc) {
    // Drop-ins add to the unit's values, in file order, as systemd applies them.
    for (const d of dropIns)
      for (const [section, keys] of Object.entries(d.m.values))
        for (const [k, vs] of Object.entries(keys)) ((svc.m.values[section] ??= {})[k] ??= []).push(...vs);
    service = { ...svc.m, main: execStart(svc.m), socketActivated: sockets.length > 0 };
  } else if (dropIns.length > 0) {
    throw usage(`${dropIns[0].f.path} is a drop-in, but no .service is given for it: give the unit it changes`);
  }

  const configs = files.filter((f) => f.kind === 'unicorn-config');
  const main = job?.main ?? service?.main;
  let configFile = configs[0];
  if (configs.length > 1) {
    const wanted = main?.unicorn?.config;
    configFile =
      configs.find((c) => wanted !== undefined && path.basename(c.path) === path.basename(wanted)) ?? configs[0];
  }
  const sites = files.filter((f) => f.kind === 'nginx-site');
  const lock = files.find((f) => path.basename(f.path) === 'Gemfile.lock');
  const bundler = lock ? /^BUNDLED WITH\s*\n\s+(\S+)/m.exec(lock.text)?.[1] : undefined;
  const mainWords = new Set((main?.words ?? []).map((w) => path.basename(w)));
  const scripts = files
    .filter((f) => f.kind === 'script' && mainWords.has(path.basename(f.path)))
    .map((f) => ({ file: f.path, text: f.text }));

  return {
    model: {
      flavour: chosen,
      job: upstart ? job : undefined,
      helperJobs: upstart ? jobModels.filter((j) => j !== job) : [],
      service: upstart ? undefined : service,
      socket: upstart ? undefined : sockets[0]?.m,
      configText: configFile?.text,
      site: sites[0] ? siteModel(sites[0].path, sites[0].text) : undefined,
      scripts,
      bundlerVersion: bundler,
    },
    flavourFrom,
    configFile,
  };
}

/** The environment the job or unit gives unicorn (env stanzas, Environment=). */
export function appEnvironment(m: Pick<AuditModel, 'job' | 'service'>): Record<string, string> {
  const env: Record<string, string> = {};
  if (m.job) for (const [k, v] of Object.entries(m.job.env)) env[k] = v.value;
  for (const e of m.service?.values.Service?.Environment ?? []) {
    for (const w of e.value.match(/(?:[^\s"]+|"[^"]*")+/g) ?? []) {
      const eq = w.indexOf('=');
      if (eq > 0) env[w.slice(0, eq)] = w.slice(eq + 1).replace(/^"|"$/g, '');
    }
  }
  return env;
}
