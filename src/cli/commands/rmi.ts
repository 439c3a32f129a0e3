import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../app.js';

interface Args extends GlobalArgs {
  images: string[];
  force: boolean;
}

export const rmiCommand: CommandModule<GlobalArgs, Args> = {
  command: 'rmi <images..>',
  describe: 'untag images, removing an image when its last tag goes (space comes back with prune)',
  builder: (y) =>
    y
      .positional('images', { type: 'string', array: true, demandOption: true, describe: 'IMAGE... (name[:tag] or id)' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'remove even if a container uses it' }),
  handler: async (a) => {
    const { openStore } = await import('../../image/store.js');
    const store = openStore(a.root);
    for (const ref of a.images) {
      const r = await store.removeImage(ref, { force: a.force });
      for (const u of r.untagged) process.stdout.write(`Untagged: ${u}\n`);
      if (r.deleted) process.stdout.write(`Deleted: ${r.deleted}\n`);
    }
  },
};
