import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../app.js';
import { openStore } from '../../image/store.js';
import { inspectImage } from '../../image/listing.js';

interface Args extends GlobalArgs {
  images: string[];
}

export const inspectCommand: CommandModule<GlobalArgs, Args> = {
  command: 'inspect <images..>',
  describe: 'print what the store knows of images, as a JSON array',
  builder: (y) => y.positional('images', { type: 'string', array: true, demandOption: true, describe: 'IMAGE... (name[:tag] or id)' }),
  handler: (a) => {
    const store = openStore(a.root);
    process.stdout.write(JSON.stringify(a.images.map((r) => inspectImage(store, r)), null, 2) + '\n');
  },
};
