import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from './root';

/** The built `lab` CLI (npm run build). */
export const LAB_CLI = path.join(ROOT, 'dist', 'lab', 'cli.js');

export interface Ran {
  code: number | null;
  /** the lab process's pid, to look for what it may have left behind */
  pid: number;
  stdout: string;
  stderr: string;
}

/** One `lab` command run to its end with its own LAB_HOME, its output kept. */
export function runLab(args: string[], home: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [LAB_CLI, ...args], {
      env: { ...process.env, LAB_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.once('error', reject);
    p.once('exit', (code) => resolve({ code, pid: p.pid ?? -1, stdout, stderr }));
  });
}
