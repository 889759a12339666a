// node dist/lab/jobcheck/cli.js [--known-event NAME]... FILE...
// Prints FILE:LINE: error|warning: message; exits 1 on any error, 0 when
// there are none, 2 on bad usage or an unreadable file. All files are checked
// together, so events one of them `emits` are known to the others.

import { readFileSync } from 'node:fs';
import { checkJobFiles, JobFile } from './index';

const USAGE =
  'usage: jobcheck [--known-event NAME]... FILE.conf...\n  checks upstart 1.5 job files; exit 1 on errors, 2 on bad usage';

export interface Output {
  out: (line: string) => void;
  err: (line: string) => void;
}

interface Arguments {
  files: string[];
  knownEvents: string[];
}

function parseArguments(argv: readonly string[]): Arguments | string {
  const parsed: Arguments = { files: [], knownEvents: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--known-event') {
      const name = argv[++i];
      if (name === undefined) return '--known-event needs an event name';
      parsed.knownEvents.push(name);
    } else if (arg.startsWith('--known-event=')) {
      parsed.knownEvents.push(arg.slice('--known-event='.length));
    } else if (arg === '-h' || arg === '--help') {
      return '';
    } else if (arg.startsWith('-') && arg !== '-') {
      return `unknown option ${arg}`;
    } else {
      parsed.files.push(arg);
    }
  }
  return parsed.files.length === 0 ? 'no job files given' : parsed;
}

export function main(argv: readonly string[], output: Output): number {
  const args = parseArguments(argv);
  if (typeof args === 'string') {
    if (args !== '') output.err(`jobcheck: ${args}`);
    output.err(USAGE);
    return 2;
  }
  const files: JobFile[] = [];
  for (const fileName of args.files) {
    try {
      files.push({ fileName, text: readFileSync(fileName, 'utf8') });
    } catch (err) {
      output.err(`jobcheck: cannot read ${fileName}: ${err instanceof Error ? err.message : String(err)}`);
      output.err(USAGE);
      return 2;
    }
  }
  let errors = 0;
  for (const report of checkJobFiles(files, { knownEvents: args.knownEvents })) {
    for (const p of report.problems) {
      if (p.severity === 'error') errors++;
      output.out(`${report.fileName}:${p.line}: ${p.severity}: ${p.message}`);
    }
  }
  return errors > 0 ? 1 : 0;
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
}
