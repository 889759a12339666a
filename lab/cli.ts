#!/usr/bin/env node
import { COMMANDS, findCommand } from './commands';
import { remoteEngineProblem } from './engine/docker';
import { takeDockerHost } from './args';
import { reapLeftovers } from './commands/target';
import { LabError, LabExit } from './errors';
import { EXIT_INFRASTRUCTURE } from './matrix/exit';

function help(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return `lab: boot Ubuntu 12.04 + upstart 1.5 (or Debian 12 + systemd) with nginx and phoenix, act on it, measure it.

usage: lab [--docker-host URL] COMMAND [options]     lab COMMAND --help for each

${COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`).join('\n')}

The Docker engine: DOCKER_HOST (unix://, tcp://, ssh://, as dockerode and the docker CLI read
it), or --docker-host URL anywhere on the line, which wins. Commands that drive load or wait on
a lab's nginx (up, load, scenario run, demo) need the engine on this machine: a lab publishes
on 127.0.0.1 only, so for another machine's engine they say so and stop (exit 3); run lab there
(a shard per machine) and 'lab report --merge' the results here.

Exit codes: 0 ok, 1 the lab ran and found a failure, 2 usage, 3 Docker or the images unavailable,
${EXIT_INFRASTRUCTURE} infrastructure: the Docker engine went away mid-run (those runs are INFRASTRUCTURE, the rest
ran), or a merged summary is incomplete (a cell missing, skipped or INFRASTRUCTURE).
`;
}

/** up, load (to a lab, not to --port), scenario run and demo send traffic to a lab's 127.0.0.1 port. */
function needsLocalEngine(name: string, rest: string[]): boolean {
  if (name === 'up' || name === 'demo') return true;
  if (name === 'load') return !rest.some((a) => a === '--port' || a.startsWith('--port='));
  return name === 'scenario' && rest[0] === 'run';
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = takeDockerHost(argv);
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name ? LabExit.OK : LabExit.USAGE;
  }
  const cmd = findCommand(name);
  if (!cmd) throw new LabError(`unknown command '${name}'; 'lab --help' lists them`, LabExit.USAGE);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${cmd.usage}\n`);
    return LabExit.OK;
  }
  const remote = needsLocalEngine(name, rest) ? remoteEngineProblem() : undefined;
  if (remote) throw new LabError(remote, LabExit.ENVIRONMENT);
  // Every command reaps first, those that never touch the engine too (`lab scenario list` after
  // a kill -9ed run); with no engine there is nothing to reap and the command runs as it is.
  await reapLeftovers();
  return cmd.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof LabError) {
      // Messages that already say which command ("lab signal: ...") are not prefixed twice.
      process.stderr.write(`${err.message.startsWith('lab ') ? '' : 'lab: '}${err.message}\n`);
      process.exit(err.exitCode);
    }
    // dockerode's errors: a container that died mid-command, a removed image, an engine that went away.
    const docker = err as { statusCode?: number; json?: { message?: string }; code?: string; message?: string };
    if (docker?.statusCode || docker?.code === 'ECONNREFUSED' || docker?.code === 'ENOENT') {
      const why = docker.json?.message ?? docker.message ?? String(err);
      process.stderr.write(`lab: Docker said: ${why}\n'lab status' shows what is left; 'lab down' removes it.\n`);
      process.exit(LabExit.ENVIRONMENT);
    }
    process.stderr.write(`lab: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(LabExit.FAILED);
  },
);
