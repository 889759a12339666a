// The upstart 1.5 job checker (lab/jobcheck): each rule has a case that
// fails if the rule breaks, and every upstart job shipped under images/ must
// pass it with zero errors.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { describe, it } from 'node:test';
import { main } from '../../lab/jobcheck/cli';
import { checkJobFile, checkJobFiles, CheckOptions, Problem } from '../../lab/jobcheck/index';
import { ROOT } from '../support/root';

const job = (...lines: string[]): string => `${lines.join('\n')}\n`;
const errors = (text: string, options?: CheckOptions): Problem[] =>
  checkJobFile(text, 'test.conf', options).filter((p) => p.severity === 'error');
const warnings = (text: string, options?: CheckOptions): Problem[] =>
  checkJobFile(text, 'test.conf', options).filter((p) => p.severity === 'warning');

function assertProblem(found: Problem[], line: number, pattern: RegExp): void {
  assert.ok(
    found.some((p) => p.line === line && pattern.test(p.message)),
    `expected a problem on line ${line} matching ${pattern}, got:\n${found.map((p) => `  ${p.line}: ${p.message}`).join('\n') || '  nothing'}`,
  );
}

const assertError = (text: string, line: number, pattern: RegExp, options?: CheckOptions): void =>
  assertProblem(errors(text, options), line, pattern);
const assertWarning = (text: string, line: number, pattern: RegExp): void =>
  assertProblem(warnings(text), line, pattern);

function assertClean(text: string, options?: CheckOptions): void {
  const found = errors(text, options);
  assert.deepEqual(found, [], `expected no errors, got:\n${found.map((p) => `  ${p.line}: ${p.message}`).join('\n')}`);
}

// A job that uses every stanza of upstart 1.5 in a valid form.
const EVERY_STANZA = job(
  '# every stanza upstart 1.5 knows',
  'description "a job that uses every stanza"',
  'author "Lab <lab@example.invalid>"',
  'version "1.0"',
  'usage "start every NAME=x"',
  'instance $NAME',
  'emits every-ready',
  'start on (local-filesystems # a comment inside the expression',
  '          and net-device-up IFACE!=lo) \\',
  '    or runlevel [2345]',
  'stop on runlevel [!2345]',
  'env LANG=C',
  'env GREETING="hello world"',
  'export LANG GREETING',
  'expect fork',
  'respawn',
  'respawn limit 10 5',
  'normal exit 0 1 TERM SIGHUP',
  'kill signal SIGQUIT',
  'kill timeout 30',
  'console log',
  'umask 022',
  'nice -5',
  'oom score -500',
  'limit nofile 4096 unlimited',
  'chroot /',
  'chdir /tmp',
  'setuid nobody',
  'setgid nogroup',
  'manual',
  'debug',
  'pre-start exec /bin/mkdir -p /var/run/every',
  'post-start script',
  '    echo "started" # end script in a comment does not end it',
  'end script # but this line does',
  'pre-stop exec /bin/true',
  'post-stop script',
  '\trm -f /var/run/every/every.pid',
  '\tend script',
  'exec /usr/sbin/every-daemon --flag "quoted # not a comment" \\',
  '    --continued-line # real comment',
);

describe('jobcheck: valid files', () => {
  it('accepts a job that uses every upstart 1.5 stanza, with no errors and no warnings', () => {
    assert.deepEqual(checkJobFile(EVERY_STANZA, 'every.conf'), []);
  });

  it("accepts upstart 1.5's own socket bridge job and a task", () => {
    assertClean(
      job(
        'description "Bridge socket events into upstart"',
        'emits socket',
        'start on net-device-up IFACE=lo',
        'stop on runlevel [!2345]',
        'expect daemon',
        'respawn',
        'exec upstart-socket-bridge --daemon',
      ),
    );
    assertClean(job('start on startup', 'task', 'script', '  initctl emit --no-wait filesystem', 'end script'));
  });

  it('accepts `respawn limit unlimited`, `oom never`, numeric normal exit and limit values', () => {
    assertClean(
      job('respawn', 'respawn limit unlimited', 'oom never', 'normal exit 2', 'limit core 0 0', 'exec /bin/true'),
    );
  });

  it('accepts a job with only pre-start (a state job) without a warning, and warns for a job that runs nothing', () => {
    assert.deepEqual(checkJobFile(job('start on startup', 'pre-start exec /bin/true'), 'state.conf'), []);
    assertWarning(job('start on startup'), 1, /runs nothing.*exec/);
  });
});

