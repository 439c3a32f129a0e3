import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../app.js';
import { ago, humanSize, table } from '../format.js';

interface Args extends GlobalArgs {
  json: boolean;
  quiet: boolean;
}

export const imagesCommand: CommandModule<GlobalArgs, Args> = {
  command: 'images',
  describe: 'list the images in the store',
  builder: (y) =>
    y
      .option('json', { type: 'boolean', default: false, describe: 'print a JSON array' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print image ids only' }),
  handler: async (a) => {
    const { openStore } = await import('../../image/store.js');
    const { imageRows } = await import('../../image/listing.js');
    const rows = imageRows(openStore(a.root));
    if (a.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    else if (a.quiet) process.stdout.write([...new Set(rows.map((r) => r.id.slice(7, 19)))].map((i) => i + '\n').join(''));
    else
      process.stdout.write(
        table([['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], ...rows.map((r) => [r.repository, r.tag, r.id.slice(7, 19), ago(r.created), humanSize(r.size)])]),
      );
  },
};
