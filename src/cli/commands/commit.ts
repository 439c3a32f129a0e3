import type { CommandModule } from 'yargs';
import { list } from './run.js';

interface Args {
  root?: string;
  container: string;
  image: string;
  message?: string;
  author?: string;
  change?: string | string[];
}

export const commitCommand: CommandModule<object, Args> = {
  command: 'commit <container> <image>',
  describe: "make a new image NAME[:TAG] from a container's changes",
  builder: (y) =>
    y
      .positional('container', { type: 'string', demandOption: true, describe: 'name or id' })
      .positional('image', { type: 'string', demandOption: true, describe: 'NAME[:TAG] for the new image' })
      .option('message', { alias: 'm', type: 'string', describe: 'comment for the history entry' })
      .option('author', { alias: 'a', type: 'string', describe: 'author of the new image' })
      .option('change', { alias: 'c', type: 'string', describe: 'a Dockerfile instruction to apply (CMD, ENV, ...); repeatable' }),
  handler: async (a) => {
    const { commitContainer } = await import('../../run/commit.js');
    const { storeRoot } = await import('../../image/root.js');
    const img = await commitContainer(storeRoot(a.root), a.container, a.image, { message: a.message, author: a.author, changes: list(a.change) });
    process.stdout.write(`${img.id}\n`);
  },
};
