import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { COMMANDS } from '../../lab/commands';
import { ROOT } from '../support/root';

/**
 * README's table of lab commands is where a person first learns a flag; --help is what the
 * code accepts. Each command must have a row, and the row must name exactly the flags --help
 * lists, so neither can drift from the other.
 */

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The first cell of README's row for `lab NAME`, or undefined. */
function readmeRow(name: string): string | undefined {
  const row = README.split('\n').find((l) => l.startsWith(`| \`lab ${name}`));
  return row?.split(/(?<!\\)\|/)[1];
}

const flagsIn = (text: string): string[] => [...new Set(text.match(/--[a-z][a-z0-9-]*/g) ?? [])].sort();

/** The flags --help declares: its lines that start with two spaces and a flag. */
function helpFlags(usage: string): string[] {
  return flagsIn(
    usage
      .split('\n')
      .filter((l) => /^ {2}--[a-z]/.test(l))
      .map((l) => l.trim().split(/\s/)[0])
      .join(' '),
  );
}

describe("README's command table and each command's --help", () => {
  for (const c of COMMANDS) {
    it(`lab ${c.name}: a row, naming the flags --help lists`, () => {
      const row = readmeRow(c.name);
      assert.ok(row, `README has no row for lab ${c.name}`);
      assert.deepEqual(flagsIn(row), helpFlags(c.usage), `README's row: ${row.trim()}`);
    });
  }
});
