import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../app.js';
import type { ArchiveFormat } from '../../image/archive-save.js';
import { progress } from '../progress.js';

interface Args extends GlobalArgs {
  images: string[];
  output: string;
  format: ArchiveFormat;
}

export const saveCommand: CommandModule<GlobalArgs, Args> = {
  command: 'save <images..>',
  describe: 'write images to an archive: an OCI archive or a docker-archive',
  builder: (y) =>
    y
      .positional('images', { type: 'string', array: true, demandOption: true, describe: 'IMAGE... (name[:tag] or id)' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'archive file to write' })
      .option('format', { type: 'string', choices: ['oci', 'docker'] as const, default: 'oci' as ArchiveFormat, describe: 'archive format' }),
  handler: async (a) => {
    const { openStore } = await import('../../image/store.js');
    const { saveImages } = await import('../../image/archive-save.js');
    const bar = progress('saving');
    await saveImages(openStore(a.root), a.images, a.output, { format: a.format, onBytes: (n, t) => bar.update(n, t) });
    bar.done();
  },
};
