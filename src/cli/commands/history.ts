import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../app.js';
import { ago, humanSize, table } from '../format.js';

interface Args extends GlobalArgs {
  image: string;
  json: boolean;
  'no-trunc': boolean;
}

export const historyCommand: CommandModule<GlobalArgs, Args> = {
  command: 'history <image>',
  describe: "show an image's history, newest first: one line per step",
  builder: (y) =>
    y
      .positional('image', { type: 'string', demandOption: true, describe: 'name[:tag] or id' })
      .option('json', { type: 'boolean', default: false, describe: 'print a JSON array' })
      .option('no-trunc', { type: 'boolean', default: false, describe: 'do not shorten CREATED BY' }),
  handler: async (a) => {
    const { openStore } = await import('../../image/store.js');
    const { historyRows } = await import('../../image/listing.js');
    const rows = historyRows(openStore(a.root), a.image);
    if (a.json) return void process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    const by = (s: string): string => (a['no-trunc'] || s.length <= 45 ? s : s.slice(0, 44) + '…');
    process.stdout.write(
      table([['CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], ...rows.map((r) => [ago(r.created), by(r.createdBy), humanSize(r.size), r.comment])]),
    );
  },
};
