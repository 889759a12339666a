import type { At, UnitModel } from './types';

/**
 * systemd unit files as systemd reads them (systemd.syntax(7)): [Section] headers, Key=Value,
 * `#`/`;` comments, a trailing backslash continues the line. Every assignment is kept with its
 * line, so a finding can point at it; an empty assignment (`PIDFile=`) resets the key, as in
 * systemd, and is kept too so the reset itself is evidence.
 */
export function parseUnit(file: string, text: string): UnitModel {
  const lines = text.split('\n');
  const values: UnitModel['values'] = {};
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i];
    while (/\\$/.test(line) && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i].trim()}`;
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]$/.exec(t);
    if (header) {
      section = header[1];
      continue;
    }
    const eq = t.indexOf('=');
    if (eq < 0) continue;
    const key = t.slice(0, eq).trim();
    const value = t.slice(eq + 1).trim();
    ((values[section] ??= {})[key] ??= []).push({ value, file, line: start + 1, text: lines[start] });
  }
  return { file, text, lines, values };
}

/** The value that counts: the last assignment after the last reset (an empty one). */
export function unitValue(u: UnitModel, section: string, key: string): At<string> | undefined {
  const all = u.values[section]?.[key];
  return all === undefined || all.length === 0 ? undefined : all[all.length - 1];
}

/** A unit's kind by its name or, for a drop-in, by its sections. */
export function unitType(file: string, text: string): 'service' | 'socket' | 'other' {
  if (file.endsWith('.service')) return 'service';
  if (file.endsWith('.socket')) return 'socket';
  if (/^\[Service\]/m.test(text)) return 'service';
  if (/^\[Socket\]/m.test(text)) return 'socket';
  return 'other';
}
