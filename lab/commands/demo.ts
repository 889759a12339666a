import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { flagHelp, parseFlags } from '../args';
import { LabExit } from '../errors';
import { type DemoIO, runDemo } from '../session/demo';
import { imageFor } from '../session/runner';
import { resolveLab } from '../resolve';
import type { Command } from './command';
import { docker } from './target';

const FLAGS = {
  flavour: { kind: 'flavour', help: 'precise or bookworm (default precise, bookworm when precise cannot be had)' },
  server: {
    kind: 'server',
    help: "unicorn (the seed's story: its PoC, then the wrapper) or phoenix (the Node server's story)",
    default: 'unicorn',
  },
  'no-pause': { kind: 'boolean', help: 'do not wait for Enter between steps' },
  image: { kind: 'string', help: "boot this image instead of the flavour's own" },
} as const;

/**
 * Enter to go on. One reader for the whole demo, with the lines typed ahead kept, so a
 * presenter (or a pipe) pressing Enter early never loses a step; Ctrl-C still ends the demo
 * and removes its containers.
 */
class Presenter {
  private readonly typed: string[] = [];
  private waiting: (() => void) | undefined;
  private ended = false;
  private readonly rl = readline.createInterface({ input: process.stdin, output: process.stdout });

  constructor() {
    this.rl.on('line', (l) => {
      if (this.waiting) {
        const go = this.waiting;
        this.waiting = undefined;
        go();
      } else this.typed.push(l);
    });
    // readline takes Ctrl-C for itself: hand it on to whoever cleans up, or just stop.
    this.rl.on('SIGINT', () => {
      this.rl.close();
      if (process.listenerCount('SIGINT') > 0) process.emit('SIGINT', 'SIGINT');
      else process.exit(130);
    });
    // stdin ends (a pipe ran out): nothing more will come, so go on without waiting.
    this.rl.on('close', () => {
      this.ended = true;
      this.waiting?.();
    });
  }

  pause = (): Promise<void> => {
    process.stdout.write('\n[Enter] for the next step ');
    if (this.typed.shift() !== undefined || this.ended) return Promise.resolve(void process.stdout.write('\n'));
    return new Promise((resolve) => (this.waiting = resolve));
  };

  close(): void {
    this.rl.close();
  }
}

function onPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    try {
      accessSync(path.join(dir, cmd), constants.X_OK);
      return path.join(dir, cmd);
    } catch {
      // not here
    }
  }
  return undefined;
}

/** On a desktop, opens the page in the browser; elsewhere the printed path is enough. */
function openOnDesktop(file: string): boolean {
  const opener = onPath('xdg-open');
  if (!opener || !(process.env.DISPLAY || process.env.WAYLAND_DISPLAY)) return false;
  const child = spawn(opener, [file], { stdio: 'ignore', detached: true });
  child.on('error', () => undefined);
  child.unref();
  return true;
}

export const demo: Command = {
  name: 'demo',
  summary:
    "walk through the seed's story by running catalogue scenarios: the PoC, USR2, the wrapper's fix, the 502 and its fix",
  usage: `lab demo [--no-pause] [--flavour precise|bookworm] [--server unicorn|phoenix]

The seed's story, told by running catalogue scenarios on fresh labs, each step saying why it
runs, the scenario's story and what it expects, then the verdict with its numbers:
  unicorn (default): seed-poc (the PoC and one USR2), wrapper-fix (20 USR2 through
                     unicorn-wrapper), socket-permissions (502 and its fixes)
  phoenix:           bridge-inplace, bridge-reexec, socket-permissions
It waits for Enter between steps unless --no-pause (or stdin is not a terminal), writes a report
per step and a page linking them, prints its path and opens it on a desktop.

${flagHelp(FLAGS)}`,
  async run(argv) {
    const { flags } = parseFlags('demo', argv, FLAGS);
    const d = await docker();
    const say = (line: string) => process.stderr.write(`    ${line}\n`);
    // The demo's own image cache (imageFor) so its steps reuse the image resolveLab built.
    const { init, server, image } = await resolveLab(flags, { docker: d, log: say, imageOf: imageFor });
    const flavour = init.name;
    const presenter = !flags['no-pause'] && process.stdin.isTTY ? new Presenter() : undefined;
    const io: DemoIO = {
      out: (t) => void process.stdout.write(t),
      say,
      pause: presenter?.pause ?? (async () => undefined),
    };
    process.stdout.write(`lab demo on ${flavour} (${image})${presenter ? '' : ', without pauses'}\n`);
    const { reports, summary } = await runDemo(flavour, image, io, server.name).finally(() => presenter?.close());
    const file = path.resolve(summary);
    process.stdout.write(
      `\nThe demo's report: ${file}\n${reports.map((r) => `  ${r.verdict.outcome.padEnd(10)} ${r.scenario}: ${r.report}`).join('\n')}\n`,
    );
    if (openOnDesktop(file)) process.stdout.write('(opened in your browser)\n');
    return reports.some((r) => r.verdict.outcome === 'UNEXPECTED') ? LabExit.FAILED : LabExit.OK;
  },
};
