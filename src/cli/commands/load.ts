import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../app.js';
import { progress } from '../progress.js';

interface Args extends GlobalArgs {
  input: string;
  name?: string;
}

export const loadCommand: CommandModule<GlobalArgs, Args> = {
  command: 'load',
  describe: 'load images from an OCI archive, a docker-archive or an OCI layout directory',
  builder: (y) =>
    y
      .option('input', { alias: 'i', type: 'string', demandOption: true, describe: 'archive file (or OCI layout dir) to read' })
      .option('name', { type: 'string', describe: 'image name for entries that carry only a tag (default: from the file name)' }),
  handler: async (a) => {
    const { openStore } = await import('../../image/store.js');
    const { loadArchive } = await import('../../image/archive-load.js');
    const bar = progress('loading');
    const r = await loadArchive(openStore(a.root), a.input, { onBytes: (n, t) => bar.update(n, t), ...(a.name ? { defaultName: a.name } : {}) });
    bar.done();
    for (const n of r.names) process.stdout.write(`Loaded image: ${n}\n`);
    for (const img of r.images) if (img.names.length === 0) process.stdout.write(`Loaded image ID: ${img.id}\n`);
  },
};
