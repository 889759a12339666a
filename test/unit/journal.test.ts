import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { actionsBetween, recordAction } from '../../lab/journal';

test('actions sent by other lab commands land on a load run timeline at their offset, for that lab only', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-journal-'));
  try {
    const before = Date.now();
    recordAction('a', 'signal', 'USR2 -> master 38', home);
    recordAction('b', 'initctl', 'restart phoenix', home);
    fs.appendFileSync(path.join(home, 'actions.jsonl'), '{"torn":\n');
    const got = actionsBetween('a', before - 500, before + 500, home);
    assert.equal(got.length, 1);
    assert.equal(got[0].kind, 'signal');
    assert.equal(got[0].label, 'USR2 -> master 38');
    assert.ok(got[0].at >= 500 && got[0].at < 1500, `offset from the run start: ${got[0].at}`);
    assert.deepEqual(actionsBetween('a', before + 60_000, before + 70_000, home), [], 'outside the run window');
    assert.equal(actionsBetween(undefined, before, before, home).length, 2);
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});
