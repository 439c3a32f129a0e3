import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../app.js';
import { progress } from '../progress.js';

interface Args extends GlobalArgs {
  source: string;
  ref: string;
}

export const importCommand: CommandModule<GlobalArgs, Args> = {
  command: 'import <source> <ref>',
  describe: 'make a one-layer image from a root filesystem (a directory or a tarball, gzip or not)',
  builder: (y) =>
    y
      .positional('source', { type: 'string', demandOption: true, describe: 'ROOTFS_DIR or TARBALL' })
      .positional('ref', { type: 'string', demandOption: true, describe: 'NAME[:TAG] of the new image' }),
  handler: async (a) => {
    const { openStore } = await import('../../image/store.js');
    const { importImage } = await import('../../image/image-import.js');
    const bar = progress('importing');
    let n = 0;
    const img = await importImage(openStore(a.root), a.source, a.ref, { onBytes: (b) => bar.update((n += b)) });
    bar.done();
    process.stdout.write(`${img.id}\n`);
  },
};
