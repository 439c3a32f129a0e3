import type { CommandModule } from 'yargs';

interface Args {
  context: string;
  tag?: string | string[];
  file?: string;
  'build-arg'?: string | string[];
  target?: string;
  cache: boolean;
  squash: boolean;
  timestamp?: string;
  quiet: boolean;
  root?: string;
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : [v].flat());

export const buildCommand: CommandModule<object, Args> = {
  command: 'build <context>',
  describe: 'build an image from a Dockerfile, step by step, with a cache',
  // -t and --build-arg take one value each, repeated (not yargs arrays, which would
  // swallow the context in `strata build -t app .`)
  builder: (y) =>
    y
      .positional('context', { type: 'string', demandOption: true, describe: 'the build context directory' })
      .option('tag', { alias: 't', type: 'string', describe: 'NAME[:TAG] for the image (repeatable)' })
      .option('file', { alias: 'f', type: 'string', describe: 'the Dockerfile (default CONTEXT/Dockerfile)' })
      .option('build-arg', { type: 'string', describe: 'K=V for an ARG (K alone: the value of $K)' })
      .option('target', { type: 'string', describe: 'build up to this stage' })
      // yargs reads --no-X as X=false: --no-cache is this option's negation
      .option('cache', { type: 'boolean', default: true, describe: 'use the build cache; --no-cache builds every step again' })
      .option('squash', { type: 'boolean', default: false, describe: "one layer for the last stage's steps" })
      .option('timestamp', { type: 'string', describe: 'epoch seconds or ISO date for created times and file times (default $SOURCE_DATE_EPOCH)' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print only the image id' }),
  handler: async (a) => {
    const { buildImage, parseBuildArgs, parseTimestamp } = await import('../../build/index.js');
    const say = (s: string): void => void (a.quiet || process.stdout.write(s + '\n'));
    const r = await buildImage({
      root: a.root,
      contextDir: a.context,
      dockerfile: a.file,
      tags: list(a.tag),
      buildArgs: parseBuildArgs(list(a['build-arg'])),
      target: a.target,
      noCache: !a.cache,
      squash: a.squash,
      timestamp: parseTimestamp(a.timestamp, '--timestamp') ?? parseTimestamp(process.env.SOURCE_DATE_EPOCH, 'SOURCE_DATE_EPOCH'),
      log: say,
      output: (c) => void (a.quiet || process.stdout.write(c)),
    });
    if (a.quiet) process.stdout.write(`${r.image.id}\n`);
  },
};
