import * as fs from 'node:fs';
import { type Fields, type WrapperEvent, formatEvent } from '../events';

/** One lifecycle event, one line on stderr, in the project's one event format (src/events.ts). */
export function emitEvent(event: WrapperEvent, fields: Fields = {}): void {
  const line = formatEvent('unicorn-wrapper', {
    ts: new Date().toISOString(),
    pid: process.pid,
    role: 'wrapper',
    event,
    ...fields,
  });
  try {
    fs.writeSync(2, line);
  } catch {
    // A closed stderr (upstart's console log gone) must not take the wrapper down: it would
    // take upstart's view of the job with it.
  }
}

/** The message for a person: exactly one line per refusal, so it can be read in a job log. */
export function say(message: string): void {
  try {
    fs.writeSync(2, `unicorn-wrapper: ${message}\n`);
  } catch {
    /* as above */
  }
}
