import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../app.js';

interface Args extends GlobalArgs {
  source: string;
  target: string;
}

export const tagCommand: CommandModule<GlobalArgs, Args> = {
  command: 'tag <source> <target>',
  describe: 'give an image another name (moves TARGET if it names another image)',
  builder: (y) =>
    y
      .positional('source', { type: 'string', demandOption: true, describe: 'SOURCE image (name[:tag] or id)' })
      .positional('target', { type: 'string', demandOption: true, describe: 'TARGET NAME[:TAG]' }),
  handler: async (a) => {
    const { openStore } = await import('../../image/store.js');
    const store = openStore(a.root);
    store.tag(store.resolveImage(a.source), a.target);
  },
};