describe('jobcheck: stanzas upstart 1.5 does not have', () => {
  it('names an unknown stanza and suggests the close one', () => {
    assertError(
      job('start on startup', 'respwan', 'exec /bin/true'),
      2,
      /unknown stanza 'respwan'.*did you mean `respawn`/,
    );
  });

  it('treats `constructor` as unknown (no prototype lookups)', () => {
    assertError(job('constructor', 'exec /bin/true'), 1, /unknown stanza 'constructor'/);
  });

  it('rejects `reload signal`: 1.10+, initctl reload always sends SIGHUP', () => {
    assertError(job('exec /bin/true', 'reload signal USR1'), 2, /reload signal.*not in upstart 1\.5.*1\.10.*SIGHUP/);
  });

  it('rejects apparmor (1.9) and cgroup (1.13)', () => {
    assertError(job('exec /bin/true', 'apparmor switch /usr/bin/x'), 2, /apparmor.*1\.9/);
    assertError(job('exec /bin/true', 'cgroup memory'), 2, /cgroup.*1\.13/);
  });

  it('rejects a quoted stanza name as init does', () => {
    assertError(job('"exec" /bin/true'), 1, /unknown stanza '"exec"'/);
  });
});

describe('jobcheck: stanza arguments', () => {
  const cases: Array<[string, string[], number, RegExp]> = [
    [
      'expect with an unknown value',
      ['exec /bin/true', 'expect forks'],
      2,
      /expect.*'forks'.*expect fork.*expect daemon.*expect stop/,
    ],
    ['expect with an extra word', ['exec /bin/true', 'expect fork twice'], 2, /unexpected 'twice'/],
    [
      'respawn limit with one number',
      ['respawn', 'respawn limit 10', 'exec /bin/true'],
      2,
      /respawn limit.*COUNT and INTERVAL.*respawn limit 10 5/,
    ],
    [
      'respawn limit with words',
      ['respawn', 'respawn limit ten five', 'exec /bin/true'],
      2,
      /respawn limit.*whole numbers/,
    ],
    [
      'respawn limit beyond strtol',
      ['respawn', 'respawn limit 10000000000000000000 5', 'exec /bin/true'],
      2,
      /respawn limit/,
    ],
    [
      'respawn with an unknown word',
      ['respawn forever', 'exec /bin/true'],
      1,
      /respawn forever.*respawn limit COUNT INTERVAL/,
    ],
    ['kill timeout with a word', ['exec /bin/true', 'kill timeout soon'], 2, /kill timeout.*'soon'.*kill timeout 30/],
    ['kill timeout negative', ['exec /bin/true', 'kill timeout -1'], 2, /kill timeout.*>= 0/],
    [
      'kill signal as a number (crashes 1.5)',
      ['exec /bin/true', 'kill signal 15'],
      2,
      /kill signal 15.*numeric.*1\.6.*kill signal TERM/,
    ],
    ['kill signal unknown', ['exec /bin/true', 'kill signal BOGUS'], 2, /kill signal BOGUS.*unknown signal/],
    ['kill without a sub-stanza', ['exec /bin/true', 'kill'], 2, /kill timeout SECONDS.*kill signal NAME/],
    ['kill with an unknown sub-stanza', ['exec /bin/true', 'kill after 5'], 2, /kill after.*kill timeout SECONDS/],
    ['console with an unknown value', ['exec /bin/true', 'console syslog'], 2, /console syslog.*console log/],
    ['normal exit with a word', ['exec /bin/true', 'normal exit 0 GRACEFUL'], 2, /'GRACEFUL'.*normal exit 0 TERM/],
    ['normal without exit', ['exec /bin/true', 'normal 0'], 2, /normal exit STATUS/],
    ['umask not octal', ['exec /bin/true', 'umask 999'], 2, /umask 999.*octal.*umask 022/],
    ['nice out of range', ['exec /bin/true', 'nice 20'], 2, /nice.*-20 to 19/],
    ['oom score out of range', ['exec /bin/true', 'oom score 2000'], 2, /oom score.*-1000 to 1000/],
    ['old oom out of range', ['exec /bin/true', 'oom 20'], 2, /oom score N/],
    ['limit with one value', ['exec /bin/true', 'limit nofile 4096'], 2, /limit nofile.*SOFT and a HARD/],
    ['limit of an unknown resource', ['exec /bin/true', 'limit files 1 2'], 2, /limit files.*unknown resource/],
    [
      'description of several words',
      ['description a job', 'exec /bin/true'],
      1,
      /description.*exactly one value.*quote/,
    ],
    ['env with two words', ['env A=1 B=2', 'exec /bin/true'], 1, /env.*exactly one value/],
    ['export without a name', ['export', 'exec /bin/true'], 1, /export.*at least one/],
    ['emits without a name', ['emits', 'exec /bin/true'], 1, /emits.*at least one/],
    ['task with a word', ['task now', 'exec /bin/true'], 1, /unexpected 'now' after `task`/],
    ['manual with a word', ['manual please', 'exec /bin/true'], 1, /unexpected 'please'/],
    ['start without on', ['start in runlevel [2345]', 'exec /bin/true'], 1, /`start` must be followed by `on EVENT/],
    ['stop with nothing', ['stop', 'exec /bin/true'], 1, /`stop` must be followed by `on EVENT.*got nothing/],
    ['exec without a command', ['start on startup', 'exec # nothing'], 2, /`exec` needs a command/],
    [
      'exec starting with an assignment',
      ['exec NODE_ENV=production /usr/bin/node app.js'],
      1,
      /assignment 'NODE_ENV=production'.*env NODE_ENV=/,
    ],
    [
      'pre-start without exec or script',
      ['pre-start', 'exec /bin/true'],
      1,
      /`pre-start` must be followed by `exec COMMAND` or by `script`/,
    ],
    [
      'post-stop with an unknown form',
      ['post-stop run /bin/true', 'exec /bin/true'],
      1,
      /`post-stop` must be followed by `exec COMMAND`/,
    ],
    ['words after script', ['script set -e', '  /bin/true', 'end script'], 1, /nothing may follow `script`.*'set'/],
    ['unterminated quote', ['exec /bin/true', 'description "no end', 'task'], 2, /unterminated " quote/],
  ];
  for (const [name, lines, line, pattern] of cases) {
    it(`${name} -> error on line ${line}`, () => assertError(job(...lines), line, pattern));
  }

  it('a backslash at the very end of the file', () => {
    assertError('exec /bin/true\ndescription x\\', 2, /ends with a backslash/);
  });
});

describe('jobcheck: process blocks', () => {
  it('reports a script block without `end script` at its opening line', () => {
    assertError(
      job('start on startup', 'task', 'script', '  /bin/true', '  # end script is only a comment here'),
      3,
      /`script` block has no `end script`/,
    );
  });

  it('reports a pre-start script block without `end script` at its opening line', () => {
    assertError(
      job('exec /bin/true', 'pre-start script', '  /bin/true', 'end scripts'),
      2,
      /`pre-start script` block has no `end script`/,
    );
  });

  it('reports exec and script both present at the later one', () => {
    assertError(
      job('exec /bin/true', 'task', 'script', '  /bin/true', 'end script'),
      3,
      /`script` replaces the main process `exec` of line 1/,
    );
    assertError(
      job('pre-start exec /bin/true', 'pre-start script', '  /bin/true', 'end script', 'exec /bin/true'),
      2,
      /`pre-start script` replaces/,
    );
  });

  it('keeps line numbers right after continuations, quotes across lines and blocks', () => {
    const text = job('exec /bin/true \\', '    --one \\', '    --two', 'description "one', 'two"', 'script-like');
    assertError(text, 6, /unknown stanza 'script-like'/);
    assertError(
      job('start on (startup', '  and', '  bogus-paren (x))', 'exec /bin/true'),
      3,
      /'\(' on line 3 follows the event 'bogus-paren'/,
    );
  });
});

describe('jobcheck: start on / stop on expressions', () => {
  const cases: Array<[string, string, number, RegExp]> = [
    ['an unclosed parenthesis', 'start on (startup and\n    runlevel [2345]', 1, /'\(' on line 1 is never closed/],
    ['a stray closing parenthesis', 'start on startup)', 1, /'\)' on line 1 has no matching '\('/],
    ['a dangling and', 'start on startup and', 1, /dangling 'and'/],
    ['an operator first', 'start on or startup', 1, /'or' on line 1 has no event before it/],
    ['two operators in a row', 'start on startup and or runlevel', 1, /'or' on line 1 has no event before it/],
    // Without parentheses an expression ends with its line, as in init.
    ['a second line that is not a stanza', 'start on startup\n    or runlevel', 2, /unknown stanza 'or'/],
    ['an operator before a closing parenthesis', 'start on (startup or) and runlevel', 1, /dangling 'or'/],
    ['empty parentheses', 'start on startup and ()', 1, /empty parentheses/],
    ['a group right after an event', 'start on startup (runlevel)', 1, /follows the event 'startup' without and\/or/],
    [
      'a positional value after KEY=VALUE',
      'start on runlevel RUNLEVEL=2 5',
      1,
      /positional value '5'.*expected variable/,
    ],
    ['no event at all', 'stop on', 1, /`stop on` needs an event/],
  ];
  for (const [name, stanza, line, pattern] of cases) {
    it(`${name} -> error on line ${line}`, () => assertError(job(stanza, 'exec /bin/true'), line, pattern));
  }

  it('accepts expressions over several lines inside parentheses, with comments', () => {
    assertClean(job('start on (filesystem # first', '          and static-network-up)', 'exec /bin/true'));
  });

  it('treats a quoted "and" as an event name, as init does', () => {
    assertClean(job('start on "and" or startup', 'exec /bin/true'));
    assertWarning(job('start on "and" or startup', 'exec /bin/true'), 1, /unknown event 'and'/);
  });

  it('warns about and/or mixed without parentheses', () => {
    assertWarning(
      job('start on startup or runlevel and filesystem', 'exec /bin/true'),
      1,
      /mixed without parentheses.*left to right/,
    );
  });

  it('warns about an unknown event and names the fix', () => {
    assertWarning(job('start on fileystem', 'exec /bin/true'), 1, /unknown event 'fileystem'.*emits fileystem/);
  });

  it('knows events from knownEvents, from emits in any checked file, and from emits patterns', () => {
    const consumer = {
      fileName: 'consumer.conf',
      text: job('start on phoenix-ready or net-device-added', 'exec /bin/true'),
    };
    const warned = (reports: ReturnType<typeof checkJobFiles>): Problem[] =>
      reports[0].problems.filter((p) => /unknown event/.test(p.message));
    assert.equal(warned(checkJobFiles([consumer])).length, 2);
    assert.equal(warned(checkJobFiles([consumer], { knownEvents: ['phoenix-ready', 'net-device-added'] })).length, 0);
    const emitter = {
      fileName: 'emitter.conf',
      text: job('emits phoenix-ready', 'emits *-device-added', 'exec /bin/true'),
    };
    assert.equal(warned(checkJobFiles([consumer, emitter])).length, 0);
  });

  it('warns when a second start on replaces the first', () => {
    assertWarning(
      job('start on startup', 'start on runlevel [2345]', 'exec /bin/true'),
      2,
      /replaces the one on line 1.*or/,
    );
  });
});

describe('jobcheck: the socket bridge', () => {
  const SOCKET = 'start on socket PROTO=unix PATH=/var/run/app/app.sock';

  it('accepts the unix and inet forms', () => {
    assertClean(job(SOCKET, 'exec /usr/bin/app'));
    assertClean(job('start on socket PROTO=inet PORT=8080 ADDR=127.0.0.1', 'exec /usr/bin/app'));
  });

  const cases: Array<[string, string, RegExp]> = [
    [
      'SOCKET_PATH=',
      'start on socket PROTO=unix SOCKET_PATH=/var/run/app.sock',
      /SOCKET_PATH= is ignored.*PATH=\/var\/run\/app\.sock/,
    ],
    ['PATH before PROTO', 'start on socket PATH=/var/run/app.sock PROTO=unix', /PROTO= must come first/],
    ['PROTO=unix without PATH', 'start on socket PROTO=unix', /PROTO=unix without PATH=.*add PATH=/],
    ['PROTO=inet without PORT', 'start on socket PROTO=inet ADDR=127.0.0.1', /PROTO=inet without PORT=/],
    ['an unknown PROTO', 'start on socket PROTO=tcp PORT=80', /PROTO=tcp is not supported/],
    ['a relative PATH', 'start on socket PROTO=unix PATH=app.sock', /PATH=app\.sock is not absolute/],
    [
      'PORT with a unix socket',
      'start on socket PROTO=unix PATH=/var/run/a.sock PORT=80',
      /PORT= only counts after PROTO=inet/,
    ],
    ['a PORT that is not a number', 'start on socket PROTO=inet PORT=http', /PORT=http is not a port number/],
    [
      'an ADDR that is not IPv4',
      'start on socket PROTO=inet PORT=80 ADDR=localhost',
      /ADDR=localhost is not an IPv4 address/,
    ],
    ['a positional value', 'start on socket unix', /'unix' has no variable name/],
    ['an unknown variable', 'start on socket PROTO=unix PATH=/var/run/a.sock MODE=0666', /does not know MODE=/],
    ['PATH twice', 'start on socket PROTO=unix PATH=/var/run/a.sock PATH=/var/run/b.sock', /PATH= given twice/],
    [
      'a PATH too long for sun_path',
      `start on socket PROTO=unix PATH=/${'x'.repeat(120)}`,
      /longer than a unix socket path/,
    ],
  ];
  for (const [name, stanza, pattern] of cases) {
    it(`${name} -> error on line 2`, () => assertError(job('# socket job', stanza, 'exec /usr/bin/app'), 2, pattern));
  }

  it('warns about a bare `start on socket` and an abstract PATH', () => {
    assertWarning(job('start on socket', 'exec /usr/bin/app'), 1, /bare `socket` event.*counting/);
    assertWarning(job('start on socket PROTO=unix PATH=@app', 'exec /usr/bin/app'), 1, /abstract socket.*broken/);
  });

  it('rejects an exec command found through PATH in a bridge-started job', () => {
    assertError(
      job(SOCKET, 'exec node /srv/app.js'),
      2,
      /'node' is found through PATH.*start on socket.*absolute path/,
    );
    assertError(
      job(SOCKET, 'exec /usr/bin/app', 'pre-start exec mkdir -p /var/run/app'),
      3,
      /'mkdir' is found through PATH/,
    );
  });

  it('does not apply the PATH rule to inet sockets or to jobs the bridge does not start', () => {
    assertClean(job('start on socket PROTO=inet PORT=8080', 'exec node /srv/app.js'));
    assertClean(job('start on runlevel [2345]', 'exec node /srv/app.js'));
  });

  it('rejects a script command found through PATH, on its own line, until the script sets PATH', () => {
    const text = job(
      SOCKET,
      'script',
      '    # comments and builtins are fine',
      '    echo "starting $PATH" >&2',
      '    [ -d /var/run/app ] || /bin/mkdir -p /var/run/app',
      '    cat /etc/app.conf',
      '    export PATH=/usr/sbin:/usr/bin:/sbin:/bin',
      '    exec node /srv/app.js',
      'end script',
    );
    const found = errors(text);
    assert.deepEqual(
      found.map((p) => p.line),
      [6],
      JSON.stringify(found),
    );
    assert.match(found[0].message, /'cat' is found through PATH.*export PATH=/);
  });

  it('reads quoting, $(...), here-documents, case patterns and functions in bridge scripts', () => {
    const text = job(
      SOCKET,
      'script',
      '    log() { printf "%s\\n" "$*" >> /var/log/app.log; }',
      '    log "a | b; c && d"',
      '    now="$(/bin/date +%s)"',
      '    /bin/cat <<EOF > /tmp/x',
      '    date | sort',
      'EOF',
      '    case "$PROTO" in',
      '        unix|inet) log ok ;;',
      '        *) exit 1 ;;',
      '    esac',
      '    stamp=$(date +%s)',
      '    exec /usr/bin/app 2>&1',
      'end script',
    );
    const found = errors(text);
    assert.deepEqual(
      found.map((p) => [p.line, /'(\w+)'/.exec(p.message)?.[1]]),
      [[13, 'date']],
      JSON.stringify(found),
    );
  });

  it('warns that respawn breaks a bridge-started job', () => {
    assertWarning(job(SOCKET, 'respawn', 'exec /usr/bin/app'), 2, /respawn.*closed descriptor/);
  });
});

describe('jobcheck: other warnings', () => {
  it('warns that respawn limit alone does not respawn', () => {
    assertWarning(job('respawn limit 10 5', 'exec /bin/true'), 1, /add a line `respawn`/);
  });

  it('warns when a file does not end in .conf', () => {
    assert.ok(
      checkJobFile(job('exec /bin/true'), 'phoenix').some((p) => p.severity === 'warning' && /\.conf/.test(p.message)),
    );
  });

  it('sorts problems by line', () => {
    const lines = checkJobFile(job('exec /bin/true', 'bogus', 'expect nothing', 'nice 99'), 'x.conf').map(
      (p) => p.line,
    );
    assert.deepEqual(
      lines,
      [...lines].sort((a, b) => a - b),
    );
  });
});

describe('jobcheck: cli', () => {
  function run(args: string[]): { code: number; out: string[]; err: string[] } {
    const out: string[] = [];
    const err: string[] = [];
    const code = main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out, err };
  }

  it('prints FILE:LINE: error: lines and exits 1 on errors, 0 without', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobcheck-'));
    try {
      const bad = join(dir, 'bad.conf');
      const good = join(dir, 'good.conf');
      writeFileSync(bad, job('start on startup', 'reload signal USR1', 'exec /bin/true'));
      writeFileSync(good, job('start on phoenix-up', 'exec /bin/true'));
      const failed = run([bad, good]);
      assert.equal(failed.code, 1);
      assert.match(
        failed.out[0],
        new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: error: .*reload signal`),
      );
      assert.ok(failed.out.some((l) => l.startsWith(`${good}:1: warning: unknown event 'phoenix-up'`)));
      const passed = run(['--known-event', 'phoenix-up', good]);
      assert.deepEqual(passed, { code: 0, out: [], err: [] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 with a usage message without files or with an unreadable file', () => {
    const none = run([]);
    assert.equal(none.code, 2);
    assert.match(none.err.join('\n'), /usage: jobcheck/);
    const missing = run([join(tmpdir(), 'no-such-dir-jobcheck', 'x.conf')]);
    assert.equal(missing.code, 2);
    assert.match(missing.err.join('\n'), /cannot read .*x\.conf[\s\S]*usage: jobcheck/);
  });
});

function upstartJobs(dir: string, inUpstart = false): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...upstartJobs(path, inUpstart || entry.name === 'upstart'));
    else if (inUpstart && entry.name.endsWith('.conf')) found.push(path);
  }
  return found.sort();
}

describe('jobcheck: the job files under images/', () => {
  const files = upstartJobs(join(ROOT, 'images'));
  const names = files.map((f) => relative(ROOT, f).split(sep).join('/'));

  it('finds the strategies and the container glue', () => {
    for (const expected of [
      'images/conf/upstart/strategies/bridge-inplace.conf',
      'images/conf/upstart/strategies/bridge-reexec.conf',
      'images/conf/upstart/strategies/exec-respawn.conf',
      'images/conf/upstart/strategies/herder.conf',
      'images/conf/upstart/container/container-boot.conf',
      'images/conf/upstart/container/socket-event-counter.conf',
      'images/conf/upstart/container/socket-permissions.conf',
      'images/conf/unicorn/upstart/unicorn-seed-poc.conf',
      'images/conf/unicorn/upstart/unicorn-wrapper.conf',
      'images/conf/unicorn/upstart/unicorn-exec.conf',
      'images/conf/unicorn/daemon-expect/upstart/unicorn-expect-fork.conf',
      'images/conf/unicorn/daemon-expect/upstart/unicorn-expect-daemon.conf',
    ]) {
      assert.ok(names.includes(expected), `${expected} is missing (found ${names.join(', ')})`);
    }
  });

  it('every upstart job under images/**/upstart/ passes with zero errors (checked as one /etc/init)', () => {
    const reports = checkJobFiles(files.map((f) => ({ fileName: relative(ROOT, f), text: readFileSync(f, 'utf8') })));
    const failures = reports.flatMap((r) =>
      r.problems.filter((p) => p.severity === 'error').map((p) => `${r.fileName}:${p.line}: ${p.message}`),
    );
    assert.deepEqual(failures, []);
  });

  it('every job file starts with a comment that says why it exists', () => {
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      assert.match(text, /^#/, `${file} does not start with a comment`);
      assert.match(text.split(/\n(?!#)/)[0], /why/i, `${file}: the opening comment does not say why the job exists`);
    }
  });

  it('the strategies run the wrapper by absolute path on the shared socket', () => {
    const read = (name: string): string => readFileSync(join(ROOT, 'images/conf/upstart/strategies', name), 'utf8');
    const wrapper = '/opt/phoenix/runtime/bin/node /opt/phoenix/app/dist/src/cli.js';
    for (const name of ['bridge-inplace.conf', 'bridge-reexec.conf', 'exec-respawn.conf', 'herder.conf']) {
      assert.ok(read(name).includes(wrapper), `${name} does not run ${wrapper}`);
      assert.ok(read(name).includes('/var/run/phoenix/phoenix.sock'), `${name} does not use the shared socket path`);
    }
    assert.match(read('bridge-inplace.conf'), /^start on socket PROTO=unix PATH=\/var\/run\/phoenix\/phoenix\.sock$/m);
    assert.match(read('bridge-inplace.conf'), /--upgrade in-place/);
    assert.match(read('bridge-reexec.conf'), /--upgrade reexec \\\n\s+--quit-oldbin/);
    assert.match(read('exec-respawn.conf'), /^respawn$/m);
    assert.match(
      read('exec-respawn.conf'),
      /--listen unix:\/var\/run\/phoenix\/phoenix\.sock[\s\S]*--socket-group www-data[\s\S]*--socket-mode 0660/,
    );
    assert.match(read('herder.conf'), /^exec \/usr\/local\/bin\/phoenix-herder \/var\/run\/phoenix\/phoenix\.pid /m);
  });
});

describe('jobcheck: the unicorn jobs under images/conf/unicorn/upstart/', () => {
  const read = (name: string): string => readFileSync(join(ROOT, 'images/conf/unicorn/upstart', name), 'utf8');
  // The stanzas and the commands, without comments.
  const code = (name: string): string => read(name).replace(/^\s*#.*$/gm, '');
  const SOCKET_LINE = /^start on socket PROTO=unix PATH=\/var\/run\/unicorn\/unicorn\.sock$/m;
  const APP = '-c /opt/unicorn/app/unicorn.rb';
  const RACKUP = '/opt/unicorn/app/config.ru';

  it("unicorn-seed-poc is the seed's PoC: bridge socket, console log, UNICORN_FD=UPSTART_FDS, no -l, no respawn", () => {
    const text = code('unicorn-seed-poc.conf');
    assert.match(text, SOCKET_LINE);
    assert.match(text, /^console log$/m);
    assert.doesNotMatch(text, /^\s*respawn\b/m);
    assert.doesNotMatch(text, /\s-l\s/, 'the seed passed no -l: that is one of the warts it shows');
    // The script resets PATH (the bridge replaced it) before it execs unicorn with the bridge's fd.
    assert.match(text, /^script$[\s\S]*^\s+PATH=\/[^\n]*\n[\s\S]*exec \/usr\/bin\/env UNICORN_FD="\$UPSTART_FDS"/m);
    assert.ok(
      text.includes(`/usr/bin/unicorn -E production ${APP} ${RACKUP}`),
      'runs unicorn on the app in /opt/unicorn/app',
    );
  });

  it('unicorn-wrapper runs the compiled TS wrapper in front of unicorn, stops with QUIT, never respawns', () => {
    const text = code('unicorn-wrapper.conf');
    assert.match(text, SOCKET_LINE);
    assert.match(
      text,
      new RegExp(
        String.raw`^exec /opt/phoenix/runtime/bin/node /opt/phoenix/app/dist/src/unicorn-wrapper/cli\.js \\\n[\s\S]*` +
          String.raw`-- /usr/bin/unicorn -E production -c /opt/unicorn/app/unicorn\.rb /opt/unicorn/app/config\.ru$`,
        'm',
      ),
    );
    assert.match(text, /--pid \/var\/run\/unicorn\/unicorn\.pid/);
    assert.match(text, /^kill signal QUIT$/m);
    assert.match(text, /^kill timeout \d+$/m);
    assert.doesNotMatch(text, /^\s*respawn\b/m);
  });

  it('unicorn-exec binds its own socket with -l and respawns, started at runlevel 2', () => {
    const text = code('unicorn-exec.conf');
    assert.match(text, /^start on runlevel \[2345\]$/m);
    assert.match(text, /^respawn$/m);
    assert.match(text, /^kill signal QUIT$/m);
    assert.match(
      text,
      new RegExp(
        String.raw`^exec /usr/bin/unicorn -E production -c /opt/unicorn/app/unicorn\.rb \\\n` +
          String.raw`\s+-l /var/run/unicorn/unicorn\.sock \\\n\s+/opt/unicorn/app/config\.ru$`,
        'm',
      ),
    );
  });

  it('each passes the checker alone, installed as /etc/init/unicorn.conf beside the container glue', () => {
    const glue = upstartJobs(join(ROOT, 'images/conf/upstart/container')).map((f) => ({
      fileName: relative(ROOT, f),
      text: readFileSync(f, 'utf8'),
    }));
    for (const name of ['unicorn-seed-poc.conf', 'unicorn-wrapper.conf', 'unicorn-exec.conf']) {
      const reports = checkJobFiles([...glue, { fileName: 'unicorn.conf', text: read(name) }]);
      const failures = reports.flatMap((r) =>
        r.problems.filter((p) => p.severity === 'error').map((p) => `${r.fileName}:${p.line}: ${p.message}`),
      );
      assert.deepEqual(failures, [], name);
    }
  });

  it('container-boot creates /var/run/unicorn and socket-permissions hands its socket to www-data', () => {
    const container = (name: string): string => readFileSync(join(ROOT, 'images/conf/upstart/container', name), 'utf8');
    assert.match(container('container-boot.conf'), /^\s+mkdir -p [^\n]*\/var\/run\/unicorn\b/m);
    assert.match(container('socket-permissions.conf'), /\/var\/run\/unicorn\/unicorn\.sock/);
  });
});
