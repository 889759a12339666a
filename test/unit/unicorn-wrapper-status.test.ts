import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatStatus, parseProbe, probeScript } from '../../lab/inspect';
import { phoenix } from '../../lab/servers/phoenix';
import { unicorn } from '../../lab/servers/unicorn';

/**
 * `lab status` for a unicorn master that is still loading its app (issue 17): unicorn names
 * itself "unicorn master" only when its master loop starts, after the app has loaded, so a
 * master without workers under its original command line is booting, for as long as it has run.
 */

const PROBE = [
  'P\t10\t1\troot\t\t/opt/phoenix/runtime/bin/node /opt/phoenix/app/dist/src/unicorn-wrapper/cli.js -- /usr/bin/unicorn',
  'A\t10\t47',
  'P\t20\t10\troot\t\t/usr/bin/ruby /usr/bin/unicorn -E production -l /var/run/unicorn/unicorn.sock -c /opt/unicorn/app/unicorn.rb /opt/unicorn/app/config.ru',
  'A\t20\t42',
  'S\troot www-data 660',
  'F\t20\t',
].join('\n');

test('a master with no workers that has not become "unicorn master" yet: booting for N s', () => {
  const s = parseProbe(PROBE, 10, unicorn);
  assert.deepEqual(
    s.masters.map((m) => [m.pid, m.bootingS]),
    [[20, 42]],
  );
  const text = formatStatus({
    init: { name: 'upstart 1.5', trackedPid: 10, status: 'unicorn start/running, process 10' },
    ...s,
  });
  assert.match(text, /unicorn master 20 \(NOT tracked by init, pid file\): booting for 42 s, no workers yet/);
  assert.match(text, /wrapper 10 \(tracked by init\)/);
});

test('a serving master, or one WINCHed to no workers (it is "unicorn master"), is not booting; no age line, no claim', () => {
  const serving = [
    'P\t20\t10\troot\t\tunicorn master -E production -c /opt/unicorn/app/unicorn.rb /opt/unicorn/app/config.ru',
    'A\t20\t300',
    'P\t21\t20\troot\t\tunicorn worker[0] -E production -c /opt/unicorn/app/unicorn.rb /opt/unicorn/app/config.ru',
    'A\t21\t299',
    'P\t30\t1\troot\t\tunicorn master -E production -c /opt/unicorn/app/unicorn.rb /opt/unicorn/app/config.ru',
    'A\t30\t500',
    'P\t40\t1\troot\t\t/usr/bin/ruby /usr/bin/unicorn -c /opt/unicorn/app/unicorn.rb /opt/unicorn/app/config.ru',
  ].join('\n');
  const s = parseProbe(serving, undefined, unicorn);
  assert.deepEqual(
    s.masters.map((m) => [m.pid, m.bootingS]),
    [
      [20, undefined],
      [30, undefined],
      [40, undefined],
    ],
  );
  assert.match(
    formatStatus({ init: { name: 'x', status: '' }, ...s }),
    /master 30 \(NOT tracked by init\): generation -, workers none/,
  );
});

test('a phoenix master without workers (WINCH) is never called booting: phoenix does not rename itself', () => {
  const probe = [
    'P\t50\t1\troot\t\t/opt/phoenix/runtime/bin/node /opt/phoenix/app/dist/src/cli.js --workers 2',
    'A\t50\t9',
  ].join('\n');
  const s = parseProbe(probe, undefined, phoenix);
  assert.deepEqual(
    s.masters.map((m) => [m.pid, m.bootingS]),
    [[50, undefined]],
  );
});

test('the probe prints each process age from /proc (POSIX sh: 12.04 dash too)', () => {
  const script = probeScript(unicorn);
  assert.match(script, /read -r up _ < \/proc\/uptime/);
  assert.match(script, /printf 'A\\t%s\\t%s\\n' "\$pid" \$\(\( \$\{up%\.\*\} - \$\{20\} \/ hz \)\)/);
});
