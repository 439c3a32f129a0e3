import type { CommandModule } from 'yargs';

interface Args {
  path: string;
  json: boolean;
}

export const explainCommand: CommandModule<object, Args> = {
  command: 'explain <path>',
  describe: 'for each component of a path inside a Strata mount: the layer it resolved in, what whiteouts and opaque dirs hid, whether it was copied up',
  builder: (y) =>
    y
      .positional('path', { type: 'string', demandOption: true, describe: 'a path inside a Strata mount' })
      .option('json', { type: 'boolean', default: false, describe: 'print the raw JSON' }),
  handler: async (a) => {
    const { explainFile } = await import('../explain-client.js');
    process.stdout.write(explainFile(a.path, a.json) + '\n');
  },
};
