import { flagHelp, parseFlags } from '../args';
import { type Flavour, buildFlavourImage, isFlavour } from '../engine/flavour-images';
import { PreciseBaseUnavailableError } from '../engine/images';
import { LabError, LabExit } from '../errors';
import type { Command } from './command';
import { docker } from './target';

const FLAGS = {
  flavour: { kind: 'string', help: 'precise, bookworm or all', default: 'all' },
  force: { kind: 'boolean', help: 'rebuild the flavour image even when its inputs did not change' },
  verbose: { kind: 'boolean', help: 'show every line of the builds, not only the steps' },
} as const;

/** build's flags and the flavours it builds, in the order it builds them. */
function parseBuild(argv: string[]) {
  const { flags } = parseFlags('build', argv, FLAGS);
  const f = flags.flavour ?? 'all';
  // all: bookworm first, which builds offline, so a precise base that cannot be had fails last
  const which: Flavour[] | undefined = f === 'all' ? ['bookworm', 'precise'] : isFlavour(f) ? [f] : undefined;
  if (!which) throw new LabError(`--flavour ${flags.flavour}: use precise, bookworm or all`, LabExit.USAGE);
  return { flags, which };
}

export const build: Command = {
  name: 'build',
  summary: 'build the images (bookworm base, portable Node runtime, flavours) without starting anything',
  usage:
    `lab build [--flavour precise|bookworm|all] [--force]\n\nImages are tagged by a hash of ` +
    `their inputs and rebuilt only when those change.\nprecise needs a base: ubuntu:12.04 ` +
    `(docker pull), PRECISE_MIRROR=URL (debootstrap) or\nPRECISE_BASE=image:tag; with ` +
    `--flavour all it is skipped with that message when none can be had.\n\n${flagHelp(FLAGS)}`,
  parse: parseBuild,
  async run(argv) {
    const { flags, which } = parseBuild(argv);
    const d = await docker();
    let missing = 0;
    for (const flavour of which) {
      process.stderr.write(`lab build: ${flavour}\n`);
      try {
        const img = await buildFlavourImage(flavour, {
          docker: d,
          force: flags.force,
          verbose: flags.verbose,
          log: (l) => process.stderr.write(`  ${l}\n`),
        });
        process.stdout.write(
          `${flavour}: ${img.ref} (${img.built ? `built in ${img.seconds.toFixed(1)} s` : 'up to date'}; base ${img.base})\n`,
        );
      } catch (err) {
        if (err instanceof PreciseBaseUnavailableError && which.length > 1) {
          process.stdout.write(`precise: NOT BUILT\n${err.message}\n`);
          missing++;
          continue;
        }
        throw new LabError(
          `${flavour}: ${(err as Error).message}`,
          err instanceof PreciseBaseUnavailableError ? LabExit.ENVIRONMENT : LabExit.FAILED,
        );
      }
    }
    return missing === which.length ? LabExit.ENVIRONMENT : LabExit.OK;
  },
};
