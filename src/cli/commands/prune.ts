import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../app.js';
import { humanSize } from '../format.js';

interface Args extends GlobalArgs {
  json: boolean;
}

export const pruneCommand: CommandModule<GlobalArgs, Args> = {
  command: 'prune',
  describe: 'remove blobs, layer dirs and build cache entries that no image refers to',
  builder: (y) => y.option('json', { type: 'boolean', default: false, describe: 'print the counts as JSON' }),
  handler: async (a) => {
    const { openStore } = await import('../../image/store.js');
    const { pruneBuildCache } = await import('../../build/index.js');
    const store = openStore(a.root);
    const r = { ...(await store.prune()), buildCache: await pruneBuildCache(store) };
    if (a.json) process.stdout.write(JSON.stringify(r) + '\n');
    else process.stdout.write(`Deleted ${r.blobs} blobs, ${r.layers} layer dirs, ${r.buildCache} build cache entries; reclaimed ${humanSize(r.bytes)}\n`);
  },
};
