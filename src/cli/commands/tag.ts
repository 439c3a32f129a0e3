import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../app.js';
import { openStore } from '../../image/store.js';

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
  handler: (a) => {
    const store = openStore(a.root);
    store.tag(store.resolveImage(a.source), a.target);
  },
};
