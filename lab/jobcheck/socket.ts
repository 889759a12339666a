// What upstart 1.5's socket bridge (extra/upstart-socket-bridge.c) makes of a
// `socket` event in start on / stop on. The bridge reads the variables in
// order, PROTO first, and silently ignores the whole event (no socket, so
// clients get ENOENT) on anything it does not understand.

import { EventMatch } from './events';
import { Problem } from './types';

const error = (line: number, message: string): Problem => ({ line, severity: 'error', message });
const warning = (line: number, message: string): Problem => ({ line, severity: 'warning', message });

// sun_path is 108 bytes and the bridge copies it with strncpy: keep a NUL.
const MAX_PATH = 107;

const FORMS =
  'write `start on socket PROTO=unix PATH=/var/run/app/app.sock` or `start on socket PROTO=inet PORT=8080 ADDR=127.0.0.1`';

export function checkSocketEvent(event: EventMatch): Problem[] {
  if (event.args.length === 0) {
    return [
      warning(
        event.line,
        `bare \`socket\` event: the bridge warns and binds nothing for it; this job only sees the ` +
          `socket events of other jobs (useful for counting them). To listen, ${FORMS}`,
      ),
    ];
  }
  const problems: Problem[] = [];
  let proto: string | undefined;
  const seen = new Set<string>();
  for (const [index, arg] of event.args.entries()) {
    const eq = arg.text.indexOf('=');
    if (eq < 0) {
      problems.push(
        error(arg.line, `socket event: '${arg.text}' has no variable name, so the bridge ignores the event: ${FORMS}`),
      );
      continue;
    }
    const key = arg.text.slice(0, eq);
    const value = arg.text.slice(eq + 1);
    if (key === 'SOCKET_PATH') {
      problems.push(
        error(
          arg.line,
          `SOCKET_PATH= is ignored by upstart 1.5's socket bridge ("unknown variable SOCKET_PATH"): ` +
            `no socket is created and clients get ENOENT: write ` +
            `PATH=${value || '/var/run/app/app.sock'} after PROTO=unix`,
        ),
      );
      continue;
    }
    // A second PATH/PORT drives the bridge's count of missing parts below zero.
    if (seen.has(key) && (key === 'PATH' || key === 'PORT')) {
      problems.push(
        error(
          arg.line,
          `socket event: ${key}= given twice; the bridge then treats the event as incomplete and ignores it: keep one`,
        ),
      );
      continue;
    }
    seen.add(key);
    if (key === 'PROTO') {
      if (index !== 0)
        problems.push(
          error(
            arg.line,
            `socket event: PROTO= must come first (the bridge only accepts PATH/PORT/ADDR after it has seen PROTO): ${FORMS}`,
          ),
        );
      if (value !== 'unix' && value !== 'inet') {
        problems.push(
          error(
            arg.line,
            `socket event: PROTO=${value} is not supported by the bridge: use PROTO=unix (with PATH=) or PROTO=inet (with PORT=)`,
          ),
        );
      }
      proto = value;
    } else if (key === 'PATH') {
      problems.push(...checkPath(arg.line, value, proto));
    } else if (key === 'PORT') {
      problems.push(...checkPort(arg.line, value, proto));
    } else if (key === 'ADDR') {
      problems.push(...checkAddr(arg.line, value, proto));
    } else {
      problems.push(
        error(arg.line, `socket event: the bridge does not know ${key}= and ignores the whole event: ${FORMS}`),
      );
    }
  }
  if (proto === undefined) {
    problems.push(error(event.line, `socket event without PROTO=: the bridge ignores it: ${FORMS}`));
  } else if (proto === 'unix' && !seen.has('PATH')) {
    problems.push(
      error(
        event.line,
        'socket event PROTO=unix without PATH=: the bridge ignores it as incomplete: add PATH=/var/run/app/app.sock',
      ),
    );
  } else if (proto === 'inet' && !seen.has('PORT')) {
    problems.push(
      error(
        event.line,
        'socket event PROTO=inet without PORT=: the bridge ignores it as incomplete: add PORT=8080 (and ADDR=127.0.0.1 to bind one address)',
      ),
    );
  }
  return problems;
}

function checkPath(line: number, value: string, proto: string | undefined): Problem[] {
  if (proto !== 'unix')
    return [
      error(
        line,
        'socket event: PATH= only counts after PROTO=unix (the bridge otherwise calls it an unknown variable and ignores the event): write PROTO=unix PATH=...',
      ),
    ];
  if (value.startsWith('@')) {
    return [
      warning(
        line,
        `socket event: abstract socket PATH=${value} looks broken in upstart 1.5 (the bridge binds ` +
          `the name padded with NULs): use a file path such as PATH=/var/run/app/app.sock`,
      ),
    ];
  }
  if (!value.startsWith('/'))
    return [
      error(
        line,
        `socket event: PATH=${value} is not absolute; the bridge would bind it relative to its own working directory: write PATH=/var/run/app/app.sock`,
      ),
    ];
  if (value.length > MAX_PATH)
    return [
      error(
        line,
        `socket event: PATH= is ${value.length} bytes, longer than a unix socket path can be (${MAX_PATH}): use a shorter path under /var/run`,
      ),
    ];
  return [];
}

function checkPort(line: number, value: string, proto: string | undefined): Problem[] {
  if (proto !== 'inet')
    return [
      error(
        line,
        'socket event: PORT= only counts after PROTO=inet (the bridge otherwise calls it an unknown variable and ignores the event): write PROTO=inet PORT=...',
      ),
    ];
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
    return [
      error(
        line,
        `socket event: PORT=${value} is not a port number (the bridge's atoi() would bind a random port): write PORT=1..65535`,
      ),
    ];
  }
  return [];
}

function checkAddr(line: number, value: string, proto: string | undefined): Problem[] {
  if (proto !== 'inet')
    return [error(line, 'socket event: ADDR= only counts after PROTO=inet: write PROTO=inet PORT=... ADDR=127.0.0.1')];
  const parts = value.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    return [
      error(
        line,
        `socket event: ADDR=${value} is not an IPv4 address (the bridge only takes inet_aton() addresses): write e.g. ADDR=127.0.0.1`,
      ),
    ];
  }
  return [];
}
