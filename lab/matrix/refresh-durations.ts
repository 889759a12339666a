/**
 * npm run matrix:durations -- DIR...: measure how long each cell takes from the run folders
 * under DIR... (a `run --all` summary folder, merged shards, a LAB_HOME) and write them to
 * lab/matrix/measured-durations.json, which `--shard I/N` balances by. Run it after a full matrix on a
 * machine like the one the shards run on; commit the new table with the run it came from.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { projectRoot } from '../engine/images';
import { findScenario } from '../scenarios/catalogue';
import { type DurationTable, median } from './durations';
import { collect } from './merge';

/**
 * A new table from the run folders under `dirs`: the median of every matrix cell's runs that ran
 * to a verdict (a crashed, not applicable or INFRASTRUCTURE run says nothing of how long it takes).
 */
function measureDurations(
  dirs: readonly string[],
  about: string,
  inMatrix: (scenario: string) => boolean,
): DurationTable {
  const by = new Map<string, number[]>();
  for (const r of collect(dirs).runs) {
    if (
      !inMatrix(r.scenario) ||
      !r.applicable ||
      r.error !== undefined ||
      !['EXPECTED', 'UNEXPECTED'].includes(r.outcome)
    )
      continue;
    const key = `${r.scenario}/${r.flavour}/${r.server}`;
    by.set(key, [...(by.get(key) ?? []), r.seconds]);
  }
  const keys = [...by.keys()].sort();
  return {
    about,
    seconds: Object.fromEntries(keys.map((k) => [k, Math.max(1, Math.round(median(by.get(k)!)))])),
    runs: Object.fromEntries(keys.map((k) => [k, by.get(k)!.length])),
  };
}

function main(dirs: string[]): number {
  if (dirs.length === 0) {
    process.stderr.write('matrix:durations: name the folders with run folders to measure (DIR...)\n');
    return 2;
  }
  const about =
    `medians of the runs under ${dirs.length} folder(s), measured on ${os.hostname()} ` +
    `(${os.cpus().length} cores) up to ${new Date().toISOString().slice(0, 10)}; refresh: npm run matrix:durations -- DIR...`;
  // chaos runs and anything else outside the catalogue are not cells of the matrix
  const t = measureDurations(dirs, about, (name) => findScenario(name) !== undefined);
  const cells = Object.keys(t.seconds).length;
  if (cells === 0) {
    process.stderr.write(
      `matrix:durations: no run that reached a verdict under ${dirs.join(', ')}; the table is kept\n`,
    );
    return 1;
  }
  const file = path.join(projectRoot(), 'lab', 'matrix', 'measured-durations.json');
  fs.writeFileSync(file, `${JSON.stringify(t, null, 2)}\n`);
  process.stdout.write(`${file}: ${cells} cells, from ${Object.values(t.runs).reduce((a, b) => a + b, 0)} runs\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
