import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../app.js';
import { humanSize } from '../format.js';

interface Args extends GlobalArgs {
  json: boolean;
}

export const pruneCommand: CommandModule<GlobalArgs, Args> = {
  command: 'prune',
  describe: 'remove blobs and layer dirs that no image refers to',
  builder: (y) => y.option('json', { type: 'boolean', default: false, describe: 'print the counts as JSON' }),
  handler: async (a) => {
    const { openStore } = await import('../../image/store.js');
    const r = await openStore(a.root).prune();
    if (a.json) process.stdout.write(JSON.stringify(r) + '\n');
    else process.stdout.write(`Deleted ${r.blobs} blobs, ${r.layers} layer dirs; reclaimed ${humanSize(r.bytes)}\n`);
  },
};
